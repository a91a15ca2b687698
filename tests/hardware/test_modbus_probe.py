"""The Modbus RTU driver on a pseudo-terminal: exact frames, profiles, every fault refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrifleet.hardware.modbus import ModbusSoilProbe
from agrifleet.hardware.sensor import Measurement, SensorError
from agrifleet.hardware.simulators import ModbusSoilSimulator
from tests.hardware.peer import ScriptedPeer

THREE_REGISTERS = """
name = "three"
[[registers]]
quantity = "soil_moisture"
address = 0
unit = "%"
scale = 0.1
min = 0
max = 100
[[registers]]
quantity = "soil_temperature"
address = 1
unit = "degC"
scale = 0.1
signed = true
min = -40
max = 80
[[registers]]
quantity = "soil_ec"
address = 2
unit = "uS/cm"
min = 0
max = 20000
"""


def crc16(frame: bytes) -> bytes:
    """Modbus CRC-16 (polynomial 0xA001, initial 0xFFFF), low byte first: written independently."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def framed(hex_text: str) -> bytes:
    body = bytes.fromhex(hex_text)
    return body + crc16(body)


def _probe(path: str, **kwargs: object) -> ModbusSoilProbe:
    return ModbusSoilProbe(path, timeout=0.3, **kwargs)  # type: ignore[arg-type]


def test_vendor_example_frames_byte_for_byte(tmp_path: Path) -> None:
    profile = tmp_path / "three.toml"
    profile.write_text(THREE_REGISTERS)
    # A vendor's worked example: 49.5 %, 32.4 degC, 4 uS/cm.
    request = bytes.fromhex("010300000003 05CB")
    reply = bytes.fromhex("01030601EF01440004 B559")
    with ScriptedPeer([(request, reply)]) as peer:
        probe = _probe(peer.path, profile=str(profile))
        try:
            got = probe.read()
        finally:
            probe.close()
    assert peer.received == [request]
    assert got == [
        Measurement("soil_moisture", 49.5, "%"),
        Measurement("soil_temperature", 32.4, "degC"),
        Measurement("soil_ec", 4.0, "uS/cm"),
    ]


def test_soil_7in1_is_one_request_for_seven_registers() -> None:
    request = bytes.fromhex("010300000007 0408")
    words = [312, 0xFF9B, 850, 65, 40, 22, 150]  # temperature 0xFF9B = -10.1 degC
    reply = framed("03030E" + "".join(f"{w:04X}" for w in words))
    with ScriptedPeer([(framed("030300000007"), reply)]) as peer:
        probe = _probe(peer.path, address=3)
        try:
            got = {m.quantity: m.value for m in probe.read()}
        finally:
            probe.close()
    assert request == framed("010300000007")  # our CRC helper agrees with the well-known frame
    assert got == {
        "soil_moisture": 31.2,
        "soil_temperature": -10.1,
        "soil_ec": 850.0,
        "soil_ph": 6.5,
        "nitrogen": 40.0,
        "phosphorus": 22.0,
        "potassium": 150.0,
    }


def test_jxct_map_is_read_in_four_contiguous_requests() -> None:
    script = [
        (framed("010300060001"), framed("010302" + "0283")),  # pH 6.43
        (framed("010300120002"), framed("010304" + "014D" + "00F5")),  # 33.3 %, 24.5 degC
        (framed("010300150001"), framed("010302" + "01F4")),  # 500 uS/cm
        (framed("0103001E0003"), framed("010306" + "0020" + "0011" + "0064")),
    ]
    with ScriptedPeer(script) as peer:
        probe = _probe(peer.path, profile="jxct-7in1")
        try:
            got = {m.quantity: (m.value, m.unit) for m in probe.read()}
        finally:
            probe.close()
    assert peer.received == [request for request, _ in script]
    assert got == {
        "soil_ph": (6.43, "pH"),
        "soil_moisture": (33.3, "%"),
        "soil_temperature": (24.5, "degC"),
        "soil_ec": (500.0, "uS/cm"),
        "nitrogen": (32.0, "mg/kg"),
        "phosphorus": (17.0, "mg/kg"),
        "potassium": (100.0, "mg/kg"),
    }


def test_a_modbus_exception_reply_is_an_error() -> None:
    with ScriptedPeer([(framed("010300000007"), bytes.fromhex("018302C0F1"))]) as peer:
        probe = _probe(peer.path)
        with pytest.raises(SensorError, match=r"refused a read at 0x0000 \(exception code 2\)"):
            probe.read()
        probe.close()


def test_reads_the_simulator_through_the_link(soil_sim: ModbusSoilSimulator) -> None:
    probe = _probe(soil_sim.link)
    try:
        got = probe.read()
    finally:
        probe.close()
    assert [(m.quantity, m.unit) for m in got] == [
        ("soil_moisture", "%"),
        ("soil_temperature", "degC"),
        ("soil_ec", "uS/cm"),
        ("soil_ph", "pH"),
        ("nitrogen", "mg/kg"),
        ("phosphorus", "mg/kg"),
        ("potassium", "mg/kg"),
    ]
    assert 22 <= got[0].value <= 34
    assert soil_sim.requests == 1


def test_values_drift_slowly_and_a_pinned_value_is_exact(soil_sim: ModbusSoilSimulator) -> None:
    soil_sim.set_value("soil_temperature", -3.7)
    probe = _probe(soil_sim.path)
    try:
        first, second = probe.read(), probe.read()
    finally:
        probe.close()
    assert first[1] == second[1] == Measurement("soil_temperature", -3.7, "degC")
    assert abs(first[0].value - second[0].value) < 2


def test_out_of_range_values_are_refused_not_reported(soil_sim: ModbusSoilSimulator) -> None:
    soil_sim.set_value("soil_ph", 12.5)
    probe = _probe(soil_sim.path)
    try:
        with pytest.raises(SensorError, match=r"soil_ph = 12\.5 pH is outside"):
            probe.read()
        soil_sim.set_value("soil_ph", None)
        assert len(probe.read()) == 7
    finally:
        probe.close()


def test_only_the_probes_own_address_answers(soil_sim: ModbusSoilSimulator) -> None:
    probe = _probe(soil_sim.path, address=2)
    try:
        with pytest.raises(SensorError, match="address 2"):
            probe.read()
    finally:
        probe.close()
    assert soil_sim.requests == 0


@pytest.mark.parametrize("fault", ["noise", "bad_crc", "silence"])
def test_every_fault_is_an_error_then_readings_resume(
    soil_sim: ModbusSoilSimulator, fault: str
) -> None:
    probe = _probe(soil_sim.link)
    try:
        setattr(soil_sim.faults, fault, True)
        for _ in range(3):
            with pytest.raises(SensorError):
                probe.read()
        setattr(soil_sim.faults, fault, False)
        assert len(probe.read()) == 7
    finally:
        probe.close()
    assert soil_sim.requests >= 4


def test_unplug_while_open_and_replug_under_a_new_path(soil_sim: ModbusSoilSimulator) -> None:
    probe = _probe(soil_sim.link)
    try:
        assert probe.read()
        old = soil_sim.path
        soil_sim.unplug()
        with pytest.raises(SensorError):
            probe.read()
        with pytest.raises(SensorError, match="cannot open"):
            probe.read()
        soil_sim.replug()
        assert soil_sim.path != old
        assert len(probe.read()) == 7
    finally:
        probe.close()


def test_user_profile_with_input_registers_and_32_bit_values(tmp_path: Path) -> None:
    profile = tmp_path / "mine.toml"
    profile.write_text(
        """
name = "mine"
function = 4
max_gap = 2
[[registers]]
quantity = "soil_ec"
address = 0x10
words = 2
unit = "uS/cm"
scale = 0.01
min = 0
max = 100000
[[registers]]
quantity = "soil_temperature"
address = 0x13
unit = "degC"
scale = 0.01
signed = true
min = -40
max = 80
"""
    )
    with ModbusSoilSimulator(str(profile), link_dir=str(tmp_path)) as sim:
        sim.set_value("soil_ec", 70000.25)
        sim.set_value("soil_temperature", -12.34)
        probe = _probe(sim.path, profile=str(profile))
        try:
            got = probe.read()
        finally:
            probe.close()
        assert sim.requests == 1  # 0x10..0x13 in one read across the one-register gap
    assert got == [
        Measurement("soil_ec", 70000.25, "uS/cm"),
        Measurement("soil_temperature", -12.34, "degC"),
    ]


def test_a_port_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    probe = _probe(str(tmp_path / "ttyUSB9"))
    with pytest.raises(SensorError, match="cannot open"):
        probe.read()


def test_bad_constructor_arguments_are_clear() -> None:
    with pytest.raises(ValueError, match=r"address must be 1\.\.247"):
        ModbusSoilProbe("/dev/null", address=0)
