"""One-line provenance of a model (id, citation, evidence tier, sampling site) for every output.

Headers of CSV/Parquet outputs, plot footers, the validation table and the app all say where a
curve comes from with :func:`format_provenance`, so a ``transcribed`` model can never be shown
as if it were read in its paper.
"""

from __future__ import annotations

from ketasim.spec import ModelSpec

__all__ = ["format_provenance", "get_evidence_tier"]


def get_evidence_tier(spec: ModelSpec) -> str:
    """Evidence tier of a model: ``published``, ``transcribed``, ``derived``, or ``generic``.

    Built-in generic models (``pk1`` ...) carry the user's own parameters: ``generic``.

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> get_evidence_tier(load_model("herd_2007"))
    'published'
    """
    if spec.generic:
        return "generic"
    return spec.evidence.tier if spec.evidence is not None else "unknown"


def format_provenance(spec: ModelSpec) -> str:
    """One line: model id, citation, evidence tier (with its sources) and sampling site.

    Parameters
    ----------
    spec : ModelSpec

    Returns
    -------
    str
        e.g. ``domino_1984: Domino EF et al. (1984) Clin Pharmacol Ther. doi:... | evidence:
        transcribed (opentiva 1.1.2, stanpumpR 0.0.1.9002) | sampling: unknown``

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> format_provenance(load_model("herd_2007")).split(" | ")[1:]
    ['evidence: published', 'sampling: unknown']
    """
    if spec.generic:
        return f"{spec.id}: generic model with user-supplied parameters | evidence: generic"
    cite = spec.citation.format() if spec.citation is not None else "no citation"
    tier = spec.evidence.format() if spec.evidence is not None else "unknown"
    return f"{spec.id}: {cite} | evidence: {tier} | sampling: {spec.sampling}"
