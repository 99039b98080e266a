#!/usr/bin/env python3
"""Write what the evidence ledger holds as a Markdown table (``make book`` calls it).

Usage::

    python tools/ledger_page.py [-o book/generated/ledger_holdings.md]

One row per named experiment the ledger holds runs of (runs recorded of the experiment's runs,
seeds, machines, dates, commits, recorded compute), then the whole ledger; the same numbers as
``python -m ccl_lib ledger show``.  ``book/evidence.md`` includes it.  Records that fail their
checks are counted apart (they are never used).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def holdings(root: Optional[Path] = None) -> str:
    """The Markdown fragment: a sentence and the table (or a sentence that the ledger is empty)."""
    from ccl_lib.experiments.ledger import Ledger

    ledger = Ledger(root)
    files = ledger.keys()
    sound = [k for k in files if ledger.check(k)[0] is not None]
    if not sound:
        where = ledger.root.relative_to(ROOT) if ledger.root.is_relative_to(ROOT) else ledger.root
        return f"The ledger (`{where}`) holds no usable records yet ({len(files)} record files refused).\n"
    table = ledger.summary()
    lines = [
        f"The ledger holds **{len(sound)} records** ({len(files) - len(sound)} refused), "
        f"{sum(p.stat().st_size for p in ledger.root.glob('*.json')) / 1e6:.1f} MB of text.",
        "",
        "| experiment | runs | seeds | machine (torch threads) | dates | commit | compute (min) |",
        "| --- | ---: | --- | --- | --- | --- | ---: |",
    ]
    for r in table.to_dict("records"):
        runs = f"{r['runs']} of {r['of']}" if r["experiment"] != "(all records)" else str(r["runs"])
        name = f"`{r['experiment']}`" if r["experiment"] != "(all records)" else "**all records**"
        lines.append(
            f"| {name} | {runs} | {r['seeds']} | {r['machines']} | {r['dates']} | {r['commits']} | "
            f"{r['wall_s'] / 60:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--out", default=None, help="write here (default: standard output)")
    p.add_argument("--ledger", default=None, help="ledger folder (default: results/ledger)")
    args = p.parse_args(argv)
    text = holdings(Path(args.ledger) if args.ledger else None)
    if args.out:
        from ccl_lib.utils import atomic_write_bytes

        atomic_write_bytes(args.out, text.encode())
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
