"""``ketasim screen``: a patient profile against a drug's sourced monograph (thin command)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ketasim.cli.common import UsageError
from ketasim.safety import PatientProfile, list_agents, screen_profile
from ketasim.safety.agents import AGENT_CLASSES

__all__ = ["cmd_screen", "register"]

_FORMATS = ("text", "json")
_ROUTES = ("iv", "im", "intranasal", "oral", "sc", "sublingual", "buccal", "rectal")
_PROFILE_FLAGS = (
    "pregnant",
    "breastfeeding",
    "pre_eclampsia",
    "hyperthyroidism",
    "psychosis_history",
    "raised_icp",
    "raised_iop",
    "substance_use_disorder",
)
_PROFILE_OPTIONS = ("sex", "age", "hypertension", "hepatic", "renal", "route")


def _list_drugs(out: TextIO) -> int:
    for a in list_agents():
        syn = f" (also: {', '.join(a.synonyms)})" if a.synonyms else ""
        print(f"{a.name}{syn}: {', '.join(a.classes)} -- {a.basis}", file=out)
    print(f"drug classes also accepted: {', '.join(AGENT_CLASSES)}", file=out)
    return 0


def cmd_screen(args: argparse.Namespace, out: TextIO) -> int:
    given = [f"--{f.replace('_', '-')}" for f in _PROFILE_FLAGS if getattr(args, f)]
    given += [f"--{o}" for o in _PROFILE_OPTIONS if getattr(args, o) is not None]
    given += ["--drug-taken"] * bool(args.drug_taken) + ["--cardiovascular"] * bool(
        args.cardiovascular
    )
    if args.list_drugs:
        if args.drug or given:
            raise UsageError(
                f"--list-drugs takes no other options (got {', '.join(given or ['--drug'])})"
            )
        return _list_drugs(out)
    if not args.drug:
        raise UsageError("give the drug to screen for with --drug, e.g. --drug esketamine")
    if args.format not in _FORMATS:
        raise UsageError(f"--format {args.format!r} is not one of {', '.join(_FORMATS)}")
    if args.route is not None and args.route.strip().lower() not in _ROUTES:
        raise UsageError(f"--route {args.route!r} is not one of {', '.join(_ROUTES)}")
    profile = PatientProfile.from_inputs(
        age=args.age,
        pregnant=args.pregnant,
        breastfeeding=args.breastfeeding,
        pre_eclampsia=args.pre_eclampsia,
        hyperthyroidism_untreated=args.hyperthyroidism,
        sex=args.sex,
        hypertension=args.hypertension,
        cardiovascular=tuple(args.cardiovascular),
        hepatic_impairment=args.hepatic,
        renal_impairment=args.renal,
        psychosis_history=args.psychosis_history,
        raised_intracranial_pressure=args.raised_icp,
        raised_intraocular_pressure=args.raised_iop,
        substance_use_disorder=args.substance_use_disorder,
        drugs_taken=tuple(args.drug_taken),
    )
    result = screen_profile(profile, args.drug, route=args.route)
    out.write(result.to_json() + "\n" if args.format == "json" else result.format_text())
    return 0


def register(sub: Any) -> None:
    """Add ``screen`` to the CLI's subparsers."""
    s = sub.add_parser(
        "screen",
        help="screen a patient profile against a drug's label statements and published modifiers",
        description=(
            "List the monograph statements (contraindications, warnings, precautions...) that "
            "apply to a patient profile, each with its source, and the published exposure "
            "ratios (library/modifiers.toml) for the drugs taken, saying whether each transfers "
            "to the drug form and route. Research and education only: it never says that "
            "anything is safe."
        ),
    )
    s.add_argument("--drug", help="drug to screen for: ketamine, esketamine, norketamine, hnk")
    s.add_argument("--route", help=f"route of the planned regimen: {', '.join(_ROUTES)}")
    s.add_argument("--pregnant", action="store_true")
    s.add_argument("--breastfeeding", action="store_true")
    s.add_argument("--pre-eclampsia", action="store_true", help="pre-eclampsia or eclampsia")
    s.add_argument(
        "--hyperthyroidism",
        action="store_true",
        help="untreated or inadequately treated hyperthyroidism",
    )
    s.add_argument("--sex", help="female or male")
    s.add_argument("--age", help='age with its unit, e.g. "45 yr" or "6 months"')
    s.add_argument("--hypertension", help="none, controlled or uncontrolled")
    s.add_argument(
        "--cardiovascular",
        action="append",
        default=[],
        metavar="CONDITION",
        help="aneurysm, avm, ich (history of intracerebral haemorrhage), recent_mi, ihd, "
        "stroke, other (repeatable)",
    )
    s.add_argument("--hepatic", help="hepatic impairment: none, mild, moderate, severe")
    s.add_argument("--renal", help="renal impairment: none, mild, moderate, severe")
    s.add_argument("--psychosis-history", action="store_true")
    s.add_argument("--raised-icp", action="store_true", help="raised intracranial pressure")
    s.add_argument("--raised-iop", action="store_true", help="raised intraocular pressure")
    s.add_argument("--substance-use-disorder", action="store_true")
    s.add_argument(
        "--drug-taken",
        action="append",
        default=[],
        metavar="NAME",
        help="a drug, food or herbal product taken (or a class, e.g. MAOI); repeatable",
    )
    s.add_argument("--format", default="text", help="text (default) or json")
    s.add_argument("--list-drugs", action="store_true", help="list the recognised drug names")
    s.set_defaults(func=cmd_screen)
