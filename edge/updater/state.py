"""The updater's durable state: which model is current, which is kept, what is under way.

One small JSON file, ``<data_dir>/updates/state.json``, replaced atomically (write a temporary
file, fsync it, rename it over the old one, fsync the directory), so a node killed at any moment
finds either the old state or the new one, never half of either. The ``current`` entry is the
switch: cameras run the model folder it names; a model folder is never deleted while ``current``
or ``previous`` names it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agrifleet.contract import ModelOffer, ModelRef, UpdateState
from agrifleet.manifest import ModelError, read_manifest, sha256_file

log = logging.getLogger(__name__)

STATE_NAME = "state.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Installed(_Strict):
    """A model folder on the node and what it is."""

    path: Path
    name: str
    version: str
    sha256: str = Field(description="sha256 of the model file (as in the manifest)")

    @property
    def ref(self) -> ModelRef:
        return ModelRef(name=self.name, version=self.version, sha256=self.sha256)


def installed_from(model_dir: Path) -> Installed | None:
    """What the folder holds, after checking the model file against its manifest; else None."""
    try:
        manifest = read_manifest(model_dir)
        if sha256_file(model_dir / manifest.file) != manifest.sha256:
            return None
    except (ModelError, OSError):
        return None
    return Installed(path=model_dir, name=manifest.name, version=manifest.version,
                     sha256=manifest.sha256)


class Trial(_Strict):
    """A switch not yet confirmed by a classification or enough uptime."""

    rollout_id: int
    sha256: str = Field(description="sha256 of the offer's archive")
    starts: int = Field(default=0, ge=0, description="Agent starts since the switch")


class Job(_Strict):
    """The offer being worked on, so a restarted node resumes it (or gives it up cleanly)."""

    offer: ModelOffer
    state: UpdateState = "downloading"


class Outcome(_Strict):
    """How the last offer ended, so the same retained offer is not worked on twice."""

    rollout_id: int
    sha256: str
    state: UpdateState
    reason: str | None = None


class UpdaterState(_Strict):
    current: Installed | None = Field(default=None, description="None: the configured model")
    previous: Installed | None = Field(default=None, description="Kept for rollback")
    trial: Trial | None = None
    job: Job | None = None
    last: Outcome | None = None


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class StateFile:
    """Load and save :class:`UpdaterState` in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STATE_NAME

    def load(self) -> UpdaterState:
        """The saved state; a missing file is a fresh node, an unreadable one is set aside."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return UpdaterState()
        try:
            return UpdaterState.model_validate(json.loads(raw))
        except (ValueError, ValidationError) as exc:
            bad = self.path.with_name(STATE_NAME + ".bad")
            os.replace(self.path, bad)
            log.error("updater state %s is unreadable (%s); set aside as %s, running the "
                      "configured model", self.path, str(exc).splitlines()[0], bad)
            return UpdaterState()

    def save(self, state: UpdaterState) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, state.model_dump_json(indent=1).encode())
