"""Small helpers every chapter uses: the parameters table, the paper-vs-measured table, plot style."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def parameters_table(namespace: Mapping[str, Any], name: str) -> pd.DataFrame:
    """Table of the chapter's parameters: value in this run, quick default, full-profile value.

    ``namespace`` is the notebook's ``globals()`` (after papermill injected its parameters);
    ``name`` the notebook stem. Lists exactly the names of the ``parameters`` cell.
    """
    quick = runner.default_parameters(name)
    full = runner.profile_parameters(name, "full")
    rows = [
        {"parameter": key, "this run": repr(namespace.get(key, quick[key])),
         "quick profile": repr(quick[key]), "full profile": repr(full[key])}
        for key in quick
    ]
    return pd.DataFrame(rows).set_index("parameter")


def claims_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Paper-vs-measured table: each row has ``claim``, ``paper``, ``measured`` and ``note``."""
    df = pd.DataFrame(rows)
    for col in ("claim", "paper", "measured", "note"):
        if col not in df:
            df[col] = ""
    return df[["claim", "paper", "measured", "note"]].set_index("claim")
