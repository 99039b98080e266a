"""ccl_lib.formatting.narrow_table: tables that fit the text column (issue 22, item 6)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ccl_lib.formatting import narrow_table


def _cells(styler) -> list[list[str]]:
    """The displayed cell texts, row by row (index included)."""
    ctx = styler._translate(False, False)
    return [[c["display_value"] for c in row if c.get("type") == "td"] for row in ctx["body"]]


def test_units_in_headers_shared_settings_in_the_caption():
    df = pd.DataFrame(
        {
            "defense": ["vanilla", "ccql"],
            "dataset": ["location", "location"],
            "epochs": [30, 30],
            "test_acc": [0.2967, 0.31],
            "advantage_oracle": [0.123, -0.00004],
            "loss_var": [0.012345, 1.5],
        }
    )
    st = narrow_table(df, caption="Location, 3 seeds.", rename={"advantage_oracle": "oracle"}, hide_index=True)
    assert list(st.data.columns) == ["defense", "test_acc (%)", "oracle (%)", "loss_var"]
    assert st.caption == "Location, 3 seeds. (dataset location; epochs 30)"
    assert _cells(st) == [["vanilla", "29.7", "12.3", "0.0123"], ["ccql", "31.0", "0.0", "1.5"]]


def test_keep_nan_and_single_rows():
    df = pd.DataFrame({"a": [1.0, 1.0], "b": [math.nan, math.nan], "tpr": [math.nan, 0.5]})
    st = narrow_table(df, keep=["a"])
    assert list(st.data.columns) == ["a", "tpr (%)"] and st.caption == "b --"
    assert [r[-1] for r in _cells(st)] == ["--", "50.0"]
    one = narrow_table(pd.DataFrame({"x": [2], "advantage": [0.25]}))  # one row: nothing is "shared"
    assert list(one.data.columns) == ["x", "advantage (%)"] and one.caption is None


def test_bad_arguments_name_what_is_wrong():
    df = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(ValueError, match=r"keep names columns \['z'\]"):
        narrow_table(df, keep=["z"])
    with pytest.raises(ValueError, match=r"rename names columns \['z'\]"):
        narrow_table(df, rename={"z": "y"})
    with pytest.raises(ValueError, match=r"percent names columns \['z'\]"):
        narrow_table(df, percent=["z"])
    with pytest.raises(TypeError, match="DataFrame"):
        narrow_table([1, 2])
