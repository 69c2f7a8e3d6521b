"""The studio's pages (HTML and HTMX fragments), one module per area. They parse the request,
call the domain (editor.access, editor.jobs, editor.submissions, ...) and render; no page module
imports another, and nothing below the pages imports them (pyproject.toml's import contracts).
"""
