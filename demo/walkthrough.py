"""The demo as a fleet to practise a model rollout on: its own signing key, and the README's
"Rolling out a better model" commands with the values that make them run against it.

The fleet and every demo node trust a key made for this run (``<workdir>/keys``); the banner
prints one ``export`` line (the fleet's address, a technician's token, the key folder, the model
the nodes run and a version above it) and then :data:`COMMANDS`, the same lines as the README's
walkthrough (``tests/test_readme.py`` holds them equal; ``tests/demo/test_walkthrough.py`` runs
the README's lines against a real ``agrifleet demo``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

#: The walkthrough after the export line, exactly as the README shows it.
COMMANDS: tuple[str, ...] = (
    'cp -r "$MODEL" my-model',
    'sed -i "s/\\"version\\": \\"[^\\"]*\\"/\\"version\\": \\"$VERSION\\"/" my-model/manifest.json',
    'agrifleet model sign my-model --key "$KEYS/signing.key"',
    "agrifleet model publish my-model",
    'ROLLOUT=$(agrifleet rollout start --model leaf-disease --version "$VERSION" --all \\\n'
    "    --phases 5,25,100 --max-failures 5% --shadow-images 5 --min-agreement 0.8 \\\n"
    "    --rollback-on-halt)",
    'agrifleet rollout status "$ROLLOUT" --wait',
)

#: The variables the export line sets, in its order (the README's line names the same ones).
VARIABLES = ("AGRIFLEET_FLEET_URL", "AGRIFLEET_TOKEN", "KEYS", "MODEL", "VERSION")


@dataclass(frozen=True)
class Practice:
    """What the walkthrough needs from one demo run."""

    fleet_url: str
    technician_token: str
    keys: Path  # holds signing.key and signing.pub
    model: Path  # the model folder the demo nodes run
    version: str  # a version above it, for the copy the technician signs

    def export_line(self) -> str:
        values = (self.fleet_url, self.technician_token, str(self.keys), str(self.model),
                  self.version)
        return "export " + " ".join(f"{name}={shlex.quote(value)}"
                                    for name, value in zip(VARIABLES, values, strict=True))

    def banner_lines(self) -> list[str]:
        """The banner's part: the key, then the lines to paste into a shell."""
        return [
            f"  model key   {self.keys / 'signing.key'} signs packages this fleet and its "
            "nodes trust",
            "Practise the README's \"Rolling out a better model\": paste into a shell",
            f"  {self.export_line()}",
            *(f"  {line}" for command in COMMANDS for line in command.splitlines()),
        ]


def trusted_keys(public_key: Path) -> tuple[Path, Path]:
    """This run's public key, and the project's release key that signs the shipped models."""
    from agrifleet.models.shipped import release_public_key

    return public_key, release_public_key()


def fleet_settings(public_key: Path, api_url: str, workdir: Path) -> dict[str, str]:
    """The fleet's environment for practice: the keys, its address for offers' download URLs,
    its files in the demo's folder, and a brisk rollout engine."""
    return {
        "AGRIFLEET_MODEL_KEYS": ",".join(map(str, trusted_keys(public_key))),
        "AGRIFLEET_PUBLIC_URL": api_url,
        "AGRIFLEET_DATA_DIR": str(workdir / "fleet-data"),
        "AGRIFLEET_ROLLOUT_TICK_S": "1",
    }


def updates_toml(public_key: Path) -> str:
    """A demo node's ``[updates]`` section: it takes offers signed by a trusted key."""
    keys = ", ".join(f'"{key}"' for key in trusted_keys(public_key))
    return f"""
[updates]
trusted_keys = [{keys}]
retry_min_s = 0.5
retry_max_s = 10.0
"""


def make_keys(workdir: Path) -> tuple[Path, Path]:
    """A new signing key pair for this run in ``<workdir>/keys`` (kept if already there)."""
    from agrifleet.package import generate_keypair

    folder = workdir / "keys"
    private, public = folder / "signing.key", folder / "signing.pub"
    if private.is_file() and public.is_file():  # a --workdir kept from an earlier run
        return private, public
    return generate_keypair(folder)


def next_version(version: str) -> str:
    """The version one patch release above ``version`` (``2.0.0`` → ``2.0.1``)."""
    from agrifleet.package import parse_version

    major, minor, patch = parse_version(version)
    return f"{major}.{minor}.{patch + 1}"
