"""Drug monographs as sourced data: ketamine, esketamine, norketamine and hydroxynorketamine.

Every statement in ``monograph/data/<id>.toml`` cites its source and where in it (label section,
table, page); the loader refuses a statement without one. A live PK summary is computed from the
ketasim library's models. Research and education only: see ``ketasim.notices.DISCLAIMER``.

Examples
--------
>>> from ketasim.monograph import load_monograph, list_monographs
>>> list_monographs()
['esketamine', 'hnk', 'ketamine', 'norketamine']
>>> m = load_monograph("esketamine")
>>> m.get_statement("esk.ci.ich").severity
'contraindication'
"""

from ketasim.monograph.loader import (
    list_monographs,
    load_monograph,
    load_monograph_file,
    resolve_monograph_name,
)
from ketasim.monograph.pk_summary import PkRow, PkSummary, compute_pk_summary
from ketasim.monograph.render import render_monograph
from ketasim.monograph.schema import (
    SECTIONS,
    Monograph,
    MonographError,
    PkRegimen,
    Screen,
    Source,
    SourceRef,
    Statement,
)

__all__ = [
    "SECTIONS",
    "Monograph",
    "MonographError",
    "PkRegimen",
    "PkRow",
    "PkSummary",
    "Screen",
    "Source",
    "SourceRef",
    "Statement",
    "compute_pk_summary",
    "list_monographs",
    "load_monograph",
    "load_monograph_file",
    "render_monograph",
    "resolve_monograph_name",
]
