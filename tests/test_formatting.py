"""ccl_lib.formatting: the book's one number style."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ccl_lib.formatting import fmt_number, format_table, pct, percent_columns, ranges, signed


def test_pct_and_signed():
    assert pct(0.2967) == "29.7 %" and pct(0.1840, 2) == "18.40 %"
    assert pct(float("nan")) == "n/a" and pct(None) == "n/a"
    assert pct(-0.00001) == "0.0 %"  # no "-0.0 %"
    assert signed(0.0123) == "+0.012" and signed(-0.006) == "-0.006" and signed(-0.0001) == "0.000"
    with pytest.raises(ValueError, match="digits"):
        pct(0.5, -1)


def test_fmt_number_uses_significant_digits_without_trailing_zeros():
    # the mixed formats of the old book: 8.0554e-03 beside 0.0105, "alpha 0.200000", "-0.000"
    assert fmt_number(8.0554e-03) == "0.00806" and fmt_number(0.0105) == "0.0105"
    assert fmt_number(0.2) == "0.2" and fmt_number(0.25) == "0.25" and fmt_number(12.345) == "12.3"
    assert fmt_number(3) == "3" and fmt_number(12.0) == "12"
    assert fmt_number(8.06e-5) == "8.06e-05" and fmt_number(123456.7) == "1.23e+05"
    assert fmt_number(-0.0) == "0" and fmt_number(math.nan) == "--" and fmt_number("ccql") == "ccql"
    for x in (0.00806, 0.0105, 12.3, 8.06e-5):
        assert float(fmt_number(x)) == pytest.approx(x, rel=5e-3)  # 3 significant digits
    with pytest.raises(ValueError, match="precision"):
        fmt_number(1.0, 0)


def test_format_table_formats_percentages_and_floats_once():
    df = pd.DataFrame(
        {
            "defense": ["ccql", "vanilla"],
            "test_acc": [0.5612, 0.6],
            "max_advantage": [0.2967, math.nan],
            "train_loss_var": [8.0554e-03, 1e-6],
            "alpha": [0.2, 1.0],
            "seeds": [3, 3],
        }
    )
    assert percent_columns(df.columns) == ["test_acc", "max_advantage"]
    html = format_table(df).to_html()
    for cell in ("56.1 %", "60.0 %", "29.7 %", "--", "0.00806", "1.00e-06", ">0.2<", ">1<", ">3<"):
        assert cell in html, cell
    html = format_table(df, percent=[], precision=2).to_html()
    assert "0.56" in html and "%" not in html.replace("%;", "")
    assert format_table(df).data is df  # the values stay unformatted underneath
    with pytest.raises(ValueError, match="lacks"):
        format_table(df, percent=["auc"])
    with pytest.raises(TypeError, match="DataFrame"):
        format_table([1, 2])


def test_ranges():
    assert ranges([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"
    assert ranges([5]) == "5" and ranges([]) == "none" and ranges([3, 1, 2]) == "1-3"
