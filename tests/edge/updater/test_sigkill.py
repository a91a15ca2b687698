"""SIGKILL at random moments of an update (download, verify, unpack, self-test, shadow, swap,
first start) never leaves a node without a loadable model: after every kill the node starts with
the old model or the new one, and the update then resumes to the end."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from agrifleet.edge.config import UpdatesConfig
from agrifleet.edge.inference.slot import ModelSlot
from agrifleet.edge.updater import Updater
from agrifleet.inference.classifier import Classifier
from agrifleet.manifest import read_manifest
from tests.edge.updater.conftest import Keys, MakePackage, offer_for
from tests.edge.updater.package_server import PackageServer

pytestmark = pytest.mark.slow  # an updater killed at random moments, many times

KILLS = 24
REPO = Path(__file__).resolve().parents[3]


def _start_once(data_dir: Path, spec: dict[str, object]) -> tuple[str, str]:
    """Start the node as the agent would (in this process) and load the model it picks."""
    slot = ModelSlot()
    config = UpdatesConfig.model_validate(spec["config"])
    updater = Updater(config, data_dir, lambda *a: None, slot, Path(str(spec["configured"])))
    updater.boot()
    model_dir = slot.view().model_dir or Path(str(spec["configured"]))
    classifier = Classifier.load(model_dir)
    return classifier.manifest.version, classifier.manifest.sha256


def test_sigkill_at_random_moments_always_leaves_a_loadable_old_or_new_model(
        tmp_path: Path, keys: Keys, base_model: Path, make_package: MakePackage,
        server: PackageServer):
    package = make_package("1.2.0")
    new_sha = read_manifest(package.dir).sha256
    old_sha = read_manifest(base_model).sha256
    offer = offer_for(server, package, shadow_images=3)
    data_dir = tmp_path / "node"
    log = tmp_path / "updates.jsonl"
    spec = {
        "data_dir": str(data_dir), "log": str(log), "configured": str(base_model),
        "photos": str(tmp_path / "photos"), "offer": json.loads(offer.model_dump_json()),
        "config": {"trusted_keys": [str(keys.pub)], "max_kbps": 12000, "retry_min_s": 0.05,
                   "retry_max_s": 0.2, "max_trial_starts": 1000},
    }
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(8)
    seen: Counter[str] = Counter()
    versions: Counter[str] = Counter()
    completed = 0
    while sum(seen.values()) < KILLS:
        before = log.read_text().count("\n") if log.exists() else 0
        proc = subprocess.Popen([sys.executable, "-m", "tests.edge.updater.node_process",
                                 str(spec_file)], env=env, cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            out, _ = proc.communicate(timeout=rng.uniform(0.8, 3.2))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            lines = log.read_text().splitlines() if log.exists() else []
            seen[json.loads(lines[-1])["state"] if len(lines) > before else "start"] += 1
            version, sha = _start_once(data_dir, spec)
            assert sha in (old_sha, new_sha), f"an unknown model {sha} after a kill"
            versions[version] += 1
            continue
        # the update ran to its end: it must be the new model, then start the node afresh
        assert out.strip().startswith("active"), out
        assert _start_once(data_dir, spec) == ("1.2.0", new_sha)
        completed += 1
        shutil.rmtree(data_dir)
        log.unlink()
    print(f"{KILLS} kills by the last state reported: {dict(seen)}; the node then started with "
          f"{dict(versions)}; {completed} update(s) completed between kills")
    # the last interrupted update resumes and completes
    done = subprocess.run([sys.executable, "-m", "tests.edge.updater.node_process",
                           str(spec_file)], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip().startswith("active"), done.stdout
    assert _start_once(data_dir, spec) == ("1.2.0", new_sha)
    assert len(seen) >= 3, "kills landed in several phases"
