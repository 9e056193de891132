"""load_model on models written by real Keras 3.15.1 / tf_keras 2.21: same get_weights()
(sha256 from expected.json) and predict within 1e-5 of Keras's recorded output."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import kerasave as keras

DATA = Path(__file__).parent / "data" / "keras"


class ScaleLayer(keras.layers.Layer):
    """kerasave port of the fixtures' MyPkg>Scaler: ``x * var_a + count``."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.var = self.add_weight(name="var_a", shape=(self.units,),
                                   initializer=keras.initializers.RandomUniform(0.5, 1.5),
                                   trainable=True)
        self.cnt = self.add_weight(name="count", shape=(),
                                   initializer=keras.initializers.Constant(0.25),
                                   trainable=False)

    def call(self, x):
        return x * self.var.numpy() + self.cnt.numpy()

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def my_act(x):
    """Port of MyPkg>my_act."""
    return np.tanh(x) * np.asarray(2.0, np.asarray(x).dtype)


class Block(keras.layers.Layer):
    """Port of the fixture's Block: sublayers as attribute, list, dict of list, private."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d1 = keras.layers.Dense(4)
        self.bn = keras.layers.BatchNormalization()
        self.pair = [keras.layers.Dense(4), keras.layers.Dense(4)]
        self.nested = {"x": [keras.layers.Dense(4)], "y": keras.layers.LayerNormalization()}
        self._private = keras.layers.Dense(4)

    def call(self, x, training=None):
        h = self.bn(self.d1(x), training=training)
        h = self.pair[1](self.pair[0](h))
        h = self.nested["y"](self.nested["x"][0](h))
        return self._private(h)


class Sub(keras.Model):
    """Port of the fixture's subclassed model (Custom>Sub)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.block = Block(name="block")
        self.zhead = keras.layers.Dense(2)
        self.ahead = keras.layers.Dense(2)

    def call(self, x, training=None):
        h = self.block(x, training=training)
        return self.zhead(h) + self.ahead(h)


CUSTOM = {"MyPkg>Scaler": ScaleLayer, "MyPkg>my_act": my_act, "Custom>Sub": Sub}

# (fixture dir, file, weight order used by the producing Keras)
CASES = [
    ("k3_seq", "k3_seq.keras", "k3"),
    ("k3_seq", "k3_seq_legacy.h5", "k3"),
    ("k3_seq", "k3_seq_dir", "k3"),
    ("derived", "k3_seq_deflated.keras", "k3"),
    ("derived", "k3_seq_zip64.keras", "k3"),
    ("k3_func", "k3_func.keras", "k3"),
    ("k3_func", "k3_func_legacy.h5", "k3"),
    ("k3_shared", "k3_shared.keras", "k3"),
    ("k3_f16", "k3_f16.keras", "k3"),
    ("k3_bf16", "k3_bf16.keras", "k3"),
    ("k3_chunked", "k3_chunked.h5", "k3"),
    ("k3_int8", "k3_int8.keras", "k3"),
    ("k3_sub", "k3_sub.keras", "k3"),
    ("k3_assets", "k3_tv.keras", "k3"),
    ("k3_assets", "k3_bigpath.keras", "k3"),
    ("k3_assets", "k3_tv_dir", "k3"),
    ("tfk_seq", "tfk_seq.h5", "tfk"),
    ("tfk_seq", "tfk_seq.keras", "tfk"),
    ("tfk_func", "tfk_func.h5", "tfk"),
    ("tfk_chunked", "tfk_chunked.h5", "tfk"),
    ("tfk_legacy_adam", "tfk_seq_legacy_adam.h5", "tfk"),
]


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _weights(model, order: str):
    # Keras 3 and tf_keras both list get_weights() layer by layer here.
    return model.get_weights()


@pytest.mark.parametrize("fixture,name,order", CASES, ids=[c[1] for c in CASES])
def test_load_model_matches_keras(fixture: str, name: str, order: str) -> None:
    path = DATA / fixture / name
    if not path.exists():
        pytest.skip(f"{path} not committed")
    expected = json.loads((DATA / fixture / "expected.json").read_text())
    model = keras.saving.load_model(path, custom_objects=CUSTOM)
    got = [_sha(a) for a in _weights(model, order)]
    assert got == expected["keras_get_weights"]
    pred = expected["predict"]
    inp = pred["input"]
    if isinstance(model, keras.models.Functional) and len(model.inputs) > 1:
        x = [np.asarray(v, dtype=np.float32) for v in inp]
    else:
        x = np.asarray(inp, dtype=None if fixture == "k3_assets" else np.float32)
    out = model.predict(x)
    want = pred["output"]
    # bfloat16 has 8 significant bits: TF's bf16 kernels round differently from numpy's float32
    # accumulation by up to a couple of bf16 ulps.
    tol = 2e-3 if fixture == "k3_bf16" else 1e-5
    if isinstance(out, (list, tuple)):
        for o, w in zip(out, want):
            np.testing.assert_allclose(np.asarray(o, np.float64), np.asarray(w), atol=tol)
    else:
        np.testing.assert_allclose(np.asarray(out, np.float64), np.asarray(want), atol=tol,
                                   rtol=1e-5)


def test_unregistered_custom_layer_is_named() -> None:
    with pytest.raises(keras.UnknownObjectError, match="Scaler"):
        keras.saving.load_model(DATA / "k3_func" / "k3_func.keras")


WEIGHT_CASES = [
    ("k3_seq", "k3_seq.keras", "k3_seq.weights.h5"),
    ("k3_seq", "k3_seq.keras", "k3_seq_sharded.weights.json"),
    ("derived", "k3_seq_deflated.keras", "k3_seq_layouts.weights.h5"),
    ("k3_func", "k3_func.keras", "k3_func.weights.h5"),
    ("k3_shared", "k3_shared.keras", "k3_shared.weights.h5"),
    ("k3_sub", "k3_sub.keras", "k3_sub.weights.h5"),
    ("k3_f16", "k3_f16.keras", "k3_f16.weights.h5"),
    ("k3_bf16", "k3_bf16.keras", "k3_bf16.weights.h5"),
    ("tfk_seq", "tfk_seq.h5", "tfk_seq_w.h5"),
    ("tfk_func", "tfk_func.h5", "tfk_func_w.h5"),
    ("tfk_chunked", "tfk_chunked.h5", "tfk_chunked_w.h5"),
]


@pytest.mark.parametrize("fixture,model_file,weights_file", WEIGHT_CASES,
                         ids=[c[2] for c in WEIGHT_CASES])
def test_load_weights_matches_keras(fixture: str, model_file: str, weights_file: str) -> None:
    path = DATA / fixture / weights_file
    if not path.exists():
        pytest.skip(f"{path} not committed")
    expected = json.loads((DATA / fixture / "expected.json").read_text())
    model = keras.saving.load_model(DATA / fixture / model_file, custom_objects=CUSTOM,
                                    compile=False)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.load_weights(path)
    assert [_sha(a) for a in model.get_weights()] == expected["keras_get_weights"]


TF_CASES = ["tfkeras_adam", "tfkeras_legacy_adam", "tfkeras_functional"]


@pytest.mark.parametrize("case", TF_CASES)
def test_tf_keras_checkpoint_loads_into_model_from_json(case: str, tmp_path: Path) -> None:
    root = Path(__file__).parent / "data" / "tf" / case
    expected = json.loads((root / "expected.json").read_text())
    tensors = expected["checkpoints"]["ckpt"]["tensors"]
    model = keras.models.model_from_json(json.dumps(expected["model_json"]))
    model.load_weights(root / "ckpt")
    keys = keras.saving.api.tf_checkpoint_keys(model)
    assert len(keys) == len(model.weights)
    for key, var in keys.items():
        assert _sha(var.numpy()) == tensors[key]["sha256"], key
    # kerasave writes the same key layout back, and reads it.
    model.save_weights(tmp_path / "ckpt")
    written = {k for k, _ in keras.checkpoint.list_variables(tmp_path / "ckpt")}
    assert set(keys) <= written
    fresh = keras.models.model_from_json(json.dumps(expected["model_json"]))
    fresh.load_weights(tmp_path / "ckpt")
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_text_vectorization_assets_round_trip(tmp_path: Path) -> None:
    model = keras.saving.load_model(DATA / "k3_assets" / "k3_tv.keras")
    tv = model.layers[0]
    assert tv.get_vocabulary()[:3] == ["", "[UNK]", "hello"]
    x = np.asarray([["Hello, world!"], ["quick unknown fox"], [""]])
    np.testing.assert_array_equal(tv(x), [[2, 3, 0, 0], [8, 1, 5, 0], [0, 0, 0, 0]])
    model.save(tmp_path / "tv.keras")
    with keras.open(tmp_path / "tv.keras") as store:
        assert "layers/text_vectorization/vocabulary.txt" in store.assets
    again = keras.saving.load_model(tmp_path / "tv.keras")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def _deep_list(depth: int) -> list:
    return json.loads("[" * depth + "]" * depth)


def test_json_depth_limit_admits_real_nesting(tmp_path):
    """The limit is far above what real configs use: 40 nested Sequentials (124 levels) save,
    load and stay under it."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)], name="s0")
    for i in range(1, 40):
        model = keras.Sequential([keras.Input((2,)), model], name=f"s{i}")
    from kerasave import _h5layout

    config = json.loads(model.to_json())
    assert not _h5layout.json_depth_exceeds(config, limit=124)
    assert _h5layout.json_depth_exceeds(config, limit=123)
    path = tmp_path / "nested.keras"
    model.save(path)
    assert keras.models.load_model(path).name == "s39"


def _deep_dict(depth: int) -> dict:
    out: dict = {}
    for _ in range(depth):
        out = {"a": out}
    return out


@pytest.mark.parametrize("depth", [250, 700, 900])
def test_config_nested_too_deeply_is_corrupt_not_recursion(tmp_path, depth):
    """JSON that Python parses can nest deeper than rebuilding the model can recurse: configs
    from files are refused past MAX_JSON_DEPTH levels with a typed error naming the file
    (.keras config.json and a SavedModel's keras_metadata.pb), never a RecursionError."""
    import shutil
    import zipfile

    from kerasave import _core

    src = DATA / "k3_seq" / "k3_seq.keras"
    deep = tmp_path / "deep.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(deep, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "config.json":
                config = json.loads(data)
                config.setdefault("compile_config", {})["loss"] = _deep_dict(depth)
                data = json.dumps(config).encode()
            zout.writestr(name, data)
    with pytest.raises(keras.CorruptFileError,
                       match=r"deep.keras: member 'config.json' is JSON nested too deeply \(more "
                             r"than 200 levels\)"):
        keras.models.load_model(deep)

    sm = tmp_path / "sm"
    shutil.copytree(Path(__file__).parent / "data" / "saved_model" / "tfk_seq" / "model", sm)
    nodes = []
    for node in _core.read_saved_model(str(sm))["keras_metadata"]:
        meta = json.loads(node["metadata"])
        if node["node_path"] == "root":
            meta["config"]["layers"][-1]["config"]["units"] = _deep_list(depth)
        nodes.append((node["node_id"], node["node_path"], node["identifier"], json.dumps(meta)))
    (sm / "keras_metadata.pb").write_bytes(_core.encode_keras_metadata(nodes))
    with pytest.raises(keras.CorruptFileError,
                       match=r"keras_metadata.pb: node 'root' \(id 0\): metadata is JSON nested "
                             r"too deeply \(more than 200 levels\)"):
        keras.models.load_model(sm)
