"""The HDF5 / ``.keras`` layer below ``ks.open``: the ``_core`` bindings (``H5File``, ``H5Writer``,
``KerasArchive``, ``ArchiveWriter``), sniffing, and the store classes' behaviour on hand-made
files (the real Keras fixtures are in test_keras_fixtures.py)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

import kerasave as ks
from kerasave import _core, _h5layout
from kerasave.storage import (
    KerasArchiveStore,
    KerasDirectoryStore,
    KerasWeightsH5Store,
    LegacyH5ModelStore,
    LegacyH5WeightsStore,
    ShardedWeightsStore,
    sniff,
)

h5py = pytest.importorskip("h5py")
ml_dtypes = pytest.importorskip("ml_dtypes")

KERAS_DIR = Path(__file__).resolve().parent / "data" / "keras"
K3_SEQ = KERAS_DIR / "k3_seq"


# -- _h5layout -----------------------------------------------------------------------------------


def test_natural_key_order():
    keys = ["vars/10", "vars/2", "vars/1", "a/vars/0", "vars/9", "layers/dense_1/vars/0",
            "layers/dense/vars/11", "layers/dense/vars/3", "/vars/x"]
    assert _h5layout.sort_keys(keys) == [
        "a/vars/0", "layers/dense/vars/3", "layers/dense/vars/11", "layers/dense_1/vars/0",
        "vars/1", "vars/2", "vars/9", "vars/10", "/vars/x"]


def test_group_of():
    assert _h5layout.group_of("layers/d/vars/0") == "/layers/d/vars"
    assert _h5layout.group_of("/vars/0") == "/vars"
    assert _h5layout.group_of("x") == "/"


def test_split_legacy_key():
    assert _h5layout.split_legacy_key("model_weights/d/d/kernel:0", "model_weights") == (
        "d", "d/kernel:0")
    assert _h5layout.split_legacy_key("optimizer_weights/Adam/m:0", "model_weights") == (
        "", "Adam/m:0")
    assert _h5layout.split_legacy_key("d/d/kernel:0", "") == ("d", "d/kernel:0")
    with pytest.raises(ValueError):
        _h5layout.split_legacy_key("other/x", "model_weights")
    with pytest.raises(ValueError):
        _h5layout.split_legacy_key("loose", "")


def test_parse_json_errors():
    with pytest.raises(ks.CorruptFileError, match="f.h5: what is not valid JSON"):
        _h5layout.parse_json("{nope", "f.h5", "what")
    with pytest.raises(ks.CorruptFileError, match="not UTF-8"):
        _h5layout.parse_json(b"\xff{}", "f.h5", "what")
    with pytest.raises(ks.CorruptFileError, match="nested too deeply"):
        _h5layout.parse_json("[" * 100000 + "]" * 100000, "f.h5", "what")
    assert _h5layout.parse_json('{"x": NaN}', "f", "w")["x"] != 0  # Keras writes NaN


# -- bindings ------------------------------------------------------------------------------------


def test_h5file_listing_and_zero_copy():
    f = _core.H5File(str(K3_SEQ / "k3_seq.weights.h5"))
    rows = f.datasets()
    assert rows[0] == ("/layers/dense/vars/0", "float32", (4, 3), True, 48)
    assert f.groups()[0] == "/" and "/optimizer/vars" in f.groups()
    a = f.get("layers/dense/vars/0")
    assert isinstance(a.base, _core.MappedBuffer) and not a.flags.writeable
    b = f.get("/layers/dense/vars/1")
    assert a.base is b.base  # one owner per file
    c = f.get("layers/dense/vars/0", copy=True)
    assert c.flags.writeable and c.base is None and np.array_equal(a, c)
    assert f.location("layers/dense/vars/0")[1] == 48 and f.layout("layers/dense/vars/0") == (
        "contiguous")
    assert "layers/dense/vars/0" in f and "nope" not in f
    many = f.get_many(["layers/dense/vars/0", "optimizer/vars/0"])
    assert [x.shape for x in many] == [(4, 3), ()]
    with pytest.raises(KeyError, match="nope"):
        f.get("nope")
    assert f.attrs("/vars") == {"name": "seq"}
    assert f.attr("/vars", "name") == "seq" and f.attr("/vars", "missing") is None
    with pytest.raises(ValueError):
        f.get("a/../b")


def test_h5file_open_in_and_open_member():
    archive = _core.KerasArchive(str(K3_SEQ / "k3_seq.keras"))
    offset, length = archive.stored_range("model.weights.h5")
    f = _core.H5File.open_in(archive, offset, length)
    g = _core.H5File.open_in(str(K3_SEQ / "k3_seq.keras"), offset, length)
    h = _core.H5File.open_member(archive, "model.weights.h5")
    for x in (f, g, h):
        assert x.image_range == (offset, length)
        assert x.is_zero_copy("layers/dense/vars/0")
        assert x.location("layers/dense/vars/0")[0] > offset
    assert np.array_equal(f.get("layers/dense/vars/0"), h.get("layers/dense/vars/0"))
    with pytest.raises(TypeError):
        _core.H5File.open_in(42, 0, 1)
    with pytest.raises(ks.CorruptFileError):
        _core.H5File.open_in(archive, 0, 10)  # a zip header is not HDF5
    with pytest.raises(KeyError, match="missing"):
        _core.H5File.open_member(archive, "missing")


def test_h5file_attrs_types(tmp_path):
    path = tmp_path / "a.h5"
    with h5py.File(path, "w") as f:
        f.attrs["s"] = "text"
        f.attrs["b"] = b"ascii"
        f.attrs["ints"] = np.array([1, 2], np.int32)
        f.attrs["one"] = 5
        f.attrs["floats"] = np.array([0.5])
        f.attrs["strs"] = ["x", "y"]
        f.attrs["weight_names"] = np.asarray([])
        f.attrs["layer_names0"] = np.array([b"a", b"b"])
        f.attrs["layer_names1"] = np.array([b"c"])
    h = _core.H5File(str(path))
    attrs = h.attrs("/")
    assert attrs["s"] == "text" and attrs["b"] == "ascii" and attrs["strs"] == ["x", "y"]
    assert attrs["ints"].dtype == np.int64 and attrs["ints"].tolist() == [1, 2]
    assert attrs["one"].tolist() == [5] and attrs["floats"].tolist() == [0.5]
    assert attrs["weight_names"] == []  # Keras's empty list: an empty float64 array
    assert h.string_list_attr("/", "layer_names") == ["a", "b", "c"]
    assert h.string_list_attr("/", "weight_names") == []
    assert h.string_list_attr("/", "absent") is None
    decoded = _h5layout.decode_attrs(h, "/")
    assert decoded["layer_names"] == ["a", "b", "c"] and "layer_names0" not in decoded
    assert decoded["weight_names"] == []


def test_h5writer(tmp_path):
    path = tmp_path / "w.h5"
    with _core.H5Writer(str(path)) as w:
        w.create_group("g/sub")
        w.write_dataset("g/sub/x", np.arange(6, dtype=np.float32).reshape(2, 3))
        w.write_dataset("bf", np.ones(3, ml_dtypes.bfloat16))
        w.set_attr("g", "name", "é")
        w.set_attr("g", "b", b"ascii")
        w.set_attr("g", "nums", [1, 2, 3])
        w.set_attr("g", "f", 0.5)
        w.set_attr("g", "empty", [])
        w.set_attr("g/sub/x", "on_dataset", "yes")
        w.set_string_list_attr("/", "layer_names", ["a", "b"])
        assert not path.exists()  # renamed into place on finish
    assert path.exists()
    with h5py.File(path) as f:
        g = f["g"]
        assert g.attrs["name"] == "é" and g.attrs["b"] == "ascii"
        assert g.attrs.get_id("b").get_type().get_cset() == h5py.h5t.CSET_ASCII
        assert g.attrs["nums"].tolist() == [1, 2, 3] and g.attrs["f"].tolist() == [0.5]
        assert g.attrs["empty"].dtype == np.float64
        assert f["g/sub/x"].attrs["on_dataset"] == "yes"
        assert f["bf"].attrs["dtype"] == "bfloat16"
        assert [s.decode() if isinstance(s, bytes) else s for s in f.attrs["layer_names"]] == [
            "a", "b"]
    w = _core.H5Writer(str(tmp_path / "x.h5"))
    w.finish()
    with pytest.raises(ValueError, match="finished"):
        w.write_dataset("a", np.zeros(1))
    with pytest.raises(ValueError, match="finished"):
        w.finish()


def test_h5writer_aborts_on_error(tmp_path):
    path = tmp_path / "w.h5"
    with pytest.raises(TypeError):
        with _core.H5Writer(str(path)) as w:
            w.write_dataset("ok", np.zeros(2))
            w.write_dataset("bad", np.array(["s"]))
    assert list(tmp_path.iterdir()) == []
    w = _core.H5Writer(str(path))
    w.write_dataset("a", np.zeros(1))
    with pytest.raises(ValueError, match="exists"):
        w.write_dataset("a", np.zeros(1))
    with pytest.raises(ValueError, match="C-contiguous"):
        w.write_dataset("t", np.zeros((3, 2)).T)
    with pytest.raises(TypeError):
        w.set_attr("/", "x", {"a": 1})
    w.abort()
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_keras_archive_binding():
    path = K3_SEQ / "k3_seq.keras"
    a = _core.KerasArchive(str(path))
    assert a.names() == ["metadata.json", "config.json", "model.weights.h5"]
    assert len(a) == 3 and "config.json" in a and "x" not in a
    name, method, offset, size, csize = a.members()[1]
    assert (name, method, size == csize) == ("config.json", "stored", True)
    view = a.view("config.json")
    assert view.dtype == np.uint8 and isinstance(view.base, _core.MappedBuffer)
    assert view.tobytes() == a.read("config.json") == path.read_bytes()[offset : offset + size]
    assert json.loads(a.read("config.json"))["class_name"] == "Sequential"
    info = a.member_info("model.weights.h5")
    assert info["method"] == "stored" and info["crc32"] > 0 and not info["is_dir"]
    a.verify("model.weights.h5")
    a.verify_all()
    with pytest.raises(KeyError):
        a.read("nope")
    with pytest.raises(KeyError):
        a.stored_range("nope")
    d = _core.KerasArchive(str(KERAS_DIR / "derived" / "k3_seq_deflated.keras"))
    assert d.stored_range("config.json") is None
    assert d.view("config.json").tobytes() == d.read("config.json")
    assert json.loads(d.read("config.json"))["class_name"] == "Sequential"


def test_archive_writer(tmp_path):
    path = tmp_path / "a.zip"
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 5000)
    with _core.ArchiveWriter(str(path)) as w:
        w.add_bytes("a.txt", b"hello")
        w.add_file("big.bin", str(src), 4096)
    with zipfile.ZipFile(path) as z:
        assert z.read("a.txt") == b"hello" and z.read("big.bin") == b"x" * 5000
    a = _core.KerasArchive(str(path))
    assert a.stored_range("big.bin")[0] % 4096 == 0
    with pytest.raises(ValueError):
        with _core.ArchiveWriter(str(tmp_path / "b.zip")) as w:
            w.add_bytes("../evil", b"")
    with pytest.raises(ValueError):
        with _core.ArchiveWriter(str(tmp_path / "c.zip")) as w:
            w.add_bytes("a", b"")
            w.add_bytes("a", b"")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "src.bin"]


def test_reads_release_the_gil():
    """Concurrent reads from threads work (the GIL is released around Rust work)."""
    f = _core.H5File(str(K3_SEQ / "k3_seq.weights.h5"))
    keys = [row[0] for row in f.datasets()]
    errors: list[BaseException] = []

    def work():
        try:
            for _ in range(200):
                for key in keys:
                    f.get(key, copy=True)
                f.attrs("/vars")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# -- sniffing and store classes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "rel,kind,cls",
    [
        ("k3_seq/k3_seq.weights.h5", "hdf5", KerasWeightsH5Store),
        ("k3_seq/k3_seq_legacy.h5", "hdf5", LegacyH5ModelStore),
        ("tfk_seq/tfk_seq_w.h5", "hdf5", LegacyH5WeightsStore),
        ("k3_seq/k3_seq.keras", "keras_archive", KerasArchiveStore),
        ("k3_seq/k3_seq_dir", "keras_directory", KerasDirectoryStore),
        ("k3_seq/k3_seq_sharded.weights.json", "keras_weights_sharded", ShardedWeightsStore),
    ],
)
def test_sniff_and_open(rel, kind, cls):
    assert sniff(KERAS_DIR / rel) == kind
    with ks.open(KERAS_DIR / rel) as store:
        assert type(store) is cls


def test_sniff_by_bytes_not_name(tmp_path):
    shutil.copy(K3_SEQ / "k3_seq.keras", tmp_path / "model.bin")
    shutil.copy(K3_SEQ / "k3_seq.weights.h5", tmp_path / "weights.data")
    with ks.open(tmp_path / "model.bin") as s:
        assert s.format == "keras_archive"
    with ks.open(tmp_path / "weights.data") as s:
        assert s.format == "keras_weights_h5"
    # A shard index under another name, found by its content.
    for f in K3_SEQ.glob("k3_seq_sharded*"):
        shutil.copy(f, tmp_path / f.name)
    os.rename(tmp_path / "k3_seq_sharded.weights.json", tmp_path / "k3_seq_sharded.json")
    with ks.open(tmp_path / "k3_seq_sharded.json") as s:
        assert s.format == "keras_weights_sharded" and len(s) == 14


def test_zip_that_is_not_keras(tmp_path):
    path = tmp_path / "data.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(ks.UnsupportedFormatError, match="not a Keras"):
        ks.open(path)


def make_legacy(path: Path, model_config: object) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = model_config
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [b"d"]
        d = g.create_group("d")
        d.attrs["weight_names"] = [b"d/k:0"]
        d["d/k:0"] = np.ones(2, np.float32)


def test_garbage_model_config_names_file_and_attribute(tmp_path):
    path = tmp_path / "m.h5"
    make_legacy(path, b'{"class_name": "Sequential", ')
    with pytest.raises(ks.CorruptFileError) as info:
        ks.open(path)
    assert str(path) in str(info.value) and "model_config" in str(info.value)
    make_legacy(path, b"[1, 2]")
    with pytest.raises(ks.CorruptFileError, match="not an object"):
        ks.open(path)
    make_legacy(path, np.array([1, 2]))
    with pytest.raises(ks.CorruptFileError, match="model_config"):
        ks.open(path)


def test_legacy_dangling_weight_name_fails_verify(tmp_path):
    path = tmp_path / "m.h5"
    make_legacy(path, b'{"class_name": "Sequential", "config": {}}')
    with h5py.File(path, "a") as f:
        f["model_weights/d"].attrs["weight_names"] = [b"d/k:0", b"d/missing:0"]
    with ks.open(path) as store:
        assert store.keys() == ["model_weights/d/d/k:0"]
        with pytest.raises(ks.CorruptFileError, match="missing"):
            store.verify()


def test_config_json_not_json_names_member(tmp_path):
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", "{}")
        z.writestr("config.json", "not json {")
        z.writestr("model.weights.h5", (K3_SEQ / "k3_seq.weights.h5").read_bytes())
    with pytest.raises(ks.CorruptFileError) as info:
        ks.open(path)
    assert str(path) in str(info.value) and "config.json" in str(info.value)


def test_deflated_keras_reads_a_copy(tmp_path):
    with ks.open(KERAS_DIR / "derived" / "k3_seq_deflated.keras") as store:
        assert not store.weights_in_place and store.weights_range is None
        arr = store["layers/dense/vars/0"]
        with ks.open(K3_SEQ / "k3_seq.keras") as ref:
            assert np.array_equal(arr, ref["layers/dense/vars/0"])
        # zero-copy within the inflated copy, whose owner is named after the member
        assert arr.base.path.endswith("k3_seq_deflated.keras/model.weights.h5")


def test_keras_directory(tmp_path):
    d = tmp_path / "m"
    shutil.copytree(KERAS_DIR / "k3_assets" / "k3_tv_dir", d)
    with ks.open(d) as store:
        assert store.is_directory and store.format == "keras_archive"
        assert store.assets == ["layers/text_vectorization/_lookup_layer/vocabulary.txt",
                                "layers/text_vectorization/vocabulary.txt"]
        with pytest.raises(KeyError):
            store.read_asset("../config.json")
    (d / "config.json").write_text("{oops")
    with pytest.raises(ks.CorruptFileError, match="config.json"):
        ks.open(d)


def test_shard_names_cannot_escape(tmp_path):
    index = tmp_path / "w.weights.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": {"/a/vars": "../outside.h5"}}))
    with pytest.raises(ks.CorruptFileError, match="plain file name"):
        ks.open(index)
    listed = {"/a/vars": ["w_00000.weights.h5"]}
    index.write_text(json.dumps({"metadata": {}, "weight_map": listed}))
    with pytest.raises(FileNotFoundError):
        ks.open(index)
    index.write_text("{not json")
    with pytest.raises(ks.CorruptFileError, match="JSON"):
        ks.open(index)
    index.write_text('{"weight_map": [1]}')
    with pytest.raises(ks.CorruptFileError, match="weight_map"):
        ks.open(index)


def test_empty_and_garbage_files_are_corrupt(tmp_path):
    for name in ("x.h5", "x.weights.h5", "x.keras"):
        p = tmp_path / name
        p.write_bytes(b"")
        with pytest.raises(ks.CorruptFileError, match="empty"):
            ks.open(p)
    p = tmp_path / "noise.h5"
    p.write_bytes(os.urandom(4096))
    with pytest.raises(ks.CorruptFileError):
        ks.open(p)


def test_store_after_close():
    store = ks.open(K3_SEQ / "k3_seq.weights.h5")
    arr = store["layers/dense/vars/0"]
    store.close()
    store.close()
    assert arr.sum() == arr.sum()
    for call in (lambda: store["layers/dense/vars/0"], store.groups, lambda: store.attrs("/")):
        with pytest.raises(ValueError, match="closed"):
            call()
    assert "closed" in repr(store)


def test_get_many_and_metadata():
    with ks.open(K3_SEQ / "k3_seq.keras") as store:
        keys = store.keys()
        arrays = store.get_many(keys)
        assert [a.shape for a in arrays] == [store.shape(k) for k in keys]
        assert store.metadata["keras_version"] == "3.15.1"
        assert "tensors" in repr(store)
    with ks.open(K3_SEQ / "k3_seq_legacy.h5") as store:
        assert store.metadata["backend"] == "tensorflow"
        assert store.config["class_name"] == "Sequential"
        loc = store.location(store.keys()[0])
        assert loc[0] == str(K3_SEQ / "k3_seq_legacy.h5")


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/maps")
def test_keras_weights_are_not_extracted():
    """The weights of a STORED member are read from the archive's own map: no temp file."""
    path = K3_SEQ / "k3_seq.keras"
    with ks.open(path) as store:
        arrays = [store[k] for k in store.keys()]
        maps = Path("/proc/self/maps").read_text()
        assert str(path) in maps
        assert "model.weights.h5" not in maps
        assert all(a.base.path == str(path) for a in arrays)
