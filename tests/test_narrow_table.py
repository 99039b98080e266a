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
    # a shared true/false reads yes/no; a shared empty value is only dropped
    flags = df.assign(trains=[True, True], excluded=["", ""])
    st = narrow_table(flags, rename={"advantage_oracle": "oracle"}, hide_index=True)
    assert st.caption == "dataset location; epochs 30; trains yes" and "excluded" not in st.data.columns


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


def test_intervals_become_one_column_with_the_unit_in_the_header():
    df = pd.DataFrame(
        {
            "arm": ["CE", "CCQL"],
            "adv": [0.5, 0.25],
            "adv_low": [0.45, math.nan],
            "adv_high": [0.55, math.nan],
            "loss_var": [0.5, 0.25],
            "loss_var_low": [0.25, 0.125],
            "loss_var_high": [1.0, 0.5],
        }
    )
    st = narrow_table(df, percent=["adv"], intervals=["adv", "loss_var"], hide_index=True, caption="Location")
    assert list(st.data.columns) == ["arm", "adv (%)", "loss_var"]
    # 50.0 %, its bounds 45.0 and 55.0; a missing bound leaves the estimate alone
    assert _cells(st) == [["CE", "50.0 [45.0, 55.0]", "0.5 [0.25, 1]"], ["CCQL", "25.0", "0.25 [0.125, 0.5]"]]
    assert st.caption == "Location; [low, high]: 95 % interval"
    with pytest.raises(ValueError, match=r"intervals names columns \['arm_low', 'arm_high'\]"):
        narrow_table(df, intervals=["arm"])


def test_prose_cells_wrap_and_numbers_do_not():
    from ccl_lib.formatting import format_table, is_prose

    assert is_prose("inconclusive: about 9 seeds would decide it") and is_prose("Early stopping, epoch 20")
    for v in ("3.1 % [2.4, 3.9]", "0.003 [-0.002, 0.008]", "CCEL (alpha=0.9)", 0.5, None):
        assert not is_prose(v)
    df = pd.DataFrame({"setting": ["Early stopping, epoch 20", "CCQL"], "acc": [0.5, 0.6]})
    html = format_table(df).to_html()
    assert html.count('class="data row0 col0 wrap"') == 1 and "row1 col0 wrap" not in html


def test_a_row_level_with_one_value_goes_to_the_caption():
    idx = pd.MultiIndex.from_tuples([("location", "CE"), ("location", "CCQL")], names=["dataset", "arm"])
    st = narrow_table(pd.DataFrame({"adv": [0.5, 0.25]}, index=idx), percent=["adv"])
    assert list(st.data.index) == ["CE", "CCQL"] and st.caption == "dataset location"
    one_level_left = pd.MultiIndex.from_tuples([("location", "CE"), ("location", "CE")], names=["dataset", "arm"])
    st = narrow_table(pd.DataFrame({"adv": [0.5, 0.25]}, index=one_level_left), percent=["adv"])
    assert list(st.data.index) == ["CE", "CE"] and st.caption == "dataset location"
