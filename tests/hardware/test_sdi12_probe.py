"""The SDI-12 driver on a pseudo-terminal: exact bytes sent, replies parsed, every fault refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrifleet.hardware.sdi12 import Sdi12Probe
from agrifleet.hardware.sensor import Measurement, SensorError
from agrifleet.hardware.simulators import Sdi12Simulator
from tests.hardware.peer import ScriptedPeer


def test_measurement_exchange_byte_for_byte() -> None:
    script = [
        (b"0M!", b"00013\r\n"),  # 1 s, 3 values
        (b"", b"0\r\n"),  # the service request, unasked
        (b"0D0!", b"0+21.5-3.25\r\n"),
        (b"0D1!", b"0+1200\r\n"),
    ]
    with ScriptedPeer(script) as peer:
        probe = Sdi12Probe(peer.path, timeout=1.0)
        try:
            got = probe.read()
        finally:
            probe.close()
    assert peer.received == [b"0M!", b"", b"0D0!", b"0D1!"]
    assert got == [
        Measurement("value_0", 21.5, ""),
        Measurement("value_1", -3.25, ""),
        Measurement("value_2", 1200.0, ""),
    ]


def test_query_identify_and_change_address_bytes() -> None:
    script = [(b"?!", b"4\r\n"), (b"4I!", b"414METER   TER12 3.0\r\n"), (b"4A7!", b"7\r\n")]
    with ScriptedPeer(script) as peer:
        probe = Sdi12Probe(peer.path, address="4", timeout=1.0)
        try:
            assert probe.query_address() == "4"
            assert probe.identify() == "14METER   TER12 3.0"
            probe.change_address("7")
        finally:
            probe.close()
    assert peer.received == [b"?!", b"4I!", b"4A7!"]
    assert probe.address == "7"


def test_a_probe_announcing_more_values_than_it_sends_is_refused() -> None:
    script = [(b"0M!", b"00003\r\n"), (b"0D0!", b"0+1.0+2.0\r\n"), (b"0D1!", b"0\r\n")]
    with ScriptedPeer(script) as peer:
        probe = Sdi12Probe(peer.path, timeout=1.0)
        with pytest.raises(SensorError, match="announced 3 values, sent 2"):
            probe.read()
        probe.close()


def test_a_late_service_request_before_a_measure_reply_is_skipped() -> None:
    # "0<CR><LF>": the service request of an earlier measurement, arriving after it failed
    script = [(b"0M!", b"0\r\n00002\r\n"), (b"0D0!", b"0+1.5+2.5\r\n")]
    with ScriptedPeer(script) as peer:
        probe = Sdi12Probe(peer.path, timeout=1.0)
        try:
            assert [m.value for m in probe.read()][:2] == [1.5, 2.5]
        finally:
            probe.close()


def test_reads_the_acclima_profile_through_the_link(sdi12_sim: Sdi12Simulator) -> None:
    probe = Sdi12Probe(sdi12_sim.link, profile="acclima-tdr", timeout=0.5)
    try:
        got = probe.read()
    finally:
        probe.close()
    assert [m.quantity for m in got] == [
        "soil_moisture",
        "soil_temperature",
        "soil_permittivity",
        "soil_ec",
        "soil_pore_water_ec",
    ]
    assert [m.unit for m in got] == ["%", "degC", "", "uS/cm", "uS/cm"]
    assert 0 < got[0].value < 100
    assert sdi12_sim.commands == ["0MC!", "0D0!"]


def test_negative_values_travel_with_their_sign(sdi12_sim: Sdi12Simulator) -> None:
    sdi12_sim.set_value(1, -7.5)
    probe = Sdi12Probe(sdi12_sim.path, profile="acclima-tdr", timeout=0.5)
    try:
        assert probe.read()[1] == Measurement("soil_temperature", -7.5, "degC")
    finally:
        probe.close()


def test_value_outside_the_profile_range_is_refused(sdi12_sim: Sdi12Simulator) -> None:
    sdi12_sim.set_value(0, 140.0)
    probe = Sdi12Probe(sdi12_sim.path, profile="acclima-tdr", timeout=0.5)
    with pytest.raises(SensorError, match="soil_moisture = 140"):
        probe.read()
    probe.close()


def test_change_address_in_the_simulator(sdi12_sim: Sdi12Simulator) -> None:
    probe = Sdi12Probe(sdi12_sim.path, profile="acclima-tdr", timeout=0.5)
    try:
        probe.change_address("5")
        assert sdi12_sim.address == "5"
        assert len(probe.read()) == 5
        other = Sdi12Probe(sdi12_sim.path, timeout=0.3)
        with pytest.raises(SensorError, match="cannot open"):  # the line is ours alone
            other.query_address()
        probe.close()
        assert other.query_address() == "5"
        other.close()
    finally:
        probe.close()


def test_one_wire_interface_echo_is_tolerated(tmp_path: Path) -> None:
    with Sdi12Simulator(echo=True, ready_after=0.02, link_dir=str(tmp_path)) as sim:
        probe = Sdi12Probe(sim.path, timeout=0.5)
        try:
            assert [m.quantity for m in probe.read()] == ["value_0", "value_1", "value_2"]
        finally:
            probe.close()


def test_many_values_are_collected_over_several_data_commands(tmp_path: Path) -> None:
    with Sdi12Simulator(generic_values=9, ready_after=0.02, link_dir=str(tmp_path)) as sim:
        for i in range(9):
            sim.set_value(i, -12345.6 + i)
        probe = Sdi12Probe(sim.path, timeout=0.5)
        try:
            got = probe.read()
        finally:
            probe.close()
    assert [m.value for m in got] == [-12345.6 + i for i in range(9)]
    assert "0D1!" in sim.commands


@pytest.mark.parametrize("fault", ["noise", "bad_crc", "silence"])
def test_every_fault_is_an_error_then_readings_resume(
    sdi12_sim: Sdi12Simulator, fault: str
) -> None:
    probe = Sdi12Probe(sdi12_sim.link, profile="acclima-tdr", timeout=0.3)
    try:
        setattr(sdi12_sim.faults, fault, True)
        for _ in range(3):
            with pytest.raises(SensorError):
                probe.read()
        setattr(sdi12_sim.faults, fault, False)
        assert len(probe.read()) == 5
    finally:
        probe.close()


def test_noise_is_refused_even_without_crc(tmp_path: Path) -> None:
    with Sdi12Simulator(ready_after=0.02, link_dir=str(tmp_path), seed=9) as sim:
        probe = Sdi12Probe(sim.path, timeout=0.3)
        sim.faults.noise = True
        try:
            for _ in range(5):
                with pytest.raises(SensorError):
                    probe.read()
        finally:
            probe.close()


def test_unplug_and_replug_through_the_stable_link(sdi12_sim: Sdi12Simulator) -> None:
    probe = Sdi12Probe(sdi12_sim.link, profile="acclima-tdr", timeout=0.3)
    try:
        assert probe.read()
        old = sdi12_sim.path
        sdi12_sim.unplug()
        with pytest.raises(SensorError):
            probe.read()
        with pytest.raises(SensorError, match="cannot open"):
            probe.read()
        sdi12_sim.replug()
        assert sdi12_sim.path != old
        assert len(probe.read()) == 5
    finally:
        probe.close()


def test_additional_measurement_with_crc_from_a_user_profile(tmp_path: Path) -> None:
    profile = tmp_path / "m1.toml"
    profile.write_text('name = "m1"\nmeasurement = "M1"\ncrc = true\n')
    with Sdi12Simulator(ready_after=0.02, link_dir=str(tmp_path)) as sim:
        probe = Sdi12Probe(sim.path, profile=str(profile), timeout=0.5)
        try:
            assert len(probe.read()) == 3
        finally:
            probe.close()
    assert sim.commands == ["0MC1!", "0D0!"]
