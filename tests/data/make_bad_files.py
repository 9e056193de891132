#!/usr/bin/env python3
"""Writes the malformed TF checkpoints under ``tests/data/bad/``.

Pure Python (numpy + struct + hashlib): no TensorFlow and no kerasave, so the files do not depend
on the code they test. A minimal valid bundle is built by hand, byte for byte as TF writes it
(``shared/specs/tf_formats.md`` §1-2; the script checks itself against the §1.7 worked example),
and each case corrupts one thing. Every case is a folder holding the prefix ``ckpt``
(``ckpt.index`` and, where needed, ``ckpt.data-00000-of-00001``); ``garbage_state`` is a checkpoint
directory whose ``checkpoint`` state file is garbage.

``tests/test_bad_files.py`` asserts the exact error for each case and fails when a folder here has
no entry there (or the other way round).

Usage: ``python3 tests/data/make_bad_files.py [OUT_DIR]`` (default: ``tests/data/bad`` beside this
script). Output is deterministic; ``--check`` regenerates into a temp dir and compares.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BAD = HERE / "bad"

# ---------------------------------------------------------------------------------------------
# CRC-32C (Castagnoli, reflected 0x82F63B78) and TF's masking (§1.3)


def _make_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _make_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C of ``data``, continuing from ``crc`` (``crc32c(b, crc32c(a)) == crc32c(a + b)``)."""
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


MASK_DELTA = 0xA282EAD8


def mask(c: int) -> int:
    return (((c >> 15) | (c << 17)) + MASK_DELTA) & 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283
assert mask(0) == 0xA282EAD8
assert crc32c(b"56789", crc32c(b"1234")) == crc32c(b"123456789")

# ---------------------------------------------------------------------------------------------
# Varints and a tiny protobuf encoder (enough for BundleHeaderProto / BundleEntryProto)


def varint(v: int) -> bytes:
    if v < 0:
        v &= (1 << 64) - 1  # int32/int64 negatives are 10-byte two's complement varints
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def pb_varint(field: int, v: int) -> bytes:
    return varint(field << 3) + varint(v)


def pb_bytes(field: int, b: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(b)) + b


def pb_fixed32(field: int, v: int) -> bytes:
    return varint(field << 3 | 5) + struct.pack("<I", v)


def header_proto(num_shards=1, endianness=0, producer=1, min_consumer=0, bad_consumers=()):
    version = b""
    if producer:
        version += pb_varint(1, producer)
    if min_consumer:
        version += pb_varint(2, min_consumer)
    for c in bad_consumers:
        version += pb_varint(3, c)
    out = b""
    if num_shards:
        out += pb_varint(1, num_shards)
    if endianness:
        out += pb_varint(2, endianness)
    return out + pb_bytes(3, version)


def shape_proto(dims) -> bytes:
    return b"".join(pb_bytes(2, pb_varint(1, d) if d else b"") for d in dims)


def slice_proto(extents) -> bytes:
    """extents: list of (start, length) with length None for a full extent."""
    out = b""
    for start, length in extents:
        ext = b""
        if start:
            ext += pb_varint(1, start)
        if length is not None:
            ext += pb_varint(2, length)
        out += pb_bytes(1, ext)
    return out


def entry_proto(dtype, shape, *, shard_id=0, offset=0, size=0, crc=0, slices=()) -> bytes:
    """A BundleEntryProto in field order, zero scalars omitted, shape always present (as TF)."""
    out = b""
    if dtype:
        out += pb_varint(1, dtype)
    out += pb_bytes(2, shape_proto(shape))
    if shard_id:
        out += pb_varint(3, shard_id)
    if offset:
        out += pb_varint(4, offset)
    if size:
        out += pb_varint(5, size)
    out += pb_fixed32(6, crc)
    for s in slices:
        out += pb_bytes(7, slice_proto(s))
    return out


DT_FLOAT, DT_STRING, DT_INT64, DT_RESOURCE, DT_VARIANT = 1, 7, 9, 20, 21

# ---------------------------------------------------------------------------------------------
# Tensor payloads (§2.2-2.4)


def numeric_payload(arr: np.ndarray) -> tuple[bytes, int]:
    data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
    return data, mask(crc32c(data))


def string_payload(strings, lengths=None) -> tuple[bytes, int]:
    """varint lengths | masked length CRC | bytes; ``lengths`` overrides the recorded lengths."""
    if lengths is None:
        lengths = [len(s) for s in strings]
    head = b"".join(varint(n) for n in lengths)
    crc_l = crc32c(b"".join(struct.pack("<I" if n <= 0xFFFFFFFF else "<Q", n) for n in lengths))
    stored = struct.pack("<I", mask(crc_l))
    body = b"".join(strings)
    crc = crc32c(body, crc32c(stored, crc_l))
    return head + stored + body, mask(crc)


# ---------------------------------------------------------------------------------------------
# SSTable (§1): blocks, trailers, footer

MAGIC = struct.pack("<Q", 0xDB4775248B80FB57)


def block(entries, restart_interval=16, *, num_restarts=None) -> bytes:
    """A block of (key, value) entries, prefix-compressed as LevelDB does. No order checks."""
    out = bytearray()
    restarts = []
    prev = b""
    for i, (key, value) in enumerate(entries):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = 0
            while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
                shared += 1
        out += varint(shared) + varint(len(key) - shared) + varint(len(value))
        out += key[shared:] + value
        prev = key
    if not restarts:
        restarts = [0]
    for r in restarts:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts) if num_restarts is None else num_restarts)
    return bytes(out)


def trailer(stored: bytes, block_type=0) -> bytes:
    return bytes([block_type]) + struct.pack("<I", mask(crc32c(stored + bytes([block_type]))))


def handle(offset: int, size: int) -> bytes:
    return varint(offset) + varint(size)


def short_successor(key: bytes) -> bytes:
    for i, b in enumerate(key):
        if b != 0xFF:
            return key[:i] + bytes([b + 1])
    return key


def sstable(data_block: bytes, *, last_key: bytes, block_type=0, index_handle_value=None) -> bytes:
    """One data block + empty metaindex + index (interval 1) + footer, as TF lays them out."""
    out = bytearray(data_block + trailer(data_block, block_type))
    meta_off = len(out)
    meta = block([])
    out += meta + trailer(meta)
    value = handle(0, len(data_block)) if index_handle_value is None else index_handle_value
    index = block([(short_successor(last_key), value)], restart_interval=1)
    index_off = len(out)
    out += index + trailer(index)
    footer = handle(meta_off, len(meta)) + handle(index_off, len(index))
    out += footer + bytes(40 - len(footer)) + MAGIC
    return bytes(out)


def table(entries, **kw) -> bytes:
    """An SSTable holding ``entries`` in the given order (callers sort, or deliberately don't)."""
    return sstable(block(entries), last_key=entries[-1][0], **kw)


# ---------------------------------------------------------------------------------------------
# The good bundle: tf_formats.md §1.7 (w = float32[2] [1, 2], s = string ["ab", ""]).
# (The spec's prose says w is [1,2]; its TF-written bytes say shape [2], which is what we match.)

W = np.array([1.0, 2.0], dtype="<f4")
S = [b"ab", b""]


def good_parts():
    """(sorted index entries, data bytes) of the §1.7 example."""
    w_data, w_crc = numeric_payload(W)
    s_data, s_crc = string_payload(S)
    data = w_data + s_data
    entries = [
        (b"", header_proto()),
        (b"s", entry_proto(DT_STRING, [2], offset=len(w_data), size=len(s_data), crc=s_crc)),
        (b"w", entry_proto(DT_FLOAT, [2], size=len(w_data), crc=w_crc)),
    ]
    return entries, data


WORKED_INDEX = bytes.fromhex(
    "000006" "08011a020801"
    + "000111" + b"s".hex() + "08071204120208022008280835" + "9188b04d"
    + "00010f" + b"w".hex() + "080112041202080228083559" + "3ce535"
    + "00000000" "01000000"
    + "004d7fa807"
    + "0000000001000000" "00c0f2a1b0"
    + "000102" + b"x".hex() + "0039" "00000000" "01000000" "0053ee0f5d"
    + "3e084b0e" + "00" * 36 + "57fb808b247547db"
)
WORKED_DATA = bytes.fromhex("0000803f00000040" "0200" "78270b34" "6162")


def _self_check():
    entries, data = good_parts()
    assert data == WORKED_DATA, data.hex()
    assert table(entries) == WORKED_INDEX, table(entries).hex()


_self_check()

# ---------------------------------------------------------------------------------------------
# Writing cases

DATA_NAME = "ckpt.data-00000-of-00001"


def write_case(root: Path, name: str, index: bytes | None, data: bytes | None, extra=None):
    d = root / name
    d.mkdir(parents=True)
    if index is not None:
        (d / "ckpt.index").write_bytes(index)
    if data is not None:
        (d / DATA_NAME).write_bytes(data)
    for fname, content in (extra or {}).items():
        (d / fname).write_bytes(content)


def flip(b: bytes, pos: int, xor=0x01) -> bytes:
    out = bytearray(b)
    out[pos] ^= xor
    return bytes(out)


def replace_entry(entries, key: bytes, value: bytes):
    return [(k, value if k == key else v) for k, v in entries]


def write_good(root: Path, name="good"):
    """A sound bundle (for tests that need the positive control); not written under bad/."""
    entries, data = good_parts()
    write_case(root, name, table(entries), data)


def make_all(root: Path):
    entries, data = good_parts()
    good_index = table(entries)
    n_data_block = len(block(entries))

    # --- the SSTable container (§1) -------------------------------------------------------
    write_case(root, "empty_index", b"", data)
    write_case(root, "truncated_index", good_index[:-10], data)
    write_case(root, "short_index", good_index[:20], data)
    write_case(root, "bad_magic", good_index[:-1] + b"\x00", data)
    # A flipped byte inside the data block (in the value of "w", offset 40), CRC left as it was.
    write_case(root, "bad_block_crc", flip(good_index, 40), data)
    # Trailer type 7: neither raw (0) nor snappy (1); the CRC is correct for it.
    write_case(root, "bad_block_type", table(entries, block_type=7), data)
    # Type 1 (snappy) with bytes that are not snappy; CRC correct.
    garbage = b"\xff\xff\xff\xff\xff\x0f" + bytes(20)
    write_case(root, "bad_snappy_block", sstable(garbage, last_key=b"w", block_type=1), data)
    # num_restarts = 1000 in a 57-byte block; CRC recomputed so only the restart check fires.
    write_case(root, "bad_restarts",
               sstable(block(entries, num_restarts=1000), last_key=b"w"), data)
    # Restart offset pointing past the entries (restart[0] = 200).
    blk = bytearray(block(entries))
    blk[-8:-4] = struct.pack("<I", 200)
    write_case(root, "bad_restart_offset", sstable(bytes(blk), last_key=b"w"), data)
    # Entry "w" claims shared = 5 while the previous key "s" has 1 byte. Rebuild by hand.
    blk = bytearray(block(entries))
    pos = blk.index(b"\x00\x01\x0fw")
    blk[pos] = 5
    write_case(root, "bad_shared", sstable(bytes(blk), last_key=b"w"), data)
    # Entry value_length runs past the restart array.
    blk = bytearray(block(entries))
    blk[pos + 2] = 0x7F
    write_case(root, "bad_value_length", sstable(bytes(blk), last_key=b"w"), data)
    # Index block handle (offset 1000, size 57): past the end of a 142-byte file.
    write_case(root, "index_handle_past_eof",
               sstable(block(entries), last_key=b"w",
                       index_handle_value=handle(1000, n_data_block)),
               data)
    # Index handle with a huge size (2^62): must not allocate.
    write_case(root, "index_handle_huge",
               sstable(block(entries), last_key=b"w", index_handle_value=handle(0, 1 << 62)),
               data)
    # Footer index handle past the end of the file (footer rewritten, magic intact).
    idx = bytearray(good_index)
    footer = handle(57 + 5, 8) + handle(5000, 14)
    idx[-48:-8] = footer + bytes(40 - len(footer))
    write_case(root, "footer_handle_past_eof", bytes(idx), data)
    # Keys out of order ("w" before "s"); CRCs correct.
    write_case(root, "keys_out_of_order", table([entries[0], entries[2], entries[1]]), data)
    # Duplicate key "w".
    write_case(root, "duplicate_key", table(entries + [entries[2]]), data)

    # --- header (§1.8) -----------------------------------------------------------------------
    write_case(root, "no_header", table(entries[1:]), data)
    write_case(root, "bad_header_proto",
               table(replace_entry(entries, b"", b"\x08\xff\xff")), data)
    write_case(root, "version_min_consumer",
               table(replace_entry(entries, b"", header_proto(min_consumer=2))), data)
    write_case(root, "version_bad_consumers",
               table(replace_entry(entries, b"", header_proto(bad_consumers=[1]))), data)
    write_case(root, "version_negative_producer",
               table(replace_entry(entries, b"", header_proto(producer=-1))), data)
    # num_shards 2^31-1: the data file name would be ckpt.data-00000-of-2147483647 (absent).
    write_case(root, "huge_num_shards",
               table(replace_entry(entries, b"", header_proto(num_shards=2**31 - 1))), data)
    write_case(root, "negative_num_shards",
               table(replace_entry(entries, b"", header_proto(num_shards=-1))), data)
    write_case(root, "zero_num_shards",
               table(replace_entry(entries, b"", header_proto(num_shards=0))), data)
    write_case(root, "unknown_endianness",
               table(replace_entry(entries, b"", header_proto(endianness=7))), data)

    # --- entries (§1.8, §2) ------------------------------------------------------------------
    w_data, w_crc = numeric_payload(W)

    def with_w(value, data_=data):
        return table(replace_entry(entries, b"w", value)), data_

    write_case(root, "bad_entry_proto", *with_w(b"\x12\x7f\x00"))
    write_case(root, "shard_id_out_of_range", *with_w(
        entry_proto(DT_FLOAT, [2], shard_id=3, size=8, crc=w_crc)))
    # Entry of "w" pointing past the end of its 16-byte shard.
    write_case(root, "entry_past_shard_end", *with_w(
        entry_proto(DT_FLOAT, [2], offset=12, size=8, crc=w_crc)))
    # offset near 2^63: offset + size overflows.
    write_case(root, "entry_offset_overflow", *with_w(
        entry_proto(DT_FLOAT, [2], offset=2**63 - 4, size=8, crc=w_crc)))
    write_case(root, "negative_offset", *with_w(
        entry_proto(DT_FLOAT, [2], offset=-8, size=8, crc=w_crc)))
    write_case(root, "missing_shard", good_index, None)
    # size 12 for a float32[2] (8 bytes): "Invalid size in bundle entry".
    write_case(root, "size_mismatch", *with_w(
        entry_proto(DT_FLOAT, [2], size=12, crc=w_crc)))
    # 2^41 elements (8 TiB of float32) claimed in 8 bytes.
    write_case(root, "absurd_shape", *with_w(
        entry_proto(DT_FLOAT, [2**21, 2**20], size=8, crc=w_crc)))
    # Element count overflows 64 bits.
    write_case(root, "overflow_shape", *with_w(
        entry_proto(DT_FLOAT, [2**32, 2**32, 2**32], size=8, crc=w_crc)))
    write_case(root, "negative_dim", *with_w(
        entry_proto(DT_FLOAT, [-1, 2], size=8, crc=w_crc)))
    write_case(root, "unknown_dtype", *with_w(
        entry_proto(99, [2], size=8, crc=w_crc)))
    write_case(root, "invalid_dtype", *with_w(
        entry_proto(0, [2], size=8, crc=w_crc)))
    write_case(root, "resource_dtype", *with_w(
        entry_proto(DT_RESOURCE, [2], size=8, crc=w_crc)))
    # A flipped byte of w's data: only a checksum (verify=True) notices.
    write_case(root, "flipped_tensor_byte", good_index, flip(data, 0))

    # --- strings (§2.4): replace "s" ------------------------------------------------------------
    def with_s(payload_crc, shape):
        payload, crc = payload_crc
        d = w_data + payload
        e = entry_proto(DT_STRING, shape, offset=len(w_data), size=len(payload), crc=crc)
        return table(replace_entry(entries, b"s", e)), d

    # Lengths [5, 200] but only "ab" follows: lengths sum past the size.
    write_case(root, "string_lengths_past_size", *with_s(string_payload([b"ab"], [5, 200]), [2]))
    # One length of 2^62.
    write_case(root, "string_huge_length", *with_s(string_payload([b"ab"], [2**62]), [1]))
    # Shape [2^40]: 2^40 varint lengths claimed in a 10-byte payload.
    write_case(root, "string_huge_count", *with_s(string_payload(S), [2**40]))
    # Length varint never terminates (all continuation bits).
    payload = b"\xff" * 12
    write_case(root, "string_bad_varint", *with_s((payload, mask(crc32c(payload))), [1]))
    # Lengths fine, stored length-CRC wrong: verify must fail, a plain read may not.
    payload, _ = string_payload(S)
    bad = payload[:2] + b"\x00\x00\x00\x00" + payload[6:]
    _, good_crc = string_payload(S)
    write_case(root, "string_flipped_byte", *with_s(
        (payload[:-1] + b"c", good_crc), [2]))
    write_case(root, "string_bad_length_crc", *with_s((bad, good_crc), [2]))

    # --- partitioned tensors (§2.6) ----------------------------------------------------------
    # "w" claims a slice (element 0) whose slice entry does not exist.
    write_case(root, "slice_missing", *with_w(entry_proto(DT_FLOAT, [2], slices=[[(0, 1)]])))
    # A slice extent outside the shape: element 5 of a 2-element tensor (slice entry present).
    slice_key = b"\x00w\x00\x01\x01\x01\x85\x81"  # name "w", rank 1, extent (5, 1)
    ents = replace_entry(entries, b"w", entry_proto(DT_FLOAT, [2], slices=[[(5, 1)]]))
    ents = [ents[0], (slice_key, entry_proto(DT_FLOAT, [1], size=4,
                                             crc=mask(crc32c(w_data[:4]))))] + ents[1:]
    write_case(root, "slice_out_of_bounds", table(ents), data)
    # A partitioned float32[2^30] (4 GiB) whose single full slice claims 4 GiB of a 16-byte shard:
    # the reader must find the slice short before allocating the assembled tensor.
    big = 1 << 30
    slice_key = b"\x00w\x00\x01\x01\x01\x80\x7f"  # name "w", rank 1, full extent (0, -1)
    ents = replace_entry(entries, b"w", entry_proto(DT_FLOAT, [big], slices=[[(0, None)]]))
    ents = [ents[0], (slice_key, entry_proto(DT_FLOAT, [big], size=4 * big, crc=w_crc))] + ents[1:]
    write_case(root, "slice_huge_past_shard_end", table(ents), data)

    # --- variants (§2.5): "s" replaced by a DT_VARIANT[1] whose element length runs past -----
    payload = varint(1000) + b"\x0a\x03abc" + bytes(4)
    e = entry_proto(DT_VARIANT, [1], offset=len(w_data), size=len(payload),
                    crc=mask(crc32c(payload)))
    write_case(root, "variant_length_past_size", table(replace_entry(entries, b"s", e)),
               w_data + payload)
    # A string tensor of 2^28 elements whose (consistent) size runs far past the shard.
    e = entry_proto(DT_STRING, [1 << 28], offset=len(w_data), size=(1 << 28) + 4, crc=0)
    write_case(root, "string_count_past_shard_end", table(replace_entry(entries, b"s", e)), data)

    # --- object graph (§4) -------------------------------------------------------------------
    og_payload, og_crc = string_payload([b"\xff\xff\xff\xff garbage \x0a\x80"])
    og_key = b"_CHECKPOINTABLE_OBJECT_GRAPH"
    ents = [entries[0], (og_key, entry_proto(DT_STRING, [], offset=len(data),
                                              size=len(og_payload), crc=og_crc))] + entries[1:]
    write_case(root, "garbage_object_graph", table(ents), data + og_payload)

    # --- checkpoint state file (§3) ----------------------------------------------------------
    d = root / "garbage_state"
    d.mkdir()
    (d / "checkpoint").write_bytes(b"model_checkpoint_path: \x00\xff{{{ \"unterminated\n\x80")
    (d / "ckpt.index").write_bytes(good_index)
    (d / DATA_NAME).write_bytes(data)


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    out = Path(args[0]) if args else BAD
    if check:
        with tempfile.TemporaryDirectory() as tmp:
            make_all(Path(tmp))
            same = digest(Path(tmp)) == digest(out)
        print("up to date" if same else f"{out} differs from what this script writes")
        return 0 if same else 1
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    make_all(out)
    n = sum(1 for p in out.iterdir() if p.is_dir())
    print(f"wrote {n} cases to {out} (sha256 {digest(out)[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
