"""``ketasim nca``: NCA of a concentration table by PKNCA's conventions (thin command).

Reads a CSV (ID, TIME, CONC or DV, optional AMT/DOSE/EVID/MDV/ANALYTE; units in the header
such as ``CONC_ng_mL`` or in options), calls :func:`ketasim.nca.compute_nca`, and writes the
long parameter table (and optionally the lambda_z point table) atomically. No NCA maths here.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any, TextIO

from ketasim.cli.common import UsageError
from ketasim.errors import DatasetError
from ketasim.io.atomic import write_csv_atomic
from ketasim.nca import METHODS, Interval, compute_nca, parse_interval
from ketasim.nca.options import ROUTES
from ketasim.notices import DISCLAIMER
from ketasim.units import to_unit

__all__ = ["cmd_nca", "read_nca_csv", "register"]


def read_nca_csv(path: str) -> dict[str, list[str]]:
    """Columns of a CSV file as text (lines starting with ``#`` are comments)."""
    p = Path(path)
    with p.open(newline="", encoding="utf-8-sig") as fh:
        lines = [ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DatasetError(f"{path}: the file is empty: give a header ID,TIME,CONC and rows")
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader)]
    if len(set(header)) != len(header) or not all(header):
        raise DatasetError(f"{path}: the header has an empty or repeated column name")
    cols: dict[str, list[str]] = {h: [] for h in header}
    for k, row in enumerate(reader, start=2):
        if len(row) != len(header):
            raise DatasetError(f"{path}: line {k} has {len(row)} fields, header has {len(header)}")
        for h, x in zip(header, row, strict=True):
            cols[h].append(x.strip())
    if not next(iter(cols.values())):
        raise DatasetError(f"{path}: no data rows below the header")
    return cols


def _lambda_z_points(items: list[str], time_unit: str) -> Any:
    if not items:
        return None
    common: list[float] | None = None
    per_id: dict[str, list[float]] = {}
    for item in items:
        key, sep, rest = item.partition("=")
        text = rest if sep else key
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            raise UsageError(f"--lambda-z-points {item!r}: give times, e.g. '8,12,24 h'")
        unit = parts[-1].lstrip("+-0123456789.eE").strip()
        if not unit:
            raise UsageError(f"--lambda-z-points {item!r} has no time unit: write e.g. '8,12,24 h'")
        last = parts[-1][: len(parts[-1]) - len(unit)].strip()
        nums = [*parts[:-1], last]
        times = [to_unit(f"{x} {unit}", time_unit, what="--lambda-z-points") for x in nums]
        if sep:
            per_id[key.strip()] = times
        else:
            common = times
    if per_id and common is not None:
        raise UsageError("--lambda-z-points: give points for all subjects or per ID=..., not both")
    return per_id or common


def cmd_nca(args: argparse.Namespace, out: TextIO) -> int:
    cols = read_nca_csv(args.data)
    # the time unit is needed to read intervals and points: from the option or the header
    from ketasim.nca.data import read_columns

    checked = read_columns(
        cols, time_unit=args.time_unit, conc_unit=args.conc_unit, dose_unit=args.dose_unit,
        source=args.data,
    )  # fmt: skip
    tu = checked.time_unit
    intervals: list[Interval] = [parse_interval(x, tu) for x in args.interval]
    intervals += [parse_interval(x, tu, tau=True) for x in args.tau_interval]
    res = compute_nca(
        cols,
        time_unit=args.time_unit,
        conc_unit=args.conc_unit,
        dose_unit=args.dose_unit,
        dose=args.dose,
        intervals=intervals or None,
        method=args.method,
        blq=args.blq,
        lloq=args.lloq,
        lambda_z_points=_lambda_z_points(args.lambda_z_points, tu),
        route=args.route,
        infusion_duration=args.infusion_duration,
        threshold=args.threshold,
    )
    header, rows = res.to_rows()
    if args.points_out:
        p_header, p_rows = res.points_to_rows()
    missing = sum(1 for r in res.rows if r.reason)
    subjects = len({(r.id, r.analyte) for r in res.rows})
    print(f"# {DISCLAIMER}", file=out)
    print(
        f"# NCA ({res.options.method}, PKNCA conventions): {subjects} profile(s), "
        f"{len(rows)} parameter rows, {missing} not computed (reason in PPREASND)",
        file=out,
    )
    if args.out:
        write_csv_atomic(args.out, header, rows)
        print(f"wrote {len(rows)} rows to {args.out}", file=out)
    else:
        print(",".join(header), file=out)
        for r in rows:
            print(",".join(_cell(x) for x in r), file=out)
    if args.points_out:
        write_csv_atomic(args.points_out, p_header, p_rows)
        print(f"wrote {len(p_rows)} lambda_z point rows to {args.points_out}", file=out)
    return 0


def _cell(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    s = str(x)
    return f'"{s}"' if "," in s else s


def register(sub: Any) -> None:
    """Add ``nca`` to the CLI's subparsers."""
    s = sub.add_parser(
        "nca",
        help="non-compartmental analysis of a concentration table (PKNCA conventions)",
        description=(
            "NCA of DATA.csv: columns ID, TIME, CONC (or DV), optional AMT (dose records), "
            "DOSE (one dose per subject), EVID, MDV, ANALYTE. Units in the header "
            "(TIME_h, CONC_ng_mL, AMT_mg) or by --time-unit/--conc-unit/--dose-unit. Output: "
            "one row per subject x interval x parameter with CDISC PPTESTCD, value, unit, and "
            "the reason (PPREASND) for every value not computed."
        ),
    )
    s.add_argument("data", metavar="DATA.csv")
    s.add_argument("--out", metavar="PP.csv", help="write the parameter table here")
    s.add_argument("--points-out", metavar="FILE.csv", help="write the lambda_z point table")
    s.add_argument("--time-unit", help="unit of TIME, e.g. h")
    s.add_argument("--conc-unit", help="unit of CONC, e.g. ng/mL")
    s.add_argument("--dose-unit", help="unit of AMT/DOSE, e.g. mg")
    s.add_argument("--dose", help="one dose per subject at time 0, e.g. '35 mg'")
    s.add_argument(
        "--interval", action="append", default=[], metavar="START,END UNIT",
        help="an interval, e.g. '0,24 h' or '0,inf h' (repeatable)",
    )  # fmt: skip
    s.add_argument(
        "--tau-interval", action="append", default=[], metavar="START,END UNIT",
        help="a dosing interval at steady state (adds AUCTAU, CLTAU/CLFTAU)",
    )  # fmt: skip
    s.add_argument("--method", choices=METHODS, default="lin-up/log-down")
    s.add_argument(
        "--lambda-z-points", action="append", default=[], metavar="[ID=]T1,T2,... UNIT",
        help="user-selected lambda_z points, for all subjects or one ID (repeatable)",
    )  # fmt: skip
    s.add_argument(
        "--blq", help="BLQ rule, e.g. 'first=keep,middle=drop,last=keep' (PKNCA default)"
    )
    s.add_argument("--lloq", help="lower limit of quantification, e.g. '0.5 ng/mL'")
    s.add_argument("--route", choices=ROUTES, default="extravascular")
    s.add_argument("--infusion-duration", help="IV infusion duration for MRT, e.g. '40 min'")
    s.add_argument("--threshold", help="report the time above this concentration (TABOVE)")
    s.set_defaults(func=cmd_nca)
