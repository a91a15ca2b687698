"""Each floor of the issue passes, fails or is "not measured" on an eval report."""

from __future__ import annotations

from typing import Any

from models.floors import floors, format_floors, worst_size_gap


def _report(**changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "lab": {"top1": 0.985, "farm": {"label": {"coverage": 0.96}},
                "sweep": {"below_best": {"128": {"95": 0.01, "50": 0.014}, "192": {"95": 0.0}}}},
        "field": {"farm": {"label": {"confidently_wrong": 0.08}}},
        "leave_field_out": {"field": {"top1": 0.62, "farm": {"disease": {"top1": 0.71}}}},
        "out_of_scope": {"answered": 0.05},
        "cost": {"size_bytes": 1_500_000, "multiply_adds": 280_000_000},
    }
    report.update(changes)
    return report


def test_a_model_meeting_every_floor_passes_them_all() -> None:
    found = floors(_report())
    assert [f.passed for f in found] == [True] * 9
    assert format_floors(found).splitlines()[-1] == "floors: 9 passed, 0 failed, 0 not measured"


def test_each_miss_is_a_fail_and_a_missing_figure_is_not_measured() -> None:
    report = _report(out_of_scope={"answered": 0.35}, cost={"size_bytes": 3_000_000})
    del report["leave_field_out"]
    report["lab"]["sweep"]["below_best"]["1024"] = {"50": 0.02}
    by_name = {f.name: f for f in floors(report)}
    assert by_name["out-of-scope images answered with a known class"].passed is False
    assert by_name["int8 file size"].passed is False
    assert by_name["multiply-adds per photo"].passed is None
    assert by_name["leave-field-out field top-1"].passed is None
    assert by_name["sweep: largest gap of a size below the best size"].value == 0.02
    text = format_floors(list(by_name.values()))
    assert "FAIL  out-of-scope images answered with a known class 35.0 % (floor ≤ 10.0 %)" in text
    assert "n/a   leave-field-out field top-1 not measured (floor ≥ 60.0 %)" in text
    assert text.splitlines()[-1] == "floors: 3 passed, 3 failed, 3 not measured"


def test_the_floor_at_the_limit_passes() -> None:
    found = floors(_report(lab={"top1": 0.98, "farm": {"label": {"coverage": 0.95}}}))
    assert found[0].passed and found[5].passed
    assert worst_size_gap(None) is None
