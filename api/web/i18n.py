"""The pages' languages: stdlib gettext catalogs, chosen per request.

The catalogs are ``locale/LANG/LC_MESSAGES/claimledger-web.mo``, compiled from the ``.po`` next
to them by ``scripts/i18n.py`` (committed, and checked current by ``tests/web/test_i18n.py``); a
language is shipped when its ``.mo`` is there. ``locale/LANG/browser.json`` is the part of the
catalog the browser needs (``static/page.js`` and ``static/verdict-words.json``): the pages embed
it. English is the source language and needs no catalog.

The language of a request is its ``?lang=`` if given (an explicit choice, carried on the page's
links), else the best match of its ``Accept-Language``, else English (:func:`negotiate`).
:class:`LanguageMiddleware` sets it for the request; :func:`_` and :func:`ngettext` translate in
it. Only pages are translated: the ``/v1`` API (its problem details, feeds and exports) and the
static files stay English. Page responses vary with the language: they carry
``Vary: Accept-Language`` and their ETag includes it.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "DEFAULT",
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "Choice",
    "Language",
    "LanguageMiddleware",
    "Translated",
    "_",
    "current",
    "negotiate",
    "ngettext",
    "speaking",
]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "claimledger-web"
DEFAULT = "en"


@dataclass(frozen=True, slots=True)
class Language:
    """A shipped language: its code (``fr``), its name in itself (``Français``), its catalog and
    the browser's part of it (``{"plural": "ne1" | "gt1", "messages": {msgid: msgstr}}``)."""

    code: str
    name: str
    translations: gettext.NullTranslations
    browser: Mapping[str, Any] = field(default_factory=dict)


def _load() -> dict[str, Language]:
    languages = {DEFAULT: Language(DEFAULT, "English", gettext.NullTranslations())}
    if not LOCALE_DIR.is_dir():
        return languages
    for folder in sorted(LOCALE_DIR.iterdir()):
        mo = folder / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if not mo.is_file():
            continue
        with mo.open("rb") as f:
            catalog = gettext.GNUTranslations(f)
        name = catalog.info().get("x-language-name", folder.name)
        browser = orjson.loads((folder / "browser.json").read_bytes())
        languages[folder.name] = Language(folder.name, name, catalog, browser)
    return languages


LANGUAGES: Mapping[str, Language] = _load()
"""The shipped languages by code, English first."""


@dataclass(frozen=True, slots=True)
class Choice:
    """The language of one request, whether it was chosen with ``?lang=`` (``explicit``), and
    the unknown ``?lang=`` value if one was asked for (``invalid``)."""

    language: Language
    explicit: bool = False
    invalid: str | None = None

    @property
    def code(self) -> str:
        """The language code."""
        return self.language.code


_ENGLISH = Choice(LANGUAGES[DEFAULT])
_current: ContextVar[Choice] = ContextVar("claimledger_language")


def current() -> Choice:
    """The language of the request being served (English outside a request)."""
    return _current.get(_ENGLISH)


@contextmanager
def speaking(choice: Choice) -> Iterator[Choice]:
    """Translate into ``choice``'s language within the block (a request's, or a test's)."""
    token = _current.set(choice)
    try:
        yield choice
    finally:
        _current.reset(token)


def _accepted(header: str) -> Iterator[str]:
    """The language ranges of an ``Accept-Language`` header, most preferred first (RFC 9110
    §12.5.4; ranges with ``q=0`` are refused, a malformed weight counts as 0)."""
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate(header.split(",")):
        tag, _sep, params = item.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            key, _eq, value = p.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag.strip().lower()))
    for _q, _i, tag in sorted(ranked):
        yield tag


def negotiate(lang: str | None, accept_language: str | None) -> Choice:
    """The language for ``?lang=`` (if a shipped one) or the best of ``Accept-Language``."""
    if lang is not None:
        wanted = lang.strip().lower()
        if wanted in LANGUAGES:
            return Choice(LANGUAGES[wanted], explicit=True)
        fallback = negotiate(None, accept_language)
        return Choice(fallback.language, invalid=lang)
    for tag in _accepted(accept_language or ""):
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return Choice(LANGUAGES[primary])
        if tag == "*":
            break
    return Choice(LANGUAGES[DEFAULT])


def _(message: str) -> str:
    """``message`` in the request's language."""
    return _current.get(_ENGLISH).language.translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` for ``n`` in the request's language."""
    return _current.get(_ENGLISH).language.translations.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it now (a table of English words
    translated where it is read, see :class:`Translated`)."""
    return message


class Translated(Mapping[str, str]):
    """A table of English words (marked with :func:`N_`) read in the request's language."""

    def __init__(self, words: Mapping[str, str]) -> None:
        self._words = dict(words)

    def __getitem__(self, key: str) -> str:
        return _(self._words[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)

    def __len__(self) -> int:
        return len(self._words)


def _is_page(path: str) -> bool:
    """Whether ``path`` is a page (the ``/v1`` API, its feeds and the static files speak
    English whatever the request's language: their bytes never vary with it)."""
    return not path.startswith(("/v1/", "/static/")) and path not in ("/v1", "/metrics")


class LanguageMiddleware:
    """Sets the language of each HTTP request (:func:`negotiate`) for the code that serves it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_page(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        lang = query.get("lang", [None])[-1]
        accept = None
        for name, value in scope.get("headers", ()):
            if name == b"accept-language":
                accept = value.decode("latin-1")
        with speaking(negotiate(lang, accept)):
            await self.app(scope, receive, send)
