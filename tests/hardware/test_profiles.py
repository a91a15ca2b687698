"""Profiles are data: shipped ones load, a user's file works, a broken one says what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrifleet.hardware.modbus import ModbusSoilProbe, load_profile, shipped_profiles
from agrifleet.hardware.modbus.profile import Block, plan_blocks
from agrifleet.hardware.profiles import ProfileError
from agrifleet.hardware.sdi12 import Sdi12Probe
from agrifleet.hardware.sdi12 import load_profile as load_sdi12_profile
from agrifleet.hardware.sdi12 import shipped_profiles as shipped_sdi12
from agrifleet.hardware.sensor import SensorError

GOOD = """
name = "greenhouse-ec"
source = "my own probe"
[[registers]]
quantity = "soil_ec"
address = 5
unit = "uS/cm"
min = 0
max = 5000
"""


def test_shipped_profiles() -> None:
    assert {"soil-7in1", "jxct-7in1"} <= set(shipped_profiles())
    assert {"generic", "acclima-tdr"} <= set(shipped_sdi12())
    soil = load_profile("soil-7in1")
    assert [r.address for r in soil.registers] == list(range(7))
    assert plan_blocks(soil) == [Block(0, 7)]


def test_jxct_map_matches_the_vendor_manual() -> None:
    jxct = {r.quantity: r for r in load_profile("jxct-7in1").registers}
    assert (jxct["soil_ph"].address, jxct["soil_ph"].scale) == (0x0006, 0.01)
    assert (jxct["soil_moisture"].address, jxct["soil_moisture"].scale) == (0x0012, 0.1)
    assert jxct["soil_temperature"].address == 0x0013 and jxct["soil_temperature"].signed
    assert jxct["soil_ec"].address == 0x0015
    npk = [jxct[q].address for q in ("nitrogen", "phosphorus", "potassium")]
    assert npk == [0x001E, 0x001F, 0x0020]
    assert "JXBS-3001" in load_profile("jxct-7in1").source
    assert plan_blocks(load_profile("jxct-7in1")) == [
        Block(0x06, 1),
        Block(0x12, 2),
        Block(0x15, 1),
        Block(0x1E, 3),
    ]


def test_a_users_profile_file_is_used_without_code(tmp_path: Path) -> None:
    path = tmp_path / "greenhouse.toml"
    path.write_text(GOOD)
    probe = ModbusSoilProbe("/dev/ttyUSB0", profile=str(path))
    assert probe.profile.name == "greenhouse-ec"
    assert probe.blocks == [Block(5, 1)]


def test_a_users_sdi12_profile(tmp_path: Path) -> None:
    path = tmp_path / "teros.toml"
    path.write_text(
        'name = "two"\ncrc = true\n[[values]]\nquantity = "soil_moisture"\nunit = "%"\n'
        '[[values]]\nquantity = "soil_temperature"\nunit = "degC"\n'
    )
    probe = Sdi12Probe("/dev/ttyUSB0", profile=str(path))
    assert probe.profile.command == "MC"
    assert [v.quantity for v in probe.profile.values] == ["soil_moisture", "soil_temperature"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 'x'\n[[registers]\n", "not valid TOML"),
        (GOOD + "colour = 'red'\n", "colour: Extra inputs are not permitted"),
        (GOOD.replace("max = 5000", "max = -1"), r"min \(0.0\) must be below max \(-1.0\)"),
        (GOOD.replace("soil_ec", "Soil EC"), "must be snake_case"),
        (GOOD.replace("address = 5", "address = 'five'"), "registers.0.address"),
        (GOOD.replace('unit = "uS/cm"\n', ""), "registers.0.unit: Field required"),
        ('name = "empty"\nregisters = []\n', "registers: List should have at least 1 item"),
        (GOOD + GOOD.split("\n", 3)[3].replace("soil_ec", "soil_ph"), "share register 0x0005"),
        (GOOD.replace("max = 5000", "max = inf"), "registers.0.max: Input should be a finite"),
        (GOOD.replace("min = 0", "min = nan"), "registers.0.min: Input should be a finite"),
        (GOOD.replace("min = 0", "scale = nan\nmin = 0"), "registers.0.scale: Input should be"),
        (GOOD.replace("min = 0", "offset = -inf\nmin = 0"), "registers.0.offset: Input should"),
    ],
)
def test_malformed_profile_gives_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=message) as info:
        load_profile(str(path))
    assert str(path) in str(info.value)


def test_unknown_names_and_missing_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="unknown profile 'soil-9in1': shipped ones are"):
        load_profile("soil-9in1")
    with pytest.raises(ProfileError, match="cannot read it"):
        load_profile(str(tmp_path / "missing.toml"))
    with pytest.raises(ProfileError, match="unknown profile"):
        load_sdi12_profile("nope")


@pytest.mark.parametrize("bound", ["min = nan", "max = inf", "min = -inf"])
def test_an_sdi12_bound_of_nan_or_inf_is_refused(tmp_path: Path, bound: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'name = "x"\n[[values]]\nquantity = "soil_moisture"\n{bound}\n')
    with pytest.raises(ProfileError, match=r"values.0.m..: Input should be a finite number"):
        load_sdi12_profile(str(path))


def test_a_non_finite_value_never_becomes_a_measurement() -> None:
    with pytest.raises(SensorError, match="value 1 is nan"):
        load_sdi12_profile("generic").to_measurements([1.0, float("nan")])
    with pytest.raises(SensorError, match="value 0 is inf"):
        load_sdi12_profile("acclima-tdr").to_measurements([float("inf"), 20, 10, 100, 200])
