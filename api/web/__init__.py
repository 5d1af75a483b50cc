"""The public page (issue 5): comparison, company timeline, in-browser verification.

:func:`mount` adds the server-rendered pages (``/``, ``/providers/{id}``, ``/log``, the printable
``/companies/{id}/case-file``: ``casefile.py``; ``/data``, the open data: ``opendata.py``) and
the local static assets (``/static``: ``site.css``, ``page.js``, ``verify.js``, ``schema.js``)
to an API application. The pages read the ledger's views directly; the "Verify this record"
button reads the same ``/v1`` endpoints as any other client and re-checks everything in the
browser (``static/verify.js``, with the statement schemas in ``static/schema.js``). The pages
are translated (``i18n.py``: gettext catalogs in ``locale/``, chosen per request).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from api.web.casefile import router as case_file_router
from api.web.i18n import LanguageMiddleware
from api.web.opendata import router as open_data_router
from api.web.pages import STATIC_DIR, router

__all__ = ["mount"]


def mount(app: FastAPI) -> None:
    """Add the public pages and their static assets to ``app`` (once; a second call is a no-op)."""
    if getattr(app.state, "web_mounted", False):
        return
    app.state.web_mounted = True
    app.include_router(router)
    app.include_router(case_file_router)
    app.include_router(open_data_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Each page request's language (Accept-Language, ?lang=): api/web/i18n.py.
    app.add_middleware(LanguageMiddleware)
