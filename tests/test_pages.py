"""The page helpers: printed output fits the book's text column."""

import numpy as np
import pandas as pd

from lib._book import pages


def test_echo_wraps_long_lines_at_spaces(capsys):
    words = " ".join(f"word{i}" for i in range(40))
    pages.echo("\n" + words)
    out = capsys.readouterr().out
    lines = out.split("\n")
    assert lines[0] == ""  # a leading newline is kept, not folded into the text
    assert all(len(line) <= pages.TEXT_WIDTH for line in lines)
    assert " ".join(out.split()) == words  # nothing lost or reordered
    assert all(line.startswith("  ") for line in lines[2:] if line)


def test_echo_keeps_short_lines_and_tables_as_they_are(capsys):
    pages.echo("a", 1, sep="=")
    table = "  col\nx   1"
    pages.echo(table)
    assert capsys.readouterr().out == "a=1\n" + table + "\n"


def test_echo_lays_a_wide_frame_out_in_blocks(capsys):
    df = pd.DataFrame(np.arange(60.0).reshape(3, 20) * 1001, columns=[f"column {i}" for i in range(20)])
    pages.echo(df)
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= pages.TEXT_WIDTH
    assert all(f"column {i}" in out for i in range(20))
