"""``/api/v1/models``: publish a signed package (technician), list and show them, download one.

The download route sits on its own router: an offered device presents a download token, not an
API token, so it cannot be behind the API router's token check.
"""

from __future__ import annotations

import hashlib
import pathlib
import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from agrifleet.fleet.modelops.registry import publish as registry
from agrifleet.fleet.modelops.registry.downloads import (
    BadRange,
    DownloadCounters,
    find_download_token,
    package_url,
    parse_range,
)
from agrifleet.fleet.modelops.registry.publishers import shown_publisher
from agrifleet.fleet.modelops.registry.storage import ARCHIVE_NAME, PackageStore
from agrifleet.fleet.modelops.registry.tables import (
    ModelPackage,
    ModelPackageDetail,
    ModelPackagePublic,
)
from agrifleet.fleet.people import audit
from agrifleet.fleet.people.auth.principal import Principal
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.web.api.deps import (
    AddressDep,
    CallerDep,
    SessionDep,
    SettingsDep,
    TechnicianToken,
    bearer_principal,
    refuse_unknown_query,
)
from agrifleet.fleet.web.api.errors import AUTH_RESPONSES, Message
from agrifleet.fleet.web.api.params import NO_NUL
from agrifleet.package import PackageError

router = APIRouter(prefix="/models", tags=["models"])
download_router = APIRouter(prefix="/models", tags=["models"], responses=AUTH_RESPONSES,
                            dependencies=[Depends(refuse_unknown_query)])

NameParam = Annotated[str, Path(description="Model name (manifest name)", max_length=64,
                                pattern=r"^[a-z0-9][a-z0-9-]*$")]
VersionParam = Annotated[str, Path(description="Model version, MAJOR.MINOR.PATCH",
                                   max_length=32, pattern=r"^\d+\.\d+\.\d+$")]
GZIP = {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}
CHUNK = 16 * 1024  # small: a dropped link wastes at most about this much beyond buffers


def refusal(reason: str, message: str, loc: tuple[str, ...] = ("body",)) -> RequestValidationError:
    """A 422 in the API's validation shape whose ``type`` is the one-word reason."""
    return RequestValidationError([{"type": reason, "loc": loc, "msg": f"{reason}: {message}",
                                    "input": None}])


def _public(settings: FleetSettings, p: ModelPackage,
            shown_by: str | None = None) -> ModelPackagePublic:
    return ModelPackagePublic.model_validate(
        p, update={"url": package_url(settings, p.name, p.version),
                   "published_by": p.published_by if shown_by is None else shown_by}
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ModelPackagePublic, "description": "This very archive (same SHA-256) "
              "was published before, by a retry or an upload at the same time: its package, "
              "nothing new stored"},
        409: {"model": Message, "description": "This or a newer version is registered"},
        413: {"model": Message, "description": "The archive is over 64 MiB",
              "content": {"text/plain": {"schema": {"type": "string"}}}},
        422: {"description": "Refused: each error's type is the reason (unsigned, tampered, "
              "selftest_failed, …) and its msg 'reason: message'",
              "content": {"application/json": {"schema": {
                  "$ref": "#/components/schemas/HTTPValidationError"}}}},
        507: {"model": Message, "description": "The data directory is full or read-only"},
    },
    summary="Publish a signed package: the .tar.gz from `agrifleet model publish` (technician)",
    # Any content type is read as the archive; application/gzip is what the CLI sends.
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}}},
        "description": "The package archive, a .tar.gz (agrifleet.package.pack)"}},
)
async def publish_model(request: Request, response: Response, settings: SettingsDep,
                        token: TechnicianToken, address: AddressDep) -> ModelPackagePublic:
    store = PackageStore(settings.data_dir)
    digest, size = hashlib.sha256(), 0
    try:
        staging = store.new_upload()
    except OSError as exc:
        raise _cannot_store(exc) from None
    try:
        with (staging / ARCHIVE_NAME).open("wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > registry.MAX_ARCHIVE_BYTES:
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                        f"the archive is over {registry.MAX_ARCHIVE_BYTES} bytes")
                digest.update(chunk)
                f.write(chunk)
    except OSError as exc:
        store.discard(staging)
        raise _cannot_store(exc) from None
    except BaseException:
        store.discard(staging)
        raise
    try:
        package = await run_in_threadpool(registry.publish, settings, request.app.state.engine,
                                          staging, digest.hexdigest(), size,
                                          publisher_name(token), token.best_role() or "")
    except registry.AlreadyPublished as repeat:  # a retry, or the same upload twice at once
        response.status_code = status.HTTP_200_OK
        return _public(settings, repeat.package)
    except registry.VersionConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{exc.reason}: {exc}") from None
    except PackageError as exc:
        raise refusal(exc.reason, without_paths(str(exc), settings.data_dir)) from None
    except OSError as exc:
        raise _cannot_store(exc) from None
    await run_in_threadpool(_audit_publish, request, token, address, package)
    return _public(settings, package)


def without_paths(message: str, data_dir: pathlib.Path) -> str:
    """``message`` with the server's folders under ``data_dir`` said as "the package"."""
    for root in sorted({str(data_dir), str(data_dir.resolve())}, key=len, reverse=True):
        message = re.sub(re.escape(root) + r"""[^\s:'"]*""", "the package", message)
    return message


def publisher_name(caller: Principal) -> str:
    """How a package names who published it: a user's e-mail, or the service token's name."""
    if caller.user is not None:
        return caller.user.email
    token = caller.token_row
    return (token.name if token is not None and token.name else
            f"token {token.id if token is not None else '?'}")


def _audit_publish(request: Request, caller: Principal, address: str | None,
                   package: ModelPackage) -> None:
    with Session(request.app.state.engine) as session:
        audit.record(session, caller, "model.publish", f"{package.name} {package.version}",
                     address, sha256=package.sha256, size=package.size, key_id=package.key_id)
        session.commit()


def _cannot_store(exc: OSError) -> HTTPException:
    """507 with the system's reason (disk full, read-only data_dir), not a crash."""
    return HTTPException(status.HTTP_507_INSUFFICIENT_STORAGE,
                         f"the fleet cannot store the package in its data directory: "
                         f"{exc.strerror or exc}")


@router.get("", summary="Every published package, by name and version, oldest first; the "
            "publisher's e-mail only to those who share a farm with them")
def list_models(session: SessionDep, settings: SettingsDep,
                caller: CallerDep) -> list[ModelPackagePublic]:
    from sqlmodel import col, select

    rows = session.exec(
        select(ModelPackage).order_by(col(ModelPackage.name), col(ModelPackage.published_at))
    ).all()
    shown: dict[str, str] = {}
    for p in rows:
        if p.published_by not in shown:
            shown[p.published_by] = shown_publisher(session, caller.farm_ids, p.published_by)
    return [_public(settings, p, shown[p.published_by]) for p in rows]


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
def get_model(name: NameParam, version: VersionParam, session: SessionDep,
              settings: SettingsDep, caller: CallerDep) -> ModelPackageDetail:
    p = _package(session, name, version)
    return ModelPackageDetail.model_validate(
        p, update={"url": package_url(settings, p.name, p.version),
                   "metrics": p.manifest.get("metrics", {}),
                   "published_by": shown_publisher(session, caller.farm_ids, p.published_by)}
    )


_bearer = HTTPBearer(auto_error=False, description="A download token from an offer, or an "
                     "API token with the technician or admin role")


def _downloader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tuple[str, int | None]:
    """Who may download (checked first, like every token): the device of a live offer token
    and the package it is for, or a technician (any package); else 401/403."""
    with Session(request.app.state.engine) as session:
        return _caller(session, credentials)


def _caller(session: Session,
            credentials: HTTPAuthorizationCredentials | None) -> tuple[str, int | None]:
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing token: send "
                            "'Authorization: Bearer <offer token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    secret = credentials.credentials
    offer = find_download_token(session, secret)
    if offer is not None:
        return offer.device_id, offer.package_id
    try:
        api = bearer_principal(session, secret)
    except HTTPException:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or expired download token",
                            headers={"WWW-Authenticate": "Bearer"}) from None
    if api.best_role() not in ("admin", "technician"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "downloading packages needs the "
                            f"technician role (token is {api.best_role()})")
    return f"api:{publisher_name(api)}", None


@download_router.get(
    "/{name}/{version}/package",
    response_class=Response,
    responses={200: {"description": "The whole archive", "content": GZIP},
               206: {"description": "Part of the archive (Range)", "content": GZIP},
               404: {"model": Message, "description": "No such package"},
               416: {"model": Message, "description": "The Range is outside the archive or "
                     "not one bytes=N-[M] range"}},
    summary="Download the package archive (offer token or technician); Range supported",
)
def download_package(
    name: NameParam,
    version: VersionParam,
    request: Request,
    settings: SettingsDep,
    caller: Annotated[tuple[str, int | None], Depends(_downloader)],
    range_header: Annotated[str | None, Header(
        alias="Range", max_length=200, pattern=NO_NUL,
        description="bytes=N- (resume) or bytes=N-M; one range")] = None,
) -> Response:
    # A short session of its own: a SessionDep would hold a pooled connection for as long as
    # a slow node takes to download, and a few hundred nodes would exhaust the pool.
    who, offer_package = caller
    with Session(request.app.state.engine) as session:
        package = _package(session, name, version)
        if offer_package is not None and offer_package != package.id:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or expired download "
                                "token for this package", headers={"WWW-Authenticate": "Bearer"})
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
