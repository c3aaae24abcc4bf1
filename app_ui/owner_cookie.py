"""The cookie that keeps a visitor's owner id in their browser, set by the web server.

`app.py` serves the app as Streamlit's own ASGI app (`st.App`) with this middleware in
front: the first page a browser loads comes back with a `Set-Cookie` for a fresh owner
id, before the page opens its WebSocket, so the script reads it from
`st.context.cookies` on its very first run. The cookie is `HttpOnly` (no script on the
page can read it), `SameSite=Lax`, `Secure` behind HTTPS, and lives 400 days (the most
Chromium keeps); a page address never carries it.

A request that already carries a well-formed id is left alone; one with a malformed or
outdated id gets a fresh one. Only page loads (HTML) set it: the app's other requests
follow one.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection

from mnist_core.errors import OwnerError
from mnist_core.shared.owners import check_owner, new_owner_id

COOKIE = "mnist_owner"
MAX_AGE = 400 * 24 * 3600  # s

_started = False  # whether this process serves the app with the middleware


def serving() -> bool:
    """Whether this server sets the cookie (False under `streamlit run` of a page file,
    or in `AppTest`): the pages then say why runs last only as long as the tab."""
    return _started


def valid_owner(value: str | None) -> str | None:
    """The owner id a cookie value holds, or None if it holds none the app made."""
    try:
        return check_owner(value) if value else None
    except OwnerError:
        return None


class OwnerCookieMiddleware:
    """ASGI middleware: gives a browser without a valid owner cookie a fresh one."""

    def __init__(self, app):
        global _started
        _started = True
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or valid_owner(HTTPConnection(scope).cookies.get(COOKIE)):
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.append("set-cookie", cookie_header(new_owner_id(), _https(scope)))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def cookie_header(owner: str, secure: bool) -> str:
    """The `Set-Cookie` value that keeps `owner` in the browser."""
    attributes = f"{COOKIE}={owner}; Path=/; Max-Age={MAX_AGE}; HttpOnly; SameSite=Lax"
    return attributes + ("; Secure" if secure else "")


def _https(scope) -> bool:
    """Whether the browser reached the app over HTTPS (directly or through a proxy)."""
    forwarded = dict(scope.get("headers") or []).get(b"x-forwarded-proto", b"")
    return scope.get("scheme") == "https" or forwarded.split(b",")[0].strip() == b"https"
