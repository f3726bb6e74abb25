"""The book's own machinery (private): :mod:`lib._book.runner` executes a chapter with papermill
under the book's profiles and checked parameters; :mod:`lib._book.pages` holds the page helpers
(plot style, the parameters table, the paper-vs-measured claims table)."""
