"""The CLI's messages in the user's language (stdlib gettext).

The language comes from the environment as gettext reads it (``LANGUAGE``, ``LC_ALL``,
``LC_MESSAGES``, ``LANG``: ``LANG=fr_FR.UTF-8`` speaks French); English, the source language, is
the default and what a locale without a catalog (``C``, ``de_DE``...) gets. The catalogs are
``locale/LANG/LC_MESSAGES/claimledger-cli.mo``, compiled from the ``.po`` beside them by
``scripts/i18n.py`` and committed (checked current by ``tests/web/test_i18n.py``).

Only what the CLI says in its own words is translated (its error lines, mostly); what it prints
as data (receipts, digests, JSON) and the details quoted from the library or a server stay as
they are.
"""

from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path

__all__ = ["DOMAIN", "LOCALE_DIR", "N_", "_", "ngettext"]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "claimledger-cli"
_ENVIRONMENT = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@functools.cache
def _catalog(settings: tuple[str | None, ...]) -> gettext.NullTranslations:
    languages: list[str] = []
    for value in settings:  # the first set variable decides, as in gettext.find
        if value:
            languages = value.split(":")
            break
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=languages or None, fallback=True)


def _translations() -> gettext.NullTranslations:
    """The catalog for the environment now (read at each message: a test may change it)."""
    return _catalog(tuple(os.environ.get(name) for name in _ENVIRONMENT))


def _(message: str) -> str:
    """``message`` in the user's language."""
    return _translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` for ``n`` in the user's language."""
    return _translations().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is read."""
    return message
