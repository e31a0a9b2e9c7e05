"""NONMEM-format CSV files: read into a checked :class:`~ketasim.events.Dataset`, write back.

Owns the file format (header, ``.`` cells, ``C``/``#`` comment lines); the meaning of records is
:mod:`ketasim.events.records`; safe writing is :mod:`ketasim.io.atomic`.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from typing import Any

import numpy as np

from ketasim.errors import DatasetError
from ketasim.events.records import STANDARD_COLUMNS, Dataset
from ketasim.io.atomic import write_csv_atomic

__all__ = ["read_nonmem_csv", "write_nonmem_csv"]


def read_nonmem_csv(
    source: str | os.PathLike[str] | io.TextIOBase, *, progress: bool | None = False
) -> Dataset:
    """Read a NONMEM-format CSV file into a checked :class:`Dataset`.

    Parameters
    ----------
    source : path or text stream
        Comma-separated file with a header row (UTF-8, with or without a byte-order mark as
        written by spreadsheet programs). Column names are case-insensitive. ``.`` reads as 0
        (NONMEM convention); an empty cell in a standard column is an error (except DV, which
        may be empty and reads as 0); an empty cell in another column reads as missing. Lines
        starting with ``#`` or ``C`` followed by a comma are skipped (NONMEM ``IGNORE=C``), as
        are blank lines. A column holding any cell that is not a number (``USUBJID``, a study
        name, ``CMT`` as a compartment name) is kept as text; standard columns other than
        ``CMT`` must hold numbers.
    progress : bool or None
        A progress bar on stderr while reading a file that takes longer than half a second
        (about 20,000 records or more): True shows it, False (the default for library use)
        never, None only when stderr is a terminal (what the command line passes).

    Raises
    ------
    DatasetError
        For a malformed file (names the line and column).
    EventError
        For an invalid record (names the record and ID).
    """
    name = "the file"
    if isinstance(source, (str, os.PathLike)):
        name = repr(os.fspath(source))
        try:
            with open(source, newline="", encoding="utf-8-sig") as fh:
                text = fh.read()
        except IsADirectoryError:
            raise DatasetError(f"{name} is a folder, not a CSV file") from None
        except OSError as exc:
            raise DatasetError(f"cannot read {name}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise DatasetError(f"{name} is not UTF-8 text") from None
    elif hasattr(source, "read"):
        text = source.read()
        if isinstance(text, bytes):
            raise DatasetError("read_nonmem_csv needs a path or a text stream, not bytes")
        text = text.removeprefix("\ufeff")
    else:
        raise DatasetError(
            f"read_nonmem_csv needs a path or a text stream, not {type(source).__name__}"
        )
    if "\x00" in text:
        raise DatasetError(f"{name} is not a text file (it contains NUL bytes)")
    if progress is None:
        progress = sys.stderr.isatty()
    with _progress_bar(text, name, bool(progress)) as bar:
        header, rows, lines = _read_rows(text, bar)
        if header is None:
            raise DatasetError(f"{name} is empty: expected a header row and records")
        if not rows:
            raise DatasetError(f"{name} has a header but no records")
        numeric, text_cols = _parse_columns(header, rows, lines, bar)
    return Dataset(
        numeric,
        record_numbers=np.arange(1, len(rows) + 1, dtype=np.int64),
        text_columns=text_cols,
    )


def _progress_bar(text: str, name: str, show: bool) -> Any:
    """A bar over the lines of the file: the first half as they are split into cells, the
    second as the columns become numbers.

    NOTE: tqdm's ``delay`` keeps it silent for a file read in under half a second."""
    from tqdm import tqdm

    n = text.count("\n") + 1
    return tqdm(
        total=n, unit="line", delay=0.5, disable=not show, desc=f"reading {name}", leave=False
    )


_CHUNK = 10_000


def _read_rows(text: str, bar: Any) -> tuple[list[str] | None, list[list[str]], list[int]]:
    """Header, records (cells stripped) and the file line of each record."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    done = 0
    for row in reader:
        if reader.line_num // 2 - done >= _CHUNK:
            bar.update(reader.line_num // 2 - done)
            done = reader.line_num // 2
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
            if all(_is_number(h) for h in header):
                raise DatasetError(
                    f"line {line}: the first row holds numbers, not column names: the file "
                    "needs a header row such as ID,TIME,AMT,DV"
                )
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
        rows.append([cell.strip() for cell in row])
        lines.append(line)
    bar.update(reader.line_num // 2 - done)
    return header, rows, lines


def _parse_columns(
    header: list[str], rows: list[list[str]], lines: list[int], bar: Any
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Numeric and text columns. A column of plain finite numbers is converted in one call;
    any other goes cell by cell, so that an error names its line."""
    numeric: dict[str, np.ndarray] = {}
    text_cols: dict[str, np.ndarray] = {}
    left = bar.total - bar.n
    for j, column in enumerate(header):
        bar.update(left * (j + 1) // len(header) - left * j // len(header))
        cells = [r[j] for r in rows]
        standard = column in STANDARD_COLUMNS and column != "CMT"
        try:
            fast = np.array(cells, dtype=float)
        except ValueError:
            fast = None
        if fast is not None and bool(np.isfinite(fast).all()):
            numeric[column] = fast
            continue
        if not standard and any(not _is_number(c) for c in cells if c not in ("", ".")):
            text_cols[column] = np.array(cells, dtype=str)
            continue
        values = np.empty(len(rows))
        for r, (cell, line) in enumerate(zip(cells, lines, strict=True)):
            values[r] = _parse_cell(cell, column, line, standard)
        numeric[column] = values
    return numeric, text_cols


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _parse_cell(cell: str, column: str, line: int, standard: bool) -> float:
    if cell == ".":
        return 0.0
    if cell == "":
        if column == "DV":
            return 0.0
        if not standard and column != "CMT":
            return float("nan")
        raise DatasetError(f"line {line}: column {column} is empty (write 0 or '.')")
    try:
        value = float(cell)
    except ValueError:
        raise DatasetError(f"line {line}: column {column} value {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise DatasetError(f"line {line}: column {column} value {cell!r} is not finite")
    return value


def write_nonmem_csv(ds: Dataset, path: str | os.PathLike[str]) -> None:
    """Write a :class:`Dataset` as NONMEM-format CSV (standard columns first, then the others).

    Raises
    ------
    DatasetError
        When the folder of ``path`` does not exist.
    """
    folder = os.path.dirname(os.fspath(path)) or "."
    if not os.path.isdir(folder):
        raise DatasetError(f"cannot write {os.fspath(path)!r}: folder {folder!r} does not exist")
    names = [c for c in STANDARD_COLUMNS if c in ds.columns or c in ds.text_columns]
    names += [c for c in (*ds.extra_columns, *ds.text_columns) if c not in names]
    cols = [ds.columns[c] if c in ds.columns else ds.text_columns[c] for c in names]
    write_csv_atomic(path, names, zip(*cols, strict=True))
