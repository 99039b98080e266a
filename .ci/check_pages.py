#!/usr/bin/env python3
"""Open every page of the built book in headless Chromium, network off, and fail on what a reader would see.

Usage::

    python .ci/check_pages.py [SITE ...] [--only PAGE ...] [--min-scale 0.97] [--keep DIR]
    make check-book          # _build/html, and _build/student/html and _build/slides where they exist

With no SITE, it checks ``_build/html`` and, when they exist, the student edition
(``_build/student/html``) and the slides (``_build/slides``).

Each page is copied (with the whole site) into a temporary folder, a checking script is
appended to its ``<body>``, and Debian's ``chromium`` renders it from ``file://`` with every
network request refused (``--host-resolver-rules`` maps all hosts to nothing, a dead proxy
catches the rest).  Chromium's ``--dump-dom`` returns the page after ``--virtual-time-budget``
ms of (virtual) time, with the script's verdict in a ``<pre id="ccl-check-result">``.  A page fails on:

* **math** -- untypeset math: a ``.math`` element without MathJax output, raw ``\\(``, ``\\)``,
  ``\\[``, ``\\]`` or ``$$`` left in the text, a MathJax error element, or MathJax not loaded;
* **image** -- a broken image (not loaded, ``naturalWidth`` 0);
* **squeezed** -- an output figure shown below ``--min-scale`` of its natural size (the book's
  figures are drawn at 96 dpi for the column, ccl_lib.plots.use_book_style, so scaling them down
  shrinks 9 pt text below 9 pt);
* **overflow** -- a figure, image, table, display equation or code block wider than the content
  column, or clipped by a container that does not scroll (a wide table or equation inside a
  scrolling container is fine: it scrolls visibly), or a page that scrolls sideways;
* **table** -- a table wider than the content column by more than 10 % (``TABLE_SLACK``), even
  inside a scrolling container: a reader on a laptop would see only part of it;
* **output** -- a Python warning, a traceback, stderr output, a progress bar, a widget or a list of
  glue names (a plumbing call's return value) in a cell output;
* **network** -- a script, stylesheet, image or frame loaded from the network (the book must
  read offline), or any request the page made to http(s).

A reveal.js deck (``make slides``) is checked slide by slide instead of against a column: each slide
is shown in turn and fails when its content is taller or wider than the slide (reveal.js cuts it off:
**overflow**), when one of its images is broken (**image**), or when it shows ``$...$`` untypeset (**math**).

Exit status 0 when every page passes, 1 otherwise (a report per page on stdout), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RESULT_ID = "ccl-check-result"
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads", "_panels_static", "reveal.js", "mathjax"}
#: A table may be this much wider than the content column (it then scrolls a little); a wider one fails.
TABLE_SLACK = 0.10

CHECK_JS = (Path(__file__).with_name("check_pages.js")).read_text(encoding="utf-8")


def find_chromium(explicit: str | None) -> str:
    for cand in ([explicit] if explicit else []) + ["chromium", "chromium-browser", "google-chrome", "chrome"]:
        path = shutil.which(cand) if cand else None
        if path:
            return path
    raise SystemExit("check_pages: no chromium found (Debian: apt-get install -y chromium); pass --chromium PATH")


def pages_of(site: Path, only: list[str] | None) -> list[Path]:
    pages = []
    for p in sorted(site.rglob("*.html")):
        rel = p.relative_to(site)
        if rel.parts[0] in SKIP_DIRS or rel.name in ("search.html", "genindex.html"):
            continue
        head = p.read_text(encoding="utf-8", errors="replace")[:2000].lower()
        if 'http-equiv="refresh"' in head:  # a redirect (index.html -> the root page)
            continue
        if only and not any(str(rel) == o or rel.stem == o or str(rel).startswith(o) for o in only):
            continue
        pages.append(p)
    return pages


def inject(page: Path, min_scale: float) -> None:
    src = page.read_text(encoding="utf-8")
    cfg = {"minScale": min_scale, "tableSlack": TABLE_SLACK}
    js = CHECK_JS.replace("__CONFIG__", json.dumps(cfg)).replace("__RESULT_ID__", RESULT_ID)
    tag = f"<script>{js}</script>"
    i = src.lower().rfind("</body>")
    src = src[:i] + tag + src[i:] if i >= 0 else src + tag
    page.write_text(src, encoding="utf-8")


def render(chromium: str, page: Path, profile: Path, width: int, height: int, budget_ms: int, timeout_s: float) -> str:
    cmd = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
        "--allow-file-access-from-files",
        # network off: no host resolves, and anything else goes to a dead proxy
        "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
        f"--user-data-dir={profile}", f"--window-size={width},{height}",
        f"--virtual-time-budget={budget_ms}", "--run-all-compositor-stages-before-draw",
        "--dump-dom", page.resolve().as_uri(),
    ]  # fmt: skip
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": "/dev/null"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    return proc.stdout


def check_site(
    site: Path,
    *,
    only: list[str] | None = None,
    min_scale: float = 0.97,
    width: int = 1400,
    height: int = 1000,
    budget_ms: int = 20000,
    timeout_s: float = 120.0,
    chromium: str | None = None,
    keep: Path | None = None,
    jobs: int = 2,
) -> dict[str, dict]:
    """``{page: {"errors": [...], "notes": [...], "column": px}}`` for every page of ``site``."""
    site = site.resolve()
    if not (site / "index.html").exists() and not list(site.glob("*.html")):
        raise SystemExit(f"check_pages: {site} holds no built pages (run `make book` first)")
    exe = find_chromium(chromium)
    results: dict[str, dict] = {}
    tmp = Path(tempfile.mkdtemp(prefix="ccl-check-"))
    try:
        copy = tmp / "site"
        shutil.copytree(site, copy, symlinks=False)
        pages = pages_of(copy, only)
        for page in pages:
            inject(page, min_scale)

        def one(i_page):
            i, page = i_page
            profile = tmp / f"profile-{i}"
            try:
                dom = render(exe, page, profile, width, height, budget_ms, timeout_s)
            except subprocess.TimeoutExpired:
                return {"errors": [{"kind": "check", "msg": f"chromium did not finish in {timeout_s:g} s"}]}
            finally:
                shutil.rmtree(profile, ignore_errors=True)
            found = re.findall(rf'<pre id="{RESULT_ID}"[^>]*>(.*?)</pre>', dom, re.S)
            if not found:
                return {
                    "errors": [{"kind": "check", "msg": "the page's check did not report (script error or timeout)"}]
                }
            return json.loads(html.unescape(found[-1]))

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for page, res in zip(pages, pool.map(one, enumerate(pages))):
                results[str(page.relative_to(copy))] = res
        if keep is not None:
            shutil.copytree(copy, keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "sites",
        nargs="*",
        help="built sites (default: _build/html, plus _build/student/html and _build/slides where they exist)",
    )
    ap.add_argument("--only", nargs="*", help="check only these pages (path, stem or prefix)")
    ap.add_argument("--min-scale", type=float, default=0.97, help="smallest allowed display scale of an output figure")
    ap.add_argument("--width", type=int, default=1400, help="window width in CSS px (default 1400)")
    ap.add_argument("--height", type=int, default=1000)
    ap.add_argument("--budget-ms", type=int, default=20000, help="Chromium's virtual time budget per page")
    ap.add_argument("--timeout", type=float, default=120.0, help="wall-clock limit per page, seconds")
    ap.add_argument("--chromium", help="the browser executable (default: chromium on PATH)")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="pages rendered at once")
    ap.add_argument("--keep", type=Path, help="copy the instrumented site here (to open the pages by hand)")
    ap.add_argument("--json", type=Path, help="also write the full results as JSON")
    ap.add_argument("-v", "--verbose", action="store_true", help="also list elements that scroll")
    args = ap.parse_args(argv)
    if not (0 < args.min_scale <= 1):
        ap.error(f"--min-scale must be in (0, 1], got {args.min_scale}")
    sites = [Path(x) for x in args.sites] or [Path("_build/html")] + [
        p for p in (Path("_build/student/html"), Path("_build/slides")) if p.is_dir()
    ]
    results: dict[str, dict] = {}
    for site in sites:
        if not site.is_dir():
            ap.error(f"{site} is not a folder (build it first: make book, make book-student, make slides)")
        found = check_site(
            site,
            only=args.only,
            min_scale=args.min_scale,
            width=args.width,
            height=args.height,
            budget_ms=args.budget_ms,
            timeout_s=args.timeout,
            chromium=args.chromium,
            keep=args.keep,
            jobs=args.jobs,
        )
        prefix = "" if len(sites) == 1 else f"{site}/"
        results.update({prefix + rel: r for rel, r in found.items()})
    site = sites[0]
    if not results:
        print(f"check_pages: no page matched in {site}", file=sys.stderr)
        return 2
    bad = 0
    for rel, r in results.items():
        errs = r.get("errors", [])
        status = "FAIL" if errs else "ok  "
        bad += bool(errs)
        print(f"{status} {rel}" + (f"  (column {r['column']} px)" if "column" in r else ""))
        for e in errs:
            print(f"       [{e['kind']}] {e['msg']}")
        if args.verbose:
            for n in r.get("notes", []):
                print(f"       (note) {n}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(f"\n{len(results) - bad} of {len(results)} pages pass" + (f"; {bad} fail" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
