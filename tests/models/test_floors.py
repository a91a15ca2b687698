"""Each floor of issue 19 passes, fails or is "not measured" on an eval report."""

from __future__ import annotations

from typing import Any

from agrifleet.models.floors import floors, format_floors, worst_crop, worst_size_gap


def _report(**changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "lab": {"top1": 0.985, "farm": {"label": {"coverage": 0.96}},
                "sweep": {"below_best": {"128": {"95": 0.01, "50": 0.014}, "192": {"95": 0.0}}}},
        "field": {"top1": 0.64, "farm": {"label": {"confidently_wrong": 0.08, "coverage": 0.75}},
                  "per_crop": {"Tomato": {"photos": 40, "top1": 0.6},
                               "Potato": {"photos": 30, "top1": 0.5}}},
        "field_crops": {"top1": 0.72},
        "leave_crop_out": {"mean_top1": 0.4},
        "out_of_scope": {"answered": 0.2, "answered_as_disease": 0.04},
        "cost": {"size_bytes": 4_200_000, "multiply_adds": 385_000_000},
    }
    report.update(changes)
    return report


def test_a_model_meeting_every_floor_passes_them_all() -> None:
    found = floors(_report())
    assert [f.passed for f in found] == [True] * 12
    assert format_floors(found).splitlines()[-1] == "floors: 12 passed, 0 failed, 0 not measured"


def test_each_miss_is_a_fail_and_a_missing_figure_is_not_measured() -> None:
    report = _report(out_of_scope={"answered_as_disease": 0.35}, cost={"size_bytes": 6_000_000})
    del report["leave_crop_out"]
    report["field"]["per_crop"]["Grape"] = {"photos": 10, "top1": 0.3}
    report["lab"]["sweep"]["below_best"]["1024"] = {"50": 0.02}
    by_name = {f.name: f for f in floors(report)}
    assert by_name["out-of-scope images answered as a known disease"].passed is False
    assert by_name["int8 file size"].passed is False
    assert by_name["multiply-adds per photo"].passed is None
    assert by_name["leave-one-crop-out mean top-1"].passed is None
    assert by_name["field test top-1 of the worst crop"].value == 0.3
    assert by_name["field test top-1 of the worst crop"].passed is False
    assert by_name["sweep: largest gap of a size below the best size"].value == 0.02
    text = format_floors(list(by_name.values()))
    assert "FAIL  out-of-scope images answered as a known disease 35.0 % (floor ≤ 5.0 %)" in text
    assert "n/a   leave-one-crop-out mean top-1 not measured (floor ≥ 35.0 %)" in text
    assert text.splitlines()[-1] == "floors: 6 passed, 4 failed, 2 not measured"


def test_the_floor_at_the_limit_passes() -> None:
    found = floors(_report(field={"top1": 0.60, "farm": {"label": {"confidently_wrong": 0.10,
                                                                   "coverage": 0.70}},
                                  "per_crop": {"Apple": {"photos": 5, "top1": 0.45}}},
                           cost={"size_bytes": 5 * 1024 * 1024, "multiply_adds": 400_000_000}))
    assert all(f.passed for f in found)
    assert worst_size_gap(None) is None
    assert worst_crop({}) is None
