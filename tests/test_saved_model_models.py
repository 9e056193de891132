"""SavedModel directories as models (no TensorFlow needed).

* load_model of the real tf_keras 2.21 fixtures (traces, no traces, legacy optimizer, nested
  functional with LSTM and a registered custom layer): get_weights() bit-exact (sha256 from
  expected.json) and predict within 1e-5 of tf_keras's recorded output.
* SavedModels without Keras metadata (Keras 3 export, tf.Module) open as stores but
  load_model refuses them with UnsupportedFormatError.
* kerasave's writer: model.save(dir, save_format="tf") / a path without suffix; the directory
  reloads with identical weights and predictions, the bundle's object graph mirrors the
  SavedObjectGraph node for node, keys equal save_weights' TF checkpoint keys, keras_metadata
  carries Keras 2 configs, and replacement is atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

import kerasave as keras
from kerasave.errors import CorruptFileError, UnsupportedFormatError
from kerasave.saving import saved_model as sm
from kerasave.saving.api import tf_checkpoint_keys

DATA = Path(__file__).parent / "data" / "saved_model"


@keras.saving.register_keras_serializable(package="Fixture")
class Scale(keras.layers.Layer):
    """kerasave port of the fixture's Fixture>Scale: ``inner(x) * alpha``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = keras.layers.Dense(2, name="inner_dense")

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer="ones")

    def call(self, x):
        return self.inner(x) * self.alpha.numpy()


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


TFK_CASES = ["tfk_seq", "tfk_seq_notraces", "tfk_legacy_opt", "tfk_func_nested"]


@pytest.mark.parametrize("case", TFK_CASES)
def test_tf_keras_fixture_loads_bit_exact(case):
    exp = json.loads((DATA / case / "expected.json").read_text())
    model = keras.models.load_model(DATA / case / "model")
    weights = model.get_weights()
    assert len(weights) == len(exp["get_weights"])
    for w, e in zip(weights, exp["get_weights"]):
        assert list(w.shape) == e["shape"]
        assert str(w.dtype) == e["dtype"]
        assert _sha(w) == e["sha256"]
    x = np.asarray(exp["predict"]["x"], dtype=np.float32)
    np.testing.assert_allclose(model.predict(x), np.asarray(exp["predict"]["y"]),
                               rtol=0, atol=1e-5)


def test_tf_keras_fixture_compile_config_and_structure():
    model = keras.models.load_model(DATA / "tfk_seq" / "model")
    # training_config (tf_keras's Custom>Adam, lr 0.01) compiles the model.
    assert model.get_compile_config()["loss"] == "mse"
    assert type(model.optimizer).__name__ == "Adam"
    assert model.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)
    assert not keras.models.load_model(DATA / "tfk_seq" / "model",
                                       compile=False).get_compile_config()
    nested = keras.models.load_model(DATA / "tfk_func_nested" / "model")
    assert [type(layer).__name__ for layer in nested.layers][:3] == \
        ["InputLayer", "Sequential", "Reshape"]
    assert isinstance(nested.layers[-1] if isinstance(nested.layers[-1], Scale)
                      else next(lay for lay in nested.layers if isinstance(lay, Scale)), Scale)


@pytest.mark.parametrize("case,what", [("k3_export", "keras_metadata.pb"),
                                       ("tf_module", "keras_metadata.pb")])
def test_saved_model_without_keras_metadata(case, what):
    path = DATA / case / "model"
    with keras.open(path) as store:
        assert store.format == "saved_model"
        assert store.config is None
        assert len(list(store)) > 0
        assert isinstance(store.signatures, dict)
    with pytest.raises(UnsupportedFormatError, match=what) as info:
        keras.models.load_model(path)
    assert str(path) in str(info.value)


def test_subclassed_root_without_config_is_refused(tmp_path):
    """A root whose metadata has no config (a subclassed tf_keras model) is refused with a
    message saying why, not rebuilt by guesswork."""
    import shutil

    from kerasave import _core

    model = _seq()
    out = tmp_path / "m"
    model.save(out, save_format="tf")
    spec, meta, _ = sm.build_spec(model)
    root = json.loads(meta[0][3])
    root["config"] = {}
    root["class_name"] = "MyModel"
    meta[0] = (0, "root", "_tf_keras_model", json.dumps(root))
    (out / "keras_metadata.pb").write_bytes(_core.encode_keras_metadata(meta))
    with pytest.raises(UnsupportedFormatError, match="no config"):
        keras.models.load_model(out)
    shutil.rmtree(out)


# -- writer --------------------------------------------------------------------------------

def _seq():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dropout(0.1), keras.layers.Dense(2)], name="seq")
    _randomize(model)
    return model


def _func():
    inp = keras.Input((6,), name="x")
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, name="in_dense"),
                              keras.layers.BatchNormalization(name="in_bn")], name="inner")
    h = inner(inp)
    r = keras.layers.Reshape((5, 1))(h)
    r = keras.layers.LSTM(3, name="lstm")(r)
    c = keras.layers.Concatenate()([r, keras.layers.LeakyReLU(0.2)(h)])
    out = Scale(name="scale")(c)
    model = keras.Model(inp, out, name="func")
    _randomize(model)
    return model


def _shared_nested():
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    shared = keras.layers.Dense(3, name="shared")
    ii = keras.Input((3,))
    inner = keras.Model(ii, keras.layers.Dense(2, name="idense")(ii), name="inner_func")
    x = keras.layers.Concatenate()([inner(shared(a)), inner(shared(b))])
    td = keras.layers.TimeDistributed(keras.layers.Dense(2))(keras.layers.Reshape((2, 2))(a))
    out = keras.layers.Concatenate()([x, keras.layers.Flatten()(td)])
    model = keras.Model([a, b], out, name="multi")
    _randomize(model)
    return model


def _randomize(model):
    rng = np.random.default_rng(0)
    for w in model.weights:
        value = rng.standard_normal(w.shape).astype(w.dtype)
        if "variance" in w.path:
            value = np.abs(value) + 0.5
        w.assign(value)


@pytest.mark.parametrize("make,shape", [(_seq, (5, 3)), (_func, (5, 6)),
                                        (_shared_nested, [(5, 4), (5, 4)])])
@pytest.mark.parametrize("how", ["save_format", "no_suffix", "save_model"])
def test_writer_round_trip(tmp_path, make, shape, how):
    model = make()
    path = tmp_path / "model_dir"
    if how == "save_format":
        model.save(path, save_format="tf")
    elif how == "no_suffix":
        model.save(str(path))
    else:
        keras.saving.save_model(model, path, save_format="tf")
    assert sorted(os.listdir(path)) == ["fingerprint.pb", "keras_metadata.pb",
                                        "saved_model.pb", "variables"]
    assert [p for p in os.listdir(tmp_path) if p != "model_dir"] == []  # no temp left over
    back = keras.models.load_model(path)
    # (Auto-named LSTM cells get fresh names, as in Keras; layer names are kept.)
    assert [lay.name for lay in back.layers] == [lay.name for lay in model.layers]
    assert [w.shape for w in back.weights] == [w.shape for w in model.weights]
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(1)
    x = [rng.standard_normal(s).astype(np.float32) for s in shape] \
        if isinstance(shape, list) else rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(back.predict(x), model.predict(x))


def test_writer_object_graph_mirrors_and_keys(tmp_path):
    model = _func()
    model.save(tmp_path / "m", save_format="tf")
    with keras.open(tmp_path / "m") as store:
        saved = store.saved_model
        graph = store.object_graph()
        keys = {k for k in store if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}
        assert saved["tags"] == ["serve"]
        # fingerprint.pb: TF's checkpoint_hash (FarmHash Fingerprint64 of variables.index).
        from kerasave import _core

        index = (tmp_path / "m" / "variables" / "variables.index").read_bytes()
        assert saved["fingerprint"]["checkpoint_hash"] == _core.fingerprint64(index)
        assert saved["fingerprint"]["producer"] == 4
        assert saved["signatures"] == {}
        assert len(graph.nodes) == len(saved["nodes"])
        for node, tracked in zip(saved["nodes"], graph.nodes):
            assert [tuple(c) for c in node["children"]] == \
                [(c.local_name, c.node_id) for c in tracked.children]
        root = saved["nodes"][0]
        assert root["identifier"] == "_tf_keras_network"
        names = [name for name, _ in root["children"]]
        assert names[:3] == ["layer-0", "layer_with_weights-0", "layer-1"]
        assert names[-1] == "signatures"
        # Same keys as save_weights("prefix") gives (one tf_keras tree for both).
        assert keys == set(tf_checkpoint_keys(model))
        assert "layer_with_weights-1/cell/kernel/.ATTRIBUTES/VARIABLE_VALUE" in keys
        assert "layer_with_weights-2/inner/kernel/.ATTRIBUTES/VARIABLE_VALUE" in keys
        assert "layer_with_weights-2/alpha/.ATTRIBUTES/VARIABLE_VALUE" in keys
        for v in tf_checkpoint_keys(model).values():
            assert v.dtype == "float32"
        meta = {m["node_path"]: m for m in store.keras_metadata}
    assert meta["root"]["identifier"] == "_tf_keras_network"
    assert meta["root.layer-0"]["identifier"] == "_tf_keras_input_layer"
    assert meta["root.layer_with_weights-0"]["identifier"] == "_tf_keras_sequential"
    assert meta["root.layer_with_weights-1"]["identifier"] == "_tf_keras_rnn_layer"
    assert meta["root.layer_with_weights-1.cell"]["metadata"]["class_name"] == "LSTMCell"
    assert meta["root.layer_with_weights-2"]["metadata"]["class_name"] == "Fixture>Scale"


def test_keras2_config_has_no_keras3_keys(tmp_path):
    model = _func()
    record = keras.saving.serialize_keras_object(model)
    k2 = sm.keras2_config(record)
    text = json.dumps(k2)
    for k3_key in ('"module"', '"registered_name"', '"batch_shape"', '"DTypePolicy"',
                   '"quantization_config"', '"__keras_tensor__"', '"negative_slope"',
                   '"build_config"'):
        assert k3_key not in text, k3_key
    layers = {lay["name"]: lay for lay in k2["config"]["layers"]}
    assert layers["x"]["config"]["batch_input_shape"] == [None, 6]
    assert layers["x"]["inbound_nodes"] == []
    # A nested Sequential is called at node 1 in Keras 2 (node 0 is its own input node).
    m = _shared_nested()
    shared = sm.keras2_config(keras.saving.serialize_keras_object(m), m)
    concat = next(lay for lay in shared["config"]["layers"] if lay["class_name"] ==
                  "Concatenate")
    # Calls of a shared nested Functional are nodes 1 and 2 in Keras 2.
    assert [e[:3] for e in concat["inbound_nodes"][0]] == [["inner_func", 1, 0],
                                                           ["inner_func", 2, 0]]
    reshape = next(lay for lay in k2["config"]["layers"] if lay["class_name"] == "Reshape")
    assert reshape["inbound_nodes"] == [[["inner", 1, 0, {}]]]
    concat = next(lay for lay in k2["config"]["layers"] if lay["class_name"] == "Concatenate")
    assert [e[0] for e in concat["inbound_nodes"][0]] == \
        ["lstm", next(n for n in layers if n.startswith("leaky"))]
    assert k2["config"]["input_layers"] == [["x", 0, 0]]
    dense = next(lay for lay in layers["inner"]["config"]["layers"]
                 if lay["class_name"] == "Dense")
    assert dense["config"]["dtype"] == "float32"
    assert dense["config"]["kernel_initializer"] == {"class_name": "GlorotUniform",
                                                     "config": {"seed": None}}
    # kerasave reads its own Keras 2 config back into the same graph.
    rebuilt = keras.saving.deserialize_keras_object(k2)
    assert [lay.name for lay in rebuilt.layers] == [lay.name for lay in model.layers]


def test_writer_replaces_atomically(tmp_path, monkeypatch):
    path = tmp_path / "m"
    first = _seq()
    first.save(path, save_format="tf")
    with pytest.raises(FileExistsError):
        keras.saving.save_model(first, path, overwrite=False, save_format="tf")
    # A failure while writing leaves the old directory untouched and no temp directory.
    import kerasave.checkpoint as ckpt

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_checkpoint", boom)
    second = _seq()
    for w in second.weights:
        w.assign(np.zeros(w.shape, w.dtype))
    with pytest.raises(OSError, match="disk full"):
        second.save(path, save_format="tf")
    assert os.listdir(tmp_path) == ["m"]
    monkeypatch.undo()
    np.testing.assert_array_equal(keras.models.load_model(path).get_weights()[0],
                                  first.get_weights()[0])
    # A successful save replaces it.
    second.save(path, save_format="tf")
    assert os.listdir(tmp_path) == ["m"]
    assert not keras.models.load_model(path).get_weights()[0].any()


def test_load_detects_missing_and_mismatched_variables(tmp_path):
    model = _seq()
    model.save(tmp_path / "m", save_format="tf")
    spec, meta, _ = sm.build_spec(model)
    from kerasave import _core

    # Metadata for a wider first layer: shapes disagree with the bundle.
    root = json.loads(meta[0][3])
    root["config"]["layers"][1]["config"]["units"] = 7
    meta[0] = (0, "root", meta[0][2], json.dumps(root))
    (tmp_path / "m" / "keras_metadata.pb").write_bytes(_core.encode_keras_metadata(meta))
    with pytest.raises(CorruptFileError, match="shape"):
        keras.models.load_model(tmp_path / "m")


def test_json_utils_decoding():
    enc = {"a": {"class_name": "__tuple__", "items": [1, {"class_name": "__tuple__",
                                                          "items": []}]},
           "s": {"class_name": "TensorShape", "items": [None, 3]},
           "u": {"class_name": "TensorShape", "items": None}}
    assert sm.decode_json_utils(enc) == {"a": (1, ()), "s": [None, 3], "u": None}


def test_cli_convert_saved_model_to_keras(tmp_path):
    """`kerasave convert saved_model_dir out.keras`: the tf_keras SavedModel (Keras 2) becomes
    a Keras 3 archive with the same weights and predictions."""
    from kerasave.cli import main

    exp = json.loads((DATA / "tfk_func_nested" / "expected.json").read_text())
    out = tmp_path / "migrated.keras"
    assert main(["convert", str(DATA / "tfk_func_nested" / "model"), str(out)]) == 0
    model = keras.models.load_model(out)
    for w, e in zip(model.get_weights(), exp["get_weights"]):
        assert _sha(w) == e["sha256"]
    x = np.asarray(exp["predict"]["x"], dtype=np.float32)
    np.testing.assert_allclose(model.predict(x), np.asarray(exp["predict"]["y"]),
                               rtol=0, atol=1e-5)
    with keras.open(out) as store:
        assert store.format == "keras_archive"
        assert store.config["class_name"] == "Functional"


def test_cli_convert_keras_to_saved_model_and_back(tmp_path):
    """.keras -> SavedModel directory (no suffix) -> .keras keeps every weight."""
    from kerasave.cli import main

    model = _func()
    src = tmp_path / "m.keras"
    model.save(src)
    assert main(["convert", "--format", "saved_model", str(src), str(tmp_path / "sm")]) == 0
    assert (tmp_path / "sm" / "saved_model.pb").is_file()
    back = keras.models.load_model(tmp_path / "sm")
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", ["tfk_seq", "tfk_legacy_opt"])
def test_optimizer_state_restored_and_rewritten(tmp_path, case):
    """The tf_keras optimizer state (new layout and legacy .OPTIMIZER_SLOT slots) comes back
    through the object graph, and kerasave writes it in the new layout (optimizer/_iterations,
    _learning_rate, _variables/N) so it survives a round trip."""
    model = keras.models.load_model(DATA / case / "model")
    opt = model.optimizer
    assert int(opt.iterations) == 2
    assert any(np.any(v.numpy()) for v in opt.variables[2:])
    with keras.open(DATA / case / "model") as store:
        if case == "tfk_seq":
            np.testing.assert_array_equal(
                opt.variables[2].numpy(),
                store["optimizer/_variables/1/.ATTRIBUTES/VARIABLE_VALUE"])
    model.save(tmp_path / "m", save_format="tf")
    with keras.open(tmp_path / "m") as store:
        assert int(store["optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"]) == 2
        nodes = store.saved_model["nodes"]
        opt_node = nodes[dict(nodes[0]["children"])["optimizer"]]
        assert opt_node["identifier"] == "experimentalOptimizer"
        assert [n for n, _ in opt_node["children"]] == ["_variables", "_iterations",
                                                         "_learning_rate"]
    back = keras.models.load_model(tmp_path / "m")
    for a, b in zip(back.optimizer.variables, opt.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    no_compile = keras.models.load_model(tmp_path / "m", compile=False)
    assert getattr(no_compile, "optimizer", None) is None


@keras.saving.register_keras_serializable(package="Test")
class SubModel(keras.Model):
    """A registered subclassed model with an attribute layer and a list of layers."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.d = keras.layers.Dense(units)
        self.blocks = [keras.layers.Dense(2), keras.layers.Dense(2)]

    def call(self, x):
        return self.blocks[1](self.blocks[0](self.d(x)))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_subclassed_model_round_trip(tmp_path):
    """Lists of sublayers become trackable_list_wrapper nodes; the unbuilt model rebuilt from
    config is built from each node's build_input_shape before its variables are assigned."""
    model = SubModel(name="sub")
    model.build((None, 4))
    _randomize(model)
    model.save(tmp_path / "m", save_format="tf")
    with keras.open(tmp_path / "m") as store:
        nodes = store.saved_model["nodes"]
        assert nodes[0]["identifier"] == "_tf_keras_model"
        blocks = nodes[dict(nodes[0]["children"])["blocks"]]
        assert blocks["identifier"] == "trackable_list_wrapper"
        assert [n for n, _ in blocks["children"]] == ["0", "1"]
        assert "blocks/1/kernel/.ATTRIBUTES/VARIABLE_VALUE" in store
        assert store.keras_metadata[0]["metadata"]["class_name"] == "Test>SubModel"
    back = keras.models.load_model(tmp_path / "m")
    assert isinstance(back, SubModel) and back.units == 3
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(back.predict(x), model.predict(x))


def test_writer_refusals_and_dtypes(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        keras.Sequential([keras.layers.Dense(2)]).save(tmp_path / "u", save_format="tf")
    inp = keras.Input((1,), dtype="string")
    vocab = keras.Model(inp, keras.layers.StringLookup(vocabulary=["a", "b"])(inp))
    with pytest.raises(UnsupportedFormatError, match="vocabular"):
        vocab.save(tmp_path / "v", save_format="tf")
    assert not (tmp_path / "u").exists() and not (tmp_path / "v").exists()
    inp = keras.Input((3,))
    half = keras.Model(inp, keras.layers.Dense(2, dtype="float16")(inp))
    _randomize(half)
    half.save(tmp_path / "h", save_format="tf")
    back = keras.models.load_model(tmp_path / "h")
    assert back.weights[0].dtype == "float16"
    np.testing.assert_array_equal(back.weights[0].numpy(), half.weights[0].numpy())
    with keras.open(tmp_path / "h") as store:
        assert store.dtype("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE") == \
            np.float16


def test_stored_variables_without_counterpart_warn(tmp_path):
    """Metadata describing a smaller model than the stored graph: the extra stored layer
    variables are reported, not silently ignored."""
    from kerasave import _core

    model = _seq()
    model.save(tmp_path / "m", save_format="tf")
    _, meta, _ = sm.build_spec(model)
    root = json.loads(meta[0][3])
    root["config"]["layers"][1]["config"]["use_bias"] = False
    meta[0] = (0, "root", meta[0][2], json.dumps(root))
    (tmp_path / "m" / "keras_metadata.pb").write_bytes(_core.encode_keras_metadata(meta))
    with pytest.warns(UserWarning, match="layer_with_weights-0/bias"):
        keras.models.load_model(tmp_path / "m")


@pytest.mark.parametrize("case", ["tfk_seq", "tfk_seq_notraces", "tfk_legacy_opt",
                                  "tfk_func_nested", "k3_export", "tf_module"])
def test_fingerprint64_matches_tf_written_checkpoint_hash(case):
    from kerasave import _core

    path = DATA / case / "model"
    with keras.open(path) as store:
        want = store.saved_model["fingerprint"]["checkpoint_hash"]
    assert _core.fingerprint64((path / "variables" / "variables.index").read_bytes()) == want


def test_cli_verify_and_inspect_kerasave_saved_model(tmp_path, capsys):
    from kerasave.cli import main

    _func().save(tmp_path / "m", save_format="tf")
    assert main(["verify", str(tmp_path / "m")]) == 0
    assert main(["inspect", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "saved_model" in out and "layer_with_weights-2/alpha" in out


def test_keras3_graph_operations_are_refused(tmp_path):
    """A Keras 3 model whose keras.ops nodes are not the automatic ``mask=`` plumbing
    (k3_mha.keras: attention masks built from NotEqual/LogicalOr...) has no Keras 2 form:
    refused before anything is written."""
    model = keras.models.load_model(Path(__file__).parent / "data" / "keras_zoo" /
                                    "k3_mha.keras")
    with pytest.raises(UnsupportedFormatError, match="graph operation"):
        model.save(tmp_path / "m", save_format="tf")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("activation", ["celu", "hard_sigmoid", "sparsemax"])
def test_activations_without_tf_keras_equivalent_are_refused(tmp_path, activation):
    """Keras 3-only activation names (and hard_sigmoid, which tf_keras defines differently)
    would not load, or load as another function, in tf_keras."""
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(2, activation=activation, name="d")(inp))
    with pytest.raises(UnsupportedFormatError, match=f"'d'.*{activation}"):
        model.save(tmp_path / "m", save_format="tf")
    assert os.listdir(tmp_path) == []


ZOO = Path(__file__).parent / "data" / "keras_zoo"


def test_keras3_automatic_mask_ops_are_dropped(tmp_path):
    """Keras 3 writes Embedding(mask_zero)'s mask as an explicit NotEqual node passed as
    ``mask=``; tf_keras recomputes that mask implicitly, so the node is left out of the Keras 2
    config and the reloaded model predicts the same."""
    exp = json.loads((ZOO / "expected.json").read_text())["cases"]["k3_seq_f16"]
    model = keras.models.load_model(ZOO / "k3_seq_f16.keras")
    model.save(tmp_path / "m", save_format="tf")
    with keras.open(tmp_path / "m") as store:
        text = json.dumps(store.keras_metadata[0]["metadata"])
    assert "NotEqual" not in text and "not_equal" not in text
    back = keras.models.load_model(tmp_path / "m")
    xs = [np.asarray(i["value"], dtype=i["dtype"]) for i in exp["inputs"]]
    x = xs if len(xs) > 1 else xs[0]
    np.testing.assert_array_equal(back.predict(x), model.predict(x))


def test_hand_made_mask_ops_are_refused(tmp_path):
    """A mask op that differs from the implicit one (x != 5 instead of Embedding's x != 0)
    cannot be dropped, so the model is refused; so is a Keras 3-only option."""
    model = keras.models.load_model(ZOO / "k3_seq_f16.keras")
    record = keras.saving.serialize_keras_object(model)
    for layer in record["config"]["layers"]:
        if layer.get("class_name") == "NotEqual":
            layer["inbound_nodes"][0]["args"][1] = 5
    changed = keras.saving.deserialize_keras_object(record)
    changed.set_weights(model.get_weights())
    with pytest.raises(UnsupportedFormatError, match="graph operation"):
        changed.save(tmp_path / "m", save_format="tf")
    inp = keras.Input((4,))
    rms = keras.Model(inp, keras.layers.LayerNormalization(rms_scaling=True, name="rms")(inp))
    with pytest.raises(UnsupportedFormatError, match="rms_scaling"):
        rms.save(tmp_path / "r", save_format="tf")
    assert os.listdir(tmp_path) == []


def test_tf_keras_sgd_without_momentum_restores_cleanly():
    """tf_keras's SGD keeps (unused) momentum slots even with momentum=0; Keras 3's has none:
    the iteration count still comes back, with no fresh-optimizer warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = keras.models.load_model(DATA / "tfk_func_nested" / "model")
    assert type(model.optimizer).__name__ == "SGD"
    assert int(model.optimizer.iterations) == 2
