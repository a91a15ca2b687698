"""The floors of issue 19 (model 3), checked on an ``agrifleet model eval`` report: PASS, FAIL
or not measured, one line each.

- field test split, whole photos: top-1 ≥ 60 % over the field classes, every crop ≥ 45 %;
  single-leaf crops of the test photos ≥ 70 %; confidently wrong ≤ 10 % and answered ≥ 70 % of
  the field photos;
- leave-one-crop-out mean top-1 ≥ 35 %;
- own held-out lab split top-1 ≥ 98 %, answered ≥ 95 %, and at every size of the sweep within
  1.5 points of the best size (at each JPEG quality);
- out-of-scope images answered as a known disease ≤ 5 %;
- the int8 file at most 5 MB and 400 M multiply-adds per photo (test-time views included).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MAX_BYTES = 5 * 1024 * 1024
MAX_MULTIPLY_ADDS = 400_000_000


@dataclass(frozen=True)
class Floor:
    """One floor: the figure measured (None when the report has no such figure)."""

    name: str
    value: float | None
    limit: float
    at_least: bool
    unit: str = "%"

    @property
    def passed(self) -> bool | None:
        """True or False, or None when not measured."""
        if self.value is None:
            return None
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def line(self) -> str:
        """``PASS  lab test top-1 98.2 % (floor ≥ 98.0 %)``."""
        status = {True: "PASS", False: "FAIL", None: "n/a "}[self.passed]
        sign = "≥" if self.at_least else "≤"
        return f"{status}  {self.name} {self.fmt(self.value)} (floor {sign} " \
               f"{self.fmt(self.limit)})"

    def fmt(self, x: float | None) -> str:
        """A figure in this floor's unit ("98.2 %", "270.0 M", "1.16 MiB")."""
        if x is None:
            return "not measured"
        if self.unit == "%":
            return f"{100 * x:.1f} %"
        if self.unit == "M":
            return f"{x / 1e6:.1f} M"
        return f"{x / 1024 / 1024:.2f} MiB"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``passed``."""
        return {**asdict(self), "passed": self.passed}


def _get(report: dict[str, Any], *keys: str) -> Any:
    node: Any = report
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def worst_size_gap(sweep: dict[str, Any] | None) -> float | None:
    """The largest distance of any size below the best size at the same quality."""
    if not sweep:
        return None
    gaps = sweep.get("below_best") or {}
    values = [g for row in gaps.values() for g in row.values()]
    return max(values) if values else None


def worst_crop(report: dict[str, Any]) -> float | None:
    """The lowest per-crop top-1 on the field photos."""
    per_crop = _get(report, "field", "per_crop")
    return min(v["top1"] for v in per_crop.values()) if per_crop else None


def floors(report: dict[str, Any]) -> list[Floor]:
    """Every floor, measured on ``report`` (an ``agrifleet model eval`` report)."""
    return [
        Floor("field test top-1", _get(report, "field", "top1"), 0.60, True),
        Floor("field test top-1 of the worst crop", worst_crop(report), 0.45, True),
        Floor("leaf crops of the field test photos top-1",
              _get(report, "field_crops", "top1"), 0.70, True),
        Floor("field photos answered and wrong (confidently wrong)",
              _get(report, "field", "farm", "label", "confidently_wrong"), 0.10, False),
        Floor("field photos answered (coverage)",
              _get(report, "field", "farm", "label", "coverage"), 0.70, True),
        Floor("leave-one-crop-out mean top-1",
              _get(report, "leave_crop_out", "mean_top1"), 0.35, True),
        Floor("lab test top-1", _get(report, "lab", "top1"), 0.98, True),
        Floor("lab photos answered (coverage)",
              _get(report, "lab", "farm", "label", "coverage"), 0.95, True),
        Floor("sweep: largest gap of a size below the best size",
              worst_size_gap(_get(report, "lab", "sweep")), 0.015, False),
        Floor("out-of-scope images answered as a known disease",
              _get(report, "out_of_scope", "answered_as_disease"), 0.05, False),
        Floor("int8 file size", _get(report, "cost", "size_bytes"), MAX_BYTES, False, "MiB"),
        Floor("multiply-adds per photo", _get(report, "cost", "multiply_adds"),
              MAX_MULTIPLY_ADDS, False, "M"),
    ]


def format_floors(found: list[Floor]) -> str:
    """All floors as lines, with a last line counting the misses."""
    missed = [f for f in found if f.passed is False]
    unmeasured = [f for f in found if f.passed is None]
    tail = f"floors: {len(found) - len(missed) - len(unmeasured)} passed, {len(missed)} " \
           f"failed, {len(unmeasured)} not measured"
    return "\n".join([*(f.line() for f in found), tail])
