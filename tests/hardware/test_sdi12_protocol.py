"""SDI-12 commands and replies, byte for byte: addresses, signs, CRC, garbage and echo."""

from __future__ import annotations

import pytest

from agrifleet.hardware.sdi12 import protocol
from agrifleet.hardware.sdi12.protocol import ReplyError


def test_command_bytes() -> None:
    assert protocol.command("0", "M") == b"0M!"
    assert protocol.command("0", "MC") == b"0MC!"
    assert protocol.command("a", "D1") == b"aD1!"
    assert protocol.command("3", "A7") == b"3A7!"
    assert protocol.command("?") == b"?!"
    assert protocol.command("Z", "I") == b"ZI!"


@pytest.mark.parametrize("bad", ["", "00", "#", " ", "é"])
def test_invalid_address_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="SDI-12 address"):
        protocol.command(bad, "M")


def test_values_with_signs_and_decimals() -> None:
    assert protocol.parse_values("0+1.23-4.5+6", "0") == [1.23, -4.5, 6.0]
    assert protocol.parse_values("0-0.001+1234567-.5", "0") == [-0.001, 1234567.0, -0.5]
    assert protocol.parse_values("0", "0") == []  # no (more) data


@pytest.mark.parametrize(
    "reply",
    [
        "1+1.0",  # another address
        "0 +1.0",  # space
        "01.0",  # no sign
        "0+1..0",  # two points
        "0+12345678",  # more than 7 digits
        "0+",  # sign without digits
        "0+1.0x",  # trailing garbage
    ],
)
def test_malformed_values_are_refused(reply: str) -> None:
    with pytest.raises(ReplyError):
        protocol.parse_values(reply, "0")


def test_crc_matches_the_standards_example() -> None:
    # SDI-12 v1.4 section 4.4.12: "0D0!" answered with "0+3.14OqZ<CR><LF>".
    assert protocol.crc_chars(protocol.crc16(b"0+3.14")) == "OqZ"
    assert protocol.parse_values("0+3.14OqZ", "0", crc=True) == [3.14]
    assert protocol.values_reply("0", ["+3.14"], crc=True) == b"0+3.14OqZ\r\n"


def test_bad_crc_is_refused() -> None:
    with pytest.raises(ReplyError, match="CRC"):
        protocol.parse_values("0+3.15OqZ", "0", crc=True)
    with pytest.raises(ReplyError, match="CRC"):
        protocol.parse_values("0+3.14OqY", "0", crc=True)


def test_measure_reply() -> None:
    assert protocol.parse_measure("00013", "0") == (1, 3)
    assert protocol.parse_measure("a12509", "a") == (125, 9)  # concurrent: two digits
    for bad in ("1001 3", "0013", "10013", "0abc3"):
        with pytest.raises(ReplyError):
            protocol.parse_measure(bad, "0")


def test_reply_line_needs_crlf_and_printable_ascii() -> None:
    assert protocol.reply_text(b"0+1.0\r\n") == "0+1.0"
    with pytest.raises(ReplyError, match="incomplete"):
        protocol.reply_text(b"0+1.0")
    with pytest.raises(ReplyError, match="garbage"):
        protocol.reply_text(b"0+1\x07.0\r\n")


def test_a_crc_character_may_be_del() -> None:
    """A CRC character is 0x40 | 6 bits, so 0x7F (DEL) is one of them: about 1 reply in 20."""
    values = ["+32.1", "+14.8"]
    for n in range(2000):
        reply = protocol.values_reply("0", [*values, f"+{n}"], crc=True)
        if b"\x7f" in reply:
            break
    else:
        pytest.fail("no reply with a DEL in its CRC")
    text = protocol.reply_text(reply)
    assert protocol.parse_values(text, "0", crc=True) == [32.1, 14.8, float(n)]
    with pytest.raises(ReplyError, match="garbage"):
        protocol.reply_text(b"0+1\x7f.0+2.5ABC\r\n")  # DEL outside the CRC


def test_echo_of_our_own_command_is_skipped() -> None:
    assert protocol.reply_text(b"0M!00013\r\n", echo=b"0M!") == "00013"


def test_parity_bit_is_masked() -> None:
    # "0" with even parity is 0x30 (two ones: parity 0); "1" is 0x31 -> 0xB1 on the wire.
    assert protocol.seven_bit(b"\xb1\x30\x8d\x0a") == b"10\r\n"


def test_value_formatting_is_what_a_probe_sends() -> None:
    assert protocol.format_value(21.34, 1) == "+21.3"
    assert protocol.format_value(-4.0, 2) == "-4.00"
    assert protocol.values_reply("0", ["+21.3", "-4.00"]) == b"0+21.3-4.00\r\n"
