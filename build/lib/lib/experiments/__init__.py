"""Chapter experiments: one module per chapter, named like its notebook (``chNN_<chapter>``).

These modules are *drivers*: they load and split the chapter's data, call the reusable
algorithms of :mod:`lib` and return tidy tables for the page. Nothing outside
``lib.experiments`` imports from here (``tests/test_import_contract.py`` enforces it), so the
rest of :mod:`lib` is the reusable library.
"""
