"""The safety screen: a patient profile against a drug's monograph statements and modifiers.

Owns :func:`screen_profile`. The rules are data: each monograph statement with a ``screen``
table (conditions, agents or drug classes, age limits) is a rule, and a profile matching it
yields a :class:`Finding` that repeats the statement's text, its severity word exactly as the
source uses it (contraindication, warning, precaution, not recommended, boxed warning) and its
sources with the place in each. Published exposure ratios in ``library/modifiers.toml`` whose
perpetrator the patient takes (or whose factor the profile states) are returned as
:class:`ModifierMatch`, each saying whether the ratio transfers to the drug form and route.

What it deliberately does not do: judge safety (it never says "safe"; a profile item with no
sourced statement is reported as a gap, not as reassurance), or change a simulation. The
simulate layer applies modifiers; the caller tells the screen through ``applied_to_simulation``
whether it did, and only then does the text say "applied to the simulation".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ketasim.interactions import Modifier, list_modifiers
from ketasim.monograph import Monograph, SourceRef, Statement, load_monograph
from ketasim.monograph.render import format_modifier_effects
from ketasim.notices import DISCLAIMER
from ketasim.safety.agents import Agent, list_agents
from ketasim.safety.profile import PatientProfile

__all__ = ["Finding", "ModifierMatch", "ScreenResult", "screen_profile"]

#: display order of severity words
_SEVERITY_ORDER = (
    "boxed_warning",
    "contraindication",
    "not_recommended",
    "warning",
    "drug_interaction",
    "precaution",
    "information",
)
#: how modifiers.toml names the victim drug form -> monograph library drug
_VICTIM_DRUG = {
    "S-ketamine": "esketamine",
    "esketamine nasal spray": "esketamine",
    "racemic ketamine": "racemic ketamine",
}
_EXPOSURE_METRICS = ("auc", "auc_0_inf", "cmax")
_ROUTE_ALIASES = {"nasal": "intranasal", "in": "intranasal", "intravenous": "iv", "po": "oral"}


@dataclass(frozen=True)
class Finding:
    """One monograph statement that applies to the profile, with its sources.

    ``sources`` are formatted one-line references (with ``-- where: <place>``); ``cite`` holds
    the same as structured ``SourceRef`` objects (title, url, kind, jurisdiction, version...).
    """

    statement_id: str
    section: str
    severity: str
    text: str
    matched: str
    sources: tuple[str, ...]
    source_kinds: tuple[str, ...]
    modifier_ids: tuple[str, ...] = ()
    note: str = ""
    cite: tuple[SourceRef, ...] = ()


@dataclass(frozen=True)
class ModifierMatch:
    """A published exposure ratio relevant to the profile, and whether it transfers."""

    modifier_id: str
    perpetrator: str
    victim: str
    victim_route: str
    effects: str
    source: str
    matched: str
    transfers: bool | None
    transfer_note: str
    applied_to_simulation: bool


@dataclass(frozen=True)
class ScreenResult:
    """Everything the screen found, ready to print or serialise."""

    drug: str
    drug_name: str
    route: str | None
    profile: PatientProfile
    findings: tuple[Finding, ...]
    modifiers: tuple[ModifierMatch, ...]
    gaps: tuple[str, ...]
    applied_to_simulation: bool
    disclaimer: str = DISCLAIMER

    def get_modifier_ids(self, *, transferable_only: bool = True) -> tuple[str, ...]:
        """Modifier ids for the simulation (by default only those whose ratio transfers)."""
        return tuple(
            m.modifier_id for m in self.modifiers if m.transfers is True or (not transferable_only)
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the web app and ``ketasim screen --format json``)."""
        d = asdict(self)
        d["profile"] = self.profile.to_dict()
        d["applicable_modifier_ids"] = list(self.get_modifier_ids())
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def format_text(self) -> str:
        """Human-readable report: every finding with its source, then modifiers and gaps."""
        out = [
            f"ketasim screen: {self.drug_name} (route: {self.route or 'not given'})",
            f"NOTICE: {self.disclaimer}",
            f"Profile: {self.profile.describe()}",
            "",
        ]
        if self.findings:
            out.append(f"Statements that apply ({len(self.findings)}), each with its source:")
        else:
            out.append("No monograph statement matches this profile (see the gaps below).")
        for i, f in enumerate(self.findings, start=1):
            kinds = "/".join(f.source_kinds)
            word = f.severity.replace("_", " ").upper()
            out.append(f" {i}. [{word}, as worded by the {kinds}] {f.text}")
            out.append(f"    applies because: {f.matched}")
            for s in f.sources:
                out.append(f"    source: {s}")
            if f.note:
                out.append(f"    note: {f.note}")
        if self.modifiers:
            out.append("")
            out.append("Published exposure ratios (library/modifiers.toml):")
            for m in self.modifiers:
                out.append(f"  - {m.modifier_id}: {m.effects}")
                out.append(f"    applies because: {m.matched}")
                out.append(f"    source: {m.source}")
                out.append(f"    {m.transfer_note}")
        if self.gaps:
            out.append("")
            out.append("Not covered by any sourced statement (this is not reassurance):")
            out.extend(f"  - {g}" for g in self.gaps)
        out.append("")
        out.append(f"NOTICE: {self.disclaimer}")
        return "\n".join(out) + "\n"


def _format_sources(s: Statement) -> tuple[tuple[str, ...], tuple[str, ...]]:
    refs = tuple(dict.fromkeys(f"{c.source.format()} -- where: {c.where}" for c in s.cite))
    kinds = tuple(dict.fromkeys(c.source.kind.replace("_", " ") for c in s.cite))
    return refs, kinds


def _match(
    s: Statement, conditions: frozenset[str], agents: tuple[Agent, ...], age_yr: float | None
) -> list[str]:
    why: list[str] = []
    for c in s.screen.conditions:
        if c in conditions:
            why.append(f"condition: {c.replace('_', ' ')}")
    for a in agents:
        hit = sorted(a.match_keys & set(s.screen.agents))
        if hit:
            via = "" if hit == [a.name] else f" (as {', '.join(h for h in hit if h != a.name)})"
            why.append(f"drug taken: {a.name}{via}")
    if age_yr is not None:
        if s.screen.age_below_yr is not None and age_yr < s.screen.age_below_yr:
            why.append(f"age {age_yr:g} yr < {s.screen.age_below_yr:g} yr")
        if s.screen.age_at_least_yr is not None and age_yr >= s.screen.age_at_least_yr:
            why.append(f"age {age_yr:g} yr >= {s.screen.age_at_least_yr:g} yr")
    return why


def _transfer(
    m: Modifier, mono: Monograph, route: str | None, applied: bool
) -> tuple[bool | None, str]:
    drug = _VICTIM_DRUG.get(m.victim, m.victim)
    # the metrics ketasim.interactions.compute_modified_exposure applies to a simulation
    applied_metrics = [
        (str(e.get("analyte")), str(e.get("metric")))
        for e in m.effects
        if e.get("ratio") is not None and e.get("metric") in _EXPOSURE_METRICS
    ]
    if not applied_metrics:
        return False, (
            f"No AUC or Cmax ratio printed (measured with {m.victim}, {m.victim_route}): nothing "
            "ketasim applies to a simulation."
        )
    caveat = ""
    subgroups = len(set(applied_metrics)) < len(applied_metrics)
    if subgroups:
        caveat = (
            " The finding prints several ratios for the same analyte and metric (by subgroup), "
            "so it is not offered for automatic application: choose the subgroup's ratio first."
        )
    if drug != mono.library_drug:
        return False, (
            f"Measured with {m.victim} ({m.victim_route}); this monograph is {mono.name}: the "
            "published ratio does not transfer and ketasim refuses to apply it to this drug form."
        )
    if route is None:
        return None, (
            f"Measured for the {m.victim_route} route: it applies only to a regimen of this drug "
            f"by that route; give the route to check.{caveat}"
        )
    if route != m.victim_route:
        return False, (
            f"Measured for the {m.victim_route} route; the regimen is {route}: the published "
            "ratio does not transfer (first-pass effects differ by route) and ketasim refuses to "
            "apply it."
        )
    if subgroups:
        return None, f"Measured with this drug form and route.{caveat}"
    if applied:
        return True, (
            "Published ratio matches this drug form and route; applied to the simulation." + caveat
        )
    return True, (
        "Published ratio matches this drug form and route. Not applied by the screen: pass this "
        "modifier id to the simulation to apply it." + caveat
    )


def _norm_route(route: str | None) -> str | None:
    if route is None:
        return None
    r = route.strip().lower()
    return _ROUTE_ALIASES.get(r, r)


def screen_profile(
    profile: PatientProfile,
    drug: str,
    *,
    route: str | None = None,
    applied_to_simulation: bool = False,
) -> ScreenResult:
    """Screen a patient profile against a drug's monograph and the published modifiers.

    Parameters
    ----------
    profile : PatientProfile
    drug : str
        Monograph id or alias (``"esketamine"``, ``"Spravato"``, ``"ketamine"``).
    route : str, optional
        Route of the planned regimen (``"intranasal"``, ``"iv"``, ``"oral"``...), used only to
        say whether a published ratio transfers.
    applied_to_simulation : bool
        Set by a caller that has applied the transferable modifiers to its simulation; only
        then does the report say "applied to the simulation".

    Returns
    -------
    ScreenResult
        Findings ordered by severity (boxed warning, contraindication, not recommended,
        warning, drug interaction, precaution, information), matching modifiers, and gaps.

    Raises
    ------
    MonographError
        For an unknown drug name (with the closest match).

    Examples
    --------
    >>> p = PatientProfile(drugs_taken=["clarithromycin"])
    >>> r = screen_profile(p, "esketamine", route="intranasal")
    >>> [m.modifier_id for m in r.modifiers], r.get_modifier_ids()
    (['clarithromycin_oral_s_ketamine'], ())
    """
    mono = load_monograph(drug)
    r = _norm_route(route)
    by_id = {m.id: m for m in list_modifiers()}
    known_agents = {a.name for a in list_agents()}
    conditions = profile.get_conditions()
    findings: list[tuple[int, int, Finding]] = []
    covered_conditions: set[str] = set()
    covered_agents: set[str] = set()
    modifier_reasons: dict[str, list[str]] = {}
    for order, s in enumerate(mono.statements):
        if s.screen.is_empty:
            continue
        why = _match(s, conditions, profile.agents, profile.age_yr)
        if not why:
            continue
        covered_conditions.update(c for c in s.screen.conditions if c in conditions)
        for a in profile.agents:
            if a.match_keys & set(s.screen.agents):
                covered_agents.add(a.name)
        refs, kinds = _format_sources(s)
        f = Finding(
            statement_id=s.id,
            section=s.section,
            severity=s.severity,
            text=s.text,
            matched="; ".join(why),
            sources=refs,
            source_kinds=kinds,
            modifier_ids=s.modifier_ids,
            note=s.note,
            cite=s.cite,
        )
        findings.append((_SEVERITY_ORDER.index(s.severity), order, f))
        # a statement contributes its linked modifiers for the conditions it matched (renal,
        # hepatic...); drug modifiers are matched by perpetrator below, one drug at a time
        by_condition = [w for w in why if w.startswith("condition:")]
        for mid in s.modifier_ids:
            if by_condition and by_id[mid].perpetrator.lower() not in known_agents:
                modifier_reasons.setdefault(mid, []).extend(by_condition)
    # modifiers whose perpetrator the patient takes, even if no statement links them
    names = {a.name for a in profile.agents}
    for m in list_modifiers():
        if m.perpetrator.lower() in names:
            modifier_reasons.setdefault(m.id, []).append(f"drug taken: {m.perpetrator.lower()}")
            covered_agents.add(m.perpetrator.lower())
        if profile.sex == "female" and m.perpetrator == "female sex":
            modifier_reasons.setdefault(m.id, []).append("sex: female")
    matches: list[ModifierMatch] = []
    for mid, why in modifier_reasons.items():
        m = by_id[mid]
        transfers, note = _transfer(m, mono, r, applied_to_simulation)
        matches.append(
            ModifierMatch(
                modifier_id=mid,
                perpetrator=m.perpetrator,
                victim=m.victim,
                victim_route=m.victim_route,
                effects=format_modifier_effects(mid),
                source=m.source,
                matched="; ".join(dict.fromkeys(why)),
                transfers=transfers,
                transfer_note=note,
                applied_to_simulation=bool(applied_to_simulation and transfers),
            )
        )
    gaps = [
        f"{c.replace('_', ' ')}: the {mono.name} monograph has no sourced statement on this; "
        "ketasim says nothing about it"
        for c in sorted(conditions - covered_conditions)
    ]
    gaps.extend(
        f"drug taken {a.name} (classes: {', '.join(a.classes) or 'none'}): no statement in the "
        f"{mono.name} monograph names it or its classes; the absence of a statement is not "
        "evidence that there is no interaction"
        for a in profile.agents
        if a.name not in covered_agents
    )
    findings.sort(key=lambda t: (t[0], t[1]))
    return ScreenResult(
        drug=mono.id,
        drug_name=mono.name,
        route=r,
        profile=profile,
        findings=tuple(f for _, _, f in findings),
        modifiers=tuple(matches),
        gaps=tuple(gaps),
        applied_to_simulation=applied_to_simulation,
    )
