"""Pharmacodynamics: effect-site concentration and published concentration-effect models.

:mod:`.core` holds the maths (effect site, sigmoid Emax and linear forms); :mod:`.apply` applies a
published model to a simulation (sampling site, drug form, analyte). See :mod:`.core` for the
references.
"""

from ketasim.pd.apply import (
    check_sampling_site,
    compute_effect_series,
    compute_effect_site_series,
    describe_drug_form_difference,
    get_matching_analyte,
)
from ketasim.pd.core import (
    EFFECT_QUANTITIES,
    EffectSeries,
    compute_effect,
    compute_effect_contributions,
    compute_effect_site_conc,
    compute_fraction_of_c50,
    compute_fraction_of_emax,
    compute_ke0_per_h,
    get_effect_model,
    get_zone,
    load_effects,
)

__all__ = [
    "EFFECT_QUANTITIES",
    "EffectSeries",
    "check_sampling_site",
    "compute_effect",
    "compute_effect_contributions",
    "compute_effect_series",
    "compute_effect_site_conc",
    "compute_effect_site_series",
    "compute_fraction_of_c50",
    "compute_fraction_of_emax",
    "compute_ke0_per_h",
    "describe_drug_form_difference",
    "get_effect_model",
    "get_matching_analyte",
    "get_zone",
    "load_effects",
]
