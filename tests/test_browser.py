"""The rendered book read in headless Chromium (lib._book.browser): every page of _build/html has no
JavaScript error, loads its images, opens with its title, fits the content column, links only to
pages and anchors that exist, and renders its formulas. ``make test`` builds the HTML first
(``make html``, from the committed notebooks); the deliberately broken pages below show that each
check can fail."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from lib._book import browser

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"

pytestmark = pytest.mark.browser


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for e in entries:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("chapters", []) + e.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return [f"{f}.html" for f in files]


@pytest.fixture(scope="module")
def driver():
    if not (Path(browser.CHROMIUM).exists() and Path(browser.CHROMEDRIVER).exists()):
        pytest.fail("Debian's chromium and chromium-driver are missing: run `make browser` (apt-get, needs root)")
    with browser.chromium() as d:
        yield d


@pytest.fixture(scope="module")
def site():
    if not (HTML / "book" / "intro.html").exists():
        pytest.fail("the book is not built: run `make html` (jupyter-book build, from the committed notebooks)")
    with browser.serve(HTML) as base:
        yield base


@pytest.mark.parametrize("page", _toc_pages())
def test_page_reads_well(page, driver, site):
    problems = browser.check_page(driver, site, page, HTML)
    assert not problems, f"{page}:\n- " + "\n- ".join(problems)


def test_checks_fail_on_a_broken_page(tmp_path, driver):
    """A copy of a real page, broken on purpose: a wide table, a missing image, a dead link, a title
    that does not match, unrendered math. Each must be reported."""
    shutil.copytree(HTML / "_static", tmp_path / "_static")
    (tmp_path / "book").mkdir()
    page = (HTML / "book" / "conventions.html").read_text()
    head = page.index('<article class="bd-article">') + len('<article class="bd-article">')
    wide = "<table><tr>" + "".join(f"<td>column_{i}_with_a_long_name</td>" for i in range(40)) + "</tr></table>"
    broken = (
        "<section><h1>Not the title</h1>" + wide + '<img src="missing.png" alt="x">'
        '<a href="no_such_page.html">dead</a><a href="conventions.html#no-such-anchor">dead anchor</a>'
        '<span class="math notranslate nohighlight">\\(x^2\\)</span></section>'
    )
    page = page[:head] + broken + page[head:]
    page, n = re.subn(
        r'src="../_static/mathjax/tex-chtml\.js[^"]*"', 'src="../_static/mathjax/missing-mathjax.js"', page
    )
    assert n == 1, "the page no longer loads MathJax from _static/mathjax"  # the self-test would test nothing
    (tmp_path / "book" / "conventions.html").write_text(page)
    with browser.serve(tmp_path) as base:
        problems = "\n".join(browser.check_page(driver, base, "book/conventions.html", tmp_path))
    for expected in (
        "image did not load",
        "is not the page title",
        "wider than the content column",
        "broken link: no_such_page.html",
        "broken anchor",
        "not rendered by MathJax",
        "JavaScript error",
    ):
        assert expected in problems, f"{expected!r} not reported; got:\n{problems}"
