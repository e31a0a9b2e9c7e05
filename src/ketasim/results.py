"""The one result type: concentrations of every analyte (and amounts) of a simulation, as tables.

Owns how simulated numbers are shaped and named for people and programs: two layouts (a shared
output grid, ``(subjects, times)``, and one row per input record as in a NONMEM table), columns
whose names carry their unit (``s_norketamine_ng_mL``, ``CENTRAL_mg``), time after dose, carried
dataset columns, and conversion to pandas, Arrow and polars. It computes no pharmacokinetics
(that is :mod:`ketasim.simulate`); concentrations are stored in mg/L and converted on the way out
through :mod:`ketasim.units`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import ModelError
from ketasim.spec import ModelSpec
from ketasim.units import format_unit_suffix, get_conc_factor

__all__ = ["Result"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Result:
    """Concentrations (and optionally amounts) of one simulation, for one or many subjects.

    Attributes
    ----------
    spec : ModelSpec
        The model simulated.
    layout : {"grid", "records"}
        ``"grid"``: every subject on the same output times, arrays ``(subjects, times)``;
        ``"records"``: one output per input record, arrays ``(records,)``.
    time_h : ndarray, h
        ``(T,)`` output times (grid) or ``(R,)`` record times.
    ids : ndarray (subjects,)
        Subject IDs (1..n for a regimen).
    conc : mapping analyte -> ndarray, mg/L
        Every analyte's concentration, plus effect-site concentrations (``<analyte>_ce``) where
        the model has effect compartments.
    tad_h : ndarray, h
        Time after the last dose started (ADDL repeats included, lag not), same shape as the
        concentrations; -1 before the first dose (mrgsolve's convention).
    amounts : ndarray or None, mg
        ``(subjects, T, compartments)`` or ``(R, compartments)`` when asked for (records layout:
        always).
    params : mapping
        Individual parameters, canonical units (per subject for a grid, per record otherwise).
    unit : str
        Display unit of concentrations in tables (default ng/mL).
    notes : tuple of str
        What a reader must know about these numbers (interactions applied, conventions).
    """

    spec: ModelSpec
    layout: str
    time_h: FloatArray
    ids: FloatArray
    conc: Mapping[str, FloatArray]
    tad_h: FloatArray
    amounts: FloatArray | None = None
    params: Mapping[str, FloatArray] = field(default_factory=dict)
    unit: str = "ng/mL"
    subject: npt.NDArray[np.intp] | None = None  # records layout: subject index of each row
    evid: FloatArray | None = None
    cmt: FloatArray | None = None
    carried: Mapping[str, npt.NDArray[Any]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.layout not in ("grid", "records"):
            raise ModelError(f"result layout {self.layout!r} must be 'grid' or 'records'")
        get_conc_factor("ketamine", self.unit, what="unit")
        object.__setattr__(self, "conc", dict(self.conc))

    # --- lookups ----------------------------------------------------------------------------
    @property
    def analytes(self) -> tuple[str, ...]:
        """Analyte ids (and effect-site entries) in model order."""
        return tuple(self.conc)

    @property
    def n_subjects(self) -> int:
        """Number of subjects."""
        return int(self.ids.size)

    def get_conc(self, analyte: str, unit: str | None = None) -> FloatArray:
        """Concentration of ``analyte`` in ``unit`` (mass or molar per volume).

        Parameters
        ----------
        analyte : str
        unit : str, optional
            One of ng/mL, mg/L, ug/mL, ug/L, nmol/L, umol/L (default: the result's unit).

        Returns
        -------
        ndarray, ``unit``
            ``(subjects, times)`` for a grid, ``(records,)`` for records.

        Examples
        --------
        >>> import numpy as np
        >>> from ketasim import Regimen, load_model, simulate
        >>> res = simulate(load_model("herd_2007"), Regimen.from_quantities("20 mg"),
        ...                np.array([0.0]), covariates={"WT": 20})
        >>> round(float(res.get_conc("ketamine", "ng/mL")[0, 0]), 1)  # 20 mg / (38.7 L x 20/70)
        1808.8
        """
        if analyte not in self.conc:
            raise ModelError(f"no analyte {analyte!r}; simulated: {', '.join(self.conc)}")
        if self.spec.generic:
            if unit is not None:
                raise ModelError(
                    f"generic model {self.spec.id} runs in your own units: no unit conversion"
                )
            return self.conc[analyte]
        base = analyte[:-3] if analyte.endswith("_ce") else analyte
        factor = get_conc_factor(base, unit or self.unit, what="output unit")
        return self.conc[analyte] * factor

    @property
    def cp(self) -> FloatArray:
        """Concentration in the model's default observation compartment, mg/L (the user's
        units for generic ``pk*`` models), as a NONMEM table's CP."""
        obs = self.spec.get_default_observation_index()
        analyte = self.spec.compartments[obs].analyte
        return self.conc[str(analyte)] if analyte in self.conc else self.conc["CP"]

    def get_amount(self, compartment: str) -> FloatArray:
        """Amount in a compartment (by its model name), mg (the model's units for ``pk*``)."""
        if self.amounts is None:
            raise ModelError("amounts were not kept: simulate with keep_amounts=True")
        i = self.spec.get_compartment_index(compartment)
        return self.amounts[..., i]

    def get_column_name(self, analyte: str, unit: str | None = None) -> str:
        """Table column of an analyte: ``"<analyte>_<unit>"``, e.g. ``s_ketamine_ng_mL``
        (``CP`` for generic models, whose units are the user's)."""
        if self.spec.generic:
            return analyte
        return f"{analyte}_{format_unit_suffix(unit or self.unit)}"

    # --- tables -----------------------------------------------------------------------------
    def to_columns(self, unit: str | None = None) -> dict[str, npt.NDArray[Any]]:
        """One-row-per-output columns (ID, TIME_h, TAD_h, [EVID, CMT], analytes, amounts ...)."""
        u = unit or self.unit
        cols: dict[str, npt.NDArray[Any]] = {}
        if self.layout == "grid":
            N, T = self.n_subjects, self.time_h.size
            cols["ID"] = np.repeat(self.ids, T)
            cols["TIME_h"] = np.tile(self.time_h, N)
            cols["TAD_h"] = self.tad_h.reshape(-1)
            for name, v in self.carried.items():
                cols[name] = np.repeat(np.asarray(v), T)
            for a in self.conc:
                cols[self.get_column_name(a, u)] = self._conc_out(a, u).reshape(-1)
            if self.amounts is not None:
                for i, c in enumerate(self.spec.compartments):
                    cols[f"{c.name}_{self._amount_suffix()}"] = self.amounts[:, :, i].reshape(-1)
            return cols
        assert self.subject is not None
        cols["ID"] = self.ids[self.subject]
        cols["TIME_h"] = self.time_h
        cols["TAD_h"] = self.tad_h
        if self.evid is not None:
            cols["EVID"] = self.evid
        if self.cmt is not None:
            cols["CMT"] = self.cmt
        for name, v in self.carried.items():
            cols[name] = np.asarray(v)
        for a in self.conc:
            cols[self.get_column_name(a, u)] = self._conc_out(a, u)
        if self.amounts is not None:
            for i, c in enumerate(self.spec.compartments):
                cols[f"{c.name}_{self._amount_suffix()}"] = self.amounts[:, i]
        return cols

    def _conc_out(self, analyte: str, unit: str) -> FloatArray:
        return self.get_conc(analyte, None if self.spec.generic else unit)

    def _amount_suffix(self) -> str:
        return "amount" if self.spec.generic else "mg"

    def to_pandas(self, form: str = "wide", unit: str | None = None) -> Any:
        """The result as a pandas DataFrame.

        Parameters
        ----------
        form : {"wide", "long"}
            ``"wide"``: one row per subject and output, a column per analyte (like mrgsolve or a
            NONMEM table). ``"long"``: one row per subject, output and analyte, with columns
            ANALYTE, CONC and UNIT (tidy form for plotting and grouping).
        unit : str, optional
            Concentration unit (default: the result's unit); named in the columns.
        """
        import pandas as pd

        if form == "wide":
            return pd.DataFrame(self.to_columns(unit))
        if form != "long":
            raise ModelError(f"form {form!r} must be 'wide' or 'long'")
        u = unit or self.unit
        base = {
            k: v
            for k, v in self.to_columns(u).items()
            if k in ("ID", "TIME_h", "TAD_h", "EVID", "CMT") or k in self.carried
        }
        frames = []
        for a in self.conc:
            f = pd.DataFrame(base)
            f["ANALYTE"] = a
            f["CONC"] = self._conc_out(a, u).reshape(-1)
            f["UNIT"] = "model units" if self.spec.generic else u
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    def to_arrow(self, unit: str | None = None) -> Any:
        """The wide table as a ``pyarrow.Table`` (units in the column names and the metadata)."""
        import pyarrow as pa

        table = pa.table(self.to_columns(unit))
        meta = {
            b"ketasim.model": self.spec.id.encode(),
            b"ketasim.conc_unit": (unit or self.unit).encode(),
        }
        return table.replace_schema_metadata(meta)

    def to_polars(self, unit: str | None = None) -> Any:
        """The wide table as a ``polars.DataFrame`` (needs the optional polars package)."""
        try:
            import polars as pl
        except ImportError:  # pragma: no cover - optional
            raise ModelError("to_polars needs the polars package: pip install polars") from None
        return pl.DataFrame(self.to_columns(unit))

    # --- display ----------------------------------------------------------------------------
    def _summary(self) -> str:
        shape = (
            f"{self.n_subjects} subject(s) x {self.time_h.size} times"
            if self.layout == "grid"
            else f"{self.time_h.size} records of {self.n_subjects} subject(s)"
        )
        return f"{self.spec.id}: {shape}; analytes {', '.join(self.conc)}; unit {self.unit}"

    def __repr__(self) -> str:
        return f"<ketasim Result {self._summary()}>"

    def _repr_html_(self) -> str:
        df = self.to_pandas()
        head = df.head(10).to_html(index=False, float_format=lambda x: f"{x:.4g}")
        cite = self.spec.citation.format() if self.spec.citation else ""
        from ketasim.notices import DISCLAIMER

        return (
            f"<div><p><b>ketasim Result</b> {html.escape(self._summary())}</p>{head}"
            f"<p><small>{html.escape(cite)}</small><br><small>{html.escape(DISCLAIMER)}"
            "</small></p></div>"
        )
