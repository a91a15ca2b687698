"""Stable /dev/serial/by-id style names: listed, resolved, and found again after a replug."""

from __future__ import annotations

from pathlib import Path

from agrifleet.hardware.ports import describe, list_by_id, resolve, stable_path
from agrifleet.hardware.simulators import NmeaGpsSimulator


def test_by_id_links_are_listed_with_their_current_node(tmp_path: Path) -> None:
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    node = tmp_path / "ttyUSB3"
    node.touch()
    (by_id / "usb-FTDI_FT232R_A10K1234-if00-port0").symlink_to(node)
    links = list_by_id(by_id)
    assert links == {str(by_id / "usb-FTDI_FT232R_A10K1234-if00-port0"): str(node)}
    assert stable_path(str(node), by_id) == str(by_id / "usb-FTDI_FT232R_A10K1234-if00-port0")
    assert stable_path(str(tmp_path / "other"), by_id) == str(tmp_path / "other")
    assert list_by_id(tmp_path / "absent") == {}


def test_a_link_follows_the_simulator_across_a_replug(tmp_path: Path) -> None:
    with NmeaGpsSimulator(link_dir=str(tmp_path)) as sim:
        first = resolve(sim.link)
        assert first == sim.path
        assert describe(sim.link) == f"{sim.link} -> {sim.path}"
        sim.unplug()
        assert not Path(sim.link).exists()
        sim.replug()
        assert resolve(sim.link) == sim.path != first
        assert list_by_id(tmp_path) == {sim.link: sim.path}
    assert not Path(sim.link).exists()
