"""The names of drugs and substances the safety screen recognises, and their classes.

Owns ``safety/data/agents.toml`` (each agent's canonical name, synonyms, the classes monograph
statements refer to, and where the class membership comes from) and :func:`get_agent`, which
resolves a name typed by a user. An unknown name is an error naming the input with the closest
known name, never silently ignored. It deliberately does not decide what an agent does to
ketamine: that is the monograph statements' and ``modifiers.toml``'s job.
"""

from __future__ import annotations

import difflib
import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

from ketasim.errors import KetasimError

__all__ = ["AGENT_CLASSES", "Agent", "UnknownAgentError", "get_agent", "list_agents"]

#: class ids monograph statements may name in ``screen.agents``
AGENT_CLASSES = (
    "alcohol",
    "benzodiazepine",
    "cns_depressant",
    "cyp2b6_inhibitor",
    "cyp3a4_inducer",
    "cyp3a4_inhibitor",
    "maoi",
    "opioid",
    "psychostimulant",
    "snri",
    "ssri",
    "sympathomimetic",
    "thyroid_hormone",
    "vasopressin",
    "xanthine",
)


class UnknownAgentError(KetasimError, ValueError):
    """A drug or substance name the screen does not know (names it and the closest match)."""


@dataclass(frozen=True)
class Agent:
    """One recognised drug, food or herbal product (or a class given by name)."""

    name: str
    classes: tuple[str, ...]
    basis: str
    synonyms: tuple[str, ...] = ()

    @property
    def match_keys(self) -> frozenset[str]:
        """The name and classes a statement's ``screen.agents`` may name."""
        return frozenset({self.name, *self.classes})


def _norm(name: str) -> str:
    return " ".join(name.strip().lower().replace("\u2019", "'").split())


def _class_key(name: str) -> str:
    k = _norm(name).replace("-", "_").replace(" ", "_")
    return k[:-1] if k.endswith("s") and k[:-1] in AGENT_CLASSES else k


@functools.lru_cache(maxsize=1)
def _load() -> dict[str, Agent]:
    path = resources.files("ketasim.safety") / "data" / "agents.toml"
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    out: dict[str, Agent] = {}
    for i, a in enumerate(doc.get("agent", [])):
        where = f"safety/data/agents.toml agent[{i}]"
        for key in ("name", "classes", "basis"):
            if key not in a:
                raise KetasimError(f"{where}: required field {key!r} is missing")
        bad = [c for c in a["classes"] if c not in AGENT_CLASSES]
        if bad:
            raise KetasimError(f"{where}: unknown class(es) {', '.join(bad)}")
        agent = Agent(
            name=_norm(a["name"]),
            classes=tuple(a["classes"]),
            basis=a["basis"],
            synonyms=tuple(_norm(s) for s in a.get("synonyms", ())),
        )
        out[agent.name] = agent
    return out


def list_agents() -> list[Agent]:
    """Every recognised agent, in file order."""
    return list(_load().values())


@functools.lru_cache(maxsize=1)
def _lookup() -> dict[str, Agent]:
    table: dict[str, Agent] = {}
    for a in _load().values():
        table[a.name] = a
        for s in a.synonyms:
            table[s] = a
    return table


def get_agent(name: str) -> Agent:
    """The agent for a drug name, synonym or class (``"MAOIs"``, ``"CNS depressant"``).

    Raises
    ------
    UnknownAgentError
        Naming the input as typed and the closest known name, if any.

    Examples
    --------
    >>> get_agent("Rifampin").name
    'rifampicin'
    >>> get_agent("MAOIs").classes
    ('maoi',)
    """
    key = _norm(name)
    if not key:
        raise UnknownAgentError("empty drug name; give a drug name such as 'clarithromycin'")
    table = _lookup()
    if key in table:
        return table[key]
    ck = _class_key(name)
    if ck in AGENT_CLASSES:
        return Agent(name=ck, classes=(ck,), basis="drug class given by the user")
    close = difflib.get_close_matches(key, list(table) + list(AGENT_CLASSES), n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UnknownAgentError(
        f"unknown drug {name!r}{hint} (known names: `ketasim screen --list-drugs`; a drug class "
        f"such as {', '.join(AGENT_CLASSES[:4])}... is also accepted)"
    )
