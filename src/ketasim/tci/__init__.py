"""Target-controlled infusion (TCI) plans for simulated patients: for simulation, not pump control.

Owns the TCI algorithm (:mod:`.plan`, closed-form plasma and effect-site rules on exact unit
responses from a prepared simulation, :mod:`ketasim.prepared`), the simulated pump's limits
(:mod:`.pump`), target schedules (:mod:`.targets`) and where a published ke0 comes from
(:mod:`.effect_site`). It never drives a device and never calls the solver.
"""

from ketasim.tci.effect_site import EffectSite, get_effect_site, list_ke0_effect_models
from ketasim.tci.plan import TciPlan, compute_tci_rates, get_tci_compartment, plan_tci
from ketasim.tci.pump import TCI_NOTICE, Pump
from ketasim.tci.targets import MAX_TARGET_MG_PER_L, TargetSchedule, TargetStep, parse_target_step

__all__ = [
    "MAX_TARGET_MG_PER_L",
    "TCI_NOTICE",
    "EffectSite",
    "Pump",
    "TargetSchedule",
    "TargetStep",
    "TciPlan",
    "compute_tci_rates",
    "get_effect_site",
    "get_tci_compartment",
    "list_ke0_effect_models",
    "parse_target_step",
    "plan_tci",
]
