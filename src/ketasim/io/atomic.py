"""The one safe writer: an output file appears complete or not at all.

Owns how ketasim writes files (temporary file in the target's folder, renamed over the target once
complete). Formatting of tables beyond CSV cells is the caller's.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_csv_atomic"]


def write_csv_atomic(
    path: str | os.PathLike[str], header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Write a CSV file so that it either appears complete or not at all.

    The rows are written to a temporary file in the same directory, which is renamed over
    ``path`` only once everything has been written.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            for row in rows:
                writer.writerow([_format_number(v) for v in row])
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _format_number(value: Any) -> str:
    if isinstance(value, str):
        return value
    x = float(value)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}"
