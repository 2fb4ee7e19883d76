"""Languages of the site: translatable mapping text and the pages' own words.

Two kinds of text, two mechanisms, no overlap:

- What a mapping says (summaries, notes, section texts, guide items, remarks...) is written in the
  YAML, either as a plain string (English) or as ``{en: ..., zh_CN: ...}``. The schema turns each into
  a ``LocalText``: a ``str`` holding the English text, so every stage that is not about language
  (verify, the importer, the cache) reads English as before, with every language's text beside it.
  ``LocalText.pick(language)`` gives the text to show and says when it fell back to another language.
- The words of the pages themselves ("Differences", "Code Example 2", status names, the provenance
  sentence, failure messages) are gettext messages, in Jinja templates (``jinja2.ext.i18n``) and in
  Python (``_``/``N_`` from this module), extracted with Babel into ``locale/messages.pot``; each
  language has ``locale/<language>/LC_MESSAGES/messages.po``. Catalogs are compiled in memory when
  first used, so a fresh clone needs no compiled ``.mo`` file. See docs/contributing.md.

The language of what is being rendered is a context variable (``using``), set by the renderer and
the Sphinx extension; ``_`` translates into it. English is the source language: its catalog is empty.
"""

from __future__ import annotations

import functools
import gettext as _gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from . import ROOT

LANGUAGES = ("en", "zh_CN")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "zh_CN": "中文"}
LOCALE_DIR = ROOT / "locale"
DOMAIN = "messages"
BABEL_CONFIG = ROOT / "babel.cfg"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"

_current: ContextVar[str] = ContextVar("mapping_language", default=DEFAULT_LANGUAGE)


def catalog_path(language: str):
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def normalize(language: str | None) -> str:
    """A Sphinx ``language`` value (``zh_CN``, ``zh-CN``, ``en``, None) as one of ``LANGUAGES``."""
    if not language:
        return DEFAULT_LANGUAGE
    language = language.replace("-", "_")
    if language in LANGUAGES:
        return language
    base = language.split("_")[0]
    return next((known for known in LANGUAGES if known.split("_")[0] == base), DEFAULT_LANGUAGE)


@functools.cache
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``language`` (compiled from its ``.po`` in memory; English: none)."""
    path = catalog_path(language)
    if language == DEFAULT_LANGUAGE or not path.is_file():
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as stream:
        catalog = read_po(stream, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)  # a fuzzy entry is not a translation
    compiled.seek(0)
    return _gettext.GNUTranslations(compiled)


def current() -> str:
    return _current.get()


@contextmanager
def using(language: str) -> Iterator[str]:
    """Render in ``language`` inside the block (``_`` and ``LocalText`` filters follow it)."""
    token = _current.set(normalize(language))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, count)


_ = gettext


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark ``message`` for extraction; it is translated where it is shown (``_(value)``)."""
    return message


# A language's name in the language of the page that names it (the untranslated marker's tooltip).
LANGUAGE_TITLES = {"en": N_("English"), "zh_CN": N_("Chinese")}


class LocalText(str):
    """Text that may exist in several languages. As a ``str`` it is the English text (or, when a
    mapping has no English text for it, the first language it has)."""

    texts: dict[str, str]

    def __new__(cls, texts: dict[str, str]) -> LocalText:
        if not texts:
            raise ValueError("a translatable text needs at least one language")
        first = texts.get(DEFAULT_LANGUAGE) or next(iter(texts.values()))
        self = super().__new__(cls, first)
        self.texts = dict(texts)
        return self

    def __reduce__(self):
        return LocalText, (self.texts,)

    def pick(self, language: str | None = None) -> tuple[str, str | None]:
        """(text to show in ``language``, None; or the fallback text and the language it is in)."""
        language = normalize(language or _current.get())
        if language in self.texts:
            return self.texts[language], None
        fallback = DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in self.texts else next(iter(self.texts))
        return self.texts[fallback], fallback

    def has(self, language: str) -> bool:
        return language in self.texts

    @property
    def raw(self) -> str | dict[str, str]:
        """What the YAML says: a plain string for English alone, else the mapping of languages."""
        if set(self.texts) == {DEFAULT_LANGUAGE}:
            return self.texts[DEFAULT_LANGUAGE]
        return {language: self.texts[language] for language in LANGUAGES if language in self.texts}


def local_texts(value, here: tuple = ()) -> Iterator[tuple[tuple, LocalText]]:
    """(field path, text) of every translatable text in a model (``schema.Mapping``), in field order."""
    from pydantic import BaseModel

    if isinstance(value, LocalText):
        yield here, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from local_texts(getattr(value, name), (*here, name))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from local_texts(item, (*here, index))


def field_path_text(path: tuple) -> str:
    return ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in path).replace(".[", "[")


def untranslated(mapping, language: str) -> list[str]:
    """Field paths of ``mapping`` with no text in ``language`` (shown in another language there)."""
    return [field_path_text(path) for path, text in local_texts(mapping) if not text.has(language)]
