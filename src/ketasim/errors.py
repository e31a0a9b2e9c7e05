"""Exceptions and warnings raised by ketasim.

Every error names the culprit (record, field, parameter, unit) and says what to do::

    KetasimError
    +-- UnitError          a quantity is missing its unit or has one of the wrong dimension
    +-- EventError         a dosing/observation record is invalid (names the record)
    |   +-- DatasetError   a NONMEM-format file is malformed (names the line/column)
    +-- ModelError         a model specification or library file is invalid (names the field)
    +-- ParameterError     a parameter value is missing or out of its domain
    +-- SolverError        the numerical solution cannot be computed (e.g. no steady state)

    KetasimWarning (UserWarning)
    +-- PlausibilityWarning   an input is far outside clinical experience (e.g. 100x a usual dose)
    +-- ValidityWarning       a covariate lies outside the range the model was built in
    +-- SamplingSiteWarning   arterial and venous concentrations are being mixed
"""

from __future__ import annotations

__all__ = [
    "DatasetError",
    "EventError",
    "KetasimError",
    "KetasimWarning",
    "ModelError",
    "ParameterError",
    "PlausibilityWarning",
    "SamplingSiteWarning",
    "SolverError",
    "UnitError",
    "ValidityWarning",
]


class KetasimError(Exception):
    """Base class of every error ketasim raises on purpose."""


class UnitError(KetasimError, ValueError):
    """A quantity has no unit, an unknown unit, or a unit of the wrong dimension."""


class EventError(KetasimError, ValueError):
    """A dosing or observation record is invalid.

    Parameters
    ----------
    message : str
        What is wrong and what to do.
    record : int or None
        1-based record (row) number in the dataset, when known.
    subject : object or None
        Subject ID of the record, when known.
    """

    def __init__(self, message: str, *, record: int | None = None, subject: object = None):
        self.record = record
        self.subject = subject
        where = []
        if record is not None:
            where.append(f"record {record}")
        if subject is not None:
            where.append(f"ID {subject}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)


class DatasetError(EventError):
    """A NONMEM-format dataset file is malformed."""


class ModelError(KetasimError, ValueError):
    """A model specification (built-in, file or library entry) is invalid."""


class ParameterError(KetasimError, ValueError):
    """A parameter is missing, non-finite or outside its domain."""


class SolverError(KetasimError, ArithmeticError):
    """The solution cannot be computed (for example, a steady state that does not exist)."""


class KetasimWarning(UserWarning):
    """Base class of ketasim's warnings."""


class PlausibilityWarning(KetasimWarning):
    """An input lies far outside clinical experience; results are computed but suspect."""


class ValidityWarning(KetasimWarning):
    """A covariate is outside the range of the population the model was built in."""


class SamplingSiteWarning(KetasimWarning):
    """A threshold from arterial samples is applied to venous predictions, or vice versa."""
