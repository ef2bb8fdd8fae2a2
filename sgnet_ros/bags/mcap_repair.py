"""Recover a bag whose writer was killed: keep every message up to the last complete chunk.

A rosbag2 MCAP bag gets its summary, footer and `metadata.yaml` only when the writer
closes. After a SIGKILL the file still holds every chunk the writer flushed (BagWriter
flushes each one), so the bag is rebuilt from them. The MCAP records are read here from
the published layout (opcode, u64 length, fields; mcap.dev/spec) with nothing but struct
and zstd: the library that wrote the file cannot be trusted to read it back half-written.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd
import lz4.frame

MAGIC = b"\x89MCAP0\r\n"
OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK = 0x03, 0x04, 0x05, 0x06


@dataclass
class RecoveredBag:
    """What survived in an unfinished MCAP file."""

    schemas: dict[int, tuple[str, str, bytes]] = field(default_factory=dict)  # name, enc, def
    channels: dict[int, tuple[str, int, dict[str, str]]] = field(default_factory=dict)
    messages: list[tuple[int, int, bytes]] = field(default_factory=list)  # channel, time, data
    dropped_bytes: int = 0


class _Fields:
    """Little-endian MCAP field reader over one record's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str):
        value = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value[0] if len(value) == 1 else value

    def bytes(self, size_fmt: str = "<I") -> bytes:
        size = self.take(size_fmt)
        value = self.data[self.at:self.at + size]
        if len(value) != size:
            raise struct.error("field runs past the record")
        self.at += size
        return value

    def string(self) -> str:
        return self.bytes().decode()

    def string_map(self) -> dict[str, str]:
        inner = _Fields(self.bytes())
        pairs = {}
        while inner.at < len(inner.data):
            key = inner.string()
            pairs[key] = inner.string()
        return pairs


def _records(data: bytes, start: int = 0):
    """(opcode, content, end offset) of every complete record from `start`."""
    at = start
    while at + 9 <= len(data):
        opcode, length = struct.unpack_from("<BQ", data, at)
        end = at + 9 + length
        if end > len(data):
            return
        yield opcode, data[at + 9:end], end
        at = end


def _decompress(compression: str, payload: bytes) -> bytes:
    if compression == "":
        return payload
    if compression == "zstd":
        return zstd.decompress(payload)
    if compression == "lz4":
        return lz4.frame.decompress(payload)
    raise ValueError(f"unknown chunk compression {compression!r}")


def _take_record(bag: RecoveredBag, opcode: int, content: bytes) -> None:
    fields = _Fields(content)
    if opcode == OP_SCHEMA:
        schema_id = fields.take("<H")
        bag.schemas[schema_id] = (fields.string(), fields.string(), fields.bytes())
    elif opcode == OP_CHANNEL:
        channel_id, schema_id = fields.take("<HH")
        topic = fields.string()
        fields.string()  # message encoding: cdr
        bag.channels[channel_id] = (topic, schema_id, fields.string_map())
    elif opcode == OP_MESSAGE:
        channel_id, _sequence, log_time, _publish_time = fields.take("<HIQQ")
        bag.messages.append((channel_id, log_time, content[fields.at:]))
    elif opcode == OP_CHUNK:
        fields.take("<QQQI")  # start, end, uncompressed size, crc
        compression = fields.string()
        payload = fields.bytes("<Q")
        inner = _decompress(compression, payload)
        for inner_opcode, inner_content, _ in _records(inner):
            _take_record(bag, inner_opcode, inner_content)


def recover(mcap_file: Path) -> RecoveredBag:
    """Every schema, channel and message of the complete records of `mcap_file`."""
    data = mcap_file.read_bytes()
    if not data.startswith(MAGIC):
        raise ValueError(f"{mcap_file} is not an MCAP file (no magic bytes)")
    bag, end = RecoveredBag(), len(MAGIC)
    for opcode, content, record_end in _records(data, len(MAGIC)):
        try:
            _take_record(bag, opcode, content)
        except (struct.error, ValueError, zstd.ZstdError, RuntimeError):
            break  # a torn chunk: nothing after it can be trusted
        end = record_end
    bag.dropped_bytes = len(data) - end
    return bag


def unfinished_mcap(path: Path) -> Path | None:
    """The MCAP file of a bag directory that its writer never closed, else None."""
    if not path.is_dir() or (path / "metadata.yaml").exists():
        return None
    files = sorted(path.glob("*.mcap"))
    return files[0] if len(files) == 1 else None

