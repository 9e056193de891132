#!/usr/bin/env python3
"""Writes the malformed HDF5 and ``.keras`` files under ``tests/data/bad_keras/``.

Only numpy, h5py, zlib and struct: no Keras and no kerasave, so the files do not depend on the
code they test. The HDF5 files are tiny Keras-shaped files written by h5py (superblock v0, the
Keras 3 ``layers/<name>/vars/<i>`` layout or the legacy ``model_weights`` layout; see
``shared/specs/keras_formats.md`` §2-3); the zips are assembled byte by byte (§1.1) so that names,
sizes and methods can lie. Each case is a folder holding one file a user would open (``x.keras``,
``x.weights.h5`` or ``x.h5``) and, where the case needs one, the other file it points to (an
external link target, raw external storage, a virtual dataset's source). Those side files are
*valid*: a reader that followed them would succeed, which is exactly what must not happen.

``tests/test_bad_keras_files.py`` asserts the exact error for each case and fails when a folder
here has no entry there (or the other way round).

Usage: ``python3 tests/data/make_bad_keras_files.py [OUT_DIR]`` (default: ``tests/data/bad_keras``
beside this script). Output is deterministic; ``--check`` regenerates into a temp dir and compares.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import sys
import tempfile
import warnings
import zlib
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
BAD = HERE / "bad_keras"

#: The file each case's test opens, by kind.
KERAS = "x.keras"
WEIGHTS = "x.weights.h5"
LEGACY = "x.h5"

KERNEL = np.arange(12, dtype="<f4").reshape(4, 3) / 8
BIAS = np.array([0.5, -1.0, 2.0], "<f4")

CONFIG = {
    "module": "keras",
    "class_name": "Sequential",
    "config": {
        "name": "seq",
        "trainable": True,
        "layers": [
            {
                "module": "keras.layers",
                "class_name": "InputLayer",
                "config": {"batch_shape": [None, 4], "dtype": "float32", "sparse": False,
                           "ragged": False, "name": "input_layer", "optional": False},
                "registered_name": None,
            },
            {
                "module": "keras.layers",
                "class_name": "Dense",
                "config": {"name": "dense", "trainable": True, "dtype": "float32", "units": 3,
                           "activation": "linear", "use_bias": True},
                "registered_name": None,
                "build_config": {"input_shape": [None, 4]},
            },
        ],
        "build_input_shape": [None, 4],
    },
    "registered_name": None,
    "build_config": {"input_shape": [None, 4]},
}
METADATA = {"keras_version": "3.15.1", "date_saved": "2026-01-01@00:00:00"}

# ---------------------------------------------------------------------------------------------
# HDF5 files (h5py writes no timestamps by default, so the bytes are reproducible)


def _vlen_utf8(group: h5py.Group, name: str, value: str) -> None:
    group.attrs.create(name, value, dtype=h5py.string_dtype("utf-8"))


def _ascii_attr(group: h5py.Group, name: str, value) -> None:
    group.attrs[name] = value  # bytes / list of bytes: vlen ASCII, as Keras's legacy writer


def write_weights(path: Path, *, kernel: bool = True, kernel_kwargs=None) -> None:
    """A Keras 3 ``.weights.h5`` of ``Sequential([Dense(3)])`` (+ one optimizer scalar).

    ``kernel=False`` leaves ``layers/dense/vars/0`` out so the caller can put something else there;
    ``kernel_kwargs`` replaces the kernel's ``create_dataset`` arguments.
    """
    with h5py.File(path, "w") as f:
        _vlen_utf8(f.create_group("vars"), "name", "seq")
        dense = f.create_group("layers/dense/vars")
        _vlen_utf8(dense, "name", "dense")
        _vlen_utf8(f.create_group("layers/input_layer/vars"), "name", "input_layer")
        if kernel:
            dense.create_dataset("0", **(kernel_kwargs or {"data": KERNEL}))
        dense.create_dataset("1", data=BIAS)
        opt = f.create_group("optimizer/vars")
        _vlen_utf8(opt, "name", "sgd")
        opt.create_dataset("0", data=np.int64(1))


def write_legacy(path: Path, model_config: bytes) -> None:
    """A legacy full-model ``.h5`` (tf_keras layout, §3.1-3.2) with the given ``model_config``."""
    with h5py.File(path, "w") as f:
        _vlen_utf8(f["/"], "backend", "tensorflow")
        _vlen_utf8(f["/"], "keras_version", "2.21.0")
        _ascii_attr(f["/"], "model_config", model_config)
        mw = f.create_group("model_weights")
        _ascii_attr(mw, "layer_names", [b"dense"])
        _ascii_attr(mw, "backend", b"tensorflow")
        _ascii_attr(mw, "keras_version", b"2.21.0")
        dense = mw.create_group("dense")
        _ascii_attr(dense, "weight_names", [b"dense/kernel:0", b"dense/bias:0"])
        dense.create_dataset("dense/kernel:0", data=KERNEL)
        dense.create_dataset("dense/bias:0", data=BIAS)
        mw.create_group("top_level_model_weights").attrs["weight_names"] = np.asarray([])


def write_virtual(path: Path, source: str, source_dataset: str) -> None:
    """A file whose ``layers/dense/vars/0`` is a virtual dataset mapping all of
    ``source:/source_dataset``. Virtual datasets need the 1.10 file format, whose object headers
    record times unless told not to: every object is made with time tracking off (low-level API),
    so the bytes are reproducible."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_LATEST)
    fid = h5py.h5f.create(str(path).encode(), h5py.h5f.ACC_TRUNC, fapl=fapl, fcpl=fcpl)
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    group = fid
    for part in (b"layers", b"dense", b"vars"):
        group = h5py.h5g.create(group, part, gcpl=gcpl)
    space = h5py.h5s.create_simple(KERNEL.shape)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_obj_track_times(False)
    dcpl.set_virtual(space, source.encode(), source_dataset.encode(),
                     h5py.h5s.create_simple(KERNEL.shape))
    h5py.h5d.create(group, b"0", h5py.h5t.py_create(KERNEL.dtype, logical=1), space, dcpl=dcpl)
    fid.close()


def weights_bytes(tmp: Path) -> bytes:
    p = tmp / "base.weights.h5"
    write_weights(p)
    return p.read_bytes()


def patch_once(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new)
    assert raw.count(old) == 1, f"pattern found {raw.count(old)} times"
    return raw.replace(old, new)


# ---------------------------------------------------------------------------------------------
# ZIP archives by hand (§1.1): local header + data per member, central directory, end record.
# DOS date 1980-01-01 00:00, made by Unix, mode 0600: what zipfile writes for Keras's JSON.


class Entry:
    def __init__(self, name, payload: bytes, *, method: int = 0, size=None, crc=None,
                 stored: bytes | None = None):
        """``payload`` is the uncompressed member; ``stored`` (default: payload, or its raw
        DEFLATE stream with method 8) is what goes in the archive; ``size``/``crc`` may lie."""
        self.name = name.encode() if isinstance(name, str) else name
        self.method = method
        if stored is None:
            if method == 8:
                c = zlib.compressobj(9, zlib.DEFLATED, -15)
                stored = c.compress(payload) + c.flush()
            else:
                stored = payload
        self.stored = stored
        self.size = len(payload) if size is None else size
        self.crc = zlib.crc32(payload) if crc is None else crc


def zip_bytes(entries: list[Entry]) -> bytes:
    out = bytearray()
    central = bytearray()
    for e in entries:
        offset = len(out)
        version = 20
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, version, 0, e.method, 0, 0x21, e.crc,
                           len(e.stored), e.size, len(e.name), 0)
        out += e.name + e.stored
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, version, 0, e.method, 0,
                               0x21, e.crc, len(e.stored), e.size, len(e.name), 0, 0, 0, 0,
                               0o600 << 16, offset)
        central += e.name
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central),
                       cd_offset, 0)
    return bytes(out)


def json_bytes(obj) -> bytes:
    return json.dumps(obj).encode()


def keras_entries(weights: bytes) -> list[Entry]:
    return [
        Entry("metadata.json", json_bytes(METADATA)),
        Entry("config.json", json_bytes(CONFIG)),
        Entry("model.weights.h5", weights),
    ]


# ---------------------------------------------------------------------------------------------


def case_dir(root: Path, name: str) -> Path:
    d = root / name
    d.mkdir(parents=True)
    return d


def write_good(root: Path, name: str = "good") -> Path:
    """A sound ``x.keras``, ``x.weights.h5`` and ``x.h5`` in ``root/name`` (controls)."""
    d = case_dir(root, name)
    write_weights(d / WEIGHTS)
    (d / KERAS).write_bytes(zip_bytes(keras_entries((d / WEIGHTS).read_bytes())))
    write_legacy(d / LEGACY, json_bytes({"class_name": "Sequential", "config": {"name": "seq"}}))
    return d


def make_all(root: Path) -> None:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        good_weights = weights_bytes(tmp)
        good_keras = zip_bytes(keras_entries(good_weights))
        with h5py.File(tmp / "base.weights.h5", "r") as f:
            kernel_offset = f["layers/dense/vars/0"].id.get_offset()

    # --- HDF5 -----------------------------------------------------------------------------
    # Cut in half: the superblock's end-of-file address is past the end.
    (case_dir(root, "truncated_h5") / WEIGHTS).write_bytes(good_weights[: len(good_weights) // 2])
    (case_dir(root, "empty_h5") / WEIGHTS).write_bytes(b"")
    rng = np.random.default_rng(3)
    (case_dir(root, "garbage_h5") / LEGACY).write_bytes(rng.integers(0, 256, 4096, np.uint8)
                                                        .tobytes())
    # The HDF5 signature followed by garbage: sniffed as HDF5, then libhdf5 must refuse it.
    (case_dir(root, "garbage_after_signature") / WEIGHTS).write_bytes(
        good_weights[:8] + rng.integers(0, 256, 2048, np.uint8).tobytes())

    # Links and storage that read other files (or other places): refused even though the targets
    # exist and are valid.
    d = case_dir(root, "external_link")
    with h5py.File(d / "target.h5", "w") as f:
        f.create_dataset("secret", data=KERNEL)
    write_weights(d / WEIGHTS, kernel=False)
    with h5py.File(d / WEIGHTS, "a") as f:
        f["layers/dense/vars/0"] = h5py.ExternalLink("target.h5", "/secret")

    d = case_dir(root, "soft_link")
    write_weights(d / WEIGHTS, kernel=False)
    with h5py.File(d / WEIGHTS, "a") as f:
        f["layers/dense/vars/0"] = h5py.SoftLink("/layers/dense/vars/1")

    d = case_dir(root, "external_storage")
    (d / "raw.bin").write_bytes(KERNEL.tobytes())
    write_weights(d / WEIGHTS, kernel_kwargs={"shape": (4, 3), "dtype": "<f4",
                                              "external": [("raw.bin", 0, KERNEL.nbytes)]})

    d = case_dir(root, "virtual_dataset")
    with h5py.File(d / "source.h5", "w") as f:
        f.create_dataset("data", data=KERNEL)
    write_virtual(d / WEIGHTS, "source.h5", "data")

    # The kernel's dataspace says (4, 30) while its contiguous storage holds (4, 3) x 4 bytes.
    dims = struct.pack("<QQ", 4, 3)
    (case_dir(root, "shape_exceeds_storage") / WEIGHTS).write_bytes(
        patch_once(good_weights, dims + dims, struct.pack("<QQ", 4, 30) * 2))
    # The kernel's layout message puts its 48 bytes 1 MB past the end of the 5 KB file.
    addr = struct.pack("<QQ", kernel_offset, KERNEL.nbytes)
    (case_dir(root, "data_past_eof") / WEIGHTS).write_bytes(
        patch_once(good_weights, addr, struct.pack("<QQ", kernel_offset + (1 << 20),
                                                   KERNEL.nbytes)))

    # A bfloat16 kernel as Keras stores it (opaque |V2 + a vlen UTF-8 @dtype) whose global heap
    # collections (they hold the vlen strings: @name's and @dtype) have their first object
    # rewritten to index 0 (free space) of size 0. libhdf5's parser then never advances
    # (H5HG__cache_heap_deserialize: p = begin + 0) and spins forever when @dtype is read; h5py
    # hangs the same way.
    d = case_dir(root, "global_heap_loop")
    bf16 = (KERNEL.view("<u4") >> 16).astype("<u2").view("V2")  # truncated float32 = bfloat16
    write_weights(d / WEIGHTS, kernel_kwargs={"data": bf16})
    with h5py.File(d / WEIGHTS, "a") as f:
        _vlen_utf8(f["layers/dense/vars/0"], "dtype", "bfloat16")
    raw = bytearray((d / WEIGHTS).read_bytes())
    start = 0
    while (gcol := raw.find(b"GCOL", start)) >= 0:  # both collections (h5py's "a" adds one)
        assert struct.unpack_from("<H", raw, gcol + 16)[0] == 1
        struct.pack_into("<HHIQ", raw, gcol + 16, 0, 0, 0, 0)
        start = gcol + 4
    (d / WEIGHTS).write_bytes(bytes(raw))

    # The same bfloat16 kernel, sound heap, but its @dtype's on-disk vlen descriptor
    # ([u32 length][u64 collection][u32 index]) claims 1.5 GiB instead of 8 bytes. libhdf5 sizes
    # and fills its conversion buffer from that length before comparing it with the heap object
    # (h5py and kerasave: ~1.5 GB RSS for a 16 KB file). Found by fuzz/h5.
    d = case_dir(root, "vlen_length_bomb")
    write_weights(d / WEIGHTS, kernel_kwargs={"data": bf16})
    with h5py.File(d / WEIGHTS, "a") as f:
        _vlen_utf8(f["layers/dense/vars/0"], "dtype", "bfloat16")
    raw = bytearray((d / WEIGHTS).read_bytes())
    gcol = raw.rindex(b"GCOL")  # "a" mode put @dtype in a collection of its own, the last one
    desc = struct.pack("<IQI", len("bfloat16"), gcol, 1)
    assert raw.count(desc) == 1
    struct.pack_into("<I", raw, raw.index(desc), 0x60000000)
    (d / WEIGHTS).write_bytes(bytes(raw))

    # A chunked kernel of shape (9,) whose layout message claims rank-2 chunks (2, 2): the
    # message's padding has room for one more 4-byte dimension. libhdf5's H5Dread then allocates
    # chunk bookkeeping until memory runs out (h5py too). Found by fuzz/h5.
    d = case_dir(root, "chunk_rank_mismatch")
    write_weights(d / WEIGHTS, kernel_kwargs={"data": np.arange(9, dtype="<f4"), "chunks": (2,)})
    raw = bytearray((d / WEIGHTS).read_bytes())
    # Layout message v3, class 2 (chunked), rank + 1 = 2, B-tree address, dims (2, 4 = itemsize);
    # its v1 message header (type 8, size 24) sits 8 bytes before it.
    at = [i for i in range(len(raw) - 19) if raw[i:i + 3] == bytes([3, 2, 2])
          and raw[i + 11:i + 19] == struct.pack("<II", 2, 4)]
    assert len(at) == 1 and struct.unpack_from("<HH", raw, at[0] - 8) == (8, 24), at
    raw[at[0] + 2] = 3
    raw[at[0] + 11:at[0] + 23] = struct.pack("<III", 2, 2, 4)
    (d / WEIGHTS).write_bytes(bytes(raw))

    write_legacy(case_dir(root, "legacy_bad_model_config") / LEGACY,
                 b'{"class_name": "Sequential", "config": {"name": ')

    # --- .keras ---------------------------------------------------------------------------
    entries = keras_entries(good_weights)
    entries[1] = Entry("config.json", b"this is { not JSON")
    (case_dir(root, "keras_bad_config") / KERAS).write_bytes(zip_bytes(entries))

    for case, name in (("zip_dotdot", "../evil.txt"), ("zip_absolute", "/abs.txt"),
                       ("zip_nested_dotdot", "assets/../../evil.txt")):
        entries = keras_entries(good_weights) + [Entry(name, b"written outside the target\n")]
        (case_dir(root, case) / KERAS).write_bytes(zip_bytes(entries))

    entries = keras_entries(good_weights)
    entries.insert(2, Entry("config.json", json_bytes({"class_name": "Evil"})))
    (case_dir(root, "zip_duplicate") / KERAS).write_bytes(zip_bytes(entries))

    # A DEFLATED model.weights.h5 declaring 4 GiB - 2 bytes from ~1 KB of DEFLATE (1 MiB of
    # zeros): far over Keras's 100x rule, and the declared size must not be allocated.
    entries = keras_entries(good_weights)
    zeros = bytes(1 << 20)
    entries[2] = Entry("model.weights.h5", zeros, method=8, size=0xFFFFFFFE)
    (case_dir(root, "zip_bomb") / KERAS).write_bytes(zip_bytes(entries))

    (case_dir(root, "empty_keras") / KERAS).write_bytes(b"")
    (case_dir(root, "keras_no_weights") / KERAS).write_bytes(zip_bytes(keras_entries(b"")[:2]))
    (case_dir(root, "truncated_keras") / KERAS).write_bytes(good_keras[: len(good_keras) // 2])
    # A sound zip whose weights member is not HDF5.
    entries = keras_entries(b"\x89HDF\r\n\x1a\n" + bytes(200))
    (case_dir(root, "keras_garbage_weights") / KERAS).write_bytes(zip_bytes(entries))


def _self_check(root: Path) -> None:
    """The control files are what they claim; each case differs from them in the intended way."""
    import io
    import zipfile

    good = write_good(root / "_check")
    with zipfile.ZipFile(good / KERAS) as z:
        assert z.testzip() is None
        assert z.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            assert (f["layers/dense/vars/0"][()] == KERNEL).all()
    with h5py.File(good / LEGACY, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n
                 for n in f["model_weights"].attrs["layer_names"]]
        assert names == ["dense"], names
    for case, name in (("zip_dotdot", "../evil.txt"), ("zip_absolute", "/abs.txt")):
        with zipfile.ZipFile(root / case / KERAS) as z:
            assert z.namelist()[-1] == name, (case, z.namelist())
    with h5py.File(root / "external_storage" / WEIGHTS, "r") as f:
        assert f["layers/dense/vars/0"].external is not None
    with h5py.File(root / "virtual_dataset" / WEIGHTS, "r") as f:
        assert f["layers/dense/vars/0"].is_virtual
    shutil.rmtree(root / "_check")


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def build(root: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make_all(root)
    _self_check(root)


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    out = Path(args[0]) if args else BAD
    if check:
        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp))
            same = digest(Path(tmp)) == digest(out)
        print("up to date" if same else f"{out} differs from what this script writes")
        return 0 if same else 1
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    build(out)
    n = sum(1 for p in out.iterdir() if p.is_dir())
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {n} cases ({size} bytes) to {out} (sha256 {digest(out)[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
