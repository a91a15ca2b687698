"""Weather sensors on real pseudo-terminals: the XY-MD02 frames, SDI-12 T/RH and leaf wetness
probes, the rain gauge's tip counter (wrap-around, reset), and the simulators' daily cycle."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agrifleet.hardware.modbus import ModbusSoilProbe, load_profile
from agrifleet.hardware.profiles import ProfileError
from agrifleet.hardware.rain import RainGauge
from agrifleet.hardware.rain import load_profile as load_rain_profile
from agrifleet.hardware.sdi12 import Sdi12Probe
from agrifleet.hardware.sdi12 import load_profile as load_sdi12_profile
from agrifleet.hardware.sensor import Measurement, SensorError
from agrifleet.hardware.simulators import ModbusAirSimulator, RainGaugeSimulator, Sdi12Simulator
from agrifleet.hardware.simulators.signals import DailyCycle
from tests.hardware.peer import ScriptedPeer
from tests.hardware.test_modbus_probe import framed


def test_xy_md02_reads_input_registers_1_and_2_in_one_request() -> None:
    request = bytes.fromhex("010400010002 200B")  # the frame XY-MD02 manuals print
    reply = framed("010404" + "FFCD" + "03A2")  # -5.1 degC (signed), 93.0 %RH
    with ScriptedPeer([(request, reply)]) as peer:
        probe = ModbusSoilProbe(peer.path, profile="xy-md02", timeout=0.3)
        try:
            got = probe.read()
        finally:
            probe.close()
    assert request == framed("010400010002")
    assert peer.received == [request]
    assert got == [
        Measurement("air_temperature", -5.1, "degC"),
        Measurement("relative_humidity", 93.0, "%"),
    ]


def test_xy_md02_profile_is_function_4_at_9600_8n1() -> None:
    profile = load_profile("xy-md02")
    assert (profile.function, profile.baudrate, profile.parity, profile.stopbits) == (
        4, 9600, "N", 1,
    )


def test_air_simulator_serves_the_probe_and_its_faults_are_refused(tmp_path: Path) -> None:
    with ModbusAirSimulator(link_dir=str(tmp_path), seed=7) as sim:
        probe = ModbusSoilProbe(sim.link, profile="xy-md02", timeout=0.3)
        try:
            sim.set_value("air_temperature", 12.3)
            sim.set_value("relative_humidity", 96.5)
            assert {m.quantity: m.value for m in probe.read()} == {
                "air_temperature": 12.3, "relative_humidity": 96.5,
            }
            sim.faults.bad_crc = True
            with pytest.raises(SensorError):
                probe.read()
            sim.faults.bad_crc = False
            sim.set_value("relative_humidity", 104.0)  # a broken element: refused, not stored
            with pytest.raises(SensorError, match="relative_humidity"):
                probe.read()
        finally:
            probe.close()


def test_daily_cycle_is_cold_and_humid_at_dawn_warm_and_dry_in_the_afternoon() -> None:
    day = 240.0  # a four-minute day: one hour is 10 s
    temp = DailyCycle(11.0, 23.0, random.Random(1), day_s=day, start_hour=0.0)
    rh = DailyCycle(97.0, 60.0, random.Random(2), day_s=day, start_hour=0.0)
    wet = DailyCycle(1.0, 0.0, random.Random(3), day_s=day, start_hour=0.0, step=True)
    dawn, afternoon = 5 * day / 24, 14 * day / 24
    assert temp.value(dawn) == pytest.approx(11.0, abs=0.7)
    assert temp.value(afternoon) == pytest.approx(23.0, abs=0.7)
    assert rh.value(dawn) > 94 > 63 > rh.value(afternoon)
    assert (wet.value(dawn), wet.value(afternoon)) == (1.0, 0.0)
    assert temp.value(day + dawn) < temp.value(day + afternoon)  # the next day again


def test_sdi12_trh_probe_with_and_without_vapour_pressure(tmp_path: Path) -> None:
    for optional, expected in ((True, 3), (False, 2)):
        with Sdi12Simulator(
            "0", "trh", ready_after=0.05, link_dir=str(tmp_path), seed=4,
            optional_values=optional,
        ) as sim:
            sim.set_value(0, 14.2)
            sim.set_value(1, 91.5)
            probe = Sdi12Probe(sim.link, timeout=1.0, profile="trh")
            try:
                got = probe.read()
            finally:
                probe.close()
        assert [m.quantity for m in got] == [
            "air_temperature", "relative_humidity", "vapour_pressure",
        ][:expected]
        assert (got[0].value, got[1].value) == (14.2, 91.5)


def test_sdi12_profile_refuses_a_missing_required_value_and_a_gap_in_optionals(
    tmp_path: Path,
) -> None:
    profile = load_sdi12_profile("trh")
    with pytest.raises(SensorError, match="expects 2 to 3 values"):
        profile.to_measurements([14.0])
    bad = tmp_path / "gap.toml"
    bad.write_text(
        'name = "gap"\n[[values]]\nquantity = "a"\noptional = true\n'
        '[[values]]\nquantity = "b"\n'
    )
    with pytest.raises(ProfileError, match="only trailing values may be optional"):
        load_sdi12_profile(str(bad))


def test_leaf_wetness_sensors_wet_and_dry(tmp_path: Path) -> None:
    with Sdi12Simulator("1", "leaf-wetness", ready_after=0.05, link_dir=str(tmp_path)) as sim:
        sim.set_value(0, 1.0)
        probe = Sdi12Probe(sim.link, address="1", timeout=1.0, profile="leaf-wetness")
        try:
            assert probe.read() == [Measurement("leaf_wetness", 1.0, "")]
        finally:
            probe.close()
    reply = framed("010302" + "0258")  # 60.0 % wet
    with ScriptedPeer([(framed("010300000001"), reply)]) as peer:
        modbus = ModbusSoilProbe(peer.path, profile="leaf-wetness-rs485", timeout=0.3)
        try:
            assert modbus.read() == [Measurement("leaf_wetness", 60.0, "%")]
        finally:
            modbus.close()


def test_rain_gauge_mm_per_interval_across_the_wrap_and_after_a_reset(tmp_path: Path) -> None:
    with RainGaugeSimulator(link_dir=str(tmp_path), seed=3, shower_chance=0.0) as sim:
        gauge = RainGauge(sim.link, timeout=0.3)
        try:
            assert gauge.read() == []  # the first count is only the baseline
            assert gauge.read() == [Measurement("rainfall", 0.0, "mm")]
            sim.tip(3)
            assert gauge.read() == [Measurement("rainfall", 0.6, "mm")]
            sim.set_count(65534)  # near the top of the 16-bit counter
            gauge.read()
            sim.tip(5)  # 65534 -> 65535 -> 0 -> 1 -> 2 -> 3
            assert sim.count() == 3
            assert gauge.read() == [Measurement("rainfall", 1.0, "mm")]
            sim.set_count(40000)  # a rise of 39997 tips (8 m of rain): the counter was
            # reset or replaced, not rain, so this interval reports nothing
            assert gauge.read() == []
            sim.tip(2)
            assert gauge.read() == [Measurement("rainfall", 0.4, "mm")]
            sim.faults.silence = True
            with pytest.raises(SensorError):
                gauge.read()
        finally:
            gauge.close()


def test_rain_profile_bucket_size_is_data(tmp_path: Path) -> None:
    own = tmp_path / "big-bucket.toml"
    own.write_text('name = "big"\naddress = 4\nwords = 2\nmm_per_tip = 0.5\n')
    profile = load_rain_profile(str(own))
    assert (profile.modulus, profile.tips_between(2**32 - 1, 1)) == (2**32, 2)
    assert load_rain_profile("tipping-bucket-modbus").mm_per_tip == 0.2
    own.write_text('name = "bad"\naddress = 4\nmm_per_tip = 0\n')
    with pytest.raises(ProfileError, match="mm_per_tip"):
        load_rain_profile(str(own))


def test_blight_weather_on_a_given_clock_has_humid_nights_at_that_clocks_hours() -> None:
    midnight = datetime(2026, 7, 1, tzinfo=UTC).timestamp()
    now = [midnight]
    sim = ModbusAirSimulator(weather="blight", clock=lambda: now[0], seed=5)
    hours = []
    for hour in range(24):
        now[0] = midnight + hour * 3600
        hours.append(sim.values())
    humid = [h for h, v in enumerate(hours) if v["relative_humidity"] >= 90]
    assert min(v["air_temperature"] for v in hours) > 12  # every night warm: above 10 °C
    assert len(humid) >= 10 and {0, 3, 6} <= set(humid)  # the night at the clock's UTC hours
    assert 14 not in humid and hours[14]["air_temperature"] > hours[5]["air_temperature"]


def test_an_unknown_weather_is_refused_with_the_names_it_knows() -> None:
    with pytest.raises(ValueError, match="unknown weather 'monsoon': fair, blight"):
        ModbusAirSimulator(weather="monsoon")
