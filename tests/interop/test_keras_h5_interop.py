"""Every Keras-family file kerasave WRITES opens in the reference readers with equal values.

(a) h5py sees a kerasave-rewritten ``.weights.h5`` / legacy ``.h5`` exactly as it sees Keras's own
    file: the same groups, datasets (dtype, HDF5 class, shape, bytes, contiguous, unfiltered) and
    attributes with the same HDF5 types (vlen/fixed, ASCII/UTF-8, padding, empty float64 lists,
    chunked ``layer_names0/1``).
(b) Keras 3.15.1 ``load_weights`` of a rewritten ``.weights.h5`` / sharded ``.weights.json`` gives
    the same weights; ``keras.saving.load_model`` of a rewritten ``.keras`` (config + weights +
    assets) gives the same weights and the same predictions.
(c) tf_keras 2.21 ``load_model`` of a rewritten tf_keras legacy ``.h5`` and ``load_weights`` of a
    rewritten weights-only ``.h5``.
(d) ``safetensors.numpy.load_file`` of a kerasave ``.safetensors`` and ``np.load`` of its ``.npz``.
(e) ``kerasave convert`` of a TF checkpoint to ``.safetensors`` and back is bit-exact (and TF
    reads the result).

"Rewritten" means the fixture written by real Keras (``tests/data/keras``) opened with
``ks.open`` and written again with ``ks.save_tensors`` in the same format, with the same config,
metadata, attributes and assets.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

h5py = pytest.importorskip("h5py")
ml_dtypes = pytest.importorskip("ml_dtypes")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
tf_keras = pytest.importorskip("tf_keras")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

import kerasave as ks  # noqa: E402
from kerasave import cli  # noqa: E402

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data"
KERAS = DATA / "keras"
TF_DIR = DATA / "tf"
GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"
sys.path.insert(0, str(DATA))
# The fixture script: its custom objects (ScaleLayer "MyPkg>Scaler", my_act, Sub, TfkScaleLayer)
# are registered on import, and its describe_* functions are how the fixtures were recorded.
import make_keras_fixtures as mkf  # noqa: E402


def expected(case: str) -> dict:
    return json.loads((KERAS / case / "expected.json").read_text())


def rewrite(src: Path, dst: Path, **extra) -> Path:
    """``ks.open(src)`` -> ``ks.save_tensors(dst, ...)`` in the same format and layout."""
    with ks.open(src) as store:
        kwargs = dict(format=store.format, config=store.config,
                      attrs={g: store.attrs(g) for g in store.groups()})
        if store.format == "keras_archive":
            kwargs["metadata"] = store.metadata
            kwargs["assets"] = {name: store.read_asset(name) for name in store.assets}
        kwargs.update(extra)
        ks.save_tensors(dst, dict(store.items()), **kwargs)
    return dst


# -- (a) h5py sees the same file -----------------------------------------------------------------

#: Everything but where things are (offsets and file sizes differ between writers).
WHERE = {"offset", "size"}


def comparable(entry: dict) -> dict:
    out = {k: v for k, v in entry.items() if k not in WHERE}
    out["datasets"] = {p: {k: v for k, v in d.items() if k not in WHERE}
                       for p, d in entry["datasets"].items()}
    return out


H5_FILES = [
    "k3_seq/k3_seq.weights.h5", "k3_func/k3_func.weights.h5", "k3_sub/k3_sub.weights.h5",
    "k3_shared/k3_shared.weights.h5", "k3_f16/k3_f16.weights.h5", "k3_bf16/k3_bf16.weights.h5",
    "k3_seq/k3_seq_legacy.h5", "k3_func/k3_func_legacy.h5", "k3_chunked/k3_chunked.h5",
    "tfk_seq/tfk_seq.h5", "tfk_seq/tfk_seq_w.h5", "tfk_func/tfk_func.h5", "tfk_func/tfk_func_w.h5",
    "tfk_chunked/tfk_chunked.h5", "tfk_chunked/tfk_chunked_w.h5",
    "tfk_legacy_adam/tfk_seq_legacy_adam.h5",
]


@pytest.mark.parametrize("rel", H5_FILES)
def test_h5py_reads_rewritten_h5_like_keras_file(tmp_path, rel):
    src = KERAS / rel
    dst = rewrite(src, tmp_path / src.name)
    want = comparable(mkf.describe_h5_file(str(src)))
    got = comparable(mkf.describe_h5_file(str(dst)))
    assert got["root_attrs"] == want["root_attrs"]
    assert got["root_attr_types"] == want["root_attr_types"]
    assert got["groups"] == want["groups"]
    assert got["datasets"] == want["datasets"]
    # And the values through h5py, bfloat16 reinterpreted as Keras does.
    with h5py.File(src, "r") as a, h5py.File(dst, "r") as b:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                assert b[name].dtype == obj.dtype and b[name].shape == obj.shape, name
                assert b[name][()].tobytes() == obj[()].tobytes(), name
        a.visititems(visit)


@pytest.mark.parametrize("case", ["k3_seq", "k3_func", "k3_bf16", "k3_int8"])
def test_h5py_reads_weights_inside_rewritten_keras(tmp_path, case):
    src = KERAS / case / f"{case}.keras"
    dst = rewrite(src, tmp_path / src.name)
    with zipfile.ZipFile(src) as z:
        want = comparable(mkf.describe_h5_bytes(z.read("model.weights.h5")))
    with zipfile.ZipFile(dst) as z:
        assert z.namelist()[:3] == ["metadata.json", "config.json", "model.weights.h5"]
        assert json.loads(z.read("config.json")) == expected(case)["files"][src.name]["config"]
        got = comparable(mkf.describe_h5_bytes(z.read("model.weights.h5")))
    assert got == want


@pytest.mark.parametrize("case", ["k3_seq", "k3_func", "k3_bf16", "k3_sub"])
def test_convert_keras_to_weights_h5_is_keras_own_file(tmp_path, case, capsys):
    """``kerasave convert m.keras m.weights.h5`` gives what ``model.save_weights`` writes (to
    h5py's eyes): same groups, empty ``vars`` groups with ``@name``, datasets and types."""
    dst = tmp_path / f"{case}.weights.h5"
    assert cli.main(["convert", str(KERAS / case / f"{case}.keras"), str(dst)]) == 0
    capsys.readouterr()
    want = comparable(mkf.describe_h5_file(str(KERAS / case / f"{case}.weights.h5")))
    assert comparable(mkf.describe_h5_file(str(dst))) == want


# -- (b) Keras 3 -----------------------------------------------------------------------------------


def weight_hashes(model) -> list[str]:
    return [mkf.sha256(np.ascontiguousarray(w).tobytes()) for w in model.get_weights()]


def zero_weights(model) -> None:
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])


def model_input(case: str):
    x = expected(case)["predict"]["input"]
    if case == "k3_assets":
        return tf.constant(x)
    if case in ("k3_func", "k3_shared", "tfk_func"):
        return [np.asarray(v, np.float32) for v in x]
    return np.asarray(x, np.float32)


@pytest.mark.parametrize("case", ["k3_seq", "k3_func", "k3_sub", "k3_shared", "k3_f16", "k3_bf16"])
def test_keras_load_weights_of_rewritten_weights_h5(tmp_path, case):
    model = keras.saving.load_model(KERAS / case / f"{case}.keras")
    want = expected(case)["keras_get_weights"]
    assert weight_hashes(model) == want
    dst = rewrite(KERAS / case / f"{case}.weights.h5", tmp_path / f"{case}.weights.h5")
    zero_weights(model)
    assert weight_hashes(model) != want
    model.load_weights(dst)
    assert weight_hashes(model) == want


def test_keras_load_weights_of_rewritten_sharded(tmp_path):
    src = KERAS / "k3_seq" / "k3_seq_sharded.weights.json"
    dst = rewrite(src, tmp_path / src.name, max_shard_size=100)
    assert len(list(tmp_path.glob("k3_seq_sharded_*.weights.h5"))) == 3
    # Keras's own index, byte for byte (same rollover, same weight_map).
    assert json.loads(dst.read_text()) == json.loads(src.read_text())
    model = keras.saving.load_model(KERAS / "k3_seq" / "k3_seq.keras")
    want = expected("k3_seq")["keras_get_weights"]
    zero_weights(model)
    mkf.load_weights_into(model, dst)
    assert weight_hashes(model) == want


@pytest.mark.parametrize("rel", ["k3_seq/k3_seq.keras", "k3_func/k3_func.keras",
                                 "k3_sub/k3_sub.keras", "k3_shared/k3_shared.keras",
                                 "k3_f16/k3_f16.keras", "k3_bf16/k3_bf16.keras",
                                 "k3_int8/k3_int8.keras", "k3_assets/k3_tv.keras",
                                 "derived/k3_seq_deflated.keras"])
def test_keras_load_model_of_rewritten_keras(tmp_path, rel):
    src = KERAS / rel
    case = "k3_seq" if rel.startswith("derived/") else rel.split("/")[0]
    dst = rewrite(src, tmp_path / Path(rel).name)
    original = keras.saving.load_model(src)
    model = keras.saving.load_model(dst)
    assert weight_hashes(model) == weight_hashes(original) == expected(case)["keras_get_weights"]
    x = model_input(case)
    np.testing.assert_array_equal(np.asarray(model.predict(x, verbose=0)),
                                  np.asarray(original.predict(x, verbose=0)))


def test_keras_loads_legacy_h5_rewritten_by_kerasave(tmp_path):
    src = KERAS / "k3_seq" / "k3_seq_legacy.h5"
    dst = rewrite(src, tmp_path / "m.h5")
    original = keras.saving.load_model(src, compile=False)
    model = keras.saving.load_model(dst, compile=False)
    assert weight_hashes(model) == weight_hashes(original)
    x = model_input("k3_seq")
    np.testing.assert_array_equal(model.predict(x, verbose=0), original.predict(x, verbose=0))


# -- (c) tf_keras ----------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", ["tfk_seq/tfk_seq.h5", "tfk_func/tfk_func.h5",
                                 "tfk_chunked/tfk_chunked.h5",
                                 "tfk_legacy_adam/tfk_seq_legacy_adam.h5"])
def test_tf_keras_load_model_of_rewritten_legacy_h5(tmp_path, rel):
    src = KERAS / rel
    dst = rewrite(src, tmp_path / src.name)
    original = tf_keras.models.load_model(src)
    model = tf_keras.models.load_model(dst)
    assert weight_hashes(model) == weight_hashes(original)
    case = rel.split("/")[0]
    if expected(case).get("keras_get_weights"):
        assert weight_hashes(model) == expected(case)["keras_get_weights"]
    x = model_input(case)
    np.testing.assert_array_equal(model.predict(x, verbose=0), original.predict(x, verbose=0))
    # The optimizer state came along (tf_keras restores it positionally from optimizer_weights).
    if original.optimizer is not None and original.optimizer.variables():
        got = [np.asarray(v) for v in model.optimizer.variables()]
        want = [np.asarray(v) for v in original.optimizer.variables()]
        assert [g.tobytes() for g in got] == [w.tobytes() for w in want]


@pytest.mark.parametrize("full,weights", [("tfk_seq/tfk_seq.h5", "tfk_seq/tfk_seq_w.h5"),
                                          ("tfk_func/tfk_func.h5", "tfk_func/tfk_func_w.h5"),
                                          ("tfk_chunked/tfk_chunked.h5",
                                           "tfk_chunked/tfk_chunked_w.h5")])
def test_tf_keras_load_weights_of_rewritten_weights_only_h5(tmp_path, full, weights):
    model = tf_keras.models.load_model(KERAS / full)
    want = weight_hashes(model)
    dst = rewrite(KERAS / weights, tmp_path / Path(weights).name)
    with ks.open(dst) as store:
        assert store.format == "legacy_h5_weights"
    zero_weights(model)
    assert weight_hashes(model) != want
    model.load_weights(dst)
    assert weight_hashes(model) == want


# -- (d) safetensors and npz -----------------------------------------------------------------------


@pytest.mark.parametrize("rel", ["k3_seq/k3_seq.keras", "k3_bf16/k3_bf16.weights.h5",
                                 "k3_f16/k3_f16.keras", "tfk_func/tfk_func.h5"])
def test_safetensors_and_numpy_read_what_kerasave_writes(tmp_path, rel, capsys):
    src = KERAS / rel
    with ks.open(src) as store:
        want = {k: store.get(k, copy=True) for k in store.keys()}
    st, npz = tmp_path / "t.safetensors", tmp_path / "t.npz"
    assert cli.main(["convert", str(src), str(st)]) == 0
    assert cli.main(["convert", str(src), str(npz)]) == 0
    capsys.readouterr()
    loaded = safetensors_numpy.load_file(str(st))
    assert sorted(loaded) == sorted(want)
    with np.load(npz, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(want)
        for key, arr in want.items():
            got = loaded[key]
            assert got.dtype == arr.dtype and got.shape == arr.shape, key
            assert got.tobytes() == arr.tobytes(), key
            raw = z[key]
            assert raw.shape == arr.shape and raw.tobytes() == arr.tobytes(), key
            if arr.dtype.type.__module__.startswith("ml_dtypes"):
                assert raw.dtype == np.dtype(f"V{arr.dtype.itemsize}")
                assert raw.view(arr.dtype).tobytes() == arr.tobytes()
            else:
                assert raw.dtype == arr.dtype


def test_safetensors_save_tensors_metadata_visible_to_the_reference(tmp_path):
    path = tmp_path / "m.safetensors"
    ks.save_tensors(path, {"a": np.arange(3, dtype=np.float32),
                           "b": np.array([1.5], ml_dtypes.bfloat16)}, metadata={"k": "v"})
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata() == {"k": "v"}
        assert sorted(f.keys()) == ["a", "b"]


# -- (e) checkpoint -> safetensors -> checkpoint ---------------------------------------------------

CKPTS = ["tfkeras_adam/ckpt", "tfkeras_legacy_adam/ckpt", "tfkeras_functional/ckpt",
         "sharded_policy/ckpt"]


@pytest.mark.parametrize("rel", CKPTS)
def test_convert_checkpoint_safetensors_roundtrip_bit_exact(tmp_path, rel, capsys):
    src = TF_DIR / rel
    st = tmp_path / "c.safetensors"
    back = tmp_path / "back" / "ckpt"
    assert cli.main(["convert", str(src), str(st)]) == 0
    assert cli.main(["convert", str(st), str(back)]) == 0
    capsys.readouterr()
    reference = safetensors_numpy.load_file(str(st))
    a = tf.train.load_checkpoint(str(src))
    b = tf.train.load_checkpoint(str(back))
    dtypes_a = a.get_variable_to_dtype_map()
    # safetensors holds numbers only: string variables are left out (with a note); the object
    # graph travels in the header and comes back.
    strings = {k for k, d in dtypes_a.items() if d == tf.string and k != GRAPH}
    keys = {k: v for k, v in a.get_variable_to_shape_map().items() if k not in strings}
    assert b.get_variable_to_shape_map() == keys
    assert b.get_variable_to_dtype_map() == {k: dtypes_a[k] for k in keys}
    assert set(reference) == set(keys) - {GRAPH}
    for key in keys:
        if key == GRAPH:
            assert a.get_tensor(key) == b.get_tensor(key)  # the serialized graph, as bytes
            continue
        va, vb = np.asarray(a.get_tensor(key)), np.asarray(b.get_tensor(key))
        assert va.dtype == vb.dtype and va.shape == vb.shape, key
        assert va.tobytes() == vb.tobytes(), key
        assert reference[key].tobytes() == va.tobytes(), key
    if not strings and rel != "sharded_policy/ckpt":  # TF sliced those variables; ours are whole
        for suffix in (".index", ".data-00000-of-00001"):
            assert Path(str(back) + suffix).read_bytes() == Path(str(src) + suffix).read_bytes()


def test_convert_tf_keras_checkpoint_to_safetensors_and_back_restores_in_tf_keras(tmp_path, capsys):
    """The checkpoint that came back through safetensors still restores into tf_keras."""
    src = TF_DIR / "tfkeras_adam" / "ckpt"
    st, back = tmp_path / "c.safetensors", tmp_path / "back" / "ckpt"
    assert cli.main(["convert", str(src), str(st)]) == 0
    assert cli.main(["convert", str(st), str(back)]) == 0
    capsys.readouterr()
    meta = json.loads((TF_DIR / "tfkeras_adam" / "expected.json").read_text())
    model_json = meta["model_json"]
    model = tf_keras.models.model_from_json(
        model_json if isinstance(model_json, str) else json.dumps(model_json))
    model.load_weights(str(back)).expect_partial()
    reader = tf.train.load_checkpoint(str(src))
    kernel = reader.get_tensor("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE")
    assert np.asarray(model.layers[0].kernel).tobytes() == kernel.tobytes()
