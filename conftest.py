"""Loaded by pytest for every path of the repository (unit tests under tests/ and the executed pages
under book/): nbval starts a kernel per page after this file is imported, so the pages are
re-executed under the pinned numerics they were executed with (lib._book.numerics;
BOOK_CPU_CAPABILITY=default re-executes them as "another machine")."""

from lib._book import numerics

numerics.apply()
