"""A patient profile for the safety screen: validated conditions, age and drugs taken.

Owns :class:`PatientProfile` (frozen; validated on creation) and the mapping from a profile to
the condition keys monograph statements are screened against (``schema.CONDITION_KEYS``). Bad
input is refused with one line naming it: an unknown drug name (with the closest known name),
an unknown level ("hypertension 'bad'"), a negative or implausible age, or contradictory facts
(male and pregnant). It deliberately judges nothing: it only records what the caller states.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ketasim.errors import KetasimError
from ketasim.safety.agents import Agent, get_agent
from ketasim.units import to_unit

__all__ = [
    "CARDIOVASCULAR_CONDITIONS",
    "HYPERTENSION_LEVELS",
    "IMPAIRMENT_LEVELS",
    "PROFILE_FIELDS",
    "PatientProfile",
    "ProfileError",
]

HYPERTENSION_LEVELS = ("none", "controlled", "uncontrolled")
IMPAIRMENT_LEVELS = ("none", "mild", "moderate", "severe")
SEXES = ("female", "male")

#: cardiovascular conditions (with accepted short forms) and their condition keys
CARDIOVASCULAR_CONDITIONS: dict[str, str] = {
    "aneurysmal_vascular_disease": "aneurysmal_vascular_disease",
    "aneurysm": "aneurysmal_vascular_disease",
    "av_malformation": "av_malformation",
    "avm": "av_malformation",
    "arteriovenous_malformation": "av_malformation",
    "intracerebral_haemorrhage_history": "intracerebral_haemorrhage_history",
    "intracerebral_hemorrhage_history": "intracerebral_haemorrhage_history",
    "ich": "intracerebral_haemorrhage_history",
    "recent_cardiovascular_event": "recent_cardiovascular_event",
    "recent_mi": "recent_cardiovascular_event",
    "ischaemic_heart_disease": "ischaemic_heart_disease",
    "ischemic_heart_disease": "ischaemic_heart_disease",
    "ihd": "ischaemic_heart_disease",
    "cerebrovascular_disease": "cerebrovascular_disease",
    "stroke": "cerebrovascular_disease",
    "other": "other_cardiovascular_disease",
    "other_cardiovascular_disease": "other_cardiovascular_disease",
}

_MAX_AGE_YR = 130.0

#: the fields of a profile for a form (web app): name, kind, choices and a help text
PROFILE_FIELDS: tuple[dict[str, object], ...] = (
    {"name": "pregnant", "kind": "bool", "help": "pregnant"},
    {"name": "breastfeeding", "kind": "bool", "help": "breastfeeding"},
    {"name": "pre_eclampsia", "kind": "bool", "help": "pre-eclampsia or eclampsia"},
    {"name": "sex", "kind": "choice", "choices": SEXES, "help": "sex (optional)"},
    {"name": "age_yr", "kind": "number", "unit": "yr", "help": "age, years"},
    {
        "name": "hypertension",
        "kind": "choice",
        "choices": HYPERTENSION_LEVELS,
        "help": "hypertension",
    },
    {
        "name": "cardiovascular",
        "kind": "multi",
        "choices": (
            "aneurysmal_vascular_disease",
            "av_malformation",
            "intracerebral_haemorrhage_history",
            "recent_cardiovascular_event",
            "ischaemic_heart_disease",
            "cerebrovascular_disease",
            "other",
        ),
        "help": "cardiovascular or cerebrovascular conditions",
    },
    {
        "name": "hyperthyroidism_untreated",
        "kind": "bool",
        "help": "untreated or inadequately treated hyperthyroidism",
    },
    {
        "name": "hepatic_impairment",
        "kind": "choice",
        "choices": IMPAIRMENT_LEVELS,
        "help": "hepatic impairment",
    },
    {
        "name": "renal_impairment",
        "kind": "choice",
        "choices": IMPAIRMENT_LEVELS,
        "help": "renal impairment",
    },
    {"name": "psychosis_history", "kind": "bool", "help": "history of psychosis/schizophrenia"},
    {
        "name": "raised_intracranial_pressure",
        "kind": "bool",
        "help": "raised intracranial pressure",
    },
    {"name": "raised_intraocular_pressure", "kind": "bool", "help": "raised intraocular pressure"},
    {"name": "substance_use_disorder", "kind": "bool", "help": "substance use disorder"},
    {"name": "drugs_taken", "kind": "drugs", "help": "drugs, foods or herbal products taken"},
)


class ProfileError(KetasimError, ValueError):
    """A patient-profile input is invalid, unknown or contradicts another input."""


def _key(x: str) -> str:
    return x.strip().lower().replace("-", "_").replace(" ", "_")


def _level(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if value is None:
        return None
    v = _key(value)
    if v not in allowed:
        raise ProfileError(f"{what} {value!r} is not one of {', '.join(allowed)}")
    return v


@dataclass(frozen=True)
class PatientProfile:
    """What the caller states about a patient; ``None`` means "not stated".

    Parameters
    ----------
    pregnant, breastfeeding : bool
    pre_eclampsia : bool
        Pre-eclampsia or eclampsia (labels name it separately from pregnancy).
    hyperthyroidism_untreated : bool
        Untreated or inadequately treated hyperthyroidism (thyrotoxicosis).
    sex : {"female", "male"} or None
    age_yr : float or None, yr
    hypertension : {"none", "controlled", "uncontrolled"} or None
    cardiovascular : iterable of str
        Keys or short forms of :data:`CARDIOVASCULAR_CONDITIONS` (``"aneurysm"``, ``"avm"``,
        ``"ich"``, ``"recent_mi"``, ``"ihd"``, ``"stroke"``, ``"other"``).
    hepatic_impairment, renal_impairment : {"none", "mild", "moderate", "severe"} or None
    psychosis_history, raised_intracranial_pressure, raised_intraocular_pressure,
    substance_use_disorder : bool
    drugs_taken : iterable of str
        Drug, food or herbal names (or classes) as typed; each must be recognised.

    Raises
    ------
    ProfileError
        For an unknown level or condition, an implausible age, or contradictory inputs.
    UnknownAgentError
        For an unknown drug name (with the closest known name).

    Examples
    --------
    >>> p = PatientProfile(pregnant=True, drugs_taken=["Rifampin"])
    >>> sorted(p.get_conditions()), p.get_drug_names()
    (['pregnant'], ('rifampicin',))
    """

    pregnant: bool = False
    breastfeeding: bool = False
    pre_eclampsia: bool = False
    hyperthyroidism_untreated: bool = False
    sex: str | None = None
    age_yr: float | None = None
    hypertension: str | None = None
    cardiovascular: tuple[str, ...] = ()
    hepatic_impairment: str | None = None
    renal_impairment: str | None = None
    psychosis_history: bool = False
    raised_intracranial_pressure: bool = False
    raised_intraocular_pressure: bool = False
    substance_use_disorder: bool = False
    drugs_taken: tuple[str, ...] = ()
    agents: tuple[Agent, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sex = _level(self.sex, SEXES, "sex")
        object.__setattr__(self, "sex", sex)
        object.__setattr__(
            self, "hypertension", _level(self.hypertension, HYPERTENSION_LEVELS, "hypertension")
        )
        for name in ("hepatic_impairment", "renal_impairment"):
            what = name.replace("_", " ")
            object.__setattr__(self, name, _level(getattr(self, name), IMPAIRMENT_LEVELS, what))
        cv: list[str] = []
        for c in self.cardiovascular:
            k = CARDIOVASCULAR_CONDITIONS.get(_key(c))
            if k is None:
                raise ProfileError(
                    f"cardiovascular condition {c!r} is not known; use one of "
                    f"{', '.join(CARDIOVASCULAR_CONDITIONS)}"
                )
            if k not in cv:
                cv.append(k)
        object.__setattr__(self, "cardiovascular", tuple(cv))
        if self.age_yr is not None:
            age = float(self.age_yr)
            if not (0.0 <= age <= _MAX_AGE_YR):
                raise ProfileError(f"age {self.age_yr} yr is outside 0-{_MAX_AGE_YR:g} yr")
            object.__setattr__(self, "age_yr", age)
        if sex == "male" and (self.pregnant or self.breastfeeding or self.pre_eclampsia):
            which = (
                "pregnant"
                if self.pregnant
                else "breastfeeding"
                if self.breastfeeding
                else "pre-eclampsia"
            )
            raise ProfileError(
                f"contradictory profile: sex 'male' and {which}; correct one of them"
            )
        agents: list[Agent] = []
        for d in self.drugs_taken:
            a = get_agent(d)
            if a not in agents:
                agents.append(a)
        object.__setattr__(self, "drugs_taken", tuple(a.name for a in agents))
        object.__setattr__(self, "agents", tuple(agents))

    @classmethod
    def from_inputs(cls, *, age: str | None = None, **kwargs: Any) -> PatientProfile:
        """Build a profile with the age as a quantity with its unit (``"17 yr"``, ``"6 months"``).

        Examples
        --------
        >>> PatientProfile.from_inputs(age="6 months").age_yr
        0.5
        """
        age_yr = to_unit(age, "yr", what="age") if age is not None else None
        return cls(age_yr=age_yr, **kwargs)

    def get_conditions(self) -> frozenset[str]:
        """Condition keys (``schema.CONDITION_KEYS``) this profile states."""
        out: set[str] = set()
        for flag in (
            "pregnant",
            "breastfeeding",
            "pre_eclampsia",
            "hyperthyroidism_untreated",
            "raised_intracranial_pressure",
            "raised_intraocular_pressure",
            "substance_use_disorder",
            "psychosis_history",
        ):
            if getattr(self, flag):
                out.add(flag)
        if self.hypertension in ("controlled", "uncontrolled"):
            out.add(f"hypertension_{self.hypertension}")
        out.update(self.cardiovascular)
        for organ in ("hepatic", "renal"):
            level = getattr(self, f"{organ}_impairment")
            if level not in (None, "none"):
                out.add(f"{organ}_impairment_{level}")
        return frozenset(out)

    def get_drug_names(self) -> tuple[str, ...]:
        """Canonical names of the drugs taken, in input order."""
        return self.drugs_taken

    def describe(self) -> str:
        """One line listing what is stated (for reports)."""
        parts = sorted(c.replace("_", " ") for c in self.get_conditions())
        if self.sex:
            parts.insert(0, self.sex)
        if self.age_yr is not None:
            parts.insert(0, f"age {self.age_yr:g} yr")
        if self.drugs_taken:
            parts.append("drugs taken: " + ", ".join(self.drugs_taken))
        return "; ".join(parts) or "nothing stated"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        d = asdict(self)
        d.pop("agents", None)
        d["conditions"] = sorted(self.get_conditions())
        return d
