"""SDI-12 (v1.4) commands and replies as bytes and text: no I/O here, so it is tested byte for byte.

A command is ``<address><body>!``; a reply is ``<address>...<CR><LF>``. Values are signed decimals
(``+1.23-4.5+6``) of at most 7 digits; replies to ``aMC!``/``aCC!`` data end with a 3-character CRC.
"""

from __future__ import annotations

import re

ADDRESSES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VALUE = re.compile(r"[+-][0-9.]+")
_MEASURE = re.compile(r"^(?P<a>.)(?P<ttt>\d{3})(?P<n>\d{1,2})$")


class ReplyError(ValueError):
    """A reply that is not what the command asks for (wrong address, garbage, bad CRC)."""


def check_address(address: str) -> str:
    """The address if it is one SDI-12 character (0-9, A-Z, a-z); ValueError otherwise."""
    if len(address) != 1 or address not in ADDRESSES:
        raise ValueError(f"SDI-12 address must be one of 0-9, A-Z, a-z; got {address!r}")
    return address


def command(address: str, body: str = "") -> bytes:
    """The bytes of a command, e.g. command("0", "M") == b"0M!"; address "?" queries."""
    if address != "?":
        check_address(address)
    return f"{address}{body}!".encode("ascii")


def seven_bit(data: bytes) -> bytes:
    """Drop the parity bit: on a 7E1 line it is the 8th bit (a pseudo-terminal passes it on)."""
    return bytes(b & 0x7F for b in data)


def reply_text(raw: bytes, echo: bytes = b"") -> str:
    """A reply line without its CR LF (and without our own command echoed by the interface)."""
    if echo and raw.startswith(echo):
        raw = raw[len(echo) :]
    if not raw.endswith(b"\r\n"):
        raise ReplyError(f"incomplete reply {raw!r} (no CR LF)")
    body = raw[:-2]
    # Printable ASCII, except that a CRC character (0x40 | 6 bits) may be DEL (0x7F).
    text, tail = body[:-3], body[-3:]
    if any(not 0x20 <= b < 0x7F for b in text) or any(not 0x20 <= b <= 0x7F for b in tail):
        raise ReplyError(f"garbage in reply {raw!r}")
    return body.decode("ascii")


def parse_address(reply: str, address: str) -> str:
    """Check a bare ``a`` reply (to ``?!``, ``a!``, ``aAb!``, a service request)."""
    if reply != address:
        raise ReplyError(f"expected {address!r}, got {reply!r}")
    return reply


def parse_measure(reply: str, address: str) -> tuple[int, int]:
    """``atttn`` (or ``atttnn`` for concurrent) → (seconds until ready, number of values)."""
    match = _MEASURE.match(reply)
    if not match or match["a"] != address:
        raise ReplyError(f"expected {address}tttn, got {reply!r}")
    return int(match["ttt"]), int(match["n"])


def crc16(data: bytes) -> int:
    """SDI-12 CRC: CRC-16/ARC (polynomial 0xA001 reflected, initial 0) over the reply."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def crc_chars(crc: int) -> str:
    """The three printable characters that carry a CRC (6 bits each, OR 0x40)."""
    return "".join(chr(0x40 | ((crc >> shift) & 0x3F)) for shift in (12, 6, 0))


def parse_values(reply: str, address: str, *, crc: bool = False) -> list[float]:
    """``a+1.23-4.5+6`` → [1.23, -4.5, 6.0]; with ``crc`` the last 3 characters must match."""
    if not reply or reply[0] != address:
        raise ReplyError(f"reply {reply!r} is not from address {address!r}")
    if crc:
        if len(reply) < 4 or reply[-3:] != crc_chars(crc16(reply[:-3].encode("ascii"))):
            raise ReplyError(f"CRC mismatch in {reply!r}")
        reply = reply[:-3]
    body = reply[1:]
    tokens = _VALUE.findall(body)
    if "".join(tokens) != body:
        raise ReplyError(f"malformed values in {reply!r}")
    values = []
    for token in tokens:
        digits = token[1:].replace(".", "")
        if not digits or len(digits) > 7 or token.count(".") > 1:
            raise ReplyError(f"malformed value {token!r} in {reply!r}")
        values.append(float(token))
    return values


def format_value(value: float, decimals: int) -> str:
    """One value as a sensor sends it: sign always, at most 7 digits."""
    text = f"{value:+.{decimals}f}"
    if len(text.replace(".", "")) > 8:
        text = f"{value:+.0f}"
    return text


def values_reply(address: str, values: list[str], *, crc: bool = False) -> bytes:
    """A data reply line, e.g. b"0+21.3-1.5\\r\\n", with the CRC if asked."""
    text = address + "".join(values)
    if crc:
        text += crc_chars(crc16(text.encode("ascii")))
    return (text + "\r\n").encode("ascii")
