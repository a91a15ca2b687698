"""Ship a trained model folder with one command: evaluate, self-test, card, (sign).

``agrifleet model release MODEL_DIR --data LAB [--field FIELD] [--leave-field-out DIR]
[--key signing.key]`` on a folder written by ``agrifleet model train``:

1. ``model eval`` on its held-out test split (lab and field), the size and quality sweep, the
   out-of-scope images and, when given, the leave-field-out model on every field photo; the
   report goes into the folder's ``eval_report.json`` under ``field_predicting`` (beside the
   figures ``train`` wrote there) and the floors are printed;
2. ``selftest/`` made again from the lab photos (one median image per class);
3. ``MODEL_CARD.md`` written again, now with every figure and the earlier versions beside;
4. signed with ``--key`` (last, since signing lists every file).

Exit status 1 when a floor is missed and ``--check-floors`` is given, 2 on bad input.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agrifleet.manifest import read_manifest

REPORT_NAME = "eval_report.json"
FIELD_KEY = "field_predicting"


@dataclass(frozen=True)
class ReleaseOptions:
    """What ``release`` needs; see the module doc."""

    model_dir: Path
    data: Path
    field: Path | None = None
    leave_field_out: Path | None = None
    key: Path | None = None
    threads: int = 2
    sweep: bool = True
    out_of_scope: int = 40
    expires_days: int = 365
    sweep_per_class: int = 0
    run: Path | None = None
    compare_backbones: bool = False


def merge_report(model_dir: Path, report: dict[str, Any]) -> Path:
    """Put ``report`` into the folder's eval_report.json under ``field_predicting``."""
    path = model_dir / REPORT_NAME
    existing: dict[str, Any] = (json.loads(path.read_text("utf-8")) if path.is_file() else {})
    existing[FIELD_KEY] = report
    path.write_text(json.dumps(existing, indent=1) + "\n", encoding="utf-8")
    return path


def release(options: ReleaseOptions) -> dict[str, Any]:
    """Run the steps of the module doc; the eval report (with its floors)."""
    from agrifleet.models.card import write_card
    from agrifleet.models.eval_report import EvalOptions, run_eval
    from agrifleet.models.selftest import shipped_kind_selftest

    model_dir = options.model_dir
    manifest = read_manifest(model_dir)  # ModelError when it is no model folder
    print(f"releasing {manifest.name} {manifest.version} from {model_dir}")
    with tempfile.TemporaryDirectory(prefix="agrifleet-release-") as tmp:
        report = run_eval(EvalOptions(
            model=model_dir, data=options.data, field=options.field, split="test",
            report=Path(tmp), threads=options.threads, sweep=options.sweep,
            out_of_scope=options.out_of_scope, leave_field_out=options.leave_field_out,
            per_class=False, sweep_per_class=options.sweep_per_class, run=options.run,
            compare_backbones=options.compare_backbones))
    # Paths of this machine mean nothing in a shipped folder: keep the folder names only.
    report["model"] = f"{manifest.name}/{manifest.version}/{manifest.file}"
    if "leave_field_out" in report:
        lfo = Path(report["leave_field_out"]["model"])
        report["leave_field_out"]["model"] = f"{lfo.parent.name}/{lfo.name}"
    print(f"report: {merge_report(model_dir, report)}")
    answers = shipped_kind_selftest(model_dir, options.data)
    print(f"self-test: {len(answers.images)} images in {model_dir / 'selftest'}")
    print(f"card: {write_card(model_dir)}")
    if options.key is not None:
        from agrifleet.package import sign_package

        sig = sign_package(model_dir, options.key, expires_days=options.expires_days)
        print(f"signed: {sig.files} files, key {sig.key_id}, expires {sig.expires_at:%Y-%m-%d}")
    return report
