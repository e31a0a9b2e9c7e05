"""NONMEM-format CSV files: read into a checked :class:`~ketasim.events.Dataset`, write back.

Owns the file format (header, ``.`` cells, ``C``/``#`` comment lines); the meaning of records is
:mod:`ketasim.events.records`; safe writing is :mod:`ketasim.io.atomic`.
"""

from __future__ import annotations

import csv
import io
import math
import os

import numpy as np

from ketasim.errors import DatasetError
from ketasim.events.records import STANDARD_COLUMNS, Dataset
from ketasim.io.atomic import write_csv_atomic

__all__ = ["read_nonmem_csv", "write_nonmem_csv"]


def read_nonmem_csv(source: str | os.PathLike[str] | io.TextIOBase) -> Dataset:
    """Read a NONMEM-format CSV file into a checked :class:`Dataset`.

    Parameters
    ----------
    source : path or text stream
        Comma-separated file with a header row. Column names are case-insensitive. ``.`` reads
        as 0 (NONMEM convention); an empty cell in a standard column is an error (except DV, which
        may be empty and reads as 0). Lines starting with ``#`` or ``C`` followed by a comma are
        skipped (NONMEM ``IGNORE=C``), as are blank lines.

    Raises
    ------
    DatasetError
        For a malformed file (names the line and column).
    EventError
        For an invalid record (names the record and ID).
    """
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, newline="", encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise DatasetError(f"cannot read {os.fspath(source)!r}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise DatasetError(f"{os.fspath(source)!r} is not UTF-8 text") from None
    else:
        text = source.read()
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        first = row[0].strip()
        if first.startswith("#") or (header is not None and first.upper() == "C"):
            continue
        if header is None:
            header = [h.strip().upper() for h in row]
            if any(not h for h in header):
                raise DatasetError(f"line {line}: empty column name in the header")
            dup = {h for h in header if header.count(h) > 1}
            if dup:
                raise DatasetError(f"line {line}: duplicate column(s) {', '.join(sorted(dup))}")
            if "ID" not in header or "TIME" not in header:
                raise DatasetError(
                    f"line {line}: header must name ID and TIME columns, found {', '.join(header)}"
                )
            continue
        if len(row) != len(header):
            raise DatasetError(f"line {line}: {len(row)} fields, header has {len(header)}")
        rows.append(row)
        lines.append(line)
    if header is None:
        raise DatasetError("the file is empty: expected a header row and records")
    if not rows:
        raise DatasetError("the file has a header but no records")
    data = np.empty((len(rows), len(header)))
    for r, (row, line) in enumerate(zip(rows, lines, strict=True)):
        for j, cell in enumerate(row):
            data[r, j] = _parse_cell(cell.strip(), header[j], line)
    cols = {h: data[:, j] for j, h in enumerate(header)}
    return Dataset(cols, record_numbers=np.arange(1, len(rows) + 1, dtype=np.int64))


def _parse_cell(cell: str, column: str, line: int) -> float:
    if cell == ".":
        return 0.0
    if cell == "":
        if column == "DV":
            return 0.0
        raise DatasetError(f"line {line}: column {column} is empty (write 0 or '.')")
    try:
        value = float(cell)
    except ValueError:
        raise DatasetError(f"line {line}: column {column} value {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise DatasetError(f"line {line}: column {column} value {cell!r} is not finite")
    return value


def write_nonmem_csv(ds: Dataset, path: str | os.PathLike[str]) -> None:
    """Write a :class:`Dataset` as NONMEM-format CSV (standard columns first)."""
    names = [c for c in STANDARD_COLUMNS if c in ds.columns] + list(ds.extra_columns)
    rows = zip(*(ds.columns[c] for c in names), strict=True)
    write_csv_atomic(path, names, rows)


# --- people-facing regimen ----------------------------------------------------------------------
