"""Models as data: compartments, flows, routes, parameters and covariates (:mod:`.model`), their
domains (:mod:`.domains`), provenance and evidence (:mod:`.provenance`), and the built-in generic
models (:mod:`.builtin`)."""

from ketasim.spec.builtin import BUILTIN_MODELS, get_builtin_model
from ketasim.spec.domains import DOMAINS, describe_domain, find_outside_domain
from ketasim.spec.model import ModelSpec
from ketasim.spec.provenance import EVIDENCE_TIERS, Citation, Evidence, Implementation
from ketasim.spec.structure import (
    COMPARTMENT_KINDS,
    RESIDUAL_FORMS,
    SAMPLING_SITES,
    Compartment,
    Covariate,
    DoseDerivation,
    Flow,
    Iiv,
    Parameter,
    Route,
    RouteInput,
)

__all__ = [
    "BUILTIN_MODELS",
    "COMPARTMENT_KINDS",
    "DOMAINS",
    "EVIDENCE_TIERS",
    "RESIDUAL_FORMS",
    "SAMPLING_SITES",
    "Citation",
    "Compartment",
    "Covariate",
    "DoseDerivation",
    "Evidence",
    "Flow",
    "Iiv",
    "Implementation",
    "ModelSpec",
    "Parameter",
    "Route",
    "RouteInput",
    "describe_domain",
    "find_outside_domain",
    "get_builtin_model",
]
