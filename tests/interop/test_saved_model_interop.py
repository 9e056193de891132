"""kerasave <-> real TensorFlow 2.21 / tf_keras 2.21 SavedModel interop.

(i)   SavedModels written by kerasave (model.save(dir, save_format="tf")) load in
      tf_keras.models.load_model with the same weights and predictions (Sequential, Functional
      with nested Sequential, RNNs, Bidirectional, convolutions, attention, normalisation,
      merges, a registered custom layer with a sublayer).
(ii)  tf.saved_model.load of the same directories restores every variable with equal values.
(iii) SavedModels written by tf_keras now (with and without traces) load in kerasave with
      bit-exact weights and predictions within 1e-5.
(iv)  `kerasave convert saved_model_dir out.keras` (Keras 2 SavedModel -> Keras 3) loads in
      Keras 3 with the same weights and predictions.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
tf_keras = pytest.importorskip("tf_keras")

import kerasave as ks  # noqa: E402

pytestmark = pytest.mark.interop


@ks.saving.register_keras_serializable(package="Interop")
class KsScale(ks.layers.Layer):
    """``inner(x) * alpha`` with a tracked Dense sublayer (kerasave side)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = ks.layers.Dense(3, name="inner_dense")

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer="ones")

    def call(self, x):
        return self.inner(x) * self.alpha.numpy()


class TfkScale(tf_keras.layers.Layer):
    """The same layer on the tf_keras side (registered under the same name)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = tf_keras.layers.Dense(3, name="inner_dense")

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer="ones")
        super().build(input_shape)

    def call(self, x):
        return self.inner(x) * self.alpha


TFK_CUSTOM = {"Interop>KsScale": TfkScale}


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        dtype = np.dtype(getattr(w.dtype, "name", w.dtype))
        value = (rng.standard_normal(tuple(w.shape)) * 0.5).astype(dtype)
        if "variance" in getattr(w, "path", w.name):
            value = np.abs(value) + 0.5
        w.assign(value)
    return model


def _sequential():
    return _randomize(ks.Sequential([
        ks.Input((8,)), ks.layers.Dense(6, activation="relu", name="d1"),
        ks.layers.Dropout(0.2), ks.layers.BatchNormalization(),
        ks.layers.Dense(4, activation="tanh"), ks.layers.LayerNormalization(),
        ks.layers.Dense(2, activation="softmax")], name="seq"))


def _functional():
    inp = ks.Input((8,), name="x")
    inner = ks.Sequential([ks.Input((8,)), ks.layers.Dense(6, name="in_dense"),
                           ks.layers.BatchNormalization(name="in_bn")], name="inner_seq")
    h = inner(inp)
    seq = ks.layers.Reshape((6, 1))(h)
    a = ks.layers.LSTM(4, return_sequences=True, name="lstm")(seq)
    a = ks.layers.Bidirectional(ks.layers.GRU(3), name="bigru")(a)
    b = ks.layers.SimpleRNN(2, name="rnn")(seq)
    c = ks.layers.Conv1D(3, 3, padding="same", activation="relu")(seq)
    c = ks.layers.MaxPooling1D(2)(c)
    c = ks.layers.GlobalAveragePooling1D()(c)
    m = ks.layers.Concatenate()([a, b, c, ks.layers.LeakyReLU(0.1)(h)])
    m = ks.layers.Add()([ks.layers.Dense(5)(m), ks.layers.Dense(5)(m)])
    out = KsScale(name="scale")(m)
    return _randomize(ks.Model(inp, [out, ks.layers.Dense(1, name="aux")(h)], name="func"))


def _conv_attention():
    img = ks.Input((8, 8, 2), name="img")
    x = ks.layers.Conv2D(4, 3, padding="same", activation="relu")(img)
    x = ks.layers.DepthwiseConv2D(3, padding="same")(x)
    x = ks.layers.SeparableConv2D(4, 3)(x)
    x = ks.layers.AveragePooling2D()(x)
    x = ks.layers.Conv2DTranspose(2, 3)(x)
    x = ks.layers.Flatten()(x)
    tokens = ks.Input((5,), name="tokens", dtype="int32")
    e = ks.layers.Embedding(11, 4)(tokens)
    att = ks.layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(e, e)
    att = ks.layers.GlobalMaxPooling1D()(att)
    out = ks.layers.Dense(3)(ks.layers.Concatenate()([x, att]))
    return _randomize(ks.Model([img, tokens], out, name="conv_att"))


def _shared_nested():
    """A shared Dense, a shared nested Functional (Keras 2 node numbering from 1), masking
    (Embedding mask_zero -> LSTM) and TimeDistributed."""
    a = ks.Input((4,), name="a")
    b = ks.Input((4,), name="b")
    shared = ks.layers.Dense(3, name="shared")
    ii = ks.Input((3,))
    inner = ks.Model(ii, ks.layers.Dense(2, name="idense")(ii), name="inner_func")
    x = ks.layers.Concatenate()([inner(shared(a)), inner(shared(b))])
    t_in = ks.Input((5,), dtype="int32", name="t")
    lstm = ks.layers.LSTM(2)(ks.layers.Embedding(10, 3, mask_zero=True)(t_in))
    td = ks.layers.TimeDistributed(ks.layers.Dense(2))(ks.layers.Reshape((2, 2))(a))
    out = ks.layers.Concatenate()([x, lstm, ks.layers.Flatten()(td)])
    return _randomize(ks.Model([a, b, t_in], out, name="multi"))


def _inputs(model, n=4, seed=1):
    rng = np.random.default_rng(seed)
    xs = []
    for t in model.inputs:
        shape = (n,) + tuple(t.shape[1:])
        if "int" in str(t.dtype):
            x = rng.integers(0, 10, shape).astype(np.int32)
            x[:, -2:] = 0  # padding, for masked inputs
            xs.append(x)
        else:
            xs.append(rng.standard_normal(shape).astype(np.float32))
    return xs if len(xs) > 1 else xs[0]


MODELS = {"sequential": _sequential, "functional": _functional,
          "conv_attention": _conv_attention, "shared_nested": _shared_nested}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("ks_saved_models")
    out = {}
    for name, make in MODELS.items():
        model = make()
        path = root / name
        model.save(path, save_format="tf")
        out[name] = (model, path)
    return out


def _as_list(y):
    return [np.asarray(v) for v in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]


@pytest.mark.parametrize("name", list(MODELS))
def test_tf_keras_loads_kerasave_saved_model(written, name):
    model, path = written[name]
    with tf_keras.utils.custom_object_scope(TFK_CUSTOM):
        loaded = tf_keras.models.load_model(path)
    theirs = loaded.get_weights()
    ours = model.get_weights()
    assert len(theirs) == len(ours)
    by_shape = sorted((w.shape, w.tobytes()) for w in theirs)
    assert by_shape == sorted((w.shape, w.tobytes()) for w in ours)
    x = _inputs(model)
    for a, b in zip(_as_list(loaded.predict(x, verbose=0)), _as_list(model.predict(x))):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", list(MODELS))
def test_tf_saved_model_load_restores_every_variable(written, name):
    model, path = written[name]
    loaded = tf.saved_model.load(str(path))
    seen = {}

    def walk(obj, depth=0):
        if isinstance(obj, tf.Variable):
            seen[id(obj)] = obj
            return
        if depth > 8 or not hasattr(obj, "_trackable_children"):
            return
        for child in obj._trackable_children().values():
            walk(child, depth + 1)

    walk(loaded)
    values = sorted((v.shape.as_list(), v.numpy().tobytes()) for v in seen.values())
    expect = sorted((list(w.shape), w.numpy().tobytes()) for w in model.weights)
    assert values == expect


@pytest.fixture(scope="module")
def tfk_written(tmp_path_factory):
    """SavedModels written by tf_keras in this run (traces and no traces)."""
    root = tmp_path_factory.mktemp("tfk_saved_models")
    inp = tf_keras.Input((6,), name="x")
    h = tf_keras.layers.Dense(5, activation="relu")(inp)
    r = tf_keras.layers.Reshape((5, 1))(h)
    g = tf_keras.layers.Bidirectional(tf_keras.layers.GRU(3))(r)
    c = tf_keras.layers.Conv1D(2, 2)(r)
    c = tf_keras.layers.GlobalMaxPooling1D()(c)
    out = tf_keras.layers.Dense(2)(tf_keras.layers.Concatenate()([g, c]))
    model = tf_keras.Model(inp, out, name="tfk_model")
    _randomize(model, seed=3)
    x = np.random.default_rng(4).standard_normal((3, 6)).astype(np.float32)
    y = model.predict(x, verbose=0)
    paths = {}
    for traces in (True, False):
        path = root / f"traces_{traces}"
        model.save(path, save_format="tf", save_traces=traces)
        paths[traces] = path
    return model, x, y, paths


@pytest.mark.parametrize("traces", [True, False])
def test_kerasave_loads_fresh_tf_keras_saved_model(tfk_written, traces):
    model, x, y, paths = tfk_written
    ours = ks.models.load_model(paths[traces])
    for a, b in zip(ours.get_weights(), model.get_weights()):
        assert a.tobytes() == b.tobytes()
    np.testing.assert_allclose(ours.predict(x), y, rtol=0, atol=1e-5)


def test_convert_tf_keras_saved_model_to_keras3(tfk_written, tmp_path):
    """`kerasave convert saved_model_dir out.keras` (Keras 2 -> Keras 3): Keras 3 loads the
    archive with the same weights and predictions."""
    keras = pytest.importorskip("keras")
    from kerasave.cli import main

    model, x, y, paths = tfk_written
    out = tmp_path / "migrated.keras"
    assert main(["convert", str(paths[False]), str(out)]) == 0
    k3 = keras.saving.load_model(out)
    for a, b in zip(k3.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(k3.predict(x, verbose=0), y, rtol=0, atol=1e-5)


def test_compiled_model_with_optimizer_state_round_trips(tmp_path):
    """A tf_keras SavedModel with Adam state -> kerasave (weights + optimizer state) ->
    kerasave SavedModel -> tf_keras compiles the same optimizer; tf.saved_model.load sees the
    optimizer variables with kerasave's values."""
    src = os.path.join(os.path.dirname(__file__), "..", "data", "saved_model", "tfk_seq",
                       "model")
    model = ks.models.load_model(src)
    assert int(model.optimizer.iterations) == 2
    out = tmp_path / "resaved"
    model.save(out, save_format="tf")
    loaded = tf_keras.models.load_model(out)
    assert type(loaded.optimizer).__name__ == "Adam"
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.01)
    assert getattr(loaded.loss, "__name__", loaded.loss) in ("mse", "mean_squared_error")
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    restored = tf.saved_model.load(str(out))
    opt = restored.optimizer
    assert int(opt._iterations.numpy()) == 2
    ours = [v.numpy() for v in model.optimizer.variables]
    theirs = [opt._variables[i].numpy() for i in range(1, len(ours) - 1)]
    for a, b in zip(theirs, ours[2:]):
        np.testing.assert_array_equal(a, b)


ZOO = os.path.join(os.path.dirname(__file__), "..", "data", "keras_zoo")


@pytest.mark.parametrize("case", ["k3_core", "k3_conv", "k3_bf16", "k3_mixed_f16",
                                  "k3_seq_f16"])
def test_keras3_zoo_models_migrate_to_tf_keras(tmp_path, case):
    """Keras 3 models (.keras, from the zoo fixtures) -> kerasave SavedModel -> tf_keras: the
    predictions match Keras 3's recorded outputs (float16/bfloat16 within their rounding).
    k3_seq_f16 has Embedding(mask_zero) masks that Keras 3 wrote as NotEqual nodes; tf_keras
    recomputes them implicitly."""
    import json

    exp = json.loads(open(os.path.join(ZOO, "expected.json")).read())["cases"][case]
    model = ks.models.load_model(os.path.join(ZOO, f"{case}.keras"))
    model.save(tmp_path / "m", save_format="tf")
    loaded = tf_keras.models.load_model(tmp_path / "m")
    xs = [np.asarray(i["value"], dtype=i["dtype"]) for i in exp["inputs"]]
    got = _as_list(loaded.predict(xs if len(xs) > 1 else xs[0], verbose=0))
    want = [np.asarray(o, dtype=np.float32) for o in exp["outputs"]]
    tol = 1e-5 if "f16" not in case and "bf16" not in case else 2e-2
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, np.float32), w, rtol=tol, atol=tol)


def test_tf_keras_subclassed_model_without_config_is_refused(tmp_path):
    """A tf_keras subclassed model without get_config is revivable only from its traced
    functions: kerasave opens it as a store but load_model says why it cannot rebuild it."""

    class Sub(tf_keras.Model):
        def __init__(self):
            super().__init__()
            self.d = tf_keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    model = Sub()
    model(np.zeros((1, 3), np.float32))
    model.save(tmp_path / "sub", save_format="tf")
    with ks.open(tmp_path / "sub") as store:
        # tf_keras lists `variables` before `d`: the bundle keys are variables/0, variables/1.
        assert sorted(store) == ["_CHECKPOINTABLE_OBJECT_GRAPH",
                                 "variables/0/.ATTRIBUTES/VARIABLE_VALUE",
                                 "variables/1/.ATTRIBUTES/VARIABLE_VALUE"]
        assert store.keras_metadata is not None
    with pytest.raises(ks.errors.UnsupportedFormatError, match="no config"):
        ks.models.load_model(tmp_path / "sub")
