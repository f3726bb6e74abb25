"""A local Sphinx extension that fixes Jupyter Book 1's HTML (``_config.yml`` loads it):
sphinx-thebe registers its configuration script on every ``env-before-read-docs`` event, so a page
can carry it twice and the browser stops with "Identifier 'THEBE_JS_URL' has already been
declared"; duplicate script entries are dropped from each page's context.
"""

from __future__ import annotations


def _dedup_scripts(app, pagename, templatename, context, doctree) -> None:
    seen, kept = set(), []
    for js in context.get("script_files", []):
        attrs = tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items()))
        key = (getattr(js, "filename", None) or "", attrs)  # None and "" both mean an inline script
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedup_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
