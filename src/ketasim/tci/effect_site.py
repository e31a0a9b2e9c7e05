"""Where a TCI plan's effect-site equilibration (ke0) comes from, and the model that carries it.

Owns the rule that effect-site TCI needs a *published* t1/2ke0 in the library, in this order:

1. the PK model's own file: an effect compartment fed by an effect link (``kind = "effect"``)
   from the targeted central compartment, with its rate parameter (the model's ke0);
2. a concentration-effect model of ``library/effects.toml`` named by the caller
   (``effect_model``), whose t1/2ke0 is published for the targeted analyte; it was estimated
   with that study's PK model, so pairing it with another PK model is an assumption, stated in
   the plan's notes;
3. (API only) a value the caller supplies with its citation (``t_half_ke0_h``, ``ke0_source``),
   e.g. to reproduce another program's plan.

Otherwise effect-site TCI is refused, naming the model and the effect models that could serve.
The effect compartment is added to a copy of the model (``ke0 / V1`` from the central
compartment, ``-ke0`` on itself, :mod:`ketasim.spec`), so ``simulate`` computes Ce exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ketasim.errors import ModelError, ParameterError
from ketasim.library.effects import EffectModel, load_effects
from ketasim.pd import check_sampling_site, compute_ke0_per_h, get_matching_analyte
from ketasim.spec import Compartment, Flow, ModelSpec, Parameter

__all__ = ["EFFECT_CMT", "EffectSite", "get_effect_site", "list_ke0_effect_models"]

#: name of the effect compartment added to a copy of the PK model
EFFECT_CMT = "TCI_EFFECT"
_KE0 = "TCI_KE0"


@dataclass(frozen=True)
class EffectSite:
    """The effect site of a TCI plan.

    Attributes
    ----------
    spec : ModelSpec
        The PK model with an effect compartment (the model itself, or a copy with one added).
    cmt_index : int
        0-based index of the effect compartment in ``spec`` (its amount is Ce, mg/L).
    t_half_ke0_h : float or None, h
        None when the model's own (possibly individual) ke0 parameter is used.
    source : str
        Where the t1/2ke0 comes from (citation).
    notes : tuple of str
    """

    spec: ModelSpec
    cmt_index: int
    t_half_ke0_h: float | None
    source: str
    notes: tuple[str, ...] = ()


def list_ke0_effect_models(analyte: str) -> list[EffectModel]:
    """Effect models of ``effects.toml`` with a published t1/2ke0 for ``analyte`` (or its form).

    Examples
    --------
    >>> [m.id for m in list_ke0_effect_models("ketamine")][:1]
    ['olofsen_2022_antinociception_external_perception']
    """
    out = []
    for m in load_effects().models.values():
        if m.t_half_ke0_h is None:
            continue
        wanted = m.slope_analytes[0] if m.form == "linear_additive" else m.analyte
        if get_matching_analyte(wanted, (analyte,)) is not None:
            out.append(m)
    return out


def _own_effect_link(spec: ModelSpec, central: str) -> tuple[int, str] | None:
    for f in spec.flows:
        if f.kind == "effect" and f.source == central and f.target is not None and f.rate:
            return spec.get_compartment_index(f.target), f.rate
    return None


def get_effect_site(
    spec: ModelSpec,
    central: str,
    analyte: str,
    *,
    effect_model: str | EffectModel | None = None,
    t_half_ke0_h: float | None = None,
    ke0_source: str | None = None,
) -> EffectSite:
    """The effect site for TCI of ``analyte`` (central compartment ``central``) in ``spec``.

    Raises
    ------
    ModelError
        When no published t1/2ke0 is available for this model (names the model and the
        effect models with a t1/2ke0 for the analyte).
    ParameterError
        For a supplied t1/2ke0 that is not > 0 or has no citation.
    """
    if t_half_ke0_h is not None:
        if not (math.isfinite(t_half_ke0_h) and t_half_ke0_h > 0):
            raise ParameterError(f"t1/2ke0 {t_half_ke0_h:g} h must be > 0")
        if not ke0_source:
            raise ParameterError("a supplied t1/2ke0 needs its citation (ke0_source)")
        note = f"t1/2ke0 {t_half_ke0_h:g} h supplied by the caller ({ke0_source}), not the library"
        return _with_effect_cmt(spec, central, t_half_ke0_h, ke0_source, (note,))
    if effect_model is not None:
        m = effect_model if isinstance(effect_model, EffectModel) else _get_model(effect_model)
        if m.t_half_ke0_h is None:
            raise ModelError(
                f"--effect-model {m.id} has no published t1/2ke0 in effects.toml: "
                + _suggest(analyte)
            )
        wanted = m.slope_analytes[0] if m.form == "linear_additive" else m.analyte
        used = get_matching_analyte(wanted, (analyte,))
        if used is None:
            raise ModelError(
                f"--effect-model {m.id} is for {wanted}, not {analyte} targeted in {spec.id}"
            )
        notes = [
            f"t1/2ke0 {m.t_half_ke0_printed} from {m.id} ({m.source.format()}); it was estimated "
            f"with that study's PK model, so its use with {spec.id} is an assumption"
        ]
        if wanted != analyte:
            notes.append(f"t1/2ke0 published for {wanted}, applied to {analyte}")
        site_note = check_sampling_site(spec.sampling, m.sampling, f"effect model {m.id}")
        notes += [site_note] if site_note else []
        return _with_effect_cmt(spec, central, m.t_half_ke0_h, m.source.format(), tuple(notes))
    own = _own_effect_link(spec, central)
    if own is not None:
        idx, rate = own
        src = spec.citation.format() if spec.citation else spec.id
        return EffectSite(spec, idx, None, src, (f"ke0 = {rate} of model {spec.id}",))
    raise ModelError(
        f"model {spec.id} has no published t1/2ke0 in its library file, so effect-site TCI is "
        f"refused: {_suggest(analyte)}"
    )


def _get_model(model_id: str) -> EffectModel:
    return load_effects().get_model(model_id)


def _suggest(analyte: str) -> str:
    cands = list_ke0_effect_models(analyte)
    if not cands:
        return f"no effect model in effects.toml has a published t1/2ke0 for {analyte}"
    listed = "; ".join(f"{m.id} (t1/2ke0 {m.t_half_ke0_printed})" for m in cands)
    return f"give --effect-model with a published t1/2ke0 for {analyte}: {listed}"


_CACHE: dict[tuple[int, str, float, str], tuple[ModelSpec, EffectSite]] = {}


def _with_effect_cmt(
    spec: ModelSpec, central: str, t_half_h: float, source: str, notes: tuple[str, ...]
) -> EffectSite:
    # NOTE: the same augmented model object is returned for the same inputs, so that what
    # simulate caches per model (binding, compilation) is reused by repeated plans
    key = (id(spec), central, float(t_half_h), source + "|".join(notes))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is spec:
        return hit[1]
    site = _build_effect_cmt(spec, central, t_half_h, source, notes)
    if len(_CACHE) >= 32:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (spec, site)
    return site


def _build_effect_cmt(
    spec: ModelSpec, central: str, t_half_h: float, source: str, notes: tuple[str, ...]
) -> EffectSite:
    ke0 = compute_ke0_per_h(t_half_h)
    theta = Parameter(_KE0, ke0, "1/h", t_half_h, "h (t1/2ke0)", source)
    aug = replace(
        spec,
        compartments=(*spec.compartments, Compartment(EFFECT_CMT, None, "effect")),
        flows=(*spec.flows, Flow(source=central, target=EFFECT_CMT, rate=_KE0, kind="effect")),
        thetas={**spec.thetas, _KE0: theta},
    )
    return EffectSite(aug, aug.n_compartments - 1, t_half_h, source, notes)
