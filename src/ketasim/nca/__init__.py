"""Non-compartmental analysis (NCA) by PKNCA's conventions.

Owns NCA of observed or simulated profiles: :func:`compute_nca` gives a long table (one row
per subject x analyte x interval x parameter, CDISC PPTESTCD names, units from the input's
units, a reason for every missing value). The pieces are importable on their own: AUC rules
(:mod:`~ketasim.nca.auc`), the lambda_z rule (:mod:`~ketasim.nca.lambda_z`), BLQ rules
(:mod:`~ketasim.nca.blq`), parameters and units (:mod:`~ketasim.nca.parameters`), intervals
(:mod:`~ketasim.nca.intervals`). The vectorised exposure metrics of
:mod:`~ketasim.nca.exposure` (``compute_auc``, ``compute_cmax``,
``compute_terminal_half_life``) serve the population and CLI summaries. It never simulates.

References
----------
Denney W, Duvvuri S, Buckeridge C. Simple, automatic noncompartmental analysis: the PKNCA R
package. J Pharmacokinet Pharmacodyn 2015;42(1):11-107, S65 (github.com/humanpred/pknca).
"""

from ketasim.nca.auc import (
    METHODS,
    compute_auc_all,
    compute_auc_interval,
    compute_auc_last,
    compute_aumc_last,
    interpolate_conc,
)
from ketasim.nca.blq import BLQRule, apply_blq_rule
from ketasim.nca.exposure import Metric, compute_auc, compute_cmax, compute_terminal_half_life
from ketasim.nca.intervals import Interval, parse_interval
from ketasim.nca.lambda_z import LambdaZFit, compute_lambda_z
from ketasim.nca.options import NCAOptions
from ketasim.nca.parameters import PARAMETERS, Estimate
from ketasim.nca.run import compute_nca
from ketasim.nca.table import NCAPoint, NCAResult, NCARow

__all__ = [
    "METHODS",
    "PARAMETERS",
    "BLQRule",
    "Estimate",
    "Interval",
    "LambdaZFit",
    "Metric",
    "NCAOptions",
    "NCAPoint",
    "NCAResult",
    "NCARow",
    "apply_blq_rule",
    "compute_auc",
    "compute_auc_all",
    "compute_auc_interval",
    "compute_auc_last",
    "compute_aumc_last",
    "compute_cmax",
    "compute_lambda_z",
    "compute_nca",
    "compute_terminal_half_life",
    "interpolate_conc",
    "parse_interval",
]
