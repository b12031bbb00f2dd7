"""``python -m bench [--only NAME] [-n N] [--quick] [--json]``: run every ``bench_*`` module."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from dataclasses import asdict
from pathlib import Path

from ._common import Options, Row


def _modules(only: list[str]) -> list[str]:
    names = sorted(
        info.name
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if info.name.startswith("bench_")
    )
    if only:
        names = [n for n in names if any(o in n for o in only)]
    return names


def _ratio(row: Row, rows: list[Row]) -> float | None:
    if row.baseline is None:
        return None
    for other in rows:
        if other.section == row.section and other.name == row.baseline and other.value:
            return row.value / other.value
    return None


def _print(rows: list[Row]) -> bool:
    """Print the table; return False when a row misses its target."""
    ok = True
    width = max([len(r.name) for r in rows] + [20])
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            print(f"\n== {section}")
            print(f"  {'measurement':<{width}}  {'value':>12}  {'ratio':>7}  {'target':>7}  note")
        ratio = _ratio(row, rows)
        ratio_text = f"{ratio:6.2f}x" if ratio is not None else ""
        target_text = f"<={row.target:.2f}x" if row.target is not None else ""
        verdict = ""
        if row.target is not None and ratio is not None:
            met = ratio <= row.target
            ok = ok and met
            verdict = "ok " if met else "MISS "
        value = f"{row.value:10.3f} {row.unit:<2}"
        cells = f"{value:>12}  {ratio_text:>7}  {target_text:>7}"
        print(f"  {row.name:<{width}}  {cells}  {verdict}{row.note}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", action="append", default=[], help="run modules matching NAME")
    parser.add_argument("-n", type=int, default=None, help="iterations per measured client")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args(argv)
    opts = Options(n=args.n or (80 if args.quick else 400), quick=args.quick)
    rows: list[Row] = []
    for name in _modules(args.only):
        module = importlib.import_module(f"bench.{name}")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(module.run(opts))
    if args.json:
        print(json.dumps([{**asdict(r), "ratio": _ratio(r, rows)} for r in rows], indent=2))
        return 0
    return 0 if _print(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
