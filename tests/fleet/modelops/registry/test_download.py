"""Package downloads specify: only a live offer token for that package (or a technician) gets
the archive; Range requests give exactly the rest of the bytes; every byte sent is counted."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from agrifleet.fleet.modelops.registry.downloads import issue_token, revoke_tokens
from tests.fleet.modelops.registry.conftest import Keys, Registry
from tests.fleet.modelops.registry.packages import archive, package_dir

URL = "/api/v1/models/leaf-disease/1.2.0/package"


@pytest.fixture
def published(registry: Registry, keys: Keys, tmp_path: Path) -> bytes:
    data = archive(package_dir(tmp_path / "p", "1.2.0", keys.key))
    assert registry.publish(data).status_code == 201
    return data


def _token(registry: Registry, device: str, version: str = "1.2.0",
           expires_in: timedelta = timedelta(hours=1)) -> str:
    with Session(registry.fleet.app.state.engine) as session:
        from agrifleet.fleet.modelops.registry.publish import find

        package = find(session, "leaf-disease", version)
        assert package is not None and package.id is not None
        token = issue_token(session, device, package.id, 7, datetime.now(UTC) + expires_in)
        session.commit()
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _served(registry: Registry, device: str) -> float:
    name = "agrifleet_package_device_bytes_served_total"
    return registry.fleet.metric(f'{name}{{device="{device}"}}')


def test_an_offered_device_downloads_the_whole_archive(registry: Registry,
                                                       published: bytes) -> None:
    response = registry.fleet.client.get(URL, headers=_bearer(_token(registry, "node-1")))
    assert response.status_code == 200
    assert response.content == published
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].strip('"') == hashlib.sha256(published).hexdigest()
    assert _served(registry, "node-1") == len(published)


def test_a_resumed_download_gets_only_the_rest(registry: Registry, published: bytes) -> None:
    token = _token(registry, "node-1")
    first = registry.fleet.client.get(URL, headers={**_bearer(token), "Range": "bytes=0-99999"})
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-99999/{len(published)}"
    rest = registry.fleet.client.get(URL, headers={**_bearer(token), "Range": "bytes=100000-"})
    assert rest.status_code == 206
    assert rest.headers["content-range"] == (
        f"bytes 100000-{len(published) - 1}/{len(published)}")
    assert first.content + rest.content == published
    assert _served(registry, "node-1") == len(published)  # nothing fetched twice


@pytest.mark.parametrize("header", ["bytes=99999999-", "bytes=10-5", "items=0-", "bytes=-0",
                                    "bytes=0-1,5-9"])
def test_a_bad_range_is_416_with_the_size(registry: Registry, published: bytes,
                                          header: str) -> None:
    response = registry.fleet.client.get(
        URL, headers={**_bearer(_token(registry, "node-1")), "Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(published)}"
    assert _served(registry, "node-1") == 0


def test_a_technician_may_download_a_viewer_may_not(registry: Registry,
                                                    published: bytes) -> None:
    assert registry.fleet.client.get(URL, headers=registry.technician).content == published
    assert registry.fleet.client.get(URL, headers=registry.fleet.viewer).status_code == 403


def test_no_expired_revoked_or_other_package_token_downloads(
    registry: Registry, published: bytes, keys: Keys, tmp_path: Path
) -> None:
    client = registry.fleet.client
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=_bearer("agd_" + "x" * 43)).status_code == 401
    expired = _token(registry, "node-1", expires_in=timedelta(seconds=-1))
    assert client.get(URL, headers=_bearer(expired)).status_code == 401
    assert registry.publish(archive(package_dir(tmp_path / "q", "1.3.0", keys.key))
                            ).status_code == 201
    other = _token(registry, "node-1", version="1.3.0")
    assert client.get(URL, headers=_bearer(other)).status_code == 401
    assert client.get(URL.replace("1.2.0", "1.3.0"), headers=_bearer(other)).status_code == 200
    revoked = _token(registry, "node-2")
    with Session(registry.fleet.app.state.engine) as session:
        revoke_tokens(session, 7, "node-2")
        session.commit()
    assert client.get(URL, headers=_bearer(revoked)).status_code == 401
    assert _served(registry, "node-2") == 0


def test_an_unknown_package_is_404(registry: Registry) -> None:
    response = registry.fleet.client.get("/api/v1/models/leaf-disease/9.9.9/package",
                                         headers=registry.technician)
    assert response.status_code == 404
