"""Models BUILT AND SAVED BY KERASAVE load in real Keras 3.15.1 and tf_keras 2.21 and predict
the same.

Each architecture is one builder ``build_x(K)`` written once against the API the three
libraries share (``K.Input``, ``K.layers.*``, ``K.Model``, ``K.Sequential``), so "the same
architecture built in Keras" is literally the same code run with ``K = keras`` or
``K = tf_keras``. kerasave builds it, every variable gets a deterministic value, and kerasave
saves it as

* ``m.keras``              ``model.save``          -> Keras 3 ``load_model``
* ``m.weights.h5``         ``model.save_weights``  -> Keras 3 and tf_keras ``load_weights``
* ``m.h5``                 ``model.save`` (legacy) -> Keras 3 ``load_model``; tf_keras
  ``load_model`` and ``load_weights``
* ``w.h5``                 ``model.save_weights`` (tf_keras legacy layout) -> Keras 3 and
  tf_keras ``load_weights``
* ``ckpt``                 ``model.save_weights`` (TF checkpoint, tf_keras keys) -> tf_keras
  ``load_weights``; Keras 3 refuses TF checkpoints even from tf_keras (keras_formats.md §7)
* a SavedModel directory   ``model.save(dir)``     -> tf_keras ``load_model``

and the loaded model's predictions must match kerasave's ``predict`` (1e-5; tf_keras's float16
compute at float16 resolution, see :func:`assert_predicts_same`) and its weights must be
bit-exact. The matrix of
results is in notes/interop.md.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any, Callable, Dict

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
tf_keras = pytest.importorskip("tf_keras")

import kerasave as ks  # noqa: E402

pytestmark = pytest.mark.interop


# -- the architectures ---------------------------------------------------------------------------


def build_sequential(K: Any) -> Any:
    """Sequential MLP with regularizers and constraints, BatchNormalization, Dropout,
    LayerNormalization and a softmax head."""
    return K.Sequential([
        K.Input(shape=(8,), name="x"),
        K.layers.Dense(16, activation="relu", name="d1",
                       kernel_regularizer=K.regularizers.L2(1e-3),
                       bias_regularizer=K.regularizers.L1(0.005),
                       kernel_constraint=K.constraints.MaxNorm(3.0)),
        K.layers.BatchNormalization(name="bn"),
        K.layers.Dropout(0.3, name="drop"),
        K.layers.Dense(8, activation="tanh", name="d2",
                       kernel_regularizer=K.regularizers.L1L2(l1=1e-5, l2=1e-4),
                       kernel_constraint=K.constraints.UnitNorm(axis=0)),
        K.layers.LayerNormalization(name="ln"),
        K.layers.Dense(4, activation="softmax", name="head"),
    ], name="seq")


def build_two_io(K: Any) -> Any:
    """Functional: two inputs, two outputs, a shared layer and a nested functional model."""
    a = K.Input(shape=(6,), name="a")
    b = K.Input(shape=(6,), name="b")
    shared = K.layers.Dense(8, activation="tanh", name="shared")
    ha, hb = shared(a), shared(b)
    inner_in = K.Input(shape=(8,), name="inner_in")
    inner_out = K.layers.LayerNormalization(name="inner_ln")(
        K.layers.Dense(5, activation="relu", name="inner_dense")(inner_in))
    inner = K.Model(inner_in, inner_out, name="inner")
    merged = K.layers.Add(name="add")([ha, hb])
    x = inner(merged)
    out1 = K.layers.Dense(3, name="out1")(x)
    cat = K.layers.Concatenate(name="cat")([x, K.layers.Subtract(name="sub")([ha, hb])])
    out2 = K.layers.Dense(2, activation="sigmoid", name="out2")(cat)
    return K.Model([a, b], [out1, out2], name="two_io")


def build_conv(K: Any) -> Any:
    """Image model: Conv2D, BN, pooling, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose."""
    i = K.Input(shape=(12, 12, 3), name="img")
    x = K.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(i)
    x = K.layers.BatchNormalization(name="bn")(x)
    x = K.layers.MaxPooling2D(2, name="mp")(x)
    x = K.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = K.layers.SeparableConv2D(6, 3, activation="relu", name="sep")(x)
    x = K.layers.Conv2DTranspose(3, 2, strides=2, name="tr")(x)
    x = K.layers.AveragePooling2D(2, name="ap")(x)
    x = K.layers.Conv2D(5, 1, use_bias=False, name="c2")(x)
    y = K.layers.GlobalAveragePooling2D(name="gap")(x)
    z = K.layers.GlobalMaxPooling2D(name="gmp")(x)
    out = K.layers.Dense(3, name="head")(K.layers.Concatenate(name="cat")([y, z]))
    return K.Model(i, out, name="conv")


def build_sequence(K: Any) -> Any:
    """Text model: Embedding, Bidirectional LSTM, GRU, SimpleRNN, MultiHeadAttention,
    LayerNormalization, Conv1D, 1D pooling, merges (Multiply, Average, Maximum)."""
    i = K.Input(shape=(7,), dtype="int32", name="tokens")
    e = K.layers.Embedding(20, 8, name="emb")(i)
    h = K.layers.Bidirectional(K.layers.LSTM(5, return_sequences=True, name="lstm"),
                               name="bi")(e)
    g = K.layers.GRU(6, return_sequences=True, name="gru")(h)
    att = K.layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(g, g)
    x = K.layers.LayerNormalization(name="ln")(K.layers.Add(name="res")([g, att]))
    c = K.layers.Conv1D(6, 2, padding="same", activation="relu", name="conv1d")(x)
    x = K.layers.Multiply(name="mul")([x, c])
    p = K.layers.GlobalMaxPooling1D(name="gmp")(x)
    q = K.layers.GlobalAveragePooling1D(name="gap")(K.layers.MaxPooling1D(2, name="mp")(x))
    r = K.layers.SimpleRNN(6, name="srnn")(x)
    m = K.layers.Maximum(name="max")([K.layers.Average(name="avg")([p, q]), r])
    return K.Model(i, K.layers.Dense(2, name="head")(m), name="sequence")


def build_mixed(K: Any) -> Any:
    """float16 and mixed_float16 layer policies, a float32 head (as the mixed-precision guide
    recommends)."""
    return K.Sequential([
        K.Input(shape=(8,), name="x"),
        K.layers.Dense(16, activation="relu", dtype="mixed_float16", name="d_mixed"),
        K.layers.LayerNormalization(dtype="mixed_float16", name="ln_mixed"),
        K.layers.Dense(8, activation="tanh", dtype="float16", name="d_half"),
        K.layers.Dense(3, dtype="float32", name="head"),
    ], name="mixed")


def build_nested_sequential(K: Any) -> Any:
    """Functional model around two nested Sequentials (one without an Input, built by its
    call), feeding two outputs."""
    i = K.Input(shape=(6,), name="x")
    block = K.Sequential([K.layers.Dense(5, activation="relu", name="b1"),
                          K.layers.Dense(4, name="b2")], name="block")
    h = block(i)
    inner = K.Sequential([K.Input(shape=(4,)), K.layers.Dense(3, name="c1")], name="inner_seq")
    return K.Model(i, [inner(h), K.layers.Dense(2, name="o2")(h)], name="nested_seq")


def build_masked(K: Any) -> Any:
    """Embedding(mask_zero=True) feeding masked recurrent layers (padding must not count)."""
    i = K.Input(shape=(7,), dtype="int32", name="tok")
    e = K.layers.Embedding(20, 6, mask_zero=True, name="emb")(i)
    h = K.layers.Bidirectional(K.layers.GRU(4, return_sequences=True, name="g"), name="bi")(e)
    h = K.layers.LSTM(5, name="l")(h)
    return K.Model(i, K.layers.Dense(2, name="head")(h), name="masked")


def _inputs(name: str, rng: np.random.Generator) -> Any:
    if name == "two_io":
        return [rng.standard_normal((5, 6)).astype("float32"),
                rng.standard_normal((5, 6)).astype("float32")]
    if name == "conv":
        return rng.standard_normal((3, 12, 12, 3)).astype("float32")
    if name == "sequence":
        return rng.integers(0, 20, (4, 7)).astype("int32")
    if name == "masked":
        tokens = rng.integers(1, 20, (4, 7)).astype("int32")
        for row, length in enumerate((7, 3, 1, 5)):
            tokens[row, length:] = 0
        return tokens
    if name == "nested_seq":
        return rng.standard_normal((5, 6)).astype("float32")
    return rng.standard_normal((5, 8)).astype("float32")


BUILDERS: Dict[str, Callable[[Any], Any]] = {
    "sequential": build_sequential,
    "two_io": build_two_io,
    "conv": build_conv,
    "sequence": build_sequence,
    "mixed": build_mixed,
    "nested_seq": build_nested_sequential,
    "masked": build_masked,
}
NAMES = list(BUILDERS)


# -- kerasave builds and saves, once per module --------------------------------------------------


def _set_weights(model: Any, seed: int) -> None:
    """Deterministic values for every variable; variances positive."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        dtype = np.dtype(w.dtype) if str(w.dtype) != "bfloat16" else np.float32
        v = rng.standard_normal(w.shape) * 0.4
        if "variance" in w.name:
            v = np.abs(v) + 0.5
        w.assign(v.astype(dtype))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, SimpleNamespace]:
    out = {}
    for seed, name in enumerate(NAMES):
        d = tmp_path_factory.mktemp(name)
        model = BUILDERS[name](ks)
        model.compile(optimizer="adam", loss="mean_squared_error")
        _set_weights(model, seed)
        x = _inputs(name, np.random.default_rng(100 + seed))
        y = model.predict(x)
        paths = SimpleNamespace(keras=str(d / "m.keras"), weights_h5=str(d / "m.weights.h5"),
                                h5=str(d / "m.h5"), legacy_weights=str(d / "w.h5"),
                                ckpt=str(d / "ckpt"))
        model.save(paths.keras)
        model.save_weights(paths.weights_h5)
        model.save(paths.h5)
        model.save_weights(paths.legacy_weights)
        model.save_weights(paths.ckpt)
        out[name] = SimpleNamespace(model=model, x=x, y=y, weights=model.get_weights(),
                                    paths=paths)
    return out


@pytest.fixture(scope="module")
def keras_saved(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, SimpleNamespace]:
    """The same models built and saved by real Keras 3.15.1 (same weights): for the reverse
    direction, and to show which failures are Keras's own."""
    out = {}
    for seed, name in enumerate(NAMES):
        d = tmp_path_factory.mktemp(f"k3_{name}")
        model = BUILDERS[name](keras)
        _set_weights(model, seed)
        x = _inputs(name, np.random.default_rng(100 + seed))
        paths = SimpleNamespace(keras=str(d / "m.keras"), weights_h5=str(d / "m.weights.h5"),
                                h5=str(d / "m.h5"))
        model.save(paths.keras)
        model.save_weights(paths.weights_h5)
        model.save(paths.h5)
        out[name] = SimpleNamespace(model=model, x=x, y=model.predict(x, verbose=0),
                                    weights=[np.asarray(w) for w in model.get_weights()],
                                    paths=paths)
    return out


# -- comparisons ---------------------------------------------------------------------------------


def _as_list(y: Any) -> list:
    if isinstance(y, dict):
        return [np.asarray(v) for _, v in sorted(y.items())]
    if isinstance(y, (list, tuple)):
        return [np.asarray(v) for v in y]
    return [np.asarray(y)]


def assert_predicts_same(name: str, loaded: Any, case: SimpleNamespace,
                         tf_keras_f16: bool = False) -> None:
    """1e-5 (float32). kerasave's float16 layers round as Keras 3's do (the mixed model matches
    Keras 3 exactly); tf_keras's mixed-precision LayerNormalization rounds differently (max
    difference seen 9.5e-4, i.e. one float16 ulp at 1), so there the float16 bound applies."""
    if isinstance(loaded, ks.Model):
        got = _as_list(loaded.predict(case.x))
    else:
        # An eager call, not predict(): the same numbers without tracing a tf.function per
        # model (tracing masked RNNs cost tf_keras ~10 s per model on the shared box).
        got = _as_list(loaded(case.x, training=False))
    want = _as_list(case.y)
    assert len(got) == len(want)
    tol = 2e-3 if (name == "mixed" and tf_keras_f16) else 1e-5
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g.astype(np.float32), w.astype(np.float32), rtol=tol, atol=tol)


def _key(w: Any) -> tuple:
    w = np.asarray(w)
    return (w.dtype.str, w.shape, w.tobytes())


def assert_weights_exact(loaded: Any, case: SimpleNamespace, ordered: bool) -> None:
    """Bit-exact weights; tf_keras lists a model's trainable weights before its non-trainable
    ones (BN moving statistics move to the end), so there the order is not compared."""
    got = [np.asarray(w) for w in loaded.get_weights()]
    want = case.weights
    assert len(got) == len(want)
    if ordered:
        for g, w in zip(got, want):
            assert _key(g) == _key(w)
    else:
        assert sorted(map(_key, got)) == sorted(map(_key, want))


# -- Keras 3.15.1 --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_keras3_load_model_keras_archive(saved: Dict[str, SimpleNamespace], name: str) -> None:
    case = saved[name]
    loaded = keras.saving.load_model(case.paths.keras)
    assert_weights_exact(loaded, case, ordered=True)
    assert_predicts_same(name, loaded, case)


@pytest.mark.parametrize("name", NAMES)
def test_keras3_load_weights_weights_h5(saved: Dict[str, SimpleNamespace], name: str) -> None:
    case = saved[name]
    model = BUILDERS[name](keras)
    model.load_weights(case.paths.weights_h5)
    assert_weights_exact(model, case, ordered=True)
    assert_predicts_same(name, model, case)


@pytest.mark.parametrize("name", NAMES)
def test_keras3_load_model_legacy_h5(saved: Dict[str, SimpleNamespace], name: str) -> None:
    case = saved[name]
    loaded = keras.saving.load_model(case.paths.h5)
    assert_weights_exact(loaded, case, ordered=True)
    assert_predicts_same(name, loaded, case)


@pytest.mark.parametrize("name", NAMES)
def test_keras3_load_weights_legacy_h5(saved: Dict[str, SimpleNamespace], name: str) -> None:
    case = saved[name]
    for path in (case.paths.legacy_weights, case.paths.h5):
        model = BUILDERS[name](keras)
        model.load_weights(path)
        assert_weights_exact(model, case, ordered=True)
        assert_predicts_same(name, model, case)


def test_keras3_refuses_tf_checkpoints(saved: Dict[str, SimpleNamespace]) -> None:
    """Keras 3 cannot load TF checkpoints at all, not even tf_keras's own (keras_formats.md §7):
    kerasave's checkpoints are for tf_keras and TF."""
    case = saved["sequential"]
    model = build_sequential(keras)
    with pytest.raises(ValueError, match="File format not supported"):
        model.load_weights(case.paths.ckpt)


# -- tf_keras 2.21 -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_tf_keras_load_weights_tf_checkpoint(saved: Dict[str, SimpleNamespace],
                                             name: str) -> None:
    case = saved[name]
    model = BUILDERS[name](tf_keras)
    status = model.load_weights(case.paths.ckpt)
    status.assert_existing_objects_matched()
    assert_weights_exact(model, case, ordered=False)
    assert_predicts_same(name, model, case, tf_keras_f16=True)


@pytest.mark.parametrize("name", NAMES)
def test_tf_keras_load_weights_legacy_h5(saved: Dict[str, SimpleNamespace], name: str) -> None:
    case = saved[name]
    for path in (case.paths.legacy_weights, case.paths.h5):
        model = BUILDERS[name](tf_keras)
        model.load_weights(path)
        assert_weights_exact(model, case, ordered=False)
        assert_predicts_same(name, model, case, tf_keras_f16=True)


#: tf_keras's ``load_weights`` of a Keras 3 ``.weights.h5`` walks tf_keras's own object tree;
#: MultiHeadAttention's sublayers sit elsewhere there, so this fails for Keras 3's own file too.
TFK_WEIGHTS_H5_FAILS = {"sequence": "Layer 'value' expected 2 variables, but received 0"}


@pytest.mark.parametrize("name", NAMES)
def test_tf_keras_load_weights_weights_h5(saved: Dict[str, SimpleNamespace],
                                          keras_saved: Dict[str, SimpleNamespace],
                                          name: str) -> None:
    case = saved[name]
    if name in TFK_WEIGHTS_H5_FAILS:
        for path in (case.paths.weights_h5, keras_saved[name].paths.weights_h5):
            with pytest.raises(ValueError, match=TFK_WEIGHTS_H5_FAILS[name]):
                BUILDERS[name](tf_keras).load_weights(path)
        return
    model = BUILDERS[name](tf_keras)
    model.load_weights(case.paths.weights_h5)
    assert_weights_exact(model, case, ordered=False)
    assert_predicts_same(name, model, case, tf_keras_f16=True)


@pytest.mark.parametrize("name", NAMES)
def test_tf_keras_load_model_legacy_h5(saved: Dict[str, SimpleNamespace],
                                       keras_saved: Dict[str, SimpleNamespace],
                                       name: str) -> None:
    """kerasave writes the legacy ``.h5`` Keras 3 writes (Keras 3 configs: ``batch_shape``,
    dtype policy records), which tf_keras 2.21 cannot read, from Keras 3 itself either
    (keras_formats.md §3.5 item 3). Its weights still load into a tf_keras model
    (test_tf_keras_load_weights_legacy_h5)."""
    for path in (saved[name].paths.h5, keras_saved[name].paths.h5):
        with pytest.raises((TypeError, ValueError), match="batch_shape"):
            tf_keras.models.load_model(path)


@pytest.mark.parametrize("name", NAMES)
def test_tf_keras_load_model_saved_model(saved: Dict[str, SimpleNamespace], name: str,
                                         tmp_path: Any) -> None:
    """A kerasave SavedModel directory (``model.save(dir)``) rebuilds in tf_keras from its
    Keras 2 metadata. (Keras 3 cannot load SavedModels, keras_formats.md §7.)"""
    case = saved[name]
    path = str(tmp_path / "sm")
    case.model.save(path)
    loaded = tf_keras.models.load_model(path)
    assert_weights_exact(loaded, case, ordered=False)
    assert_predicts_same(name, loaded, case, tf_keras_f16=True)


# -- the reverse: kerasave loads the same models saved by Keras 3 ------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_kerasave_loads_keras3_files(keras_saved: Dict[str, SimpleNamespace], name: str) -> None:
    case = keras_saved[name]
    for path in (case.paths.keras, case.paths.h5):
        loaded = ks.models.load_model(path)
        assert_weights_exact(loaded, case, ordered=True)
        assert_predicts_same(name, loaded, case)
    model = BUILDERS[name](ks)
    model.load_weights(case.paths.weights_h5)
    assert_weights_exact(model, case, ordered=True)
    assert_predicts_same(name, model, case)


# -- and kerasave reads back what it wrote -------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_kerasave_round_trip(saved: Dict[str, SimpleNamespace], name: str) -> None:
    case = saved[name]
    for path in (case.paths.keras, case.paths.h5):
        assert_weights_exact(ks.models.load_model(path), case, ordered=True)
    for path in (case.paths.weights_h5, case.paths.legacy_weights, case.paths.ckpt):
        model = BUILDERS[name](ks)
        model.load_weights(path)
        assert_weights_exact(model, case, ordered=True)
        assert_predicts_same(name, model, case)


# -- regularizers and constraints: configs and numbers as Keras 3 -------------------------------

REGULARIZERS = [("L1", {"l1": 0.005}), ("L1", {}), ("L2", {"l2": 1e-3}), ("L2", {}),
                ("L1L2", {"l1": 1e-5, "l2": 1e-4}), ("L1L2", {}),
                ("OrthogonalRegularizer", {"factor": 0.03, "mode": "rows"}),
                ("OrthogonalRegularizer", {"factor": 0.01, "mode": "columns"})]
CONSTRAINTS = [("MaxNorm", {"max_value": 1.5, "axis": 0}), ("MaxNorm", {}), ("NonNeg", {}),
               ("UnitNorm", {"axis": 1}), ("MinMaxNorm", {"min_value": 0.5, "max_value": 1.2,
                                                         "rate": 0.7, "axis": 0})]


@pytest.mark.parametrize("family,name,kwargs",
                         [("regularizers", n, k) for n, k in REGULARIZERS]
                         + [("constraints", n, k) for n, k in CONSTRAINTS])
def test_regularizers_and_constraints_match_keras3(family: str, name: str,
                                                   kwargs: Dict[str, Any]) -> None:
    ours = getattr(getattr(ks, family), name)(**kwargs)
    theirs = getattr(getattr(keras, family), name)(**kwargs)
    record = ks.saving.serialize_keras_object(ours)
    assert record == keras.saving.serialize_keras_object(theirs)
    # Each side reads the other's record.
    assert type(ks.saving.deserialize_keras_object(record)) is type(ours)
    assert type(keras.saving.deserialize_keras_object(record)) is type(theirs)
    w = np.random.default_rng(len(name)).standard_normal((4, 3)).astype("float32")
    # (Keras is given a backend tensor, as in training: its numpy path of `normalize` turns
    # axis 0 into -1, so OrthogonalRegularizer(mode="columns") fails on numpy input.)
    np.testing.assert_allclose(np.asarray(ours(w)),
                               np.asarray(theirs(keras.ops.convert_to_tensor(w))),
                               rtol=1e-5, atol=1e-6)
    # Keras's string identifiers.
    snake = {"L1L2": "l1l2", "OrthogonalRegularizer": "orthogonal_regularizer",
             "MaxNorm": "max_norm", "NonNeg": "non_neg", "UnitNorm": "unit_norm",
             "MinMaxNorm": "min_max_norm"}.get(name, name.lower())
    assert type(getattr(ks, family).get(snake)) is type(ours)
    assert type(getattr(keras, family).get(snake)) is type(theirs)


def test_string_identifiers_in_layer_configs_match_keras3() -> None:
    """``Dense(kernel_regularizer="l2", kernel_constraint="non_neg", activity_regularizer=...)``:
    Keras resolves the strings at construction, so the config holds the records, not the
    strings; and Dense keeps its activity regularizer (kerasave dropped it)."""
    kwargs = dict(kernel_regularizer="l2", bias_regularizer="l1l2", kernel_constraint="non_neg",
                  bias_constraint="max_norm", activity_regularizer="l1")
    ours = ks.layers.Dense(2, **kwargs).get_config()
    theirs = keras.layers.Dense(2, **kwargs).get_config()
    for key in kwargs:
        assert ours[key] == theirs[key], key
    # Unset, Keras writes no activity_regularizer key for Dense.
    assert ("activity_regularizer" in ks.layers.Dense(2).get_config()) == \
        ("activity_regularizer" in keras.layers.Dense(2).get_config())
    ours = ks.layers.Conv2D(2, 3, kernel_regularizer="l1").get_config()
    assert ours["kernel_regularizer"] == \
        keras.layers.Conv2D(2, 3, kernel_regularizer="l1").get_config()["kernel_regularizer"]
