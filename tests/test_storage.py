"""``ks.open``: format sniffing, the Store mapping API, zero-copy arrays and their lifetime."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest

import kerasave as ks  # noqa: E402  (a broken build must fail, not skip)
from kerasave import _core  # noqa: E402

from conftest import assert_same, every_dtype_tensors  # noqa: E402
from kerasave.storage import sniff  # noqa: E402

KERNEL = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"


# -- sniffing -----------------------------------------------------------------------------------


def test_sniff_checkpoint_spellings(small_checkpoint):
    prefix = Path(small_checkpoint)
    data = prefix.with_name(prefix.name + ".data-00000-of-00001")
    for path in (prefix, prefix.with_name("ckpt.index"), data):
        assert sniff(path) == "tf_checkpoint", path
    # a directory with *.index
    assert sniff(prefix.parent) == "tf_checkpoint"


def test_sniff_index_by_magic_not_suffix(small_checkpoint, tmp_path):
    odd = tmp_path / "renamed.bin"
    odd.write_bytes(Path(small_checkpoint + ".index").read_bytes())
    assert sniff(odd) == "tf_checkpoint"


def test_sniff_directory_with_state_file(tmp_path):
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    assert sniff(tmp_path) == "tf_checkpoint"


@pytest.mark.parametrize(
    "name,content,kind",
    [
        ("model.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "hdf5"),
        ("weird.bin", b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "hdf5"),
        ("model.keras", b"PK\x03\x04" + b"\0" * 100, "keras_archive"),
    ],
)
def test_sniff_keras_formats_by_magic(tmp_path, name, content, kind):
    # The magic says the kind; these bytes are damaged, and the store for the kind says so.
    path = tmp_path / name
    path.write_bytes(content)
    assert sniff(path) == kind
    with pytest.raises(ks.CorruptFileError) as info:
        ks.open(path)
    assert str(path) in str(info.value)


def test_sniff_shard_index_by_content(tmp_path):
    path = tmp_path / "index.json"
    path.write_text('{"metadata": {"total_size": 0}, "weight_map": {}}')
    assert sniff(path) == "keras_weights_sharded"
    with ks.open(path) as store:  # a model without weights: valid, and empty
        assert store.format == "keras_weights_sharded" and store.keys() == []


def test_sniff_hdf5_after_user_block(tmp_path):
    path = tmp_path / "ub.h5"
    path.write_bytes(b"\0" * 512 + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    assert sniff(path) == "hdf5"


def test_saved_model_directory(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"\x08\x01")
    (tmp_path / "variables").mkdir()
    assert sniff(tmp_path) == "saved_model"
    # Schema version 1 and nothing else: the SavedModel store opens it and says what is missing.
    with pytest.raises(ks.CorruptFileError, match="saved_model.pb: SavedModel has no MetaGraphDef"):
        ks.open(tmp_path)


def test_unknown_bytes(tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(b"hello world, not a model")
    with pytest.raises(ks.UnsupportedFormatError, match="not a recognised"):
        ks.open(path)
    with pytest.raises(ks.UnsupportedFormatError):
        ks.open(tmp_path)  # an empty directory


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        ks.open(tmp_path / "nope")
    assert info.value.filename == os.fspath(tmp_path / "nope")


def test_registry_is_extensible(tmp_path, small_checkpoint):
    from kerasave import storage

    class Fake(storage.Store):
        format = "fake"

        def keys(self):
            return ["x"]

        def get(self, key, copy=False):
            if key != "x":
                raise KeyError(key)
            return np.zeros(2)

        def shape(self, key):
            self.get(key)
            return (2,)

        def dtype(self, key):
            self.get(key)
            return np.dtype("float64")

        @property
        def metadata(self):
            return {}

    path = tmp_path / "thing.fake"
    path.write_bytes(b"FAKE")
    sniffer = storage.register_sniffer(lambda p: "fake" if p.suffix == ".fake" else None, first=True)
    storage.register_store("fake", lambda p, verify: Fake(p))
    try:
        with ks.open(path) as store:
            assert store.format == "fake" and list(store) == ["x"] and "x" in store and "y" not in store
            assert store.nbytes("x") == 16 and store.dtype_name("x") == "float64"
            assert [k for k, _ in store.items()] == ["x"]
            store.verify()
    finally:
        storage._SNIFFERS.remove(sniffer)
        del storage._STORES["fake"]


# -- the Store API ------------------------------------------------------------------------------


def test_store_mapping_api(small_checkpoint, small_tensors):
    with ks.open(small_checkpoint) as store:
        assert isinstance(store, ks.Store)
        assert store.format == "tf_checkpoint"
        keys = list(store)
        assert keys == sorted(keys)
        assert set(keys) == set(small_tensors) | {GRAPH}
        assert len(store) == len(small_tensors) + 1
        assert KERNEL in store and "nope" not in store and 3 not in store
        for key, want in small_tensors.items():
            assert_same(store[key], want)
            assert store.shape(key) == np.shape(want)
            assert store.dtype(key) == np.asarray(want).dtype
        assert store.dtype(GRAPH) == np.dtype(object)
        assert store.dtype_name(GRAPH) == "string"
        assert store.nbytes(KERNEL) == 48
        assert store.config is None
        assert dict(store.items()).keys() == set(keys)
        assert len(list(store.values())) == len(keys)
        with pytest.raises(KeyError, match="nope"):
            store["nope"]
        with pytest.raises(KeyError):
            store.shape("nope")
        with pytest.raises(TypeError):
            store[3]
        assert "CheckpointStore" in repr(store)


def test_store_metadata(small_checkpoint, make_checkpoint):
    with ks.open(small_checkpoint) as store:
        meta = store.metadata
    assert meta["num_shards"] == 1
    assert meta["endianness"] == "little"
    assert meta["has_object_graph"] is True
    assert meta["object_graph"]["attributes"] == 5
    assert meta["object_graph"]["nodes"] >= 6
    assert meta["prefix"] == small_checkpoint
    plain = make_checkpoint({"w": np.zeros(3)}, name="plain")
    with ks.open(plain) as store:
        assert store.metadata["has_object_graph"] is False
        assert "object_graph" not in store.metadata


def test_store_every_dtype(dtype_checkpoint):
    prefix, tensors = dtype_checkpoint
    for verify in (True, False):
        with ks.open(prefix, verify=verify) as store:
            for key, want in tensors.items():
                assert_same(store[key], want)
                assert store.dtype(key) == want.dtype
                assert store.shape(key) == want.shape


def test_store_get_many(small_checkpoint, small_tensors):
    with ks.open(small_checkpoint) as store:
        keys = list(small_tensors)
        for got, key in zip(store.get_many(keys), keys):
            assert_same(got, small_tensors[key])


# -- zero-copy and lifetime ---------------------------------------------------------------------


def test_arrays_are_read_only_zero_copy_views(small_checkpoint):
    with ks.open(small_checkpoint) as store:
        a = store[KERNEL]
        b = store[KERNEL]
        c = store["layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE"]
    assert not a.flags.writeable
    assert a.flags.c_contiguous
    assert isinstance(a.base, _core.MappedBuffer)
    assert np.shares_memory(a, b)
    # every array of a shard shares one owner of the map
    assert a.base is b.base is c.base
    assert a.base.path.endswith("ckpt.data-00000-of-00001")
    assert a.base.nbytes == len(a.base) > 0
    with pytest.raises(ValueError):
        a[0, 0] = 1.0
    with pytest.raises(ValueError):
        a.flags.writeable = True  # the map is read-only: numpy must refuse


def test_copy_is_private_and_writable(small_checkpoint, small_tensors):
    with ks.open(small_checkpoint) as store:
        a = store.get(KERNEL, copy=True)
        view = store[KERNEL]
    assert a.flags.writeable and a.flags.owndata
    assert not np.shares_memory(a, view)
    a[0, 0] = 42.0
    assert_same(view, small_tensors[KERNEL])


def test_arrays_outlive_the_store(small_checkpoint, small_tensors):
    store = ks.open(small_checkpoint)
    a = store[KERNEL]
    owner = weakref.ref(a.base)
    store.close()
    assert store.closed
    store.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        store[KERNEL]
    del store
    gc.collect()
    assert owner() is not None
    assert_same(a, small_tensors[KERNEL])
    assert float(a.sum()) == float(small_tensors[KERNEL].sum())
    del a
    gc.collect()
    assert owner() is None  # the last array released the map


def test_unaligned_views_are_fine(make_checkpoint):
    # A 1-byte tensor first pushes the float64 to offset 1: numpy gets an unaligned view.
    prefix = make_checkpoint({"a": np.array([1], np.uint8), "b": np.arange(3, dtype=np.float64)})
    with ks.open(prefix) as store:
        b = store["b"]
    assert isinstance(b.base, _core.MappedBuffer)
    assert not b.flags.aligned
    assert b.tolist() == [0.0, 1.0, 2.0]
    assert b.sum() == 3.0


def test_strings_are_object_arrays_of_bytes(dtype_checkpoint):
    prefix, tensors = dtype_checkpoint
    with ks.open(prefix) as store:
        s = store["strings/.ATTRIBUTES/VARIABLE_VALUE"]
        s_copy = store.get("strings/.ATTRIBUTES/VARIABLE_VALUE", copy=True)
    assert s.dtype == object and all(type(x) is bytes for x in s)
    assert s[2] == b"w\x00rld"
    assert not s.flags.writeable
    assert s_copy.flags.writeable


# -- errors -------------------------------------------------------------------------------------


def test_truncated_index_is_corrupt(small_checkpoint):
    index = Path(small_checkpoint + ".index")
    index.write_bytes(index.read_bytes()[:-10])
    with pytest.raises(ks.CorruptFileError) as info:
        ks.open(small_checkpoint)
    assert str(index) in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ks.KerasaveError)


def test_flipped_data_byte_fails_checksum_only_when_verifying(small_checkpoint, small_tensors):
    data = Path(small_checkpoint + ".data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[0] ^= 0xFF  # the first tensor written: the first kernel
    data.write_bytes(bytes(raw))
    with ks.open(small_checkpoint, verify=False) as store:
        assert store[KERNEL].tobytes() != small_tensors[KERNEL].tobytes()
    with ks.open(small_checkpoint, verify=True) as store:
        with pytest.raises(ks.CorruptFileError) as info:
            store[KERNEL]
        assert str(data) in str(info.value) and KERNEL in str(info.value)
        with pytest.raises(ks.CorruptFileError):
            store.verify()


def test_missing_data_shard(small_checkpoint):
    os.remove(small_checkpoint + ".data-00000-of-00001")
    with ks.open(small_checkpoint) as store:  # like TF, the index alone opens
        with pytest.raises(FileNotFoundError) as info:
            store[KERNEL]
    assert info.value.filename.endswith("ckpt.data-00000-of-00001")


def test_permission_error(small_checkpoint):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root reads everything")
    os.chmod(small_checkpoint + ".index", 0)
    with pytest.raises(PermissionError):
        ks.open(small_checkpoint)


def test_without_ml_dtypes_bfloat16_comes_back_as_raw_bits_with_a_warning(dtype_checkpoint):
    pytest.importorskip("ml_dtypes")
    prefix, tensors = dtype_checkpoint
    code = f"""
import sys, warnings
sys.modules["ml_dtypes"] = None  # make `import ml_dtypes` fail
import kerasave as ks
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with ks.open({prefix!r}) as store:
        a = store["bfloat16/.ATTRIBUTES/VARIABLE_VALUE"]
        b = store["bfloat16/.ATTRIBUTES/VARIABLE_VALUE"]
msgs = [str(w.message) for w in caught if issubclass(w.category, ks.KerasaveWarning)]
assert len(msgs) == 1, msgs
assert "pip install ml_dtypes" in msgs[0], msgs
print(a.dtype, a.view("u2").tolist())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    want = tensors["bfloat16/.ATTRIBUTES/VARIABLE_VALUE"].view(np.uint16).tolist()
    assert out.stdout.split(" ", 1) == ["uint16", f"{want}\n"]


def test_every_dtype_tensors_cover_the_fixed_size_dtypes():
    names = {k.split("/")[0] for k in every_dtype_tensors()}
    assert {"f32", "bool", "c64", "strings", "scalar", "empty"} <= names


# -- safetensors and .npz (SafetensorsStore, NpzStore) ------------------------------------------


def test_safetensors_and_npz_sniffed_from_bytes(tmp_path):
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, -2], np.int64)}
    st, npz = tmp_path / "t.bin", tmp_path / "t.dat"
    ks.save_tensors(st, tensors, format="safetensors")
    ks.save_tensors(npz, tensors, format="npz")
    assert sniff(st) == "safetensors" and sniff(npz) == "npz"
    for path, fmt in ((st, "safetensors"), (npz, "npz")):
        with ks.open(path) as store:
            assert store.format == fmt and sorted(store) == ["a", "b"]
            for key, want in tensors.items():
                assert_same(store[key], want)
                assert not store[key].flags.writeable
                assert store.get(key, copy=True).flags.writeable
    # The bytes win over the name: an .npz named .safetensors is an .npz.
    (tmp_path / "n.safetensors").write_bytes(npz.read_bytes())
    assert sniff(tmp_path / "n.safetensors") == "npz"


def test_safetensors_arrays_view_the_map_and_outlive_the_store(tmp_path):
    path = tmp_path / "t.safetensors"
    ks.save_tensors(path, {"a": np.arange(4, dtype=np.float32), "b": np.ones(3, np.int8)})
    store = ks.open(path)
    arr = store["a"]
    base = arr
    while isinstance(base, np.ndarray):
        assert not base.flags.owndata
        base = base.base
    assert isinstance(base, _core.MappedBuffer) and base.path == str(path)
    store.close()
    del store
    gc.collect()
    assert_same(arr, np.arange(4, dtype=np.float32))


def test_safetensors_overlapping_tensors_refused_at_open(tmp_path):
    import json
    import struct

    header = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }
    blob = json.dumps(header).encode()
    path = tmp_path / "o.safetensors"
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + bytes(12))
    with pytest.raises(ks.CorruptFileError, match="overlaps") as info:
        ks.open(path)
    assert str(path) in str(info.value)


def test_npz_stored_members_are_zero_copy_and_crc_checked(tmp_path):
    path = tmp_path / "w.npz"
    a = np.arange(1000, dtype=np.float32)
    f = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    np.savez(path, a=a, f=f)
    with ks.open(str(path)) as store:
        assert store.format == "npz"
        first, second = store["a"], store["a"]
        assert np.shares_memory(first, second)  # both view the memory map
        assert not first.flags.writeable
        np.testing.assert_array_equal(first, a)
        np.testing.assert_array_equal(store["f"], f)
        mine = store.get("a", copy=True)
        assert mine.flags.writeable and not np.shares_memory(mine, first)
    # A flipped data byte: found with verify (the default), not read around.
    raw = bytearray(path.read_bytes())
    raw[raw.index(a.tobytes()) + 100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with ks.open(str(path)) as store:
        with pytest.raises(ks.CorruptFileError, match="a.npy"):
            store["a"]
    with ks.open(str(path), verify=False) as store:
        assert store["a"][25] != a[25]


def test_npz_compressed_members_inflate(tmp_path):
    path = tmp_path / "c.npz"
    b = np.ones((300, 300))
    np.savez_compressed(path, b=b)
    with ks.open(str(path)) as store:
        np.testing.assert_array_equal(store["b"], b)
        assert not store["b"].flags.writeable
