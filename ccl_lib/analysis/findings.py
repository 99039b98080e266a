"""A chapter's findings, glued into its prose by name with one call.

Every analysis of :mod:`ccl_lib.analysis` returns its findings as ``{name: value}`` (numbers, verdict
words, short texts such as ``"0.1, 0.3 (CCEL)"``); :func:`glue_findings` hands each one to myst-nb's
``glue`` as ``<prefix>_<name>`` (``display=False``), and the chapter's hand-written "What we saw"
refers to them with ``{glue:text}`<prefix>_<name>```.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

__all__ = ["glue_findings"]


def glue_findings(prefix: str, findings: Mapping[str, Any], *, glue: Optional[Callable[..., Any]] = None) -> list[str]:
    """Glue every finding as ``<prefix>_<name>`` (not displayed), in the mapping's order; returns the names.

    Args:
        prefix: the chapter's glue prefix (``"ch05"``).
        findings: ``{name: value}``; a name is letters, digits and ``_``.
        glue: the glue function (default: ``myst_nb.glue``).
    """
    if not isinstance(prefix, str) or not prefix.isidentifier():
        raise ValueError(f"prefix must be an identifier such as 'ch05', got {prefix!r}")
    bad = [k for k in findings if not (isinstance(k, str) and f"x{k}".isidentifier())]
    if bad:
        raise ValueError(f"finding names must be letters, digits and _, got {bad}")
    if glue is None:
        import myst_nb

        glue = myst_nb.glue
    names = []
    for name, value in findings.items():
        glue(f"{prefix}_{name}", value, display=False)
        names.append(f"{prefix}_{name}")
    return names
