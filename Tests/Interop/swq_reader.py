"""An independent reader of the SwiftQuant checkpoint format, written from
Specs/swiftquant-checkpoint.md alone (numpy + zstandard + xxhash). Used by the interop checks
and the benchmarks; it shares no code with the Swift reader.
"""
import struct

import numpy as np
import xxhash
import zstandard

MAGIC = bytes([0x89, 0x53, 0x57, 0x51, 0x0D, 0x0A, 0x1A, 0x0A])
NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
         "I16": "<i2", "I8": "i1", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "u1"}
CODECS = {0: "raw", 1: "zstd", 2: "zstd-planes"}
QUANTIZATION = {0: None, 1: "per-tensor", 2: "per-channel", 3: "per-group"}


class FormatError(Exception):
    pass


class Cursor:
    def __init__(self, data, position, end):
        self.data, self.position, self.end = data, position, end

    def take(self, count):
        if count < 0 or self.position + count > self.end:
            raise FormatError(f"field at {self.position} runs past its bounds")
        start = self.position
        self.position += count
        return self.data[start:start + count]

    def unpack(self, fmt):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))[0]

    def string(self):
        return self.take(self.unpack("I")).decode("utf-8")

    def value(self, depth=0):
        tag = self.unpack("B")
        if tag == 0:
            return self.string()
        if tag == 1:
            return self.unpack("q")
        if tag == 2:
            return self.unpack("Q")
        if tag == 3:
            return self.unpack("d")
        if tag == 4:
            flag = self.unpack("B")
            if flag > 1:
                raise FormatError("bool not 0/1")
            return bool(flag)
        if tag == 5:
            if depth >= 16:
                raise FormatError("arrays nest too deep")
            return [self.value(depth + 1) for _ in range(self.unpack("I"))]
        raise FormatError(f"unknown value tag {tag}")


class Segment:
    def __init__(self, cursor):
        self.codec = CODECS[cursor.unpack("B")]
        self.plane_width = cursor.unpack("B")
        self.offset, self.raw_length, self.stored_length, self.chunk_size, count = (
            cursor.unpack("Q") for _ in range(5))
        if count != (self.raw_length + self.chunk_size - 1) // self.chunk_size:
            raise FormatError("chunk count disagrees with the raw length")
        self.chunks = [(cursor.unpack("Q"), cursor.unpack("Q")) for _ in range(count)]
        if sum(length for length, _ in self.chunks) != self.stored_length:
            raise FormatError("chunk lengths do not sum to the stored length")

    def decode(self, data):
        out = bytearray()
        position = self.offset
        decompressor = zstandard.ZstdDecompressor()
        for index, (length, checksum) in enumerate(self.chunks):
            stored = data[position:position + length]
            if xxhash.xxh3_64_intdigest(stored) != checksum:
                raise FormatError(f"chunk {index} checksum mismatch")
            raw_length = min(self.chunk_size, self.raw_length - index * self.chunk_size)
            if self.codec == "raw":
                raw = stored
            else:
                raw = decompressor.decompress(stored, max_output_size=raw_length)
                if len(raw) != raw_length:
                    raise FormatError(f"chunk {index} decodes to {len(raw)} bytes, not {raw_length}")
                if self.codec == "zstd-planes":
                    w = self.plane_width
                    raw = np.frombuffer(raw, np.uint8).reshape(w, raw_length // w).T.tobytes()
            out += raw
            position += length
        return bytes(out)


class Entry:
    pass


def read_checkpoint(path):
    """Returns (metadata dict, [Entry]) after checking every checksum the spec defines."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != MAGIC:
        raise FormatError("no magic")
    major, minor, alignment, header_length, data_offset, file_length, header_checksum = struct.unpack_from("<HHIQQQQ", data, 8)
    if major != 1:
        raise FormatError(f"major version {major}")
    if struct.unpack_from("<Q", data, 56)[0] != xxhash.xxh3_64_intdigest(data[:56]):
        raise FormatError("preamble checksum")
    if file_length != len(data):
        raise FormatError("file length")
    if xxhash.xxh3_64_intdigest(data[64:64 + header_length]) != header_checksum:
        raise FormatError("header checksum")
    cursor = Cursor(data, 64, 64 + header_length)
    metadata = {}
    for _ in range(cursor.unpack("I")):
        key = cursor.string()
        metadata[key] = cursor.value()
    entries = []
    for _ in range(cursor.unpack("I")):
        length = cursor.unpack("I")
        fields = Cursor(data, cursor.position, cursor.position + length)
        cursor.take(length)
        e = Entry()
        e.name, e.dtype, e.source_dtype = fields.string(), fields.string(), fields.string()
        e.shape = [fields.unpack("Q") for _ in range(fields.unpack("B"))]
        e.quantization = QUANTIZATION[fields.unpack("B")]
        e.group_size = fields.unpack("Q")
        e.metrics = [fields.unpack("f") for _ in range(4)]
        e.values = Segment(fields)
        e.scales = Segment(fields) if e.quantization else None
        for segment in [e.values, e.scales]:
            if segment and (segment.offset % alignment or segment.offset < data_offset
                            or segment.offset + segment.stored_length > len(data)):
                raise FormatError(f"{e.name}: segment outside the data section")
        entries.append(e)
    return data, metadata, entries


def tensor_values(data, entry):
    """The entry's values as a numpy array in its shape (BF16 as uint16 bits)."""
    raw = entry.values.decode(data)
    return np.frombuffer(raw, NUMPY[entry.dtype]).reshape(entry.shape)


def tensor_scales(data, entry):
    return np.frombuffer(entry.scales.decode(data), "<f4")
