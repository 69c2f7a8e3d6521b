"""Reading what the studio's pages and the admin send back: a rendered form ready to post
again, an admin list's rows, an audit event as text; and the header HTMX sends."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

from django.urls import reverse

from accounts.models import AuditEvent
from editor.models import Result


class _FormFields(HTMLParser):
    """What a browser would send from the page's first POST form after the admin's logout
    form: its inputs, checked boxes, selected options and text areas."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._done = False
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name: str | None, value: str | None) -> None:
        if name:
            self.data.setdefault(name, []).append(value or "")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if (
            tag == "form"
            and not self._done
            and (attr.get("method") or "").lower() == "post"
            and attr.get("id") != "logout-form"
        ):
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input":
            kind = (attr.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attr:
                return
            self._add(attr.get("name"), attr.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select":
            self._select = attr.get("name")
        elif tag == "option" and self._select and "selected" in attr:
            self._add(self._select, attr.get("value"))
        elif tag == "textarea":
            self._textarea = attr.get("name")
            self._add(self._textarea, "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form, self._done = False, True
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea][-1] += data


def form_fields(response: Any, **changes: Any) -> dict[str, Any]:
    """The admin page's form as it was rendered, with ``changes`` applied: ready to post."""
    parser = _FormFields()
    parser.feed(response.content.decode())
    data: dict[str, Any] = {
        name: values if len(values) > 1 else values[0] for name, values in parser.data.items()
    }
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def rows(response: Any) -> str:
    """The rows of an admin list, without its filters."""
    content: str = response.content.decode()
    return content.split('id="result_list"', 1)[1].split("</table>", 1)[0]


def every_field(event: AuditEvent) -> str:
    """All an event holds, as text, to look for what must never be there."""
    return " ".join(
        json.dumps(value, default=str) if field.name == "details" else str(value)
        for field in AuditEvent._meta.concrete_fields
        for value in [getattr(event, field.attname)]
    )


def new_url(result: Result) -> str:
    return reverse("editor:share_new", args=[result.job_id, result.pk])


# Any: the test client takes extra headers as loosely typed **kwargs.
HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


def without_csrf(response: Any) -> str:
    """A page's text without the CSRF token every page masks afresh, so two answers that say
    the same can be compared whole."""
    page = re.sub(r'"X-CSRFToken": "[^"]+"', "", response.content.decode())
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
