"""Solvers: compile events (:mod:`.schedule`), exact linear solution (:mod:`.linear`), ODE path
(:mod:`.ode`). Inputs are plain floats in canonical units; no unit strings reach this package."""

from ketasim.solver.linear import solve_linear
from ketasim.solver.ode import linear_rhs, solve_ode
from ketasim.solver.schedule import RecordTemplate, Schedule, compile_schedule

__all__ = [
    "RecordTemplate",
    "Schedule",
    "compile_schedule",
    "linear_rhs",
    "solve_linear",
    "solve_ode",
]
