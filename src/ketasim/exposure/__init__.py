"""Exposure summaries from the solution itself: Cmax, Tmax, AUC and time above a threshold.

Owns per-subject, per-analyte exposure metrics of a regimen that do not depend on any display
grid: peak concentration and its time over the whole run and in every dose interval, the area
under the curve over the run and every dose interval, and the time spent at or above given
concentrations. It calls :func:`ketasim.simulate.simulate` (never the solver) and deliberately
does no percentile or population bookkeeping (that is :mod:`ketasim.population`).

Method
------
- **AUC** is exact: the model is extended by one integrating compartment per analyte
  (:meth:`ModelSpec.with_auc_compartments`, ``dAUC/dt = A_central / V``), which keeps it
  linear, so the exact solver gives ``AUC(t)`` at the dose times and the end of the run; an
  interval's AUC is ``AUC(b) - AUC(a)``.
- **Cmax/Tmax**: the profile is sampled at every event time of
  :func:`ketasim.grids.get_event_times_h` (dose starts, infusion ends, lags, modelled input
  ends), the instant before each dose, and 32 geometric and 64 even points in each gap between
  events; in each dose interval the largest sample is refined
  by bracketing: 16 probes per bracket and simulation (records layout, one EVID 2 row per
  probe), keeping the neighbours of the largest, until the bracket is shorter than
  ``TIME_TOL * max(1, t_end)`` h. Corners (infusion ends, doses) are found this way to that
  tolerance. A smooth peak makes the samples tie near the top (differences below round-off)
  well before that; its time is then the root of the central-difference derivative, found by
  a secant step inside the last bracket that still separated the values (error of order
  1e-10 relative in time, round-off limited).
- **Time above** ``c*``: sign changes of ``c - c*`` between consecutive samples (the refined
  peaks included, so a brief excursion above ``c*`` around a peak is seen) are refined by the
  same bracketing to ``TIME_TOL``; the time above is the measure of ``{t : c(t) >= c*}``.

NOTE: one local maximum per dose interval is refined (the largest sample's); a second peak
in the same interval that the samples underestimate by more than the gap to the first
would be missed. On a unimodal stretch the largest sample's neighbours bracket the peak, so
the samples only need to separate distinct humps. Troughs are taken at samples and pre-dose
instants (a dip below a threshold between two samples above it is not seen).
"""

from ketasim.exposure.compute import compute_exposure
from ketasim.exposure.search import TIME_TOL
from ketasim.exposure.summary import ExposureSummary, compute_dose_intervals_h

__all__ = ["TIME_TOL", "ExposureSummary", "compute_dose_intervals_h", "compute_exposure"]
