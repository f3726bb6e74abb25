"""Small helpers every chapter uses: the parameters table, the paper-vs-measured table, plot style."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import pandas as pd

from . import runner


def setup_plots() -> None:
    """Readable, consistent seaborn figures rendered as PNG.

    Inside a Jupyter kernel the inline backend is switched on whatever ``MPLBACKEND`` says, so an
    executed page always holds its figures.
    """
    import matplotlib
    import seaborn as sns

    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None and getattr(shell, "kernel", None) is not None:
            shell.run_line_magic("matplotlib", "inline")
    except ImportError:  # pragma: no cover - IPython is a dependency of the book
        pass

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    pd.set_option("display.max_colwidth", None)  # claims and notes are sentences: never cut them
    matplotlib.rcParams.update({"figure.dpi": 90, "savefig.dpi": 90, "figure.autolayout": True})
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except Exception:  # pragma: no cover - outside a kernel
        pass


TEXT_WIDTH = 74
"""Characters of a printed line that fit the book's text column (monospace, without a scroll bar)."""


def echo(*values: Any, sep: str = " ", width: int = TEXT_WIDTH) -> None:
    """``print`` for the book's pages: output that fits the text column.

    A one-line value longer than ``width`` is wrapped at spaces (continuation lines indented by two);
    a multi-line value (a table from ``DataFrame.to_string``) is printed as it is, and a
    :class:`pandas.DataFrame` or :class:`pandas.Series` is laid out in column blocks of at most
    ``width`` characters (``to_string(line_width=width)``).
    """
    parts = []
    for v in values:
        if isinstance(v, pd.DataFrame):
            parts.append(v.to_string(line_width=width))
        elif isinstance(v, pd.Series):
            parts.append(v.to_string())
        else:
            parts.append(str(v))
    text = sep.join(parts)
    body = text.lstrip("\n")
    if "\n" in body.rstrip("\n") or len(body) <= width:
        print(text)
        return
    lead = "\n" * (len(text) - len(body))
    print(lead + textwrap.fill(body, width, subsequent_indent="  ", break_on_hyphens=False, break_long_words=False))


def parameters_table(namespace: Mapping[str, Any], name: str) -> pd.DataFrame:
    """Table of the chapter's parameters: value in this run, quick default, full-profile value.

    ``namespace`` is the notebook's ``globals()`` (after papermill injected its parameters);
    ``name`` the notebook stem. Lists exactly the names of the ``parameters`` cell.
    """
    quick = runner.default_parameters(name)
    full = runner.profile_parameters(name, "full")
    rows = [
        {
            "parameter": key,
            "this run": repr(namespace.get(key, quick[key])),
            "quick profile": repr(quick[key]),
            "full profile": repr(full[key]),
        }
        for key in quick
    ]
    return pd.DataFrame(rows).set_index("parameter")


#: The one vocabulary of the claims tables' ``verdict`` column.
VERDICTS = ("reproduced", "partly", "not reproduced", "the paper's claim does not hold")


class Claim(NamedTuple):
    """One row of a claims table: the paper's statement, its number, ours, the verdict (one of
    :data:`VERDICTS`) and why."""

    claim: str
    paper: str
    measured: str
    verdict: str
    why: str = ""


def claims_table(rows: Sequence[Claim | Mapping[str, Any]]) -> pd.DataFrame:
    """Paper-vs-measured table with a verdict per claim.

    Each row is a :class:`Claim` or a mapping with the keys ``claim``, ``paper``, ``measured``,
    ``verdict`` and optionally ``why``. A verdict outside :data:`VERDICTS` is an error, so a claim
    that failed can never read like one that held.
    """
    records = []
    for row in rows:
        rec = row._asdict() if isinstance(row, Claim) else dict(row)
        unknown = sorted(set(rec) - set(Claim._fields))
        if unknown:
            raise ValueError(f"claims-table row has unknown field(s) {unknown}; fields: {', '.join(Claim._fields)}")
        missing = [f for f in ("claim", "paper", "measured", "verdict") if not rec.get(f)]
        if missing:
            raise ValueError(f"claims-table row {rec.get('claim', rec)!r} lacks {', '.join(missing)}")
        if rec["verdict"] not in VERDICTS:
            raise ValueError(f"verdict {rec['verdict']!r} of claim {rec['claim']!r} is not one of {VERDICTS}")
        records.append(Claim(**rec))
    df = pd.DataFrame(records, columns=Claim._fields)
    return df.set_index("claim")
