"""``python -m lib.datasets fetch [--profile quick|full]`` fills ``data/cache``;
``python -m lib.datasets list`` lists the registered datasets."""

from __future__ import annotations

import argparse
import sys

from . import describe, fetch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.datasets")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="fetch the files of every dataset of a profile into data/cache")
    f.add_argument("--profile", default="quick", choices=["quick", "full"])
    sub.add_parser("list", help="list registered datasets")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for row in describe():
            print(f"{row['name']:<28} {row['profile']:<6} {row['description']}")
        return 0
    try:
        done = fetch(args.profile)
    except Exception as err:  # noqa: BLE001 - report and fail clearly
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"datasets ready ({args.profile}): {', '.join(done) if done else 'nothing to fetch'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
