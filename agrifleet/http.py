"""The one HTTP client of our parts that call out: the node's package downloads, its enrolment
and its IP cameras, and the command line's fleet client (:mod:`agrifleet.fleet_client`).

Built on httpx, with the same rules everywhere:

- TLS is verified against the system's CAs, or ``ca_file`` for a fleet with a private CA;
- redirects are not followed unless asked (a camera): a bearer token goes only to the address
  it was given for;
- bodies are asked for as they are (``Accept-Encoding: identity``), so a streamed body's bytes
  are the resource's bytes and a Range offset means what it says;
- ``user:password@`` in a URL becomes basic auth and leaves the URL, so no password reaches a
  log line, and :func:`shown` gives the URL as it may be quoted (password masked);
- every failure is one :class:`HttpError`, whose ``reason`` is one line naming no secret;
- httpx's own line per request is not logged (a camera polled every minute would fill the log):
  callers log what matters;
- httpx is imported at the first call, not with this module: the agent's config and updater
  import it at start, and most starts never make an HTTP call.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from agrifleet.mqtt import mask_url

if TYPE_CHECKING:  # imported where called (see the docstring)
    import httpx

USER_AGENT = "agrifleet"


class HttpError(Exception):
    """A call that got no usable answer; ``reason`` is one line, without secrets.

    ``status`` is the HTTP status when the server answered (None when it could not be reached),
    ``phrase`` its reason phrase (``Not Found``), ``detail`` the ``detail`` of its JSON error
    body, if any, and ``untrusted`` is True when
    the server's TLS certificate failed verification (give its CA with a ``ca_file``).
    """

    def __init__(self, reason: str, *, status: int | None = None, phrase: str = "",
                 detail: Any = None, untrusted: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.phrase = phrase
        self.detail = detail
        self.untrusted = untrusted


def client(*, timeout_s: float, ca_file: Path | None = None, user_agent: str = USER_AGENT,
           auth: httpx.BasicAuth | None = None, follow_redirects: bool = False,
           headers: Mapping[str, str] | None = None) -> httpx.Client:
    """An httpx client with our rules (use it as a context manager, or close it)."""
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise HttpError(f"cannot use the CA file {ca_file}: {exc}") from None
    return httpx.Client(
        timeout=timeout_s, verify=context, follow_redirects=follow_redirects, auth=auth,
        headers={"User-Agent": user_agent, "Accept-Encoding": "identity", **(headers or {})},
    )


def split_credentials(url: str) -> tuple[str, httpx.BasicAuth | None]:
    """``url`` without ``user:password@``, and those as basic auth (None if it had none)."""
    import httpx

    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    bare = urlunsplit(parts._replace(netloc=host))
    return bare, httpx.BasicAuth(unquote(parts.username), unquote(parts.password or ""))


def shown(url: str) -> str:
    """The URL as it may be logged or shown: its password masked."""
    return mask_url(url)


def call(http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request, its whole answer read; HttpError unless the status is 2xx."""
    import httpx

    try:
        response = http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise unreachable(exc) from None
    if not response.is_success:
        raise refused(response)
    return response


@contextmanager
def stream(http: httpx.Client, method: str, url: str, **kwargs: Any) -> Iterator[httpx.Response]:
    """A request whose body is read as it arrives (with :func:`body`); HttpError unless the
    status is 2xx."""
    import httpx

    try:
        with http.stream(method, url, **kwargs) as response:
            if not response.is_success:
                response.read()
                raise refused(response)
            yield response
    except httpx.HTTPError as exc:
        raise unreachable(exc) from None


def body(response: httpx.Response) -> Iterator[bytes]:
    """A streamed body's bytes as they arrive, undecoded; HttpError if the link drops."""
    import httpx

    try:
        yield from response.iter_raw()
    except httpx.HTTPError as exc:
        raise unreachable(exc) from None


def refused(response: httpx.Response) -> HttpError:
    """The HttpError of an answer that is not 2xx (its JSON ``detail`` kept, if any)."""
    import httpx

    detail: Any = None
    try:
        body = json.loads(response.content)
        detail = body.get("detail") if isinstance(body, dict) else None
    except (ValueError, httpx.HTTPError):
        pass
    phrase = response.reason_phrase or ""
    return HttpError(f"HTTP {response.status_code} {phrase}".rstrip(),
                     status=response.status_code, phrase=phrase, detail=detail)


def unreachable(exc: httpx.HTTPError) -> HttpError:
    """The HttpError of a call that got no answer: the reason as the OS or TLS words it."""
    import httpx

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return HttpError(str(cause.verify_message or cause), untrusted=True)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.TimeoutException):
        return HttpError("timed out")
    return HttpError(str(exc) or type(exc).__name__)
