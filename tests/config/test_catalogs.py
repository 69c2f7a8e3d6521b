"""The translation catalogs (config.catalogs): every string the studio marks has a translation in
every language, translations keep their placeholders, and no template shows text that is not
marked for translation at all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from django.template.base import Lexer, TokenType
from django.utils import translation

from config import catalogs

# Names that read the same in every language: file formats.
SAME_IN_EVERY_LANGUAGE = {"PNG", "JPEG", "WebP"}
# Templates that are not the studio's: the test identity provider's sign-in page.
NOT_OURS = ("tests/",)
# Attributes a person reads or hears; an <input> button's value too (its label).
READ_ATTRIBUTES = {"alt", "aria-label", "aria-description", "placeholder", "title"}
SKIP_OPENING = {"comment", "blocktranslate", "blocktrans"}
SKIP_CLOSING = {"endcomment", "endblocktranslate", "endblocktrans"}


@pytest.fixture(scope="module")
def template() -> Catalog:
    return catalogs.extract()


@pytest.mark.parametrize("language", catalogs.LANGUAGES)
def test_every_marked_string_has_a_translation(language: str, template: Catalog) -> None:
    missing = catalogs.untranslated(language, template)
    assert missing == [], (
        f"{len(missing)} strings have no {language} translation: run `make catalogs`, translate "
        f"them in {catalogs.po_path(language).relative_to(catalogs.ROOT)}"
    )


@pytest.mark.parametrize("language", catalogs.LANGUAGES)
def test_translations_keep_their_placeholders(language: str) -> None:
    # Babel's own checks: python-format placeholders and the number of plural forms.
    problems = [
        f"{message.id!r}: {'; '.join(str(error) for error in errors)}"
        for message, errors in catalogs.read(language).check()
    ]
    assert problems == []


def test_the_check_sees_a_string_with_no_translation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "page.html"
    page.write_text('{% load i18n %}<p>{% translate "A sentence nobody has translated" %}</p>')
    monkeypatch.setattr(catalogs, "ROOT", tmp_path)
    monkeypatch.setattr(catalogs, "sources", lambda: iter([page]))
    assert catalogs.untranslated("es") == ["page.html: A sentence nobody has translated"]


def test_django_reads_the_compiled_catalogs() -> None:
    with translation.override("es"):
        assert translation.gettext("Sign in") == "Iniciar sesión"
    with translation.override("zh-hans"):
        assert translation.gettext("Sign in") == "登录"


# --- Text no one marked -------------------------------------------------------------------------


class _Visible(HTMLParser):
    """The words a person would read in a template's HTML, template tags taken out."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = 0  # inside <script> or <style>
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in ("script", "style")
        named = dict(attrs)
        for name, value in attrs:
            read = name in READ_ATTRIBUTES or (
                tag == "input" and name == "value" and named.get("type") in ("submit", "button")
            )
            if read and value:
                self._keep(value)

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self._keep(data)

    def _keep(self, text: str) -> None:
        for piece in text.split("\x00"):
            words = " ".join(piece.split())
            if re.search(r"[A-Za-z]{2,}", words) and words not in SAME_IN_EVERY_LANGUAGE:
                self.found.append(words)


def _outside_translation(source: str) -> str:
    """The template's text outside {% translate %}/{% blocktranslate %} and comments. A tag
    leaves nothing (it may sit inside an HTML tag's name); a variable leaves a mark that splits
    the words around it."""
    kept: list[str] = []
    skipping = 0
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0]
            skipping += (name in SKIP_OPENING) - (name in SKIP_CLOSING)
        elif token.token_type == TokenType.VAR:
            kept.append("\x00")
        elif token.token_type == TokenType.TEXT and not skipping:
            kept.append(token.contents)
    return "".join(kept)


def _templates() -> Iterator[Path]:
    for path in catalogs.sources():
        relative = path.relative_to(catalogs.ROOT).as_posix()
        if path.suffix == ".html" and not relative.startswith(NOT_OURS):
            yield path


def unmarked(source: str) -> list[str]:
    parser = _Visible()
    parser.feed(_outside_translation(source))
    return parser.found


def test_no_template_shows_text_that_is_not_marked_for_translation() -> None:
    found = {
        str(path.relative_to(catalogs.ROOT)): words
        for path in _templates()
        if (words := unmarked(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_template_check_sees_unmarked_text() -> None:
    source = (
        '{% load i18n %}<h1>{% translate "Gallery" %}</h1><p>Nothing here yet</p>'
        '<img alt="A photo" src="{{ url }}"><button aria-label="{% translate "Close" %}">×</button>'
        "{# a comment #}{% comment %}Not shown{% endcomment %}<span>PNG</span>"
    )
    assert unmarked(source) == ["Nothing here yet", "A photo"]
