"""Read the rendered book as a reader's browser does: headless Chromium driven by selenium.

:func:`check_page` returns the problems a reader would meet on one page of the built HTML: a
JavaScript error (other than those in :data:`ALLOWED_CONSOLE`), an image that did not load, a page
whose first heading is not its title, an element wider than the content column (or clipped with
a scroll bar), an internal link to a page or anchor that does not exist, math that MathJax did
not render. ``tests/test_browser.py`` runs it over every page of ``_build/html`` served on
127.0.0.1, and over deliberately broken pages to show that each check can fail.

Chromium and ChromeDriver are Debian's (``make browser`` installs them; no browser download).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: console messages that are not the book's fault (regular expressions): pydata-sphinx-theme reads the
#: colour mode from the browser's localStorage and logs this error on every first visit, before it
#: falls back to the default
ALLOWED_CONSOLE: tuple[str, ...] = (r"Got invalid theme mode: \. Resetting to auto",)
#: pixels an element may stick out of the content column (sub-pixel rounding)
SLACK = 2

_SCRIPT = r"""
const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const box = article.getBoundingClientRect();
const out = {title: document.title, h1: null, images: [], wide: [], math: 0, rendered: 0, anchors: [], ids: []};
const h = article.querySelector('h1');
out.h1 = h ? h.textContent.replace(/[#¶]/g, '').trim() : null;
for (const img of article.querySelectorAll('img')) {
  if (!img.complete || img.naturalWidth === 0) out.images.push(img.getAttribute('src'));
}
const describe = (el) => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ?
    '.' + el.className.trim().split(/\s+/).slice(0, 2).join('.') : '') + ': ' +
    (el.textContent || '').trim().slice(0, 60).replace(/\s+/g, ' ');
const clipped = [];
for (const el of article.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) continue;
  if (el.closest('.cell_input, .highlight-ipython3, .highlight-python')) continue;  // code: scrolling is fine
  if (clipped.some(c => c.contains(el))) continue;  // reported with its container
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || style.display === 'none') continue;
  const inMath = el.closest('mjx-container, span.math');
  if (r.right > box.right + SLACK || r.left < box.left - SLACK) {
    out.wide.push(describe(el) + ` (${Math.round(r.width)} px wide, column ${Math.round(box.width)} px)`);
    clipped.push(el);
  } else if (!inMath && el.scrollWidth > el.clientWidth + 8 && ['auto', 'scroll', 'hidden'].includes(style.overflowX)) {
    out.wide.push(describe(el) + ` (clipped: ${el.scrollWidth} px of content in ${el.clientWidth} px)`);
    clipped.push(el);
  }
}
out.math = article.querySelectorAll('.math, span.math, div.math').length;
out.rendered = article.querySelectorAll('mjx-container').length;
for (const a of document.querySelectorAll('a[href]')) out.anchors.push(a.getAttribute('href'));
return out;
""".replace("SLACK", str(SLACK))


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (a free port) for the duration of the block; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no access log on the test output
        pass


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[object]:
    """A headless Chromium under selenium, with the browser console log enabled."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-extensions", f"--window-size={width},{height}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for_mathjax(driver, timeout: float = 20.0) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    script = ("return !window.MathJax || !MathJax.startup || !MathJax.startup.promise ? 'none' : "
              "(window.__mjx_done ? 'done' : (MathJax.startup.promise.then(() => window.__mjx_done = true), 'wait'))")
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script) in ("none", "done"))


def check_page(driver, base: str, page: str, root: Path) -> list[str]:
    """Problems on ``page`` (a path under the served ``root``, e.g. ``book/intro.html``)."""
    driver.get(urllib.parse.urljoin(base, page))
    _wait_for_mathjax(driver)
    info = driver.execute_script(_SCRIPT)
    problems = []
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE" and not any(re.search(p, entry["message"]) for p in ALLOWED_CONSOLE):
            problems.append(f"JavaScript error: {entry['message'][:200]}")
    problems += [f"image did not load: {src}" for src in info["images"]]
    title = info["title"].split(" — ")[0].split(" | ")[0].strip()
    if not info["h1"]:
        problems.append("no first heading (h1)")
    elif info["h1"] != title:
        problems.append(f"first heading {info['h1']!r} is not the page title {title!r}")
    problems += [f"wider than the content column: {w}" for w in info["wide"][:10]]
    if len(info["wide"]) > 10:
        problems.append(f"... and {len(info['wide']) - 10} more wide elements")
    if info["math"] and not info["rendered"]:
        problems.append(f"{info['math']} formula(s) not rendered by MathJax")
    problems += broken_links(page, info["anchors"], root)
    return problems


@functools.lru_cache(maxsize=None)
def _ids(path: Path) -> frozenset[str]:
    text = path.read_text(errors="replace")
    return frozenset(re.findall(r'\bid="([^"]+)"', text))


def broken_links(page: str, hrefs: list[str], root: Path) -> list[str]:
    """Internal links of ``page`` whose file or ``#anchor`` does not exist under ``root``."""
    out = []
    here = (root / page).parent
    for href in sorted(set(hrefs)):
        parsed = urllib.parse.urlsplit(href)
        if parsed.scheme or parsed.netloc or href.startswith(("mailto:", "javascript:")):
            continue
        target = (root / page) if not parsed.path else (here / urllib.parse.unquote(parsed.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            out.append(f"broken link: {href}")
        elif parsed.fragment and target.suffix == ".html" and parsed.fragment not in _ids(target):
            out.append(f"broken anchor: {href}")
    return out
