"""The translation catalogs (locale/<language>/LC_MESSAGES/django.po), in pure Python so that a
machine with only Python can build and check them (no GNU gettext):

    python -m config.catalogs update    # every marked string into each language's .po
    python -m config.catalogs compile [es ...]  # .po -> .mo (make install and the image)
    python -m config.catalogs check     # list the strings a language has no translation for

Strings are found the way Django's makemessages finds them (gettext and its lazy, plural and
context forms in Python; Django's templatize for templates), so the two agree.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_python
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "locale"
DOMAIN = "django"
# The languages beyond English, as their locale folders are named (settings.LANGUAGES).
LANGUAGES = ("es", "zh_Hans")
# What the studio shows people: its packages and templates, not the tests, benches or sandbox
# (the fake vendors answer in the vendors' own words).
PACKAGES = ("accounts", "api", "config", "editor", "limiter", "templates")
SKIPPED = frozenset({"migrations", "sandbox", "__pycache__"})
# gettext's names as Django uses them, with where the text, plural and context are.
KEYWORDS: dict[str, tuple[int | tuple[int, str], ...] | None] = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}
TRANSLATOR_NOTES = ["Translators:"]
_Found = tuple[int, str, str | tuple[str | None, ...], list[str]]


def sources() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.suffix in {".py", ".html", ".txt"} and not SKIPPED & set(path.parts):
                yield path


def _python_of(path: Path) -> bytes:
    """A template as the Python that Django's templatize makes of it, indentation removed (the
    Python tokenizer reads it; only the gettext calls in it matter)."""
    if path.suffix == ".py":
        return path.read_bytes()
    from django.utils.translation.template import templatize

    text = templatize(path.read_text(encoding="utf-8"), origin=str(path))
    return "\n".join(line.lstrip() for line in text.splitlines()).encode()


def extract() -> Catalog:
    """Every marked string in the studio, with where it is used."""
    catalog = Catalog(domain=DOMAIN, project="Photo Studio", charset="utf-8")
    for path in sources():
        found = extract_python(io.BytesIO(_python_of(path)), KEYWORDS, TRANSLATOR_NOTES, {})
        for item in found:
            # What extract_python yields at run time (babel's annotation says otherwise).
            lineno, funcname, found_message, comments = cast(_Found, item)
            parts = found_message if isinstance(found_message, tuple) else (found_message,)
            context = None
            if funcname.startswith(("pgettext", "npgettext")):
                context, parts = parts[0], parts[1:]
            texts = tuple(part or "" for part in parts)
            if not any(texts):
                continue
            message: str | tuple[str, ...] = texts if len(texts) > 1 else texts[0]
            where = (str(path.relative_to(ROOT)), lineno)
            catalog.add(message, None, [where], auto_comments=comments, context=context)
    return catalog


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN, charset="utf-8")
    with path.open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


def _write(catalog: Catalog, path: Path) -> None:
    catalog.header_comment = (
        f"# Photo Studio, {catalog.locale_identifier}: `make catalogs` updates this file."
    )
    catalog.project, catalog.version, catalog.msgid_bugs_address = "Photo Studio", "", ""
    catalog.last_translator = catalog.language_team = ""
    catalog.fuzzy = False
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, sort_output=True, include_previous=True)
    path.write_bytes(buffer.getvalue())


def update(languages: Iterable[str] = LANGUAGES) -> None:
    """Bring each language's .po in line with the code: new strings untranslated, gone ones
    dropped, changed ones marked fuzzy with the translation to start from."""
    template = extract()
    for language in languages:
        catalog = read(language)
        created = catalog.creation_date  # kept, so that an update without changes is no diff
        catalog.update(template, update_header_comment=False)
        catalog.creation_date = created
        catalog.obsolete.clear()
        _write(catalog, po_path(language))


def untranslated(language: str, template: Catalog | None = None) -> list[str]:
    """The marked strings ``language`` cannot show: absent from its .po, empty, or fuzzy (a
    guess that nobody has checked). Plural forms count: each needs every form."""
    template = template if template is not None else extract()
    catalog = read(language)
    missing = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        strings = found.string if found is not None else ""
        forms = strings if isinstance(strings, tuple) else (strings,)
        if found is None or found.fuzzy or not all(forms):
            text = message.id if isinstance(message.id, str) else message.id[0]
            missing.append(f"{message.locations[0][0]}: {text}")
    return missing


def compile_all(languages: Iterable[str] = LANGUAGES) -> list[Path]:
    """Each .po as the .mo Django reads; fuzzy guesses are left out, as msgfmt does."""
    written = []
    for language in languages:
        catalog = read(language)
        target = po_path(language).with_suffix(".mo")
        with target.open("wb") as file:
            write_mo(file, catalog, use_fuzzy=False)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.catalogs", description=__doc__)
    parser.add_argument("action", choices=["update", "compile", "check"])
    parser.add_argument("languages", nargs="*", help=f"some of {', '.join(LANGUAGES)}; all if none")
    arguments = parser.parse_args(argv)
    action, languages = arguments.action, tuple(arguments.languages) or LANGUAGES
    if unknown := set(languages) - set(LANGUAGES):
        parser.error(f"no catalog for {', '.join(sorted(unknown))}")
    if action in {"update", "check"}:
        import django

        django.setup()  # templatize reads the template engine's settings
    if action == "update":
        update(languages)
    elif action == "compile":
        for path in compile_all(languages):
            print(f"compiled {path.relative_to(ROOT)}")
    else:
        template = extract()
        missing = {language: untranslated(language, template) for language in languages}
        for language, lines in missing.items():
            print(f"{language}: {len(lines)} untranslated")
            for line in lines:
                print(f"  {line}")
        return 1 if any(missing.values()) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
