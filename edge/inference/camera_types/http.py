"""An IP camera's snapshot URL, fetched with GET."""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
import urllib.request
from typing import Literal

from pydantic import Field

from agrifleet.mqtt import mask_url
from edge.inference.camera_types.base import CameraType
from edge.inference.sources import SourceError


class HttpCamera(CameraType):
    """An IP camera's snapshot URL, fetched with GET."""

    type: Literal["http"]
    url: str = Field(pattern=r"^https?://", title="Snapshot URL (http or https)")
    interval_s: float = Field(default=300.0, gt=0, title="Seconds between photos")
    timeout_s: float = Field(default=15.0, gt=0, le=600, title="Give up on a request after this")

    def open_source(self) -> HttpSource:
        return HttpSource(self)

    def poll_every_s(self) -> float:
        return self.interval_s


class HttpSource:
    """An IP camera's snapshot URL; ``user:password@`` in the URL becomes HTTP basic auth."""

    def __init__(self, camera: HttpCamera):
        self.camera = camera
        parts = urllib.parse.urlsplit(camera.url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        self._url = urllib.parse.urlunsplit(parts._replace(netloc=host))
        self._headers = {"User-Agent": "agrifleet-edge"}
        if parts.username is not None:
            token = f"{urllib.parse.unquote(parts.username)}:" \
                    f"{urllib.parse.unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
        self.display_url = mask_url(camera.url)

    def capture(self) -> bytes:
        """GET the snapshot; SourceError on any network or HTTP failure."""
        request = urllib.request.Request(self._url, headers=self._headers)  # noqa: S310
        limit = self.camera.max_image_bytes
        try:
            with urllib.request.urlopen(request, timeout=self.camera.timeout_s) as resp:  # noqa: S310
                body = resp.read(limit + 1)
        except urllib.error.HTTPError as exc:
            raise SourceError(f"{self.display_url}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceError(f"{self.display_url}: {reason}") from exc
        if len(body) > limit:
            raise SourceError(f"{self.display_url}: snapshot over {limit} bytes")
        if not body:
            raise SourceError(f"{self.display_url}: empty snapshot")
        return body
