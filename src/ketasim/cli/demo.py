"""``ketasim demo``: an example infusion printed and written to CSV and PNG (thin command)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from ketasim.cli.simulate import cmd_simulate

__all__ = ["register"]


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    outdir = Path(args.out_dir)
    outdir.mkdir(parents=True, exist_ok=True)
    model = "simons_2022"
    print(
        f"ketasim demo: {model}, S-ketamine 0.25 mg/kg IV over 40 min (the "
        "S-enantiomer share of 0.5 mg/kg racemic), 70 kg adult",
        file=out,
    )
    from ketasim.cli import build_parser

    ns = build_parser().parse_args(
        [
            "simulate",
            model,
            "--dose",
            "0.25 mg/kg",
            "--route",
            "iv",
            "--duration",
            "40 min",
            "--weight",
            "70 kg",
            "--until",
            "12 h",
            "--step",
            "5 min",
            "--out",
            str(outdir / "demo.csv"),
            "--plot",
            str(outdir / "demo.png"),
        ]
    )
    buf_rows: list[str] = []

    class _Capture:
        def write(self, s: str) -> int:
            buf_rows.append(s)
            return len(s)

        def flush(self) -> None:
            return None

    code = cmd_simulate(ns, _Capture())  # type: ignore[arg-type]
    print("".join(buf_rows).rstrip(), file=out)
    import csv

    with open(outdir / "demo.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    show = {0.0, 10 / 60, 20 / 60, 40 / 60, 1.0, 1.5, 2.0, 4.0, 6.0, 12.0}
    print("\n" + "  ".join(f"{h:>22}" for h in rows[0]), file=out)
    for r in rows[1:]:
        if any(abs(float(r[0]) - s) < 1e-6 for s in show):
            print("  ".join(f"{float(x):>22.4g}" for x in r), file=out)
    return code


def register(sub: Any) -> None:
    """Add ``demo`` to the CLI's subparsers."""
    d = sub.add_parser("demo", help="simulate an example infusion, print a table, write a PNG")
    d.add_argument("--out-dir", default="out", help="folder for demo.csv and demo.png")
    d.set_defaults(func=cmd_demo)
