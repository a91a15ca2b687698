"""Ed25519 keys and signatures for model packages (the only module that imports cryptography).

A key pair is two PEM files: ``signing.key`` (PKCS#8, unencrypted, mode 0600: keep it off the
nodes and out of the repository) and ``signing.pub``. A key's id is the first 16 hex digits of
the SHA-256 of its raw 32-byte public key. ``manifest.sig`` is a small JSON document naming the
key id and holding the base64 signature over ``SIGNED_PREFIX + <the bytes of manifest.json>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agrifleet.package_errors import PackageError

log = logging.getLogger(__name__)

KEY_NAME = "signing.key"
PUB_NAME = "signing.pub"
#: Domain separation: a package signature can never be mistaken for any other signed message.
SIGNED_PREFIX = b"agrifleet-model-package-v1\n"
#: manifest.sig is a few hundred bytes; anything much larger is not one.
MAX_SIG_BYTES = 4096

PublicKey = Ed25519PublicKey


def key_id(public: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_keypair(out_dir: Path) -> tuple[Path, Path]:
    """Write a new ``signing.key`` (mode 0600) and ``signing.pub`` into ``out_dir``.

    Refuses (PackageError "exists") to overwrite a key already there: losing a signing key
    means every node must be given a new public key.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = out_dir / KEY_NAME, out_dir / PUB_NAME
    for path in (key_path, pub_path):
        if path.exists() or path.is_symlink():
            raise PackageError("exists", f"{path} already exists; not overwriting a key")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(key_path, 0o600)  # whatever the umask
    pub = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    pub_path.write_bytes(pub)
    return key_path, pub_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a ``signing.key``; PackageError "bad_key" if it is not an Ed25519 private key.

    A key that others may read is used, with a warning: it should be mode 0600.
    """
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise PackageError("bad_key", f"{path}: no such key file") from exc
    except (ValueError, TypeError) as exc:
        raise PackageError("bad_key", f"{path}: not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise PackageError("bad_key", f"{path}: not an Ed25519 key")
    mode = Path(path).stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); chmod 600 it", path, mode)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a ``signing.pub``; PackageError "bad_key" if it is not an Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except FileNotFoundError as exc:
        raise PackageError("bad_key", f"{path}: no such key file") from exc
    except (ValueError, TypeError) as exc:
        raise PackageError("bad_key", f"{path}: not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise PackageError("bad_key", f"{path}: not an Ed25519 key")
    return key


def load_public_keys(paths: Iterable[Path]) -> dict[str, Ed25519PublicKey]:
    """The trusted keys, keyed by key id; PackageError "bad_key" for any unreadable file."""
    return {key_id(k): k for k in (load_public_key(Path(p)) for p in paths)}


def sign_bytes(private: Ed25519PrivateKey, manifest_bytes: bytes) -> dict[str, Any]:
    """The content of ``manifest.sig`` for these manifest bytes."""
    signature = private.sign(SIGNED_PREFIX + manifest_bytes)
    return {"format": 1, "algorithm": "ed25519", "key_id": key_id(private.public_key()),
            "signature": base64.b64encode(signature).decode("ascii")}


def check_signature(sig_bytes: bytes, manifest_bytes: bytes,
                    trusted: Mapping[str, Any]) -> str:
    """The key id that signed ``manifest_bytes``; PackageError if no trusted key did."""
    if len(sig_bytes) > MAX_SIG_BYTES:
        raise PackageError("bad_signature", "manifest.sig is too large to be a signature")
    try:
        sig = json.loads(sig_bytes)
        kid, value = sig["key_id"], sig["signature"]
        if sig.get("algorithm") != "ed25519" or not isinstance(kid, str):
            raise ValueError("not an ed25519 signature")
        raw = base64.b64decode(value, validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise PackageError("bad_signature", f"manifest.sig is unreadable ({exc})") from exc
    key = trusted.get(kid)
    if key is None:
        raise PackageError("unknown_key", f"signed by key {kid[:16]!r}, which this node or "
                           "fleet does not trust")
    if not isinstance(key, Ed25519PublicKey):
        raise PackageError("bad_key", f"trusted key {kid} is a {type(key).__name__}, not an "
                           "Ed25519 public key (use load_public_keys)")
    try:
        key.verify(raw, SIGNED_PREFIX + manifest_bytes)
    except InvalidSignature as exc:
        raise PackageError("bad_signature", f"the signature of key {kid} does not match "
                           "manifest.json: altered after signing") from exc
    return str(kid)
