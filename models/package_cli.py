"""``agrifleet model keygen|sign|verify|selftest|publish``: the commands of signed packages.

Only argparse is imported here; cryptography (sign extra) and the TFLite runtime (edge extra)
are imported when a command runs, so a missing one gives a one-line hint.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_package_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``keygen``, ``sign``, ``verify``, ``selftest`` and ``publish``."""
    from agrifleet.fleet_client import add_publish  # stdlib only: upload to a fleet over HTTP

    for add in (add_keygen, add_sign, add_verify, add_selftest, add_publish):
        add(sub)


def add_keygen(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``keygen`` command: an Ed25519 key pair for signing packages."""
    k = sub.add_parser("keygen", help="make an Ed25519 key pair for signing model packages",
                       description="Write DIR/signing.key (private, mode 0600: keep it off "
                       "nodes and out of git) and DIR/signing.pub (give it to nodes and the "
                       "fleet).")
    k.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="folder for signing.key and signing.pub (created if missing)")
    k.set_defaults(func=_keygen)


def _keygen(args: argparse.Namespace) -> int:
    from agrifleet.package import PackageError, generate_keypair, load_public_keys

    try:
        key, pub = generate_keypair(args.out)
    except (PackageError, OSError) as exc:
        print(f"agrifleet model keygen: {exc}")
        return 2
    (kid,) = load_public_keys([pub])
    print(f"wrote {key} (private, mode 0600) and {pub} (public); key id {kid}")
    return 0


def add_sign(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``sign`` command: sign a model folder in place."""
    s = sub.add_parser("sign", help="sign a model folder in place (lists its files in "
                       "manifest.json, writes manifest.sig)",
                       description="List every file of PACKAGE_DIR with its size and sha256 "
                       "in manifest.json and write manifest.sig (Ed25519, with the key id and "
                       "an expiry): nodes and the fleet accept only packages signed by a key "
                       "they trust.")
    s.add_argument("package", type=Path, metavar="PACKAGE_DIR",
                   help="a model folder with manifest.json, model.tflite and selftest/")
    s.add_argument("--key", type=Path, required=True, metavar="FILE", help="signing.key")
    s.add_argument("--expires-days", type=int, default=365, metavar="N",
                   help="nodes refuse the package after N days (default 365)")
    s.set_defaults(func=_sign)


def _sign(args: argparse.Namespace) -> int:
    from agrifleet.manifest import ModelError
    from agrifleet.package import PackageError, sign_package

    try:
        sig = sign_package(args.package, args.key, expires_days=args.expires_days)
    except (PackageError, ModelError, OSError) as exc:
        print(f"agrifleet model sign: {exc}")
        return 2
    print(f"signed {args.package}: {sig.files} files, key {sig.key_id}, "
          f"expires {sig.expires_at:%Y-%m-%d}")
    return 0


def add_verify(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``verify`` command: check a package as a node would."""
    v = sub.add_parser("verify", help="check a package (folder or .tar.gz) as a node would: "
                       "signature, expiry, every file, and its self-test",
                       description="Check a package as a node or the fleet would before "
                       "installing it: a safe archive, the signature by a trusted key, the "
                       "expiry, the size and sha256 of every file, and its self-test.")
    v.add_argument("package", type=Path, metavar="PACKAGE",
                   help="a package folder or a .tar.gz archive of one")
    v.add_argument("--key", type=Path, nargs="+", required=True, metavar="PUB",
                   help="trusted public keys (signing.pub)")
    v.add_argument("--current", type=Path, metavar="DIR",
                   help="the model folder a node runs now: also check the package upgrades it")
    v.add_argument("--no-selftest", action="store_true", help="skip running the self-test")
    v.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    import tempfile

    from agrifleet.manifest import ModelError, read_manifest
    from agrifleet.package import PackageError, check_upgrade, load_public_keys, safe_extract
    from agrifleet.package import verify_package as verify

    with tempfile.TemporaryDirectory(prefix="agrifleet-verify-") as tmp:
        try:
            folder = args.package
            trusted = load_public_keys(args.key)
            if folder.is_file():
                folder = safe_extract(folder, Path(tmp) / "package")
            manifest = verify(folder, trusted)
            if args.current:
                check_upgrade(manifest, read_manifest(args.current))
            result = None
            if not args.no_selftest:
                from agrifleet.inference.selftest import run_selftest

                result = run_selftest(folder)
                result.raise_for_failures()
        except (PackageError, ModelError, OSError) as exc:
            reason = getattr(exc, "reason", "invalid_manifest")
            # Name the archive, not the temporary folder it was unpacked into.
            print(f"REFUSED ({reason}): {str(exc).replace(str(folder), str(args.package))}")
            return 1
    assert manifest.signing is not None
    print(f"OK {manifest.name} {manifest.version}: {len(manifest.files)} files, signed by "
          f"{manifest.signing.key_id}, expires {manifest.signing.expires_at:%Y-%m-%d}")
    if result is not None:
        print(result.summary())
    return 0


def add_selftest(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``selftest`` command: run a package's self-test, or make it again."""
    t = sub.add_parser("selftest", help="run a package's self-test, or (re)create it",
                       description="Without --class-medians or --images: classify the images "
                       "in PACKAGE_DIR/selftest/ and compare with answers.json. With one of "
                       "them: replace selftest/ and record this model's answers (sign again "
                       "afterwards).")
    t.add_argument("package", type=Path, metavar="PACKAGE_DIR",
                   help="the model folder whose selftest/ to run or create")
    how = t.add_mutually_exclusive_group()
    how.add_argument("--class-medians", type=Path, metavar="DATA_DIR",
                     help="photos, one folder per class: one median image per class")
    how.add_argument("--images", type=Path, nargs="+", metavar="IMAGE",
                     help="images to use (a parent folder named after a class labels one)")
    t.add_argument("--side", type=int, default=40, help="stored image side in px (default 40)")
    t.set_defaults(func=_selftest)


def _selftest(args: argparse.Namespace) -> int:
    from agrifleet.inference.preprocess import ImageError
    from agrifleet.inference.selftest import run_selftest
    from agrifleet.manifest import ModelError
    from agrifleet.models.selftest import class_median_selftest, images_selftest
    from agrifleet.package import PackageError

    try:
        if args.class_medians or args.images:
            if args.class_medians:
                answers = class_median_selftest(args.package, args.class_medians, side=args.side)
            else:
                answers = images_selftest(args.package, args.images, side=args.side)
            print(f"wrote {len(answers.images)} self-test images and answers to "
                  f"{args.package / 'selftest'}; sign the package again")
            return 0
        result = run_selftest(args.package)
    except (PackageError, ModelError, ImageError, ValueError, OSError) as exc:
        print(f"agrifleet model selftest: {exc}")
        return 2
    print(result.summary())
    for failure in result.failures[1:]:
        print(f"  {failure.image}: {failure.reason}")
    return 0 if result.ok else 1
