"""The NCA result: a long table, one row per subject x analyte x interval x parameter.

Owns :class:`NCAResult` (rows with CDISC PP-domain column names, the lambda_z points table,
look-ups and conversion to lists or pandas). Every missing value has its reason in
PPREASND ("reason not done"); a NaN without one cannot be built.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ketasim.errors import ParameterError

__all__ = ["HEADER", "POINT_HEADER", "NCAPoint", "NCAResult", "NCARow"]

#: columns of :meth:`NCAResult.to_rows`
HEADER: tuple[str, ...] = (
    "ID", "ANALYTE", "PPSTINT", "PPENINT", "PPTESTCD", "PPTEST", "PPORRES", "PPORRESU",
    "PPREASND",
)  # fmt: skip
POINT_HEADER: tuple[str, ...] = ("ID", "ANALYTE", "PPSTINT", "PPENINT", "TIME", "LAMZUSED",
                                 "REASON")  # fmt: skip


@dataclass(frozen=True)
class NCARow:
    """One parameter of one subject, analyte and interval.

    ``start``/``end`` are in the data's time unit (``end`` may be inf); ``value`` is in
    ``unit``; ``reason`` is empty unless ``value`` is NaN.
    """

    id: str
    analyte: str
    start: float
    end: float
    code: str
    name: str
    value: float
    unit: str
    reason: str = ""

    def __post_init__(self) -> None:
        if math.isnan(self.value) and not self.reason:
            raise ParameterError(f"{self.code} of ID {self.id} is NaN without a reason")


@dataclass(frozen=True)
class NCAPoint:
    """A sample of a lambda_z fit: used or not, and why not (time relative to the start)."""

    id: str
    analyte: str
    start: float
    end: float
    time: float
    used: bool
    reason: str


@dataclass(frozen=True)
class NCAResult:
    """Long NCA table with units, reasons and the lambda_z point selection.

    Attributes
    ----------
    rows : tuple of NCARow
    points : tuple of NCAPoint
    time_unit, conc_unit : str
    dose_unit : str or None
    options : object
        The :class:`~ketasim.nca.options.NCAOptions` used.
    """

    rows: tuple[NCARow, ...]
    points: tuple[NCAPoint, ...]
    time_unit: str
    conc_unit: str
    dose_unit: str | None
    options: Any

    def __iter__(self) -> Iterator[NCARow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def get_row(
        self,
        code: str,
        id: str | int | None = None,
        *,
        analyte: str | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> NCARow:
        """The one row matching ``code`` (and ID, analyte, interval when several match)."""
        hits = [
            r
            for r in self.rows
            if r.code == code
            and (id is None or r.id == str(id))
            and (analyte is None or r.analyte == analyte)
            and (start is None or r.start == start)
            and (end is None or r.end == end)
        ]
        if len(hits) != 1:
            raise ParameterError(
                f"{len(hits)} rows match {code} (ID {id}, analyte {analyte}, interval "
                f"{start}-{end}); narrow the query"
            )
        return hits[0]

    def get(self, code: str, id: str | int | None = None, **kw: Any) -> float:
        """Value of one parameter (see :meth:`get_row`), in its unit."""
        return self.get_row(code, id, **kw).value

    def to_rows(self) -> tuple[list[str], list[list[Any]]]:
        """Header and rows for a CSV: missing values are empty cells with PPREASND."""
        rows = [
            [r.id, r.analyte, r.start, _end(r.end), r.code, r.name,
             "" if math.isnan(r.value) else r.value, r.unit, r.reason]
            for r in self.rows
        ]  # fmt: skip
        return list(HEADER), rows

    def points_to_rows(self) -> tuple[list[str], list[list[Any]]]:
        """Header and rows of the lambda_z point table."""
        rows = [
            [p.id, p.analyte, p.start, _end(p.end), p.time, int(p.used), p.reason]
            for p in self.points
        ]
        return list(POINT_HEADER), rows

    def to_pandas(self) -> Any:
        """The long table as a pandas DataFrame (needs pandas)."""
        pd: Any = importlib.import_module("pandas")
        return pd.DataFrame(
            [[r.id, r.analyte, r.start, r.end, r.code, r.name, r.value, r.unit, r.reason]
             for r in self.rows],
            columns=list(HEADER),
        )  # fmt: skip


def _end(x: float) -> Any:
    return "inf" if math.isinf(x) else x
