"""``ks.save_tensors``: every writable format round-trips through ``ks.open`` (or the format's
reference reader: h5py, zipfile, numpy, safetensors), bit-exactly, with Keras's layout rules.

No TensorFlow import; the files are also checked against what real Keras wrote
(tests/data/keras) where the layout is deterministic (sharded index, attribute types).
"""

from __future__ import annotations

import json
import os
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import kerasave as ks
from kerasave import _core
from kerasave._writers import WRITE_FORMATS, format_for_path, keras_size

ml_dtypes = pytest.importorskip("ml_dtypes")
h5py = pytest.importorskip("h5py")

KERAS_DIR = Path(__file__).resolve().parent / "data" / "keras"


def tensors_k3() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = {
        "layers/dense/vars/0": rng.standard_normal((4, 3)).astype(np.float32),
        "layers/dense/vars/1": rng.standard_normal(3).astype(np.float32),
        "layers/half/vars/0": rng.standard_normal((2, 2)).astype(np.float16),
        "layers/bf/vars/0": rng.standard_normal((3, 2)).astype(ml_dtypes.bfloat16),
        "layers/q/vars/0": np.arange(-3, 3, dtype=np.int8).reshape(2, 3),
        "optimizer/vars/0": np.array(7, np.int64),
        "optimizer/vars/1": np.array(0.01, np.float32),
    }
    for i in range(2, 12):  # vars/10 and vars/11 must come after vars/9
        t[f"optimizer/vars/{i}"] = np.full((2,), i, np.float32)
    return t


def assert_same(store: ks.Store, tensors: dict[str, np.ndarray]) -> None:
    assert sorted(store.keys()) == sorted(tensors)
    for key, want in tensors.items():
        got = store[key]
        assert got.dtype == want.dtype, key
        assert got.shape == want.shape, key
        assert got.tobytes() == want.tobytes(), key


def k3_attrs() -> dict[str, dict[str, str]]:
    return {
        "/vars": {"name": "model"},
        "/layers/dense/vars": {"name": "dense"},
        "/layers/half/vars": {"name": "half"},
        "/layers/bf/vars": {"name": "bf"},
        "/layers/q/vars": {"name": "q"},
        "/layers/input/vars": {"name": "input_layer"},  # a layer without weights
        "/optimizer/vars": {"name": "adam"},
    }


# -- format selection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,config,fmt",
    [
        ("m.weights.h5", None, "keras_weights_h5"),
        ("m.weights.json", None, "keras_weights_sharded"),
        ("m.keras", {}, "keras_archive"),
        ("m.h5", {"class_name": "Sequential"}, "legacy_h5_model"),
        ("m.hdf5", None, "legacy_h5_weights"),
        ("m.safetensors", None, "safetensors"),
        ("m.npz", None, "npz"),
        ("ckpt-3", None, "tf_checkpoint"),
        ("ckpt.index", None, "tf_checkpoint"),
    ],
)
def test_format_from_name(name, config, fmt):
    assert format_for_path(name, config) == fmt
    assert fmt in WRITE_FORMATS


def test_unknown_suffix_needs_format(tmp_path):
    with pytest.raises(ValueError, match="format="):
        ks.save_tensors(tmp_path / "x.bin", {"a": np.zeros(1)})
    with pytest.raises(ValueError, match="unknown format"):
        ks.save_tensors(tmp_path / "x.bin", {"a": np.zeros(1)}, format="pickle")


# -- Keras 3 weights -------------------------------------------------------------------------


def test_weights_h5_round_trip(tmp_path):
    t = tensors_k3()
    path = ks.save_tensors(tmp_path / "sub" / "m.weights.h5", t, attrs=k3_attrs())
    assert path == os.fspath(tmp_path / "sub" / "m.weights.h5")
    with ks.open(path) as store:
        assert store.format == "keras_weights_h5"
        assert_same(store, t)
        keys = store.keys()
        assert keys.index("optimizer/vars/9") < keys.index("optimizer/vars/10")
        for key in keys:
            assert store.is_zero_copy(key), key
            assert isinstance(store[key].base, _core.MappedBuffer)
        assert store.attrs("/layers/input/vars") == {"name": "input_layer"}
        assert store.attrs("/vars") == {"name": "model"}
    # h5py sees Keras's layout: bf16 as opaque |V2 + @dtype, vlen UTF-8 @name.
    with h5py.File(path) as f:
        bf = f["layers/bf/vars/0"]
        assert bf.dtype == np.dtype("V2") and bf.attrs["dtype"] == "bfloat16"
        assert bf[()].tobytes() == t["layers/bf/vars/0"].tobytes()
        assert f["layers/half/vars/0"].dtype == np.float16
        assert f["optimizer/vars/0"].shape == () and f["optimizer/vars/0"][()] == 7
        name_type = f["vars"].attrs.get_id("name").get_type()
        assert name_type.is_variable_str() and name_type.get_cset() == h5py.h5t.CSET_UTF8
        assert f["layers/dense/vars/0"].id.get_offset() is not None  # contiguous


def test_weights_h5_round_trip_of_real_files(tmp_path):
    """Real Keras files written back with their own layout are equal to h5py."""
    for src in ("k3_seq/k3_seq.weights.h5", "k3_sub/k3_sub.weights.h5",
                "k3_bf16/k3_bf16.weights.h5"):
        with ks.open(KERAS_DIR / src) as store:
            out = tmp_path / Path(src).name
            ks.save_tensors(out, dict(store.items()), format=store.format,
                            attrs={g: store.attrs(g) for g in store.groups()})
            with ks.open(out) as copy:
                assert copy.keys() == store.keys()
                assert_same(copy, {k: store[k] for k in store.keys()})
                for g in store.groups():
                    assert repr(copy.attrs(g)) == repr(store.attrs(g)), g
        assert_h5_equal(KERAS_DIR / src, out)


def assert_h5_equal(a: Path, b: Path) -> None:
    """Same objects, dataset values/dtypes, attribute values and string types (h5py's view)."""
    with h5py.File(a) as fa, h5py.File(b) as fb:
        names_a: list[str] = []
        names_b: list[str] = []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        assert sorted(names_a) == sorted(names_b)
        for name in ["/", *names_a]:
            oa, ob = fa[name], fb[name]
            assert set(oa.attrs) == set(ob.attrs), name
            for attr in oa.attrs:
                ta = oa.attrs.get_id(attr).get_type()
                tb = ob.attrs.get_id(attr).get_type()
                assert ta.get_class() == tb.get_class(), (name, attr)
                if ta.get_class() == h5py.h5t.STRING:
                    assert ta.is_variable_str() == tb.is_variable_str(), (name, attr)
                    assert ta.get_cset() == tb.get_cset(), (name, attr)
                    assert ta.get_strpad() == tb.get_strpad(), (name, attr)
                va, vb = oa.attrs[attr], ob.attrs[attr]
                assert np.array_equal(np.asarray(va), np.asarray(vb)), (name, attr)
            if isinstance(oa, h5py.Dataset):
                assert oa.dtype == ob.dtype and oa.shape == ob.shape, name
                assert oa[()].tobytes() == ob[()].tobytes(), name


def test_scalar_and_empty_tensors(tmp_path):
    t = {"a/vars/0": np.float32(1.5), "a/vars/1": np.zeros((0, 3), np.float32),
         "a/vars/2": np.array([True, False])}
    path = ks.save_tensors(tmp_path / "s.weights.h5", t)
    with ks.open(path) as store:
        assert store["a/vars/0"].shape == () and store["a/vars/0"] == np.float32(1.5)
        assert store["a/vars/1"].shape == (0, 3)
        assert store["a/vars/2"].dtype == np.bool_ and store["a/vars/2"].tolist() == [True, False]


def test_non_contiguous_and_big_endian_inputs(tmp_path):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = {"x/vars/0": base.T, "x/vars/1": base.astype(">f4")}
    path = ks.save_tensors(tmp_path / "n.weights.h5", t)
    with ks.open(path) as store:
        assert np.array_equal(store["x/vars/0"], base.T)
        assert store["x/vars/1"].dtype == np.dtype("<f4")
        assert np.array_equal(store["x/vars/1"], base)


@pytest.mark.parametrize(
    "value,error",
    [
        (np.array(["a"]), TypeError),
        (np.array([{"x": 1}], dtype=object), TypeError),
        (np.zeros(2, dtype=[("a", "f4")]), TypeError),
    ],
)
def test_refuses_non_numeric(tmp_path, value, error):
    target = tmp_path / "bad.weights.h5"
    with pytest.raises(error):
        ks.save_tensors(target, {"k/vars/0": value})
    assert not target.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", ["", "a/../b", "./a", "a//b", "a/./b"])
def test_refuses_bad_keys(tmp_path, key):
    with pytest.raises(ValueError):
        ks.save_tensors(tmp_path / "bad.weights.h5", {key: np.zeros(1)})
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "keep.weights.h5"
    ks.save_tensors(target, {"a/vars/0": np.ones(2, np.float32)})
    before = target.read_bytes()
    with pytest.raises(TypeError):
        ks.save_tensors(target, {"a/vars/0": np.ones(2), "b/vars/0": np.array(["x"])})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.weights.h5"]


# -- sharded -----------------------------------------------------------------------------------


def test_sharded_reproduces_keras(tmp_path):
    """Real Keras sharded at 100 bytes: our index is byte-identical and the shards hold the same
    datasets and attributes (groups recreated in later shards without @name)."""
    src = KERAS_DIR / "k3_seq" / "k3_seq_sharded.weights.json"
    with ks.open(src) as store:
        out = ks.save_tensors(tmp_path / "k3_seq_sharded.weights.json", dict(store.items()),
                              attrs={g: store.attrs(g) for g in store.groups()},
                              max_shard_size=100)
        with ks.open(out) as copy:
            assert copy.keys() == store.keys()
            assert_same(copy, {k: store[k] for k in store.keys()})
            assert copy.weight_map == store.weight_map
    assert Path(out).read_text() == src.read_text()
    for i in range(3):
        name = f"k3_seq_sharded_{i:05d}.weights.h5"
        assert_h5_equal(src.parent / name, tmp_path / name)
    assert not (tmp_path / "k3_seq_sharded_00003.weights.h5").exists()


def test_sharded_rollover_rule(tmp_path):
    t = {f"layers/d{i}/vars/0": np.zeros(10, np.float32) for i in range(5)}  # 40 bytes each
    t["layers/flags/vars/0"] = np.zeros(16, np.bool_)  # Keras counts bool as 1 bit: 2 bytes
    out = ks.save_tensors(tmp_path / "w.weights.json", t, max_shard_size=100)
    index = json.loads(Path(out).read_text())
    assert index["metadata"]["total_size"] == 5 * 40 + 2.0
    wm = index["weight_map"]
    # 40+40 fits, +40 passes 100 -> new shard; the bool adds 2 to the last shard's 40.
    assert wm["/layers/d0/vars"] == "w_00000.weights.h5"
    assert wm["/layers/d1/vars"] == "w_00000.weights.h5"
    assert wm["/layers/d2/vars"] == "w_00001.weights.h5"
    assert wm["/layers/d4/vars"] == "w_00002.weights.h5"
    assert wm["/layers/flags/vars"] == "w_00002.weights.h5"
    assert keras_size(t["layers/flags/vars/0"]) == 2.0
    with ks.open(out) as store:
        assert store.format == "keras_weights_sharded" and len(store.shards) == 3
        assert_same(store, t)
    with pytest.raises(ValueError, match="max_shard_size"):
        ks.save_tensors(tmp_path / "x.weights.json", {"a/vars/0": np.zeros(100)},
                        max_shard_size=10)
    assert not (tmp_path / "x.weights.json").exists()
    assert not list(tmp_path.glob("x_*")) and not list(tmp_path.glob(".x*"))


def test_sharded_one_group_across_shards_is_a_list(tmp_path):
    t = {f"optimizer/vars/{i}": np.zeros(8, np.float32) for i in range(4)}  # 32 bytes each
    out = ks.save_tensors(tmp_path / "o.weights.json", t, max_shard_size=64,
                          attrs={"/optimizer/vars": {"name": "adam"}})
    wm = json.loads(Path(out).read_text())["weight_map"]
    assert wm == {"/optimizer/vars": ["o_00000.weights.h5", "o_00001.weights.h5"]}
    with h5py.File(tmp_path / "o_00000.weights.h5") as f:
        assert f["optimizer/vars"].attrs["name"] == "adam"
    with h5py.File(tmp_path / "o_00001.weights.h5") as f:
        assert "name" not in f["optimizer/vars"].attrs  # recreated bare, as Keras does
    with ks.open(out) as store:
        assert store.attrs("/optimizer/vars") == {"name": "adam"}
        assert_same(store, t)


def test_sharded_needs_json_name(tmp_path):
    with pytest.raises(ValueError, match="json"):
        ks.save_tensors(tmp_path / "w.weights.h5", {"a/vars/0": np.zeros(1)},
                        format="keras_weights_sharded")


# -- .keras ------------------------------------------------------------------------------------


def test_keras_archive_round_trip_and_alignment(tmp_path):
    t = tensors_k3()
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "m"}}
    assets = {"layers/tv/vocabulary.txt": b"\n[UNK]\nhello", "extra/blob.bin": b"\x00\x01"}
    out = ks.save_tensors(tmp_path / "m.keras", t, config=config, attrs=k3_attrs(), assets=assets)
    with zipfile.ZipFile(out) as z:
        infos = z.infolist()
        assert [i.filename for i in infos] == [
            "metadata.json", "config.json", "model.weights.h5",
            "assets/layers/tv/vocabulary.txt", "assets/extra/blob.bin"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        meta = json.loads(z.read("metadata.json"))
        assert set(meta) == {"keras_version", "date_saved"}
        assert json.loads(z.read("config.json")) == config
    with ks.open(out) as store:
        assert store.format == "keras_archive" and store.weights_in_place
        offset, _ = store.weights_range
        assert offset % 4096 == 0
        assert store.config == config
        assert_same(store, t)
        assert sorted(store.assets) == sorted(assets)
        for name, data in assets.items():
            assert store.read_asset(name) == data
        for key in store.keys():
            assert store.is_zero_copy(key)
            assert store[key].base.path == out
        assert store.attrs("/layers/dense/vars") == {"name": "dense"}
        store.verify()


def test_keras_archive_needs_config(tmp_path):
    with pytest.raises(ValueError, match="config"):
        ks.save_tensors(tmp_path / "m.keras", {"a/vars/0": np.zeros(1)})
    assert list(tmp_path.iterdir()) == []


def test_keras_archive_metadata_and_asset_files(tmp_path):
    asset = tmp_path / "vocab.txt"
    asset.write_bytes(b"a\nb")
    out = ks.save_tensors(tmp_path / "m.keras", {"a/vars/0": np.zeros(2, np.float32)},
                          config={"class_name": "X"}, metadata={"keras_version": "9.9"},
                          assets={"assets/x/vocab.txt": asset})
    with ks.open(out) as store:
        assert store.metadata == {"keras_version": "9.9"}
        assert store.assets == ["x/vocab.txt"] and store.read_asset("x/vocab.txt") == b"a\nb"


def test_keras_archive_round_trip_of_real_files(tmp_path):
    for src in ("k3_seq/k3_seq.keras", "k3_assets/k3_tv.keras", "k3_func/k3_func.keras"):
        with ks.open(KERAS_DIR / src) as store:
            out = ks.save_tensors(
                tmp_path / Path(src).name, dict(store.items()), format=store.format,
                config=store.config, metadata=store.metadata,
                attrs={g: store.attrs(g) for g in store.groups()},
                assets={a: store.read_asset(a) for a in store.assets})
            with ks.open(out) as copy:
                assert copy.config == store.config and copy.metadata == store.metadata
                assert copy.keys() == store.keys() and copy.assets == store.assets
                assert_same(copy, {k: store[k] for k in store.keys()})
                assert copy.weights_range[0] % 4096 == 0


# -- legacy ------------------------------------------------------------------------------------


LEGACY_FILES = [
    "tfk_seq/tfk_seq.h5", "tfk_seq/tfk_seq_w.h5", "tfk_func/tfk_func.h5", "tfk_func/tfk_func_w.h5",
    "tfk_chunked/tfk_chunked.h5", "tfk_chunked/tfk_chunked_w.h5", "k3_chunked/k3_chunked.h5",
    "k3_seq/k3_seq_legacy.h5", "k3_func/k3_func_legacy.h5",
    "tfk_legacy_adam/tfk_seq_legacy_adam.h5",
]


@pytest.mark.parametrize("src", LEGACY_FILES)
def test_legacy_round_trip_is_keras_layout(tmp_path, src):
    """Written back with their attrs, legacy files equal Keras's own to h5py: same objects,
    values, attribute values and string types (UTF-8 vs ASCII, vlen vs chunked fixed-length)."""
    with ks.open(KERAS_DIR / src) as store:
        out = ks.save_tensors(tmp_path / Path(src).name, dict(store.items()), format=store.format,
                              config=store.config, metadata=store.metadata,
                              attrs={g: store.attrs(g) for g in store.groups()})
        with ks.open(out) as copy:
            assert copy.format == store.format
            assert copy.keys() == store.keys()
            assert copy.config == store.config and copy.metadata == store.metadata
            assert_same(copy, {k: store[k] for k in store.keys()})
    assert_h5_equal(KERAS_DIR / src, Path(out))


def test_legacy_names_from_key_order(tmp_path):
    """Without attrs, layer_names and weight_names follow the key order."""
    t = {
        "model_weights/dense/dense/kernel:0": np.ones((2, 3), np.float32),
        "model_weights/dense/dense/bias:0": np.zeros(3, np.float32),
        "model_weights/out/out/kernel:0": np.ones((3, 1), np.float32),
        "optimizer_weights/iteration:0": np.array(3, np.int64),
    }
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": []}}
    out = ks.save_tensors(tmp_path / "m.h5", t, config=config,
                          metadata={"training_config": {"loss": "mse"}})
    with ks.open(out) as store:
        assert store.format == "legacy_h5_model"
        assert store.keys() == list(t)
        assert store.config == config
        assert store.layer_names == ["dense", "out"]
        assert store.weight_names("dense") == ["dense/kernel:0", "dense/bias:0"]
        assert store.metadata["training_config"] == {"loss": "mse"}
        assert store.metadata["keras_version"] == "3.15.1"
        assert store.attrs("/model_weights/top_level_model_weights") == {"weight_names": []}
    with h5py.File(out) as f:
        assert f.attrs.get_id("model_config").get_type().get_cset() == h5py.h5t.CSET_ASCII
        assert f.attrs.get_id("backend").get_type().get_cset() == h5py.h5t.CSET_UTF8
        assert list(f["optimizer_weights"].attrs["weight_names"]) == [b"iteration:0"] or list(
            f["optimizer_weights"].attrs["weight_names"]) == ["iteration:0"]
        wn = f["model_weights/top_level_model_weights"].attrs["weight_names"]
        assert wn.dtype == np.float64 and wn.shape == (0,)


def test_legacy_weights_only(tmp_path):
    t = {"d/d/kernel:0": np.ones((2, 2), np.float32), "d/d/bias:0": np.zeros(2, np.float32)}
    attrs = {"/": {"layer_names": ["empty", "d"]}, "/empty": {"weight_names": []}}
    out = ks.save_tensors(tmp_path / "w.h5", t, attrs=attrs)
    with ks.open(out) as store:
        assert store.format == "legacy_h5_weights" and store.config is None
        assert store.layer_names == ["empty", "d"]
        assert store.weight_names("empty") == []
        assert store.keys() == list(t)


def test_legacy_chunked_attributes(tmp_path):
    """Past 64512 bytes, Keras splits a name list into fixed-length chunks; so do we."""
    names = [f"layer_{i:03d}_" + "n" * 300 for i in range(300)]  # 300 x 310 bytes
    t = {f"{n}/{n}/kernel:0": np.full(1, i, np.float32) for i, n in enumerate(names)}
    out = ks.save_tensors(tmp_path / "c.h5", t)
    with h5py.File(out) as f:
        assert "layer_names" not in f.attrs
        assert f.attrs["layer_names0"].dtype == np.dtype("S310")
        chunks = [f.attrs[f"layer_names{i}"] for i in range(2)]
        assert "layer_names2" not in f.attrs
        assert [len(c) for c in chunks] == [150, 150]
    with ks.open(out) as store:
        assert store.layer_names == names
        assert store.attrs("/")["layer_names"] == names
        assert store.keys() == list(t)


def test_legacy_refuses_unlisted_weights(tmp_path):
    with pytest.raises(ValueError, match="lists weight"):
        ks.save_tensors(tmp_path / "m.h5", {"d/d/k:0": np.zeros(1)},
                        attrs={"/d": {"weight_names": ["d/d/k:0", "d/d/missing:0"]}})
    assert list(tmp_path.iterdir()) == []


def test_legacy_key_outside_layers(tmp_path):
    with pytest.raises(ValueError, match="model_weights"):
        ks.save_tensors(tmp_path / "m.h5", {"stray": np.zeros(1)}, config={"class_name": "X"})


# -- tf_checkpoint, safetensors, npz -------------------------------------------------------------


def test_tf_checkpoint(tmp_path):
    t = {"layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE": np.ones((2, 2), np.float32),
         "layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE": np.zeros(2, ml_dtypes.bfloat16)}
    out = ks.save_tensors(tmp_path / "ck" / "ckpt-1", t)
    assert out == os.fspath(tmp_path / "ck" / "ckpt-1")
    with ks.open(out) as store:
        assert store.format == "tf_checkpoint"
        assert store.object_graph() is not None
        for key, want in t.items():
            assert store[key].dtype == want.dtype and store[key].tobytes() == want.tobytes()


def every_numeric() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "f32": rng.standard_normal((2, 3)).astype(np.float32),
        "f64": rng.standard_normal(3),
        "f16": np.array([1.0, -2.5], np.float16),
        "bf16": np.array([1.0, -0.2734], ml_dtypes.bfloat16),
        "i8": np.array([-128, 127], np.int8),
        "u8": np.array([0, 255], np.uint8),
        "i64": np.array([-(2**62)], np.int64),
        "b": np.array([True, False]),
        "scalar": np.float32(3.0),
        "empty": np.zeros((0, 2), np.float32),
        "nested/name": np.ones(1, np.int32),
    }


def test_safetensors(tmp_path):
    t = every_numeric()
    out = ks.save_tensors(tmp_path / "m.safetensors", t, metadata={"format": "np", "n": 3})
    raw = Path(out).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8 : 8 + n])
    assert header["__metadata__"] == {"format": "np", "n": "3"}
    for key, arr in t.items():
        begin, end = header[key]["data_offsets"]
        assert begin % max(1, arr.dtype.itemsize) == 0, key  # aligned to its item size
        assert raw[8 + n + begin : 8 + n + end] == arr.tobytes(), key
    from safetensors.numpy import load_file

    loaded = load_file(out)
    for key, arr in t.items():
        assert loaded[key].shape == arr.shape and loaded[key].tobytes() == arr.tobytes(), key
        assert loaded[key].dtype == arr.dtype, key
    with pytest.raises(ks.UnsupportedFormatError, match="int4"):
        ks.save_tensors(tmp_path / "x.safetensors", {"q": np.zeros(2, ml_dtypes.int4)})
    assert not (tmp_path / "x.safetensors").exists()


def test_npz(tmp_path):
    t = {k: v for k, v in every_numeric().items() if k != "bf16"}
    out = ks.save_tensors(tmp_path / "m.npz", t)
    with np.load(out, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(t)
        for key, arr in t.items():
            assert z[key].dtype == arr.dtype and z[key].tobytes() == arr.tobytes(), key
    with zipfile.ZipFile(out) as z:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
    # ml_dtypes tensors go in as raw bytes, with a warning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = ks.save_tensors(tmp_path / "b.npz", {"bf": np.ones(2, ml_dtypes.bfloat16)})
    assert any(issubclass(w.category, ks.KerasaveWarning) for w in caught)
    with np.load(out, allow_pickle=False) as z:
        assert z["bf"].view(ml_dtypes.bfloat16).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("key", ["../evil", "/abs", "a\\b", "a/../b"])
def test_npz_refuses_unsafe_member_names(tmp_path, key):
    with pytest.raises(ValueError):
        ks.save_tensors(tmp_path / "m.npz", {key: np.zeros(1)})
    assert list(tmp_path.iterdir()) == []


def test_npz_refuses_objects(tmp_path):
    with pytest.raises(TypeError):
        ks.save_tensors(tmp_path / "m.npz", {"o": np.array([object()], dtype=object)})


# -- fsync=False and the in-place .keras weights member (writes, session 2) ----------------------

NOSYNC_CASES = [
    ("w.weights.h5", {}),
    ("w.weights.json", {"max_shard_size": 64}),
    ("m.keras", {"config": {"class_name": "Sequential"}}),
    ("m.h5", {"config": {"class_name": "Sequential"}}),
    ("w.h5", {}),
    ("ckpt", {}),
    ("t.safetensors", {}),
    ("t.npz", {}),
]


@pytest.mark.parametrize("name,kwargs", NOSYNC_CASES)
def test_fsync_false_is_still_atomic(tmp_path, monkeypatch, name, kwargs):
    """Every format takes fsync=False: same contents, no temp file left, the target replaced by
    rename (a reader holding the old file keeps its bytes), and no os.fsync from Python."""
    t = {"layers/dense/vars/0": np.arange(12, dtype=np.float32).reshape(3, 4),
         "layers/dense/vars/1": np.ones(4, np.float32)}
    if name.endswith(".h5") and not name.endswith(".weights.h5"):
        root = "model_weights/" if "config" in kwargs else ""
        t = {f"{root}dense/kernel": t["layers/dense/vars/0"],
             f"{root}dense/bias": t["layers/dense/vars/1"]}
    target = tmp_path / name
    ks.save_tensors(target, t, **kwargs)
    first = {p.name: p.stat().st_ino for p in tmp_path.iterdir()}
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    ks.save_tensors(target, t, fsync=False, **kwargs)
    assert synced == []
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(first), "no temp file left behind"
    assert not any(".tmp" in n for n in names)
    main_file = "ckpt.index" if name == "ckpt" else name
    assert (tmp_path / main_file).stat().st_ino != first[main_file], "replaced by rename"
    if name.endswith(".npz"):
        with np.load(target, allow_pickle=False) as z:
            assert all(z[k].tobytes() == v.tobytes() for k, v in t.items())
        return
    with ks.open(target) as store:
        assert_same(store, t)


def test_keras_weights_member_is_the_weights_file(tmp_path):
    """The weights written in place inside the archive (HDF5 userblock, base address patched)
    are byte-for-byte the `.weights.h5` of the same tensors, and h5py opens the extracted member
    as an ordinary file."""
    t, attrs = tensors_k3(), k3_attrs()
    config = {"class_name": "Functional", "config": {"name": "m"}}
    for fsync in (True, False):
        out = ks.save_tensors(tmp_path / f"m{fsync}.keras", t, config=config, attrs=attrs,
                              fsync=fsync)
        plain = ks.save_tensors(tmp_path / f"w{fsync}.weights.h5", t, attrs=attrs)
        with zipfile.ZipFile(out) as z:
            member = z.read("model.weights.h5")
            info = z.getinfo("model.weights.h5")
        assert member == Path(plain).read_bytes()
        assert member[:8] == b"\x89HDF\r\n\x1a\n"
        assert struct.unpack_from("<Q", member, 24)[0] == 0, "base address"
        assert struct.unpack_from("<Q", member, 40)[0] == len(member), "end-of-file address"
        extracted = tmp_path / f"x{fsync}.h5"
        extracted.write_bytes(member)
        with h5py.File(extracted, "r") as f:
            np.testing.assert_array_equal(f["layers/dense/vars/0"][()], t["layers/dense/vars/0"])
        a = _core.KerasArchive(os.fspath(out))
        m = a.member_info("model.weights.h5")
        assert m["data_offset"] % 4096 == 0 and m["header_offset"] == info.header_offset
        assert m["crc32"] == info.CRC
        a.verify_all()


@pytest.mark.parametrize("config_len", [60_000, 400_000])
def test_keras_archive_with_a_large_config(tmp_path, config_len):
    """A config too large for the JSON members to sit before a power-of-two offset: the weights
    member goes first in the file, the JSON members after it, the listed order stays Keras's."""
    t = tensors_k3()
    config = {"class_name": "Functional", "config": {"name": "m", "pad": "x" * config_len}}
    out = ks.save_tensors(tmp_path / "big.keras", t, config=config, attrs=k3_attrs(),
                          assets={"v.txt": b"vocab"}, fsync=False)
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
        assert z.namelist() == ["metadata.json", "config.json", "model.weights.h5",
                                "assets/v.txt"]
        assert json.loads(z.read("config.json")) == config
    with ks.open(out, verify=True) as store:
        assert store.weights_in_place and store.weights_range[0] % 4096 == 0
        assert store.config == config
        assert_same(store, t)
        assert store.read_asset("v.txt") == b"vocab"
        store.verify()
    assert [p.name for p in tmp_path.iterdir()] == ["big.keras"]


def test_keras_archive_failing_half_way_leaves_the_old_file(tmp_path):
    """An error while the weights are being written into the archive (an attribute that cannot
    be stored) leaves the previous archive and no temp file."""
    target = tmp_path / "m.keras"
    config = {"class_name": "Sequential"}
    t = {"layers/dense/vars/0": np.ones((2, 2), np.float32)}
    ks.save_tensors(target, t, config=config)
    before = target.read_bytes()
    with pytest.raises((TypeError, ValueError)):
        ks.save_tensors(target, t, config=config,
                        attrs={"/layers/dense/vars": {"name": object()}}, fsync=False)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_archive_writer_hdf5_member_api(tmp_path):
    """ArchiveWriter.begin_hdf5 / end_hdf5 directly: nothing may be added in between, and the
    H5Writer cannot be ended twice."""
    path = tmp_path / "a.keras"
    with _core.ArchiveWriter(os.fspath(path), fsync=False) as z:
        z.add_bytes("metadata.json", b"{}")
        w = z.begin_hdf5("model.weights.h5", 4096)
        assert w is not None
        w.write_dataset("layers/d/vars/0", np.arange(6, dtype=np.float32))
        with pytest.raises(ValueError):
            z.add_bytes("config.json", b"{}")
        z.end_hdf5(w)
        with pytest.raises(ValueError):
            z.end_hdf5(w)
    with pytest.raises(ValueError):
        _core.ArchiveWriter(os.fspath(tmp_path / "b.keras")).end_hdf5(w)
    a = _core.KerasArchive(os.fspath(path))
    assert a.names() == ["metadata.json", "model.weights.h5"]
    a.verify_all()
