"""Non-compartmental analysis (NCA) by PKNCA's conventions."""
from ketasim.nca.exposure import Metric, compute_auc, compute_cmax, compute_terminal_half_life
