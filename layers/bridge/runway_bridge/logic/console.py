"""The tenant console: one HTML page and its two assets, served by the API without an authorizer.

The page holds no data: the browser asks `/v1/*` for everything with the tenant's bridge key, so
the console sees exactly what the key's tenant may see, through the same checks as the CLI. What
the pages may load is pinned by the headers below: scripts and styles only from the bridge itself
(no inline code at all), media also from the object store the stable links redirect to.
"""

from __future__ import annotations

import hashlib
import re

from runway_bridge import errors
from runway_bridge.logic.ports import ConsoleFiles
from runway_bridge.models.console import ConsoleAnswer, ConsoleFile

PAGE = "index.html"
# The only files served under /console/<name>; the page names them with a version query.
ASSETS = ("console.css", "console.js")
# A CSP source expression: a scheme, host (wildcards allowed) and port; nothing that could end
# the directive or the header.
_SOURCE = re.compile(r"^(?:'self'|[a-z][a-z0-9+.-]*:(?://[A-Za-z0-9*.\-\[\]:]+)?)$")
IMMUTABLE = "public, max-age=31536000, immutable"
NO_STORE = "no-store"


def parse_media_sources(configured: str) -> list[str]:
    """The configured media origins (space-separated CSP sources); a malformed one is refused."""
    sources = configured.split()
    for source in sources:
        if not _SOURCE.match(source):
            raise ValueError(f"not a CSP source expression: {source!r}")
    return sources


def security_headers(media: list[str]) -> dict[str, str]:
    """Headers of every console answer."""
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "media-src " + " ".join(["'self'", *media]),
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


def version_of(file: ConsoleFile) -> str:
    return hashlib.sha256(file.text.encode()).hexdigest()[:16]


class ConsoleService:
    def __init__(self, files: ConsoleFiles, *, media_sources: str) -> None:
        self._files = files
        self._headers = security_headers(parse_media_sources(media_sources))

    def _file(self, name: str) -> ConsoleFile:
        file = self._files.read(name)
        if file is None:
            raise errors.NotFoundError(f"the console has no file {name!r}")
        return file

    def page(self, *, trailing_slash: bool = False) -> ConsoleAnswer:
        """The HTML, its asset links versioned by content and relative to where it was asked for
        (`/console` or `/Prod/console`, with or without the trailing slash)."""
        html = self._file(PAGE).text
        prefix = "" if trailing_slash else "console/"
        for name in ASSETS:
            html = html.replace("{{" + name + "}}", f"{prefix}{name}?v={version_of(self._file(name))}")
        return ConsoleAnswer(
            status=200,
            content_type="text/html; charset=utf-8",
            body=html,
            headers={**self._headers, "Cache-Control": NO_STORE},
        )

    def asset(self, name: str, *, version: str | None = None) -> ConsoleAnswer:
        """One asset; cached for good only when asked for by its current version."""
        if name not in ASSETS:
            raise errors.NotFoundError(f"the console has no file {name!r}")
        file = self._file(name)
        cache = IMMUTABLE if version == version_of(file) else NO_STORE
        return ConsoleAnswer(
            status=200,
            content_type=file.content_type,
            body=file.text,
            headers={**self._headers, "Cache-Control": cache},
        )
