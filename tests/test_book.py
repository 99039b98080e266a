"""ccl_lib.book: chapter set-up and notebook parameters."""

from __future__ import annotations

import os

import pytest

from ccl_lib import book


def test_param_list_parses_papermill_strings():
    assert book.param_list("[0.2, 0.8]", "alphas") == [0.2, 0.8]
    assert book.param_list([150, 225]) == [150, 225]
    assert book.param_list((1,)) == [1]
    assert book.param_list(5) == [5]
    assert book.param_list(None) == [] and book.param_list("  ") == []
    assert book.param_list('["location", "digits"]') == ["location", "digits"]
    with pytest.raises(ValueError, match="alphas must be a list literal"):
        book.param_list("[0.2, 0.8", "alphas")
    with pytest.raises(ValueError, match="must be a list"):
        book.param_list({"a": 1}, "alphas")


def test_fit_part_size_uses_the_data_set_size():
    # scikit-learn's digits has 1,797 examples: 4 parts of 449 fit, 4 of 450 do not.
    assert book.fit_part_size("digits", 449) == 449
    assert book.fit_part_size("digits", 450) is None
    assert book.fit_part_size("digits", 359, n_parts=5) == 359
    assert book.fit_part_size("digits", 360, n_parts=5) is None
    assert book.fit_part_size("digits", None) is None
    with pytest.raises(ValueError, match="positive integer"):
        book.fit_part_size("digits", 0)
    with pytest.raises(ValueError, match="n_parts must be 4 or 5"):
        book.fit_part_size("digits", 100, n_parts=3)


def test_recipe_parses_papermill_text_and_fits_the_part_size():
    r = book.recipe(
        "digits", model="auto", epochs=5, milestones="[2, 4]", augment=False, part_size=1000, seeds="[0, 1]"
    )
    # digits has 1,797 examples: 4 parts of 1,000 do not fit, so the whole data set is used (size None)
    assert r == dict(model="auto", epochs=5, milestones=[2, 4], augment=False, seeds=[0, 1], size=None)
    kw = dict(model="mlp", epochs=1, milestones=[], augment=False, part_size=400, seeds=[3])
    assert book.recipe("digits", **kw)["size"] == 400
    # five parts (the reference split) of 400 need 2,000 > 1,797 examples: the whole data set again
    assert book.recipe("digits", **kw, n_parts=5)["size"] is None
    assert "size" not in book.recipe(None, **{**kw, "seeds": 0})
    with pytest.raises(ValueError, match="milestones must be a list literal"):
        book.recipe(None, model="mlp", epochs=1, milestones="[1,", augment=False, part_size=None, seeds=[0])


def test_setup_silences_progress_and_applies_the_book_style(monkeypatch):
    import matplotlib as mpl
    import pandas as pd
    import tqdm
    import tqdm.auto

    from ccl_lib.plots import BOOK_DPI, BOOK_WIDTH

    for var in ("CCL_PROGRESS", "TQDM_DISABLE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(tqdm.auto, "tqdm", tqdm.auto.tqdm)  # restored after the test
    with mpl.rc_context(), pd.option_context("display.precision", 6):
        book.setup(precision=3)
        assert os.environ["CCL_PROGRESS"] == "0" and os.environ["TQDM_DISABLE"] == "1"
        assert tqdm.auto.tqdm is tqdm.tqdm  # the text bar, never the notebook widget
        assert pd.get_option("display.precision") == 3
        assert mpl.rcParams["figure.dpi"] == BOOK_DPI
        assert tuple(mpl.rcParams["figure.figsize"]) == (BOOK_WIDTH, 3.6)
        assert min(mpl.rcParams[k] for k in ("xtick.labelsize", "ytick.labelsize", "legend.fontsize")) >= 9
    with pytest.raises(ValueError, match="precision"):
        book.setup(precision=-1)


def test_book_figure_text_is_at_least_9pt_at_the_column_width():
    """A default figure is BOOK_WIDTH in wide at BOOK_DPI: 720 px, one image pixel per CSS pixel,
    so a font of N pt (N/72 in at 96 dpi = N * 96/72 px) renders at N CSS pt (1 pt = 96/72 px)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ccl_lib.plots import BOOK_DPI, book_figsize, use_book_style

    with matplotlib.rc_context():
        use_book_style()
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1], label="a")
        ax.legend(fontsize="small")  # relative sizes too: "small" of the 11 pt base is 9.2 pt
        fig.canvas.draw()
        width_px = fig.get_size_inches()[0] * fig.dpi
        assert width_px == pytest.approx(720)
        texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
        smallest_px = min(t.get_fontsize() * BOOK_DPI / 72 for t in texts)
        assert smallest_px / (96 / 72) >= 9  # CSS pt at 1:1
        plt.close(fig)
    assert book_figsize(2, 3, aspect=0.75) == (7.5, 3.75)
    with pytest.raises(ValueError, match="ncols"):
        book_figsize(1, 0)
