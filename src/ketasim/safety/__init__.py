"""The safety screen: a patient profile against a drug's sourced monograph and published modifiers.

Every warning the screen returns is a monograph statement with its sources and the place in
each; severity words are the sources' own. Research and education only: the screen never says
that anything is safe, and a profile item no statement covers is reported as a gap.

Examples
--------
>>> from ketasim.safety import PatientProfile, screen_profile
>>> r = screen_profile(PatientProfile(pregnant=True), "esketamine")
>>> f = r.findings[0]
>>> f.severity, "8.1 Pregnancy" in f.sources[0]
('not_recommended', True)
"""

from ketasim.safety.agents import AGENT_CLASSES, Agent, UnknownAgentError, get_agent, list_agents
from ketasim.safety.profile import (
    CARDIOVASCULAR_CONDITIONS,
    HYPERTENSION_LEVELS,
    IMPAIRMENT_LEVELS,
    PROFILE_FIELDS,
    PatientProfile,
    ProfileError,
)
from ketasim.safety.screen import Finding, ModifierMatch, ScreenResult, screen_profile

__all__ = [
    "AGENT_CLASSES",
    "CARDIOVASCULAR_CONDITIONS",
    "HYPERTENSION_LEVELS",
    "IMPAIRMENT_LEVELS",
    "PROFILE_FIELDS",
    "Agent",
    "Finding",
    "ModifierMatch",
    "PatientProfile",
    "ProfileError",
    "ScreenResult",
    "UnknownAgentError",
    "get_agent",
    "list_agents",
    "screen_profile",
]
