#!/usr/bin/env python3
"""Dependency-free decoder for edgepose wire frames (protocol versions 1 and 2).

Wire format (see crates/edgepose-wire/src/lib.rs for the full description):

    frame   = COBS(body || crc32_le(body)) 0x00
    body    = postcard encoding of PoseFrame (version 2 adds a camera index byte after
              device_id; version 1, from single-camera daemons, has none)
    crc32   = CRC-32/ISO-HDLC (zlib.crc32), 4 bytes little-endian

Usage:
    python3 edgepose_wire.py --check FILE   # decode a captured byte stream, print JSON lines
    python3 edgepose_wire.py --check -      # same, from stdin
    some-serial-reader | python3 edgepose_wire.py --check -

Each decoded frame is printed as one JSON object per line (schema: docs jsonl-schema, the same
as `edgepose listen`); a summary with error and dropped-byte counts goes to stderr. The exit code
is 0 when at least one frame decoded and nothing was rejected, 1 otherwise.

Only the standard library is used: porting to C is a matter of translating `cobs_decode`,
`Reader` and `parse_frame`.
"""

import argparse
import json
import sys
import zlib

PROTOCOL_VERSION = 2
PROTOCOL_VERSION_V1 = 1
MAX_WIRE_PERSONS = 16
NUM_KEYPOINTS = 17
COORD_UNITS_PER_PIXEL = 4
SCORE_SCALE = 255.0
CRC_LEN = 4
# Longest COBS-encoded frame without its delimiter (must match MAX_COBS_LEN in Rust).
MAX_COBS_LEN = 2050


class WireError(Exception):
    """A frame was rejected; `kind` is one of: cobs, too_short, crc, version, malformed, too_long."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def cobs_decode(data):
    """Decode one COBS block sequence (without the 0x00 delimiter)."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise WireError("cobs", "zero byte inside COBS data")
        end = i + code
        if end > n:
            raise WireError("cobs", "COBS block runs past the end of the frame")
        out += data[i + 1:end]
        i = end
        # A block shorter than 255 implies a zero, except at the very end of the message.
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


class Reader:
    """postcard primitive reader: raw u8 and unsigned LEB128 varints."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def u8(self):
        if self.pos >= len(self.data):
            raise WireError("malformed", "unexpected end of payload")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self, bits):
        max_bytes = (bits + 6) // 7
        value = 0
        for i in range(max_bytes):
            b = self.u8()
            value |= (b & 0x7F) << (7 * i)
            if b & 0x80 == 0:
                if value >> bits:
                    raise WireError("malformed", "varint exceeds %d bits" % bits)
                return value
        raise WireError("malformed", "varint longer than %d bytes" % max_bytes)


def parse_frame(body):
    """Parse a CRC-checked postcard body into the JSON-ready dict."""
    r = Reader(body)
    version = r.u8()
    if version not in (PROTOCOL_VERSION_V1, PROTOCOL_VERSION):
        raise WireError("version", "unknown protocol version %d" % version)
    frame = {"version": version, "device_id": r.varint(32)}
    if version >= 2:
        frame["camera_index"] = r.u8()
    frame.update({
        "seq": r.varint(64),
        "timestamp_us": r.varint(64),
        "width": r.varint(16),
        "height": r.varint(16),
        "model_id": r.varint(16),
    })
    count = r.varint(64)
    if count > MAX_WIRE_PERSONS:
        raise WireError("malformed", "%d persons (at most %d)" % (count, MAX_WIRE_PERSONS))
    persons = []
    for _ in range(count):
        track_id = r.varint(32)
        score = r.u8() / SCORE_SCALE
        keypoints = []
        for _ in range(NUM_KEYPOINTS):
            x = r.varint(16)
            y = r.varint(16)
            s = r.u8()
            if s == 0:
                keypoints.append(None)  # absent keypoint
            else:
                keypoints.append([x / COORD_UNITS_PER_PIXEL, y / COORD_UNITS_PER_PIXEL,
                                  s / SCORE_SCALE])
        persons.append({"track_id": track_id, "score": score, "keypoints": keypoints})
    if r.pos != len(body):
        raise WireError("malformed", "%d unexpected trailing bytes" % (len(body) - r.pos))
    frame["persons"] = persons
    return frame


def decode_frame(encoded):
    """Decode one frame: its COBS bytes without the delimiter."""
    if len(encoded) > MAX_COBS_LEN:
        raise WireError("too_long", "frame of %d bytes exceeds %d" % (len(encoded), MAX_COBS_LEN))
    payload = cobs_decode(encoded)
    if len(payload) < 1 + CRC_LEN:
        raise WireError("too_short", "payload of %d bytes" % len(payload))
    body, trailer = payload[:-CRC_LEN], payload[-CRC_LEN:]
    received = int.from_bytes(trailer, "little")
    computed = zlib.crc32(body) & 0xFFFFFFFF
    if received != computed:
        raise WireError("crc", "CRC mismatch: %08x != %08x" % (received, computed))
    return parse_frame(body)


class StreamDecoder:
    """Feed bytes as they arrive; yields frames, counts errors and dropped bytes."""

    def __init__(self):
        self.buf = bytearray()
        self.discarding = False
        self.stats = {"frames": 0, "errors": 0, "crc_errors": 0, "dropped_bytes": 0}

    def _reject(self, kind, nbytes):
        self.stats["errors"] += 1
        if kind == "crc":
            self.stats["crc_errors"] += 1
        self.stats["dropped_bytes"] += nbytes

    def feed(self, chunk):
        for b in chunk:
            if b != 0:
                if self.discarding:
                    self.stats["dropped_bytes"] += 1
                    continue
                self.buf.append(b)
                if len(self.buf) > MAX_COBS_LEN:
                    self._reject("too_long", len(self.buf))
                    self.buf.clear()
                    self.discarding = True
                continue
            if self.discarding:
                self.discarding = False
                continue
            if not self.buf:
                continue  # empty frame: flush marker
            data = bytes(self.buf)
            self.buf.clear()
            try:
                frame = decode_frame(data)
            except WireError as e:
                self._reject(e.kind, len(data))
                continue
            self.stats["frames"] += 1
            yield frame


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", metavar="FILE", required=True,
                    help="byte stream to decode ('-' for stdin)")
    args = ap.parse_args()
    src = sys.stdin.buffer if args.check == "-" else open(args.check, "rb")
    dec = StreamDecoder()
    with src:
        while True:
            chunk = src.read(4096)
            if not chunk:
                break
            for frame in dec.feed(chunk):
                sys.stdout.write(json.dumps(frame, separators=(",", ":")) + "\n")
    sys.stderr.write(json.dumps(dec.stats) + "\n")
    ok = dec.stats["frames"] > 0 and dec.stats["errors"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
