"""ccl_lib.analysis.findings: a chapter's findings glued by name."""

from __future__ import annotations

import pytest

from ccl_lib.analysis.findings import glue_findings


def test_glue_findings_glues_each_value_under_its_prefixed_name_not_displayed():
    calls = []
    names = glue_findings(
        "ch05", {"seeds": 3, "lo_acc": 0.41, "acc_ccel_verdict": "agrees"}, glue=lambda *a, **k: calls.append((a, k))
    )
    assert names == ["ch05_seeds", "ch05_lo_acc", "ch05_acc_ccel_verdict"]
    assert calls == [
        (("ch05_seeds", 3), {"display": False}),
        (("ch05_lo_acc", 0.41), {"display": False}),
        (("ch05_acc_ccel_verdict", "agrees"), {"display": False}),
    ]


def test_glue_findings_uses_myst_nb_by_default(monkeypatch):
    import myst_nb

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: seen.update({name: (value, display)}))
    glue_findings("ch01", {"n": 5})
    assert seen == {"ch01_n": (5, False)}


@pytest.mark.parametrize("prefix, findings", [("ch 5", {"a": 1}), ("ch05", {"a-b": 1}), ("ch05", {3: 1})])
def test_glue_findings_refuses_names_that_are_no_glue_keys(prefix, findings):
    with pytest.raises(ValueError, match="must be"):
        glue_findings(prefix, findings, glue=lambda *a, **k: None)
