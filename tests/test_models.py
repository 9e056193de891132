"""Models: Sequential and functional configs, to_json, predict, summary, save/load round trips,
Keras 2 node format, shared layers, deep graphs (the saving guide's examples, numpy side)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kerasave as keras
from kerasave.saving import deserialize_keras_object, serialize_keras_object

DATA = Path(__file__).parent / "data" / "keras"
L = keras.layers
RNG = np.random.default_rng(1)


def _strip_shared(obj):
    if isinstance(obj, dict):
        return {k: _strip_shared(v) for k, v in obj.items() if k != "shared_object_id"}
    if isinstance(obj, list):
        return [_strip_shared(v) for v in obj]
    return obj


def _functional():
    a = keras.Input((4,), name="in_a")
    b = keras.Input((2,), name="in_b")
    inner = keras.Sequential([L.BatchNormalization(name="inner_bn"),
                              L.Dense(3, name="inner_dense")], name="inner_seq")
    h = inner(a)
    c = L.Concatenate(name="concat")([h, b])
    out = L.Dense(2, activation="tanh", name="out")(c)
    return keras.Model([a, b], out, name="func")


@pytest.mark.parametrize("fixture,name", [("k3_seq", "k3_seq.keras"),
                                          ("k3_shared", "k3_shared.keras")])
def test_keras_model_config_round_trips(fixture: str, name: str) -> None:
    config = json.loads((DATA / fixture / "expected.json").read_text())["files"][name]["config"]
    model = deserialize_keras_object(config)
    assert _strip_shared(serialize_keras_object(model)) == _strip_shared(config)


def test_sequential_get_config_from_config() -> None:
    model = keras.Sequential([keras.Input((4,)), L.Dense(3, activation="relu"), L.Dense(2)],
                             name="seq")
    config = model.get_config()
    assert config["layers"][0]["class_name"] == "InputLayer"
    clone = keras.Sequential.from_config(config)
    clone.set_weights(model.get_weights())
    x = RNG.normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x), clone.predict(x))
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]


def test_functional_config_and_json() -> None:
    model = _functional()
    assert [layer.name for layer in model.layers] == ["in_a", "inner_seq", "in_b", "concat",
                                                      "out"]
    config = model.get_config()
    assert config["input_layers"] == [["in_a", 0, 0], ["in_b", 0, 0]]
    assert config["output_layers"] == ["out", 0, 0]
    x = [RNG.normal(size=(3, 4)).astype(np.float32), RNG.normal(size=(3, 2)).astype(np.float32)]
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x), clone.predict(x))
    again = keras.models.model_from_json(model.to_json())
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x), again.predict(x))


def test_predict_batches_and_dict_inputs() -> None:
    model = _functional()
    x = [RNG.normal(size=(70, 4)).astype(np.float32), RNG.normal(size=(70, 2)).astype(np.float32)]
    full = model.predict(x, batch_size=100)
    np.testing.assert_allclose(model.predict(x, batch_size=16), full, rtol=1e-6)
    np.testing.assert_allclose(model.predict({"in_a": x[0], "in_b": x[1]}, batch_size=100),
                               full, rtol=1e-6)


def test_get_layer_summary_weights(capsys) -> None:
    model = _functional()
    assert model.get_layer("out").name == "out"
    assert model.get_layer(index=0).name == "in_a"
    with pytest.raises(ValueError):
        model.get_layer("nope")
    model.summary()
    text = capsys.readouterr().out
    assert "inner_seq (Sequential)" in text and "Total params" in text
    names = [w.path for w in model.weights]
    assert names[:4] == ["inner_bn/gamma", "inner_bn/beta", "inner_bn/moving_mean",
                         "inner_bn/moving_variance"]


def test_shared_layer_nodes() -> None:
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    shared = L.Dense(2, name="shared")
    out = L.Dense(1)(L.Concatenate()([shared(a), shared(b)]))
    model = keras.Model([a, b], out)
    config = model.get_config()
    concat = next(layer for layer in config["layers"] if layer["class_name"] == "Concatenate")
    hist = [t["config"]["keras_history"] for t in concat["inbound_nodes"][0]["args"][0]]
    assert hist == [["shared", 0, 0], ["shared", 1, 0]]
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    x = [RNG.normal(size=(2, 3)).astype(np.float32) for _ in range(2)]
    np.testing.assert_array_equal(model.predict(x), clone.predict(x))


def test_keras2_inbound_node_format() -> None:
    config = {
        "name": "k2", "layers": [
            {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
             "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "x"}},
            {"class_name": "Dense", "name": "d", "inbound_nodes": [[["x", 0, 0, {}]]],
             "config": {"name": "d", "units": 2, "activation": "relu", "dtype": "float32"}},
            {"class_name": "Add", "name": "add", "inbound_nodes": [[["d", 0, 0, {}],
                                                                    ["d", 0, 0, {}]]],
             "config": {"name": "add", "dtype": "float32"}}],
        "input_layers": [["x", 0, 0]], "output_layers": [["add", 0, 0]]}
    model = deserialize_keras_object({"class_name": "Functional", "config": config})
    x = RNG.normal(size=(4, 3)).astype(np.float32)
    w, b = model.get_layer("d").get_weights()
    np.testing.assert_allclose(model.predict(x), 2 * np.maximum(x @ w + b, 0), rtol=1e-6)


def test_deep_graph_without_recursion_limits() -> None:
    x = inputs = keras.Input((2,))
    for _ in range(3000):
        x = L.Activation("linear")(x)
    model = keras.Model(inputs, x)
    clone = keras.Model.from_config(model.get_config())
    data = np.ones((1, 2), np.float32)
    np.testing.assert_array_equal(clone.predict(data), data)


def test_save_load_keras_and_weights(tmp_path: Path) -> None:
    model = _functional()
    x = [RNG.normal(size=(3, 4)).astype(np.float32), RNG.normal(size=(3, 2)).astype(np.float32)]
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    with keras.open(tmp_path / "m.keras") as store:
        assert "layers/sequential/layers/batch_normalization/vars/3" in list(store)
        assert store.attrs("layers/dense/vars")["name"] == "out"
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = _functional()
    fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(model.predict(x), fresh.predict(x))


def test_load_legacy_weights_by_name_into_bigger_model() -> None:
    path = DATA / "tfk_seq" / "tfk_seq_w.h5"
    model = keras.Sequential([keras.Input((4,)), L.Dense(3, activation="relu", name="dense"),
                              L.Dense(2, name="dense_1"), L.Dense(7, name="extra")])
    model.load_weights(path, by_name=True)
    ref = keras.saving.load_model(DATA / "tfk_seq" / "tfk_seq.h5")
    for a, b in zip(ref.get_weights(), model.get_weights()[:4]):
        np.testing.assert_array_equal(a, b)


def test_set_weights_between_models_with_extra_stateless_layers() -> None:
    a = keras.Sequential([keras.Input((4,)), L.Dense(3), L.Dense(2)])
    b = keras.Sequential([keras.Input((4,)), L.Dense(3), L.Dropout(0.5), L.Dense(2),
                          L.Activation("linear")])
    b.set_weights(a.get_weights())
    x = RNG.normal(size=(2, 4)).astype(np.float32)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))


def test_save_load_legacy_h5(tmp_path: Path) -> None:
    model = _functional()
    x = [RNG.normal(size=(3, 4)).astype(np.float32), RNG.normal(size=(3, 2)).astype(np.float32)]
    model.save(tmp_path / "m.h5")
    with keras.open(tmp_path / "m.h5") as store:
        assert store.format == "legacy_h5_model"
        assert store.attrs("model_weights")["layer_names"] == [layer.name
                                                              for layer in model.layers]
        # A nested model is one group, flattened trainable-then-non-trainable.
        assert store.attrs("model_weights/inner_seq")["weight_names"] == [
            "inner_bn/gamma", "inner_bn/beta", "inner_dense/kernel", "inner_dense/bias",
            "inner_bn/moving_mean", "inner_bn/moving_variance"]
    loaded = keras.saving.load_model(tmp_path / "m.h5")
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    fresh = _functional()
    fresh.load_weights(tmp_path / "m.h5")
    np.testing.assert_array_equal(model.predict(x), fresh.predict(x))


def test_clone_model() -> None:
    model = _functional()
    clone = keras.models.clone_model(model)
    assert clone is not model and [layer.name for layer in clone.layers] == [
        layer.name for layer in model.layers]
    clone.set_weights(model.get_weights())
    x = [RNG.normal(size=(2, 4)).astype(np.float32), RNG.normal(size=(2, 2)).astype(np.float32)]
    np.testing.assert_array_equal(model.predict(x), clone.predict(x))
    seq = keras.Sequential([keras.Input((3,)), L.Dense(2)])
    other = keras.models.clone_model(
        seq, clone_function=lambda layer: L.Dense(layer.units, name=layer.name + "_c"))
    assert other.layers[0].name.endswith("_c") and other.get_weights()[0].shape == (3, 2)


def test_load_model_maps_weights_without_sampling_initializers(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((64,)), L.Dense(128), L.Dense(8)])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Zero-copy: the loaded arrays view the file's bytes (read-only).
    assert not loaded.weights[0].numpy().flags.writeable
    # Outside a load, new layers are initialised as usual.
    assert np.any(L.Dense(4)(np.ones((1, 3), np.float32)) != 0)


@keras.saving.register_keras_serializable(package="KsTestModels")
class _Doubler(keras.layers.Layer):
    def __init__(self, units: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(input_shape[-1], self.units))
        self.steps = self.add_weight(name="steps", shape=(), initializer="ones",
                                     trainable=False)

    def call(self, x):
        return 2.0 * (x @ self.w.numpy()) + self.steps.numpy()

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _custom_act(x):
    return np.maximum(x, 0.0) * 0.5


def test_custom_layer_and_activation_guide_example(tmp_path: Path) -> None:
    inputs = keras.Input((3,))
    h = _Doubler(4, name="dbl")(inputs)
    out = L.Dense(2, activation=_custom_act)(h)
    model = keras.Model(inputs, out)
    config = model.get_config()
    record = next(layer for layer in config["layers"] if layer["name"] == "dbl")
    assert record["registered_name"] == "KsTestModels>_Doubler"
    model.save(tmp_path / "c.keras")
    with keras.open(tmp_path / "c.keras") as store:
        # Keras's to_snake_case("_Doubler") is "__doubler".
        assert [k for k in store if k.startswith("layers/__doubler")] == [
            "layers/__doubler/vars/0", "layers/__doubler/vars/1"]
    with pytest.raises(keras.UnknownObjectError, match="_custom_act"):
        keras.saving.load_model(tmp_path / "c.keras")
    with keras.saving.custom_object_scope({"_custom_act": _custom_act}):
        loaded = keras.saving.load_model(tmp_path / "c.keras")
    x = RNG.normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert [w.trainable for w in loaded.get_layer("dbl").weights] == [True, False]


def test_keras2_tensor_kwargs_and_legacy_layer_keys() -> None:
    config = {
        "name": "k2mha", "layers": [
            {"class_name": "InputLayer", "name": "q", "inbound_nodes": [],
             "config": {"batch_input_shape": [None, 4, 3], "dtype": "float32", "name": "q"}},
            {"class_name": "MultiHeadAttention", "name": "mha",
             "inbound_nodes": [[["q", 0, 0, {"value": ["q", 0, 0]}]]],
             "config": {"name": "mha", "num_heads": 2, "key_dim": 3, "dtype": "float32",
                        "attention_axes": [1], "softmax_robust_masking": False,
                        "query_shape": [None, 4, 3], "value_shape": [None, 4, 3],
                        "key_shape": [None, 4, 3]}},
            {"class_name": "DepthwiseConv2D", "name": "unused", "inbound_nodes": [],
             "config": {"name": "unused", "kernel_size": [1, 1], "groups": 1,
                        "dtype": "float32"}}],
        "input_layers": [["q", 0, 0]], "output_layers": [["mha", 0, 0]]}
    model = deserialize_keras_object({"class_name": "Model", "config": config})
    assert model.predict(np.ones((2, 4, 3), np.float32)).shape == (2, 4, 3)
    keys = keras.saving.api.tf_checkpoint_keys(model)
    assert "layer_with_weights-0/_query_dense/kernel/.ATTRIBUTES/VARIABLE_VALUE" in keys


class _FunctionalSubclass(keras.Model):
    def __init__(self, **kwargs):
        inputs = keras.Input((3,))
        outputs = L.Dense(2, name="head")(L.Dense(4, activation="relu", name="body")(inputs))
        super().__init__(inputs, outputs, **kwargs)


def test_functional_api_subclass(tmp_path: Path) -> None:
    model = _FunctionalSubclass(name="fs")
    assert [layer.name for layer in model.layers][-2:] == ["body", "head"]
    x = RNG.normal(size=(2, 3)).astype(np.float32)
    w_body, b_body, w_head, b_head = model.get_weights()
    np.testing.assert_allclose(model.predict(x),
                               np.maximum(x @ w_body + b_body, 0) @ w_head + b_head, rtol=1e-5)
    model.save_weights(tmp_path / "fs.weights.h5")
    with keras.open(tmp_path / "fs.weights.h5") as store:
        assert "layers/dense_1/vars/0" in list(store)
    other = _FunctionalSubclass()
    other.load_weights(tmp_path / "fs.weights.h5")
    np.testing.assert_array_equal(other.predict(x), model.predict(x))


def test_masks_propagate_like_keras() -> None:
    model = keras.Sequential([keras.Input((6,), dtype="int32"), L.Embedding(9, 4, mask_zero=True),
                              L.LSTM(3)])
    ids = np.array([[3, 1, 4, 0, 0, 0], [2, 7, 1, 8, 2, 8]], np.int32)
    out = model.predict(ids)
    emb, lstm = model.layers
    # A post-padded row gives the output of its unpadded prefix.
    np.testing.assert_allclose(out[0], lstm(emb(ids[:1, :3]))[0], rtol=1e-5, atol=1e-7)
    pooled = keras.Sequential([keras.Input((6,), dtype="int32"), emb,
                               L.GlobalAveragePooling1D()]).predict(ids)
    np.testing.assert_allclose(pooled[0], emb(ids[:1, :3])[0].mean(0), rtol=1e-5, atol=1e-8)


def test_keras3_graph_operations_in_configs() -> None:
    kt = {"class_name": "__keras_tensor__"}
    config = {
        "name": "ops", "trainable": True, "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
             "name": "x", "inbound_nodes": [],
             "config": {"batch_shape": [None, 3, 2], "dtype": "float32", "name": "x",
                        "sparse": False, "ragged": False, "optional": False}},
            {"module": "keras.src.ops.numpy", "class_name": "NotEqual",
             "registered_name": "NotEqual", "name": "ne", "config": {"name": "ne"},
             "inbound_nodes": [{"args": [{**kt, "config": {"shape": [None, 3, 2],
                                                           "dtype": "float32",
                                                           "keras_history": ["x", 0, 0]}},
                                         0.0], "kwargs": {}}]},
            {"module": "keras.src.ops.numpy", "class_name": "Any", "registered_name": "Any",
             "name": "any", "config": {"name": "any", "axis": -1, "keepdims": False},
             "inbound_nodes": [{"args": [{**kt, "config": {"shape": [None, 3, 2],
                                                           "dtype": "bool",
                                                           "keras_history": ["ne", 0, 0]}}],
                                "kwargs": {}}]},
            {"module": "keras.layers", "class_name": "SimpleRNN", "registered_name": None,
             "name": "rnn", "config": {"name": "rnn", "units": 2},
             "inbound_nodes": [{"args": [{**kt, "config": {"shape": [None, 3, 2],
                                                           "dtype": "float32",
                                                           "keras_history": ["x", 0, 0]}}],
                                "kwargs": {"mask": {**kt, "config": {
                                    "shape": [None, 3], "dtype": "bool",
                                    "keras_history": ["any", 0, 0]}}}}]}],
        "input_layers": ["x", 0, 0], "output_layers": ["rnn", 0, 0]}
    model = deserialize_keras_object({"module": "keras.src.models.functional",
                                      "class_name": "Functional", "config": config,
                                      "registered_name": "Functional"})
    assert [layer.name for layer in model.layers] == ["x", "rnn"]
    x = RNG.normal(size=(2, 3, 2)).astype(np.float32)
    x[0, 2] = 0
    rnn = model.get_layer("rnn")
    np.testing.assert_allclose(model.predict(x)[0], rnn(x[:1, :2])[0], rtol=1e-5, atol=1e-7)
    again = model.get_config()
    assert [layer["class_name"] for layer in again["layers"]] == ["InputLayer", "NotEqual",
                                                                  "Any", "SimpleRNN"]


def test_keras3_arithmetic_and_slicing_operations() -> None:
    def kt(name, shape):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": shape, "dtype": "float32", "keras_history": [name, 0, 0]}}

    def sl(start):
        return {"class_name": "__slice__", "config": {"start": start, "stop": None,
                                                      "step": None}}

    ops = "keras.src.ops.numpy"
    config = {"name": "arith", "trainable": True, "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
         "name": "x", "inbound_nodes": [],
         "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "x"}},
        {"module": ops, "class_name": "Multiply", "registered_name": "Multiply", "name": "mul",
         "config": {"name": "mul"}, "inbound_nodes": [{"args": [kt("x", [None, 4]), 2.0],
                                                       "kwargs": {}}]},
        {"module": ops, "class_name": "GetItem", "registered_name": "GetItem", "name": "gi",
         "config": {"name": "gi"},
         "inbound_nodes": [{"args": [kt("mul", [None, 4]), [sl(None), sl(1)]],
                            "kwargs": {}}]},
        {"module": ops, "class_name": "Mean", "registered_name": "Mean", "name": "mean",
         "config": {"name": "mean", "axis": 1, "keepdims": True},
         "inbound_nodes": [{"args": [kt("gi", [None, 3])], "kwargs": {}}]}],
        "input_layers": ["x", 0, 0], "output_layers": ["mean", 0, 0]}
    model = deserialize_keras_object({"module": "keras.src.models.functional",
                                      "class_name": "Functional", "config": config,
                                      "registered_name": "Functional"})
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), (2 * x[:, 1:]).mean(1, keepdims=True),
                               rtol=1e-6)
    assert [layer.name for layer in model.layers] == ["x"]
