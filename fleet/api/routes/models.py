"""``/api/v1/models``: publish a signed package (technician), list and show them, download one.

The download route sits on its own router: an offered device presents a download token, not an
API token, so it cannot be behind the API router's token check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from agrifleet.package import PackageError
from fleet.api.deps import SessionDep, SettingsDep, TechnicianToken
from fleet.api.errors import AUTH_RESPONSES
from fleet.auth import find_token
from fleet.models import Message
from fleet.registry import publish as registry
from fleet.registry.downloads import BadRange, DownloadCounters, find_download_token, parse_range
from fleet.registry.storage import ARCHIVE_NAME, PackageStore
from fleet.registry.tables import ModelPackage, ModelPackageDetail, ModelPackagePublic
from fleet.settings import FleetSettings

router = APIRouter(prefix="/models", tags=["models"])
download_router = APIRouter(prefix="/models", tags=["models"], responses=AUTH_RESPONSES)

NAME = r"^[a-z0-9][a-z0-9-]{0,63}$"
VERSION = r"^\d+\.\d+\.\d+$"
CHUNK = 16 * 1024  # small: a dropped link wastes at most about this much beyond buffers


def package_url(settings: FleetSettings, name: str, version: str) -> str:
    """The download address nodes are given (relative when AGRIFLEET_PUBLIC_URL is unset)."""
    return f"{settings.public_url or ''}/api/v1/models/{name}/{version}/package"


def _public(settings: FleetSettings, p: ModelPackage) -> ModelPackagePublic:
    return ModelPackagePublic.model_validate(
        p, update={"url": package_url(settings, p.name, p.version)}
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"model": Message, "description": "This or a newer version is registered"},
        413: {"model": Message, "description": "The archive is too large"},
        422: {"model": Message, "description": "Refused: 'reason: message'"},
    },
    summary="Publish a signed package: the .tar.gz from `agrifleet model publish` (technician)",
)
async def publish_model(request: Request, settings: SettingsDep,
                        token: TechnicianToken) -> ModelPackagePublic:
    store = PackageStore(settings.data_dir)
    staging = store.new_upload()
    digest, size = hashlib.sha256(), 0
    try:
        with (staging / ARCHIVE_NAME).open("wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > registry.MAX_ARCHIVE_BYTES:
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                        f"the archive is over {registry.MAX_ARCHIVE_BYTES} bytes")
                digest.update(chunk)
                f.write(chunk)
    except BaseException:
        store.discard(staging)
        raise
    try:
        package = await run_in_threadpool(registry.publish, settings, request.app.state.engine,
                                          staging, digest.hexdigest(), size, token)
    except registry.VersionConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{exc.reason}: {exc}") from None
    except PackageError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"{exc.reason}: {exc}") from None
    return _public(settings, package)


@router.get("", summary="Every published package, by name and version")
def list_models(session: SessionDep, settings: SettingsDep) -> list[ModelPackagePublic]:
    from sqlmodel import col, select

    rows = session.exec(
        select(ModelPackage).order_by(col(ModelPackage.name), col(ModelPackage.published_at))
    ).all()
    return [_public(settings, p) for p in rows]


def _package(session: Session, name: str, version: str) -> ModelPackage:
    package = registry.find(session, name, version)
    if package is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no package {name} {version}")
    return package


@router.get(
    "/{name}/{version}",
    responses={404: {"model": Message}},
    summary="One package: manifest, figures, who published it and when",
)
def get_model(name: str, version: str, session: SessionDep,
              settings: SettingsDep) -> ModelPackageDetail:
    p = _package(session, name, version)
    return ModelPackageDetail.model_validate(
        p, update={"url": package_url(settings, p.name, p.version),
                   "metrics": p.manifest.get("metrics", {})}
    )


_bearer = HTTPBearer(auto_error=False, description="A download token from an offer, or an "
                     "API token with the technician or admin role")


def _downloader(session: Session, package: ModelPackage,
                credentials: HTTPAuthorizationCredentials | None) -> str:
    """Who may download: the device of a live offer token, or a technician; else 401/403."""
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing token: send "
                            "'Authorization: Bearer <offer token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    secret = credentials.credentials
    offer = find_download_token(session, secret, package.id or 0)
    if offer is not None:
        return offer.device_id
    api = find_token(session, secret)
    if api is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or expired download token",
                            headers={"WWW-Authenticate": "Bearer"})
    if api.role not in ("admin", "technician"):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"downloading packages needs the technician role (token is {api.role})")
    return f"api:{api.name or api.id}"


@download_router.get(
    "/{name}/{version}/package",
    response_class=Response,
    responses={206: {"description": "Part of the archive (Range)"}, 404: {"model": Message},
               416: {"description": "The Range is outside the archive"}},
    summary="Download the package archive (offer token or technician); Range supported",
)
def download_package(
    name: str,
    version: str,
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    # A short session of its own: a SessionDep would hold a pooled connection for as long as
    # a slow node takes to download, and a few hundred nodes would exhaust the pool.
    with Session(request.app.state.engine) as session:
        package = _package(session, name, version)
        who = _downloader(session, package, credentials)
    counters: DownloadCounters = request.app.state.downloads
    path = PackageStore(settings.data_dir).archive(name, version)
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"the archive of {name} {version} is "
                            "missing from the fleet's data directory")
    size = package.size
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{package.sha256}"'}
    try:
        wanted = parse_range(range_header, size)
    except BadRange as exc:
        counters.answered(416)
        return JSONResponse({"detail": str(exc)}, status_code=416,
                            headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = wanted if wanted is not None else (0, size - 1)
    code = 206 if wanted is not None else 200
    if code == 206:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    counters.answered(code)
    label = f"{name}/{version}"

    def body() -> Iterator[bytes]:
        with path.open("rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                counters.sent(label, who, len(chunk))  # before sending: never under-counted
                yield chunk

    return StreamingResponse(body(), status_code=code, headers=headers,
                             media_type="application/gzip")
