"""`app_ui.owner_cookie`: the middleware that gives a browser its owner id, driven as
the ASGI server drives it (the browser tests cover it under `streamlit run`)."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest

from app_ui.owner_cookie import COOKIE, OwnerCookieMiddleware, valid_owner
from mnist_core.shared.owners import check_owner, new_owner_id


def respond(content_type: bytes):
    """An ASGI app answering every request with an empty body of `content_type`."""
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type)]})
        await send({"type": "http.response.body", "body": b""})
    return app


def set_cookies(path="/", cookie: str | None = None, content_type=b"text/html; charset=utf-8",
                scheme="http", headers=()) -> list[str]:
    """The `Set-Cookie` headers the middleware adds to one response."""
    request_headers = list(headers)
    if cookie is not None:
        request_headers.append((b"cookie", f"{COOKIE}={cookie}; other=1".encode()))
    scope = {"type": "http", "method": "GET", "path": path, "scheme": scheme,
             "headers": request_headers, "query_string": b""}
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request"}

    # in a thread of its own: the browser tests leave Playwright's event loop in this one
    middleware = OwnerCookieMiddleware(respond(content_type))
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, middleware(scope, receive, send)).result()
    start = next(m for m in sent if m["type"] == "http.response.start")
    return [v.decode() for k, v in start["headers"] if k.lower() == b"set-cookie"]


def test_a_first_page_load_gets_a_fresh_owner_id_in_a_cookie_scripts_cannot_read():
    (header,) = set_cookies("/Train")
    name_value, *attributes = [part.strip() for part in header.split(";")]
    name, value = name_value.split("=", 1)
    assert name == COOKIE and check_owner(value) == value
    assert set(attributes) == {"Path=/", "Max-Age=34560000", "HttpOnly", "SameSite=Lax"}
    assert set_cookies("/")[0] != header  # every browser its own


@pytest.mark.parametrize("old", ["5f0c8a3e9b1d4c2aa6e7f8091b2c3d4e", "", "o_short"])
def test_a_malformed_or_outdated_cookie_is_replaced(old):
    (header,) = set_cookies(cookie=old)
    assert header.startswith(f"{COOKIE}=o_")


def test_a_valid_cookie_and_requests_other_than_pages_are_left_alone():
    assert set_cookies(cookie=new_owner_id()) == []
    assert set_cookies("/static/js/index.js", content_type=b"text/javascript") == []
    assert set_cookies("/_stcore/health", content_type=b"text/plain") == []


def test_the_cookie_is_secure_behind_https_directly_or_through_a_proxy():
    assert set_cookies(scheme="https")[0].endswith("; Secure")
    assert set_cookies(headers=[(b"x-forwarded-proto", b"https")])[0].endswith("; Secure")
    assert "Secure" not in set_cookies()[0]


def test_valid_owner_reads_only_ids_the_app_makes():
    owner = new_owner_id()
    assert valid_owner(owner) == owner
    assert valid_owner(None) is None and valid_owner("alice") is None
