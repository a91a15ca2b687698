"""An IP camera's snapshot URL, fetched with GET."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agrifleet import http
from agrifleet.edge.inference.camera_types.base import CameraType
from agrifleet.edge.inference.sources import SourceError


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
        self._url, self._auth = http.split_credentials(camera.url)
        self.display_url = http.shown(camera.url)

    def capture(self) -> bytes:
        """GET the snapshot; SourceError on any network or HTTP failure."""
        limit = self.camera.max_image_bytes
        body = bytearray()
        try:
            with (http.client(timeout_s=self.camera.timeout_s, auth=self._auth,
                              follow_redirects=True, user_agent="agrifleet-edge") as client,
                  http.stream(client, "GET", self._url) as response):
                for piece in http.body(response):
                    body += piece  # amortised: a bytearray grows in place
                    if len(body) > limit:
                        break
        except http.HttpError as exc:
            raise SourceError(f"{self.display_url}: {exc.reason}") from exc
        if len(body) > limit:
            raise SourceError(f"{self.display_url}: snapshot over {limit} bytes")
        if not body:
            raise SourceError(f"{self.display_url}: empty snapshot")
        return bytes(body)
