"""The console's page and assets as the API serves them: the headers that pin what the page may
load, asset links versioned by content, only the console's own files, and the rendering rule
(values as text, no inline code) checked on the shipped files."""

from __future__ import annotations

import re

import pytest

from runway_bridge import errors
from runway_bridge.adapters.console_files import PackagedConsoleFiles
from runway_bridge.logic.console import ASSETS, PAGE, ConsoleService, parse_media_sources, version_of
from runway_bridge.models.console import ConsoleFile

S3 = "https://*.amazonaws.com"


class Files:
    def __init__(self, **texts: str) -> None:
        self.texts = texts

    def read(self, name: str) -> ConsoleFile | None:
        text = self.texts.get(name.replace(".", "_"))
        return None if text is None else ConsoleFile(name=name, text=text, content_type=f"type/{name}")


def fake_service(media: str = S3) -> ConsoleService:
    page = '<link href="{{console.css}}"><script src="{{console.js}}"></script>'
    return ConsoleService(
        Files(index_html=page, console_css="body {}", console_js="go()"), media_sources=media
    )


def directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_the_page_pins_what_it_may_load_and_is_never_stored() -> None:
    answer = fake_service(f"{S3} http://127.0.0.1:5001").page()
    assert answer.status == 200
    assert answer.content_type == "text/html; charset=utf-8"
    policy = directives(answer.headers["Content-Security-Policy"])
    assert policy == {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "media-src": f"'self' {S3} http://127.0.0.1:5001",
        "connect-src": "'self'",
        "form-action": "'self'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
    }
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Cache-Control"] == "no-store"


def test_asset_links_carry_the_content_version_and_are_relative_to_the_page() -> None:
    service = fake_service()
    css = version_of(ConsoleFile(name="console.css", text="body {}", content_type=""))
    js = version_of(ConsoleFile(name="console.js", text="go()", content_type=""))
    assert service.page().body == (
        f'<link href="console/console.css?v={css}"><script src="console/console.js?v={js}"></script>'
    )
    assert f'src="console.js?v={js}"' in service.page(trailing_slash=True).body


def test_an_asset_is_cached_for_good_only_when_asked_for_by_its_current_version() -> None:
    service = fake_service()
    current = version_of(ConsoleFile(name="console.js", text="go()", content_type=""))
    answer = service.asset("console.js", version=current)
    assert answer.body == "go()"
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Content-Security-Policy" in answer.headers
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert service.asset("console.js", version="old").headers["Cache-Control"] == "no-store"
    assert service.asset("console.js").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("name", ["index.html", "settings.py", "../settings.py", "console.png", ""])
def test_only_the_consoles_assets_are_served(name: str) -> None:
    with pytest.raises(errors.NotFoundError):
        fake_service().asset(name)


@pytest.mark.parametrize("source", ["https://a.example; script-src *", "'unsafe-inline'", "https://a,b"])
def test_a_media_source_that_could_widen_the_policy_is_refused(source: str) -> None:
    with pytest.raises(ValueError, match="CSP source"):
        parse_media_sources(source)


def test_the_shipped_files_are_served_with_their_types() -> None:
    files = PackagedConsoleFiles()
    service = ConsoleService(files, media_sources=S3)
    assert "<html" in service.page().body
    assert "{{" not in service.page().body
    assert service.asset("console.js").content_type == "text/javascript; charset=utf-8"
    assert service.asset("console.css").content_type == "text/css; charset=utf-8"
    assert files.read("__init__.py") is None
    assert files.read("../settings.py") is None


def test_the_shipped_page_has_no_inline_code_and_the_script_never_writes_markup() -> None:
    files = PackagedConsoleFiles()
    page = files.read(PAGE)
    assert page is not None
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) == []
    assert "<style" not in page.text
    assert re.findall(r"\sstyle=|\son[a-z]+=", page.text) == []
    for name in ASSETS:
        file = files.read(name)
        assert file is not None
        assert file.text.strip()
    script = files.read("console.js")
    assert script is not None
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script.text, sink
