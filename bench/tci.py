"""TCI benchmark and cross-check: ketasim's plans against opentiva and a brute-force optimiser.

Case: Herd 2007 racemic ketamine (opentiva class ``Herd`` encodes the same parameters), a
20-kg, 8-year-old child, target 1 ug/mL (= 1 mg/L), 2 h. For the effect site both programs use
opentiva's Herd ke0 (2.995 /min, "from tpeak 1 min", an assumption of that repository, not a
published value: ketasim's library deliberately does not ship it), supplied through the API.

Prints ``name: value`` lines:

* ``ketasim_effect_plan_2h_10s_seconds``: time to plan 2 h of effect-site TCI at 10-s updates
  for one patient planned again (its unit response kept from the first plan, the rule redone),
  ``..._new_patient_seconds`` with the unit response computed again for every plan (the
  prepared probe re-solved, :mod:`ketasim.prepared`), and the same with the plan re-simulated
  (``..._with_prediction_seconds``); medians and ranges of 21 plans;
* ``opentiva_effect_plan_2h_seconds``: opentiva's ``Pump.generate_infusions`` for the same case
  (its plan has ~7 infusions of growing length, not 10-s updates), and the ratio;
* ``bruteforce_*``: the sequential-LP reference (:mod:`ketasim.tci.reference`) on 10 min at
  10-s updates, its time, ketasim's time on the same case, the ratio and the largest rate
  difference;
* ``opentiva_*``: agreement of the model (opentiva's plan re-simulated by ketasim vs opentiva's
  own concentrations) and of the plans (cumulative amount at 10/30/60/120 min, largest
  deviation of the achieved concentration from the target after 1 min).

opentiva is optional (``pip install cython wheel; pip install --no-build-isolation
opentiva==1.1.2``: its prebuilt C file does not compile on Python 3.11, its .pyx does); without
it the opentiva lines say so. Usage: ``python bench/tci.py``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ketasim.events import Dose, Regimen
from ketasim.library import load_model
from ketasim.simulate import simulate
from ketasim.tci import Pump, get_effect_site, plan_tci
from ketasim.tci import plan as tci_plan
from ketasim.tci.reference import compute_reference_rates, compute_response_matrix

WEIGHT_KG, AGE_YR, TARGET_MG_PER_L = 20.0, 8.0, 1.0
KE0_OPENTIVA_PER_MIN = 2.995  # opentiva ketamine.py, class Herd ("from tpeak 1 min")
T_HALF_KE0_H = math.log(2) / (KE0_OPENTIVA_PER_MIN * 60)
KE0_SOURCE = "opentiva ketamine.py Herd ke0 2.995/min (from tpeak 1 min; not published)"


def timings(fn, repeats=7):
    """Seconds of ``repeats`` calls after a warm-up call (the machine is shared: report the
    median and the range, not one number)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return np.asarray(times)


def best_of(fn, repeats=7):
    return float(np.min(timings(fn, repeats)))


def fmt(t):
    return f"{np.median(t):.5f} (range {t.min():.5f}-{t.max():.5f})"


def new_patient(fn):
    """``fn`` with the unit responses forgotten first: every plan as for a new patient."""

    def run():
        tci_plan._RESPONSES.clear()
        return fn()

    return run


def ketasim_plan(duration_h, update_s, mode, predict=False, max_rate=math.inf):
    return plan_tci(
        load_model("herd_2007"),
        TARGET_MG_PER_L,
        duration_h,
        Pump(update_s / 3600, max_rate_mg_per_h=max_rate),
        mode=mode,
        covariates={"WT": WEIGHT_KG},
        t_half_ke0_h=T_HALF_KE0_H if mode == "effect" else None,
        ke0_source=KE0_SOURCE if mode == "effect" else None,
        predict=predict,
    )


def opentiva_pump(effect):
    from opentiva import ketamine, pump

    p = pump.Pump(
        ketamine.Herd(0, AGE_YR, WEIGHT_KG, 130),
        drug_concentration=10,
        end_time=7200,
        max_infusion_rate=100000,
    )
    p.add_target(0, TARGET_MG_PER_L, 10, effect)
    p.generate_infusions()
    return p


def opentiva_regimen(p):
    doses = []
    for start, dose_per_s, dur, _ in p.infusion_list:
        if dose_per_s > 0 and dur > 0:
            doses.append(Dose(amt=dose_per_s * dur, time_h=start / 3600, tinf_h=dur / 3600))
    return Regimen(tuple(doses))


def cumulative_mg(starts_h, rates_mg_per_h, width_h, t_h):
    ends = starts_h + width_h
    return float(np.sum(rates_mg_per_h * np.clip(np.minimum(ends, t_h) - starts_h, 0, None)))


def main():
    spec = load_model("herd_2007")
    print("machine: 2 cores shared with other jobs; timings are medians (ranges) of 21 plans")
    reps = 21
    ks = {
        (mode, cold): timings(
            new_patient(lambda m=mode: ketasim_plan(2.0, 10, m))
            if cold
            else (lambda m=mode: ketasim_plan(2.0, 10, m)),
            reps,
        )
        for mode in ("effect", "plasma")
        for cold in (False, True)
    }
    t_ks, t_ks_new = ks[("effect", False)], ks[("effect", True)]
    print(f"ketasim_effect_plan_2h_10s_seconds: {fmt(t_ks)} (same patient: unit response kept)")
    print(f"ketasim_effect_plan_2h_10s_new_patient_seconds: {fmt(t_ks_new)}")
    t_ks_pred = best_of(lambda: ketasim_plan(2.0, 10, "effect", predict=True), repeats=2)
    print(f"ketasim_effect_plan_2h_10s_with_prediction_seconds: {t_ks_pred:.4f}")
    t_ks_plasma, t_ks_plasma_new = ks[("plasma", False)], ks[("plasma", True)]
    print(f"ketasim_plasma_plan_2h_10s_seconds: {fmt(t_ks_plasma)} (same patient)")
    print(f"ketasim_plasma_plan_2h_10s_new_patient_seconds: {fmt(t_ks_plasma_new)}")

    # brute-force reference on a small case (10 min at 10 s: 60 updates)
    site = get_effect_site(
        spec, "CENTRAL", "ketamine", t_half_ke0_h=T_HALF_KE0_H, ke0_source=KE0_SOURCE
    )
    small = ketasim_plan(10 / 60, 10, "effect", max_rate=3000.0)
    n = small.rates_mg_per_h.size

    def brute():
        A = compute_response_matrix(
            site.spec,
            n,
            10 / 3600,
            2 * n + 4,
            covariates={"WT": WEIGHT_KG},
            effect_cmt=site.cmt_index,
        )
        return compute_reference_rates(A, small.target_mg_per_L, 3000.0)

    t_bf = best_of(brute, repeats=2)
    ref = brute()
    t_small = best_of(lambda: ketasim_plan(10 / 60, 10, "effect", max_rate=3000.0))
    print(f"bruteforce_effect_plan_10min_10s_seconds: {t_bf:.4f}")
    print(f"ketasim_effect_plan_10min_10s_seconds: {t_small:.5f}")
    print(f"speedup_vs_bruteforce: {t_bf / t_small:.0f}")
    diff = np.max(np.abs(ref - small.rates_mg_per_h)) / np.max(small.rates_mg_per_h)
    print(f"bruteforce_max_rate_rel_diff: {diff:.2e}")

    try:
        import opentiva  # noqa: F401
    except ImportError:
        print("opentiva: not installed (see module docstring); brute-force baseline above")
        return
    t_ot = timings(lambda: opentiva_pump(True), reps)
    print(f"opentiva_effect_plan_2h_seconds: {fmt(t_ot)}")
    t_ot_p = timings(lambda: opentiva_pump(False), reps)
    print(f"opentiva_plasma_plan_2h_seconds: {fmt(t_ot_p)}")
    for tag, ours, theirs in (
        ("effect_plan", t_ks, t_ot),
        ("effect_plan_new_patient", t_ks_new, t_ot),
        ("plasma_plan", t_ks_plasma, t_ot_p),
        ("plasma_plan_new_patient", t_ks_plasma_new, t_ot_p),
    ):
        ratio = np.median(theirs) / np.median(ours)
        met = "met" if ratio > 1 else "NOT_met"
        print(f"speedup_vs_opentiva_{tag}: {ratio:.2f} (goal > 1: {met})")

    for effect in (False, True):
        tag = "effect" if effect else "plasma"
        p = opentiva_pump(effect)
        conc = p.run()  # columns: time s, Cp, Ce (1-s grid)
        reg = opentiva_regimen(p)
        grid_s = conc[:, 0]
        sim_spec = site.spec if effect else spec
        res = simulate(
            sim_spec, reg, grid_s / 3600, covariates={"WT": WEIGHT_KG}, keep_amounts=effect
        )
        ours_of_theirs = res.amounts[0, :, site.cmt_index] if effect else res.conc["ketamine"][0]
        theirs = conc[:, 2] if effect else conc[:, 1]
        late = grid_s >= 60
        model_diff = np.max(np.abs(ours_of_theirs[late] / theirs[late] - 1))
        print(f"opentiva_{tag}_model_max_rel_diff_after_1min: {model_diff:.2e}")
        ks = ketasim_plan(2.0, 10, tag, predict=True)
        c_ks = ks.ce_mg_per_L if effect else ks.predicted.get_conc("ketamine", "mg/L")[0]
        t_ks_h = ks.predicted.time_h
        dev_ks = np.max(np.abs(c_ks[t_ks_h >= 1 / 60] / TARGET_MG_PER_L - 1))
        dev_ot = np.max(np.abs(theirs[late] / TARGET_MG_PER_L - 1))
        print(f"ketasim_{tag}_max_rel_deviation_from_target_after_1min: {dev_ks:.2e}")
        print(f"opentiva_{tag}_max_rel_deviation_from_target_after_1min: {dev_ot:.2e}")
        ot_start = p.infusion_list[:, 0] / 3600
        ot_rate = p.infusion_list[:, 1] * 3600
        ot_width = p.infusion_list[:, 2] / 3600
        for t_min in (10, 30, 60, 120):
            a_ks = cumulative_mg(ks.start_h, ks.rates_mg_per_h, 10 / 3600, t_min / 60)
            a_ot = cumulative_mg(ot_start, ot_rate, ot_width, t_min / 60)
            print(
                f"{tag}_amount_{t_min}min_mg: ketasim {a_ks:.4f} opentiva {a_ot:.4f} "
                f"rel_diff {a_ks / a_ot - 1:+.2e}"
            )


if __name__ == "__main__":
    main()
