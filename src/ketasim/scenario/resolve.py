"""A scenario's people-facing parts as library objects: a Regimen in mg, a model's covariates."""

from __future__ import annotations

from dataclasses import replace

from ketasim.errors import EventError, ModelError
from ketasim.events import Dose, Regimen
from ketasim.scenario.model import MAX_DOSES, WEEKDAYS, Patient, RegimenSpec
from ketasim.spec import ModelSpec
from ketasim.units import to_unit

__all__ = ["get_covariates", "get_regimen"]


def get_regimen(reg: RegimenSpec, weight_kg: float | None) -> Regimen:
    """The library :class:`~ketasim.events.Regimen` of a regimen spec, doses in mg.

    Per-kg doses are resolved with ``weight_kg`` (:meth:`Dose.get_amount_mg`), so that models
    without a weight covariate receive the same mg dose the person means. Weekday schedules
    start on the first listed day at the ``start`` time and repeat weekly ``weeks`` times.

    Examples
    --------
    >>> r = get_regimen(RegimenSpec("x", "m", "0.5 mg/kg", weekdays=("mon", "thu"), weeks=2), 70)
    >>> [(d.amt, d.time_h, d.addl, d.ii_h) for d in r.doses]
    [(35.0, 0.0, 1, 168.0), (35.0, 72.0, 1, 168.0)]
    """
    start_h = to_unit(reg.start, "h", what="start")
    if reg.weekdays:
        first = WEEKDAYS.index(reg.weekdays[0])
        offsets_d = sorted((WEEKDAYS.index(day) - first) % 7 for day in reg.weekdays)
        base = Regimen.from_quantities(reg.dose, route=reg.route, duration=reg.duration)
        week_h = to_unit("7 d", "h")
        day_h = to_unit("1 d", "h")
        doses = tuple(
            replace(base.doses[0], time_h=start_h + k * day_h, addl=reg.weeks - 1, ii_h=week_h)
            if reg.weeks > 1
            else replace(base.doses[0], time_h=start_h + k * day_h)
            for k in offsets_d
        )
        main = Regimen(doses)
    else:
        main = Regimen.from_quantities(
            reg.dose,
            route=reg.route,
            duration=reg.duration,
            every=reg.every,
            count=reg.count,
            start=reg.start,
        )
    if reg.loading is not None:
        ld = reg.loading
        main = Regimen.from_quantities(ld.dose, route=ld.route, duration=ld.duration) + main
    n_doses = sum(d.addl + 1 for d in main.doses)
    if n_doses > MAX_DOSES:
        raise EventError(f"{n_doses} doses; a regimen here holds at most {MAX_DOSES}")
    return Regimen(tuple(_in_mg(d, weight_kg) for d in main.doses))


def _in_mg(d: Dose, weight_kg: float | None) -> Dose:
    if not d.per_kg:
        return d
    if weight_kg is None:
        raise EventError(f"a dose of {d.amt:g} mg/kg needs the patient's weight (e.g. '70 kg')")
    return replace(d, amt=d.get_amount_mg(weight_kg), per_kg=False)


def get_covariates(
    spec: ModelSpec, patient: Patient, reg: RegimenSpec | None = None
) -> tuple[dict[str, float], list[str]]:
    """A model's covariates from the patient (and regimen overrides), with notes.

    ``WT`` comes from the weight and ``AGE`` from the age; other covariates from
    ``patient.covariates`` then ``reg.covariates``; anything missing takes the model's
    reference value, said in a note. A given covariate the model does not have is refused;
    a patient attribute it does not use is noted.

    Returns
    -------
    (dict, list of str)
        Covariates in their declared units, and the notes.
    """
    given: dict[str, float] = {}
    notes: list[str] = []
    wt, age = patient.get_weight_kg(), patient.get_age_yr()
    for name, value, what in (("WT", wt, "weight"), ("AGE", age, "age")):
        if value is None:
            continue
        if name in spec.covariates:
            given[name] = value
        else:
            notes.append(f"model {spec.id} does not use the patient's {what}")
    if patient.sex is not None:
        notes.append(f"model {spec.id} does not use sex")
    extra = dict(patient.covariates)
    if reg is not None:
        extra.update(reg.covariates)
    for k, v in extra.items():
        if k not in spec.covariates:
            raise ModelError(
                f"model {spec.id} has no covariate {k!r}; covariates: "
                + (", ".join(spec.covariates) or "none")
            )
        given[k] = v
    covs: dict[str, float] = {}
    for name, cov in spec.covariates.items():
        if name in given:
            covs[name] = given[name]
        else:
            covs[name] = cov.reference
            notes.append(
                f"{name} not given; the model's reference {cov.reference:g} {cov.unit}".rstrip()
                + " is used"
            )
    return covs, notes
