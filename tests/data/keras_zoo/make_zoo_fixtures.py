#!/usr/bin/env python3
"""Regenerate the layer-zoo fixtures under tests/data/keras_zoo/ (issue 4).

    python3 tests/data/keras_zoo/make_zoo_fixtures.py            # every case
    python3 tests/data/keras_zoo/make_zoo_fixtures.py k3_core    # only the named case(s)

A handful of small models that together use every layer kerasave implements and every Keras
activation (as ``Activation`` layers and as ``activation=`` arguments), with the interesting
options (padding, strides, dilation, channels_first, use_bias=False, return_sequences/return_state,
go_backwards, GRU reset_after both ways, every Bidirectional merge mode, Embedding(mask_zero) masks
into RNNs and attention, MultiHeadAttention with distinct key/value and causal masks, Dot
normalize, a Lambda, float16/bfloat16/mixed policies and a registered custom layer).

Each model is built by REAL Keras 3.15.1 (``k3_*``) or tf_keras 2.21 (``tfk_*``) with fixed seeds;
every float weight is then overwritten with seeded random values (BatchNormalization moving stats
and Normalization mean/variance included, variances positive) so nothing is a default. Each model
is saved, reloaded with the producing library (weights and predict checked) and recorded.

``expected.json``::

    {"generator": {versions},
     "cases": {"<case>": {"description", "files": ["<case>.keras", "<case>.h5"],
               "safe_mode": bool,             # False: the model holds Lambda bytecode
               "keras_cannot_reload": {"<file>": "<Keras's own error>"},
               "custom": bool,                # needs the test's port of the custom layer
               "get_weights": ["<sha256 of get_weights()[i].tobytes()>", ...],
               "weights_meta": [{"name", "dtype", "shape"}, ...],
               "inputs": [{"dtype", "value": nested list}, ...],    # one per model input
               "outputs": [nested list of float64, ...]}}}           # one per model output
"""
from __future__ import annotations

import hashlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
import tf_keras  # noqa: E402

assert keras.__version__ == "3.15.1", f"pinned to Keras 3.15.1, got {keras.__version__}"
assert tf_keras.__version__.startswith("2.21"), f"need tf_keras 2.21, got {tf_keras.__version__}"

ROOT = os.path.dirname(os.path.abspath(__file__))
GENERATOR = {"keras": keras.__version__, "tf_keras": tf_keras.__version__,
             "tensorflow": tf.__version__, "numpy": np.__version__}

# Every activation Keras 3.15.1 registers (keras.src.activations.ALL_OBJECTS), checked below.
K3_ACTIVATIONS = [
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6",
    "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus",
    "sparse_sigmoid", "sparsemax", "squareplus", "tanh", "tanh_shrink",
    "swish", "hard_swish",  # aliases
]
# `threshold` is registered too but has required arguments, so it cannot be named by a string.
# tf_keras 2.21's public activations.
TFK_ACTIVATIONS = ["elu", "exponential", "gelu", "hard_sigmoid", "linear", "mish", "relu",
                   "selu", "sigmoid", "softmax", "softplus", "softsign", "swish", "tanh",
                   "relu6", "silu", "log_softmax"]


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def k3_seed(n: int) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(n)


def tfk_seed(n: int) -> None:
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(n)


def randomize(model, seed: int) -> None:
    """Overwrite every floating weight with seeded values; variances stay positive."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        dtype = np.dtype(v.numpy().dtype) if not hasattr(v.dtype, "as_numpy_dtype") else \
            np.dtype(v.dtype.as_numpy_dtype)
        name = v.path if hasattr(v, "path") else v.name
        value = v.numpy()
        if value.dtype.kind != "f" and value.dtype.name != "bfloat16":
            continue
        shape = value.shape
        if "variance" in name or "moving_var" in name:
            new = rng.uniform(0.5, 2.0, shape)
        elif "gamma" in name or name.endswith("scale") or "/scale" in name:
            new = rng.uniform(0.5, 1.5, shape)
        else:
            new = rng.normal(0.0, 0.4, shape)
        v.assign(new.astype(np.float32).astype(dtype))
    for layer in model.layers:
        # An adapted Normalization caches mean/variance tensors when adapt() finishes; refresh
        # them from the new weights (Keras does the same after loading).
        if type(layer).__name__ == "Normalization" and getattr(layer, "adapt_mean", None) \
                is not None:
            layer.finalize_state()


def inputs_for(specs, seed: int, batch: int = 3):
    """specs: list of (shape without batch, kind) with kind "f" float or ("i", vocab)."""
    rng = np.random.default_rng(1000 + seed)
    out = []
    for shape, kind in specs:
        if kind == "f":
            out.append(rng.normal(0.0, 1.0, (batch,) + shape).astype(np.float32))
        elif kind == "m":  # 0/1 attention mask, every query sees at least key 0
            a = rng.integers(0, 2, (batch,) + shape).astype(np.int32)
            a[..., 0] = 1
            out.append(a)
        elif kind == "f+0":  # float with trailing all-zero timesteps (for Masking)
            a = rng.normal(0.0, 1.0, (batch,) + shape).astype(np.float32)
            a[0, -2:] = 0.0
            a[1:2, -1:] = 0.0
            out.append(a)
        else:
            vocab = kind[1]
            a = rng.integers(1, vocab, (batch,) + shape).astype(np.int32)
            a[0, -2:] = 0  # padding: masked by Embedding(mask_zero=True)
            a[1:2, -1:] = 0
            out.append(a)
    return out


def _short(v):
    if isinstance(v, list):
        return [_short(u) for u in v]
    # The shortest decimal that round-trips the float32 value: half the JSON of float64 repr.
    return float(repr(np.float32(v)).removeprefix("np.float32(").rstrip(")"))


def to_list(y):
    """Keras output -> nested lists of floats; np.float32(value) recovers the float32 exactly."""
    return _short(np.asarray(y).astype(np.float32).tolist())


def outputs_of(model, xs):
    y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    if not isinstance(y, (list, tuple)):
        y = [y]
    return [np.asarray(v) for v in y]


def save_and_record(case, lib, model, xs, description, safe_mode=True, custom=None, tol=1e-6,
                    keras_only=False):
    k3 = lib is keras
    # tf_keras models only as legacy .h5 (tf_keras's .keras is covered by tests/data/keras/tfk_seq
    # and would push this directory past its 3 MB budget).
    files = [f"{case}.keras", f"{case}.h5"] if k3 else [f"{case}.h5"]
    if keras_only:
        files = [f"{case}.keras"]
    for f in files:
        path = os.path.join(ROOT, f)
        if os.path.exists(path):
            os.remove(path)
        model.save(path)
    ws = model.get_weights()
    want = outputs_of(model, xs)
    # Reload with the producing library: the files must round-trip there first.
    keras_cannot_reload = {}
    for f in files:
        kwargs = {"custom_objects": custom or {}, "compile": False}
        if not safe_mode and (k3 or f.endswith(".keras")):
            kwargs["safe_mode"] = False
        try:
            again = lib.models.load_model(os.path.join(ROOT, f), **kwargs)
        except ValueError as e:
            # Keras 3 legacy .h5 loader cannot rebuild the graph-op nodes (NotEqual, Any...)
            # that Embedding(mask_zero) masks add to a functional model, nor assign bfloat16
            # weights ("No cast function available"): record it, kerasave must still load them.
            if not (k3 and f.endswith(".h5")):
                raise
            keras_cannot_reload[f] = str(e).split(".")[0]
            print(f"  note: {lib.__name__} cannot reload its own {f}: {keras_cannot_reload[f]}")
            continue
        got = again.get_weights()
        assert [sha256(np.ascontiguousarray(a).tobytes()) for a in got] == \
            [sha256(np.ascontiguousarray(a).tobytes()) for a in ws], f"{f}: weights differ"
        for g, w in zip(outputs_of(again, xs), want):
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64),
                                       rtol=tol, atol=tol, err_msg=f)
    meta = [{"name": (v.path if k3 else v.name), "dtype": np.asarray(w).dtype.name,
             "shape": list(np.shape(w))} for v, w in zip(model.weights, ws)]
    return {
        "description": description,
        "files": files,
        "safe_mode": safe_mode,
        "keras_cannot_reload": keras_cannot_reload,
        "custom": bool(custom),
        "get_weights": [sha256(np.ascontiguousarray(a).tobytes()) for a in ws],
        "weights_meta": meta,
        "inputs": [{"dtype": x.dtype.name,
                    "value": to_list(x) if x.dtype.kind == "f" else x.tolist()} for x in xs],
        "outputs": [to_list(y) for y in want],
    }


# --------------------------------------------------------------------------------------------
# Models. `L` is keras.layers or tf_keras.layers; the same builder serves both where the APIs
# agree.
# --------------------------------------------------------------------------------------------

def acts_model(lib, acts):
    """Every activation as an Activation layer and as a Dense ``activation=`` argument."""
    L = lib.layers
    x = L.Input((8,), name="x")
    pre = L.Dense(6, name="pre")(x)
    parts = []
    for a in acts:
        parts.append(L.Activation(a, name=f"act_{a}")(pre))
        parts.append(L.Dense(4, activation=a, name=f"dense_{a}")(x))
    return lib.Model(x, L.Concatenate(name="out")(parts), name="acts")


def core_model(lib, acts):
    L = lib.layers
    k3 = lib is keras
    x = L.Input((8,), name="x")
    parts = []
    if acts:
        pre = L.Dense(6, name="pre")(x)
        for a in acts:
            parts.append(L.Activation(a, name=f"act_{a}")(pre))
            parts.append(L.Dense(4, activation=a, name=f"dense_{a}")(x))
    h = L.Dense(8, use_bias=False, name="nobias")(x)
    h = L.Dropout(0.3)(h)
    bn = L.BatchNormalization(momentum=0.9, epsilon=1e-3)(h)
    bn2 = L.BatchNormalization(center=False, scale=False)(h)
    ln = L.LayerNormalization(epsilon=1e-4)(h)
    ln2 = L.LayerNormalization(center=False)(h)
    un = L.UnitNormalization()(h)
    sm = L.Softmax(axis=-1)(h)
    r1 = L.ReLU()(h)
    r2 = L.ReLU(max_value=0.5, negative_slope=0.1, threshold=0.2)(h)
    lr = (L.LeakyReLU(negative_slope=0.25) if k3 else L.LeakyReLU(alpha=0.25))(h)
    pr = L.PReLU()(h)
    el = L.ELU(alpha=0.7)(h)
    rs = L.Rescaling(0.5, offset=-1.0)(h)
    nm = L.Normalization(axis=-1, name="norm")
    nm.adapt(np.random.default_rng(5).normal(2.0, 3.0, (32, 8)).astype(np.float32))
    nmo = nm(x)
    nm2 = L.Normalization(mean=0.5, variance=4.0, name="norm_const")(x)
    shaped = L.Reshape((4, 2))(h)
    perm = L.Permute((2, 1))(shaped)
    flat = L.Flatten()(perm)
    rep = L.Flatten()(L.RepeatVector(3)(L.Dense(2, name="rep_in")(x)))
    a, b = L.Dense(5, name="ma")(x), L.Dense(5, name="mb")(x)
    c = L.Dense(5, name="mc")(x)
    merges = [L.Add()([a, b, c]), L.Subtract()([a, b]), L.Multiply()([a, b, c]),
              L.Average()([a, b]), L.Maximum()([a, b, c]), L.Minimum()([a, b]),
              L.Dot(axes=1, normalize=True)([a, b]), L.Dot(axes=-1)([a, c]),
              L.Concatenate(axis=-1)([a, b])]
    out = L.Concatenate(name="out")(parts + [bn, bn2, ln, ln2, un, sm, r1, r2, lr, pr, el, rs,
                                             nmo, nm2, flat, rep] + merges)
    return lib.Model(x, [out, L.Dense(3, activation="softmax", name="head")(bn)], name="core")


def conv_model(lib):
    L = lib.layers
    img = L.Input((7, 7, 3), name="img")
    cf = L.Input((2, 5, 5), name="img_cf")
    seq = L.Input((9, 3), name="seq")
    vol = L.Input((4, 4, 4, 2), name="vol")
    outs = []
    c1 = L.Conv2D(4, 3, strides=2, padding="same", activation="relu")(img)
    c2 = L.Conv2D(4, (3, 2), dilation_rate=2, padding="valid", use_bias=False)(img)
    c3 = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="tanh")(img)
    c4 = L.SeparableConv2D(5, 3, depth_multiplier=2, padding="valid")(img)
    c5 = L.SeparableConv2D(3, 2, strides=2, padding="same", use_bias=False)(img)
    t1 = L.Conv2DTranspose(3, 3, strides=2, padding="same")(c1)
    t2 = L.Conv2DTranspose(2, (2, 3), padding="valid", use_bias=False)(c2)
    p1 = L.MaxPooling2D(2)(c3)
    p2 = L.AveragePooling2D(3, strides=1, padding="same")(c4)
    p3 = L.MaxPooling2D((2, 3), strides=(1, 2), padding="same")(img)
    p4 = L.AveragePooling2D(2, padding="valid")(img)
    z = L.ZeroPadding2D(((1, 0), (2, 1)))(c1)
    cr = L.Cropping2D(((1, 2), (0, 3)))(img)
    u1 = L.UpSampling2D(2)(c1)
    u2 = L.UpSampling2D((2, 3), interpolation="bilinear")(c1)
    # Feature maps are model outputs as they are (a Flatten per branch would add ~5 KB of
    # config and HDF5 groups per layer per file); one Flatten keeps the layer covered.
    outs += [L.Flatten()(c1), c2, c3, c4, c5, t1, t2, p1, p2, p3, p4, z, cr, u1, u2]
    outs.append(L.GlobalAveragePooling2D()(c4))
    outs.append(L.GlobalMaxPooling2D()(c3))
    # channels_first
    f1 = L.Conv2D(4, 3, padding="same", data_format="channels_first")(cf)
    f2 = L.MaxPooling2D(2, data_format="channels_first")(f1)
    f3 = L.AveragePooling2D(2, data_format="channels_first")(cf)
    f4 = L.DepthwiseConv2D(2, data_format="channels_first")(cf)
    f5 = L.SeparableConv2D(2, 3, data_format="channels_first")(cf)
    f6 = L.Conv2DTranspose(2, 3, strides=2, data_format="channels_first")(cf)
    f7 = L.BatchNormalization(axis=1)(f1)
    f8 = L.ZeroPadding2D(1, data_format="channels_first")(cf)
    f9 = L.Cropping2D((1, 2), data_format="channels_first")(cf)
    f10 = L.UpSampling2D(2, data_format="channels_first")(cf)
    outs += [f2, f3, f4, f5, f6, f7, f8, f9, f10]
    outs.append(L.GlobalAveragePooling2D(data_format="channels_first")(f1))
    outs.append(L.GlobalMaxPooling2D(data_format="channels_first")(f1))
    # 1D
    d1 = L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="elu")(seq)
    d2 = L.Conv1D(3, 2, strides=2, padding="valid", use_bias=False)(seq)
    d3 = L.Conv1D(3, 3, padding="same", data_format="channels_first")(seq)
    q1 = L.MaxPooling1D(2)(d1)
    q2 = L.AveragePooling1D(3, strides=2, padding="same")(d1)
    q3 = L.MaxPooling1D(2, data_format="channels_first")(seq)
    outs += [d1, d2, d3, q1, q2, q3]
    outs.append(L.GlobalAveragePooling1D()(d2))
    outs.append(L.GlobalMaxPooling1D()(d1))
    outs.append(L.GlobalAveragePooling1D(data_format="channels_first")(seq))
    # 3D
    v1 = L.Conv3D(3, 2, strides=(1, 2, 1), padding="valid", activation="relu")(vol)
    v2 = L.Conv3D(2, 2, padding="same", use_bias=False, dilation_rate=2)(vol)
    outs += [v1, v2]
    return lib.Model([img, cf, seq, vol], outs, name="conv")


def rnn_model(lib):
    L = lib.layers
    tok = L.Input((7,), dtype="int32", name="tok")
    sf = L.Input((6, 3), name="sf")
    e = L.Embedding(20, 6, mask_zero=True, name="emb")(tok)
    outs = []
    s1 = L.LSTM(5, return_sequences=True, name="lstm_seq")(e)
    outs.append(L.GRU(4, reset_after=False, go_backwards=True, name="gru_v1")(s1))
    outs.append(L.GRU(4, reset_after=True, activation="relu",
                      recurrent_activation="hard_sigmoid", name="gru_v3")(e))
    b1 = L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="concat", name="bi_cat")(e)
    td = L.TimeDistributed(L.Dense(2), name="td")(b1)
    outs.append(L.GlobalAveragePooling1D()(td))
    for mode in ("sum",):  # "mul" and "ave" are in more_model
        outs.append(L.Bidirectional(L.GRU(3), merge_mode=mode, name=f"bi_{mode}")(e))
    fw, bw = L.Bidirectional(L.SimpleRNN(2), merge_mode=None, name="bi_none")(e)
    outs += [fw, bw]
    o, st = L.SimpleRNN(4, return_state=True, name="srnn_state")(e)
    outs += [o, st]
    o2, h2, c2 = L.LSTM(3, return_state=True, go_backwards=True, use_bias=False,
                        name="lstm_state")(e)
    outs += [o2, h2, c2]
    bs = L.Bidirectional(L.LSTM(2, return_state=True), name="bi_state")(e)
    outs += list(bs)
    m = L.Masking(mask_value=0.0, name="masking")(sf)
    outs.append(L.SimpleRNN(3, go_backwards=True, activation="relu", name="srnn_m")(m))
    outs.append(L.GRU(3, name="gru_m")(m))
    # (go_backwards + return_sequences without a mask: more_model's lstm_relu)
    return lib.Model([tok, sf], L.Concatenate()(outs), name="rnn")


def mha_model(lib):
    L = lib.layers
    q = L.Input((5, 8), name="q")
    k = L.Input((6, 8), name="k")
    v = L.Input((6, 4), name="v")
    tok = L.Input((5,), dtype="int32", name="tok")
    am = L.Input((5, 6), dtype="int32", name="am")  # explicit attention_mask, cast to bool
    m1 = L.MultiHeadAttention(2, 4, name="mha_kv")(q, v, key=k, attention_mask=am)
    m2 = L.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=5, use_bias=False,
                              output_shape=6, name="mha_proj")(q, k)
    m3, scores = L.MultiHeadAttention(2, 3, name="mha_causal")(
        q, q, use_causal_mask=True, return_attention_scores=True)
    e = L.Embedding(12, 8, mask_zero=True, name="emb")(tok)
    m4 = L.MultiHeadAttention(2, 4, name="mha_masked")(e, e)  # query+value masks from emb
    p4 = L.GlobalAveragePooling1D()(m4)
    return lib.Model([q, k, v, tok, am], [L.Flatten()(m1), m2, m3, p4, scores], name="mha")


def more_model(lib):
    """Second-tier options: int-valued shape args, axis variants, keepdims, transposed conv with
    output_padding, TimeDistributed(Conv2D), stacked masked Bidirectionals, channels_first
    Flatten."""
    L = lib.layers
    k3 = lib is keras
    seq = L.Input((6, 4), name="seq")
    img = L.Input((5, 5, 3), name="img")
    tok = L.Input((6,), dtype="int32", name="tok")
    vid = L.Input((3, 4, 4, 2), name="vid")
    outs = []
    t1 = L.Conv2DTranspose(2, 3, strides=2, output_padding=1, padding="valid")(img)
    t2 = L.Conv2DTranspose(2, 3, dilation_rate=2, padding="same")(img)
    td = L.TimeDistributed(L.Conv2D(2, 2, activation="relu"), name="td_conv")(vid)
    r1 = L.Reshape((-1, 3))(img)
    p1 = L.Permute((3, 1, 2))(img)
    z1 = L.ZeroPadding2D(2)(img)
    fcf = L.Flatten(data_format="channels_first")(img)
    g1 = L.GlobalMaxPooling2D(keepdims=True)(img)
    g2 = L.GlobalAveragePooling1D(keepdims=True)(seq)
    mp = L.MaxPooling1D(3, strides=1, padding="same")(seq)
    ap = L.AveragePooling2D(2, padding="same", data_format="channels_first")(img)
    t3 = L.Conv2DTranspose(2, 2, strides=3, padding="valid")(img)  # kernel < stride
    t4 = L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1)(img)
    g3 = L.Conv2D(3, 2, groups=3, name="grouped2d")(img)
    g4 = L.Conv1D(4, 2, groups=2, name="grouped1d")(seq)
    dw = L.DepthwiseConv2D(2, dilation_rate=2)(img)
    sp = L.SeparableConv2D(2, 2, dilation_rate=2)(img)
    v3 = L.Conv3D(2, 2, data_format="channels_first")(vid)
    a1 = L.AveragePooling1D(2, data_format="channels_first")(seq)
    g5 = L.GlobalMaxPooling1D(data_format="channels_first")(seq)
    outs += [t1, t2, t3, t4, td, r1, p1, z1, g1, g2, mp, ap, fcf, g3, g4, dw, sp, v3,
             a1, g5]
    bn = L.BatchNormalization(axis=1)(seq)
    # tf_keras's LayerNormalization over two axes fails at predict ("scale must be 1D").
    ln = L.LayerNormalization(axis=[1, 2] if k3 else 1)(seq)
    un = L.UnitNormalization(axis=[1, 2])(seq)
    nm = L.Normalization(axis=(1, 2), name="norm12")
    nm.adapt(np.random.default_rng(7).normal(-1.0, 2.0, (16, 6, 4)).astype(np.float32))
    sm = L.Softmax(axis=1)(seq)
    rs = L.Rescaling([0.5, 1.0, 2.0], offset=[0.0, 1.0, -1.0])(img)
    pr = L.PReLU(shared_axes=[1])(seq)
    inv = L.Normalization(mean=1.5, variance=2.0, invert=True, name="norm_inv")(seq)
    outs += [bn, ln, un, nm(seq), sm, rs, pr, inv]
    if k3:
        outs.append(L.LayerNormalization(rms_scaling=True, name="rms")(seq))
    s2 = L.Dense(4, activation="gelu", name="s2")(seq)  # Dense on a 3D input
    outs += [L.Dot(axes=(2, 2), normalize=True)([seq, s2]), L.Concatenate(axis=1)([seq, s2])]
    q4 = L.Reshape((3, 4, 8))(vid)
    outs.append(L.MultiHeadAttention(2, 3, attention_axes=(1, 2), name="mha_axes")(q4, q4))
    e = L.Embedding(15, 5, name="emb_plain")(tok)
    h = L.LSTM(4, return_sequences=True, go_backwards=True, activation="relu",
               recurrent_activation="sigmoid", dropout=0.2, recurrent_dropout=0.1,
               name="lstm_relu")(e)
    h = L.Bidirectional(L.GRU(3, reset_after=False, return_sequences=True), merge_mode="ave",
                        name="bi_gru_ave")(h)
    outs.append(L.GlobalMaxPooling1D()(h))
    em = L.Embedding(15, 5, mask_zero=True, name="emb_mask")(tok)
    b = L.Bidirectional(L.LSTM(3, return_sequences=True), name="bi1")(em)
    b = L.Bidirectional(L.LSTM(2), merge_mode="mul", name="bi2")(b)
    outs.append(b)
    bb = L.Bidirectional(L.GRU(3, return_sequences=True),
                         backward_layer=L.GRU(2, return_sequences=True, go_backwards=True,
                                              activation="relu", reset_after=False),
                         name="bi_backward_layer")(em)
    outs.append(L.GlobalAveragePooling1D()(bb))
    sr = L.SimpleRNN(3, return_sequences=True, name="srnn_seq")(em)
    tdd = L.TimeDistributed(L.Dense(2), name="td_masked")(sr)
    outs.append(L.GlobalAveragePooling1D()(tdd))
    return lib.Model([seq, img, tok, vid], outs, name="more")


def seqmask_model(lib):
    """Sequential: what a masked Bidirectional outputs at padded steps becomes visible (LayerNorm
    makes it non-zero, Masking re-derives the mask from the values). tf_keras only: Keras 3
    records the zero_output_for_mask its Bidirectional forces in the config, tf_keras does not."""
    L = lib.layers
    return lib.Sequential([
        L.Input((7,), dtype="int32"), L.Embedding(20, 6, mask_zero=True),
        L.Bidirectional(L.LSTM(4, return_sequences=True)), L.LayerNormalization(),
        L.Dropout(0.2), L.TimeDistributed(L.Dense(3, activation="relu")), L.Masking(),
        L.GRU(3, return_sequences=True), L.GlobalAveragePooling1D(),
        L.Dense(2, activation="softmax")], name="seqmask")


def seq16_model(lib):
    """Sequence model under a global mixed_float16 policy (float32 head)."""
    L = lib.layers
    tok = L.Input((6,), dtype="int32", name="tok")
    e = L.Embedding(12, 8, mask_zero=True, name="emb")(tok)
    h = L.LSTM(6, return_sequences=True, name="lstm")(e)
    h = L.GRU(8, return_sequences=True, name="gru")(h)
    a = L.MultiHeadAttention(2, 4, name="mha")(h, h)
    c = L.Conv1D(4, 3, padding="same", name="conv")(a)  # drops the mask (Keras warns)
    p = L.GlobalAveragePooling1D()(c)
    out = L.Dense(3, activation="softmax", dtype="float32", name="out")(p)
    return lib.Model(tok, out, name="seq16")


def lambda_model(lib):
    L = lib.layers
    return lib.Sequential([L.Input((4,)), L.Dense(3, name="d1"),
                           L.Lambda(lambda t: t * 2.0 - 1.0, name="lam"),
                           L.Dense(2, name="d2")], name="lam_model")


def k3_policy_model(policy_a, policy_b):
    L = keras.layers
    x = L.Input((6,), name="x")
    h = L.Dense(8, activation="gelu", dtype=policy_a, name="d_a")(x)
    h = L.LayerNormalization(dtype=policy_a, name="ln_a")(h)
    h = L.BatchNormalization(dtype=policy_a, name="bn_a")(h)
    r = L.Reshape((4, 2), dtype=policy_a)(h)
    r = L.Conv1D(3, 2, padding="same", dtype=policy_a, name="conv_a")(r)
    r = L.Flatten(dtype=policy_a)(r)
    h2 = L.Dense(5, activation="tanh", dtype=policy_b, name="d_b")(r)
    out = L.Dense(3, dtype="float32", name="out")(h2)
    return keras.Model(x, out, name="policies")


def tfk_policy_model(policy_a):
    L = tf_keras.layers
    x = L.Input((6,), name="x")
    h = L.Dense(8, activation="gelu", dtype=policy_a, name="d_a")(x)
    h = L.LayerNormalization(dtype=policy_a, name="ln_a")(h)
    h = L.BatchNormalization(dtype=policy_a, name="bn_a")(h)
    r = L.Reshape((4, 2), dtype=policy_a)(h)
    r = L.Conv1D(3, 2, padding="same", dtype=policy_a, name="conv_a")(r)
    r = L.Flatten(dtype=policy_a)(r)
    out = L.Dense(3, dtype="float32", name="out")(r)
    return tf_keras.Model(x, out, name="policies")


@keras.saving.register_keras_serializable(package="Zoo", name="Gate")
class Gate(keras.layers.Layer):
    """Custom layer: ``sigmoid(x @ w + b) * x * scale``; the test ports it."""

    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def build(self, input_shape):
        n = input_shape[-1]
        self.w = self.add_weight(name="w", shape=(n, n), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(n,), initializer="zeros")

    def call(self, x):
        return keras.ops.sigmoid(keras.ops.matmul(x, self.w) + self.b) * x * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@tf_keras.saving.register_keras_serializable(package="Zoo", name="Gate")
class TfkGate(tf_keras.layers.Layer):
    """tf_keras twin of Gate (same registered name)."""

    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def build(self, input_shape):
        n = int(input_shape[-1])
        self.w = self.add_weight(name="w", shape=(n, n), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(n,), initializer="zeros")

    def call(self, x):
        return tf.sigmoid(tf.matmul(x, self.w) + self.b) * x * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def custom_model(lib, gate):
    L = lib.layers
    x = L.Input((5,), name="x")
    h = L.Dense(4, activation="relu", name="d")(x)
    h = gate(scale=1.5, name="gate")(h)
    return lib.Model(x, L.Dense(2, name="out")(h), name="custom")


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------

CONV_IN = [((7, 7, 3), "f"), ((2, 5, 5), "f"), ((9, 3), "f"), ((4, 4, 4, 2), "f")]
RNN_IN = [((7,), ("i", 20)), ((6, 3), "f+0")]
MORE_IN = [((6, 4), "f"), ((5, 5, 3), "f"), ((6,), ("i", 15)), ((3, 4, 4, 2), "f")]
MHA_IN = [((5, 8), "f"), ((6, 8), "f"), ((6, 4), "f"), ((5,), ("i", 12)), ((5, 6), "m")]


def build(case):
    """Returns (lib, model, input specs, description, extra kwargs for save_and_record)."""
    if case == "k3_acts":
        # .keras only: an activation is the same string in the legacy .h5 dialect, and these 64
        # weightless-or-tiny layers cost ~5 KB each per file (HDF5 groups + config).
        k3_seed(11)
        return keras, acts_model(keras, K3_ACTIVATIONS), [((8,), "f")], \
            "Keras 3: every activation as Activation layer and activation= argument", \
            {"keras_only": True}
    if case == "k3_core":
        k3_seed(1)
        return keras, core_model(keras, []), [((8,), "f")], \
            "Keras 3 dense/core/merge layers", {}
    if case == "tfk_core":
        tfk_seed(1)
        return tf_keras, core_model(tf_keras, TFK_ACTIVATIONS), [((8,), "f")], \
            "tf_keras dense/core/merge layers and every tf_keras activation", {}
    if case == "k3_conv":
        k3_seed(2)
        return keras, conv_model(keras), CONV_IN, "Keras 3 conv/pool/pad/crop/upsample 1D-3D", {}
    if case == "tfk_conv":
        tfk_seed(2)
        return tf_keras, conv_model(tf_keras), CONV_IN, "tf_keras conv family", {}
    if case == "k3_rnn":
        k3_seed(3)
        return keras, rnn_model(keras), RNN_IN, "Keras 3 RNNs, masks, Bidirectional", {}
    if case == "tfk_rnn":
        tfk_seed(3)
        return tf_keras, rnn_model(tf_keras), RNN_IN, "tf_keras RNNs, masks, Bidirectional", {}
    if case == "k3_mha":
        k3_seed(4)
        return keras, mha_model(keras), MHA_IN, "Keras 3 MultiHeadAttention variants", {}
    if case == "tfk_mha":
        tfk_seed(4)
        return tf_keras, mha_model(tf_keras), MHA_IN, "tf_keras MultiHeadAttention variants", {}
    if case == "k3_lambda":
        k3_seed(5)
        return keras, lambda_model(keras), [((4,), "f")], "Keras 3 Lambda (bytecode)", \
            {"safe_mode": False}
    if case == "tfk_lambda":
        tfk_seed(5)
        return tf_keras, lambda_model(tf_keras), [((4,), "f")], "tf_keras Lambda (bytecode)", \
            {"safe_mode": False}
    if case == "k3_mixed_f16":
        k3_seed(6)
        return keras, k3_policy_model("mixed_float16", "float16"), [((6,), "f")], \
            "Keras 3 mixed_float16 and float16 policies", {"tol": 1e-3}
    if case == "k3_bf16":
        k3_seed(7)
        return keras, k3_policy_model("mixed_bfloat16", "bfloat16"), [((6,), "f")], \
            "Keras 3 mixed_bfloat16 and bfloat16 policies", {"tol": 1e-2}
    if case == "tfk_mixed_f16":
        tfk_seed(6)
        return tf_keras, tfk_policy_model("mixed_float16"), [((6,), "f")], \
            "tf_keras mixed_float16 policy", {"tol": 1e-3}
    if case == "tfk_mixed_bf16":
        tfk_seed(7)
        return tf_keras, tfk_policy_model("mixed_bfloat16"), [((6,), "f")], \
            "tf_keras mixed_bfloat16 policy", {"tol": 1e-2}
    if case == "k3_more":
        k3_seed(9)
        return keras, more_model(keras), MORE_IN, "Keras 3 second-tier layer options", {}
    if case == "tfk_more":
        tfk_seed(9)
        return tf_keras, more_model(tf_keras), MORE_IN, "tf_keras second-tier layer options", {}
    if case == "k3_seq_f16":
        k3_seed(10)
        keras.config.set_dtype_policy("mixed_float16")
        try:
            model = seq16_model(keras)
        finally:
            keras.config.set_dtype_policy("float32")
        return keras, model, [((6,), ("i", 12))], \
            "Keras 3 masked RNN/MHA/conv model under a global mixed_float16 policy", {"tol": 1e-3}
    if case == "tfk_seq_f16":
        tfk_seed(10)
        tf_keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            model = seq16_model(tf_keras)
        finally:
            tf_keras.mixed_precision.set_global_policy("float32")
        return tf_keras, model, [((6,), ("i", 12))], \
            "tf_keras masked RNN/MHA/conv model under a global mixed_float16 policy", \
            {"tol": 1e-3}
    if case == "tfk_seqmask":
        tfk_seed(12)
        return tf_keras, seqmask_model(tf_keras), [((7,), ("i", 20))], \
            "tf_keras Sequential: masked Bidirectional -> LayerNorm -> Masking -> GRU", {}
    if case == "k3_custom":
        k3_seed(8)
        return keras, custom_model(keras, Gate), [((5,), "f")], \
            "Keras 3 registered custom layer Zoo>Gate", {"custom": {"Zoo>Gate": Gate}}
    if case == "tfk_custom":
        tfk_seed(8)
        return tf_keras, custom_model(tf_keras, TfkGate), [((5,), "f")], \
            "tf_keras registered custom layer Zoo>Gate", {"custom": {"Zoo>Gate": TfkGate}}
    raise SystemExit(f"unknown case {case}")


CASES = ["k3_acts", "k3_core", "tfk_core", "k3_conv", "tfk_conv", "k3_rnn", "tfk_rnn", "k3_mha",
         "tfk_mha", "k3_lambda", "tfk_lambda", "k3_mixed_f16", "k3_bf16", "tfk_mixed_f16",
         "tfk_mixed_bf16", "k3_custom", "tfk_custom", "k3_more", "tfk_more", "k3_seq_f16",
         "tfk_seq_f16", "tfk_seqmask"]


def main(argv):
    from keras.src.activations import ALL_OBJECTS
    assert sorted(o.__name__ for o in ALL_OBJECTS) == sorted(K3_ACTIVATIONS[:-2] + ["threshold"]), \
        "Keras's activation list changed: update K3_ACTIVATIONS"
    path = os.path.join(ROOT, "expected.json")
    doc = {"generator": GENERATOR, "cases": {}}
    if os.path.exists(path):
        with open(path) as f:
            doc["cases"] = json.load(f).get("cases", {})
    for case in argv or CASES:
        lib, model, specs, description, extra = build(case)
        randomize(model, seed=hash_seed(case))
        # conv/more outputs are whole feature maps: one row keeps expected.json small (two for
        # the wide dense models); masked sequence models need three (two padding patterns and
        # none).
        batch = 1 if "conv" in case or "more" in case else 2 if "core" in case or "acts" in case \
            else 3
        xs = inputs_for(specs, hash_seed(case), batch=batch)
        doc["cases"][case] = save_and_record(case, lib, model, xs, description, **extra)
        print(f"{case}: {len(model.weights)} weights, files written and reloaded")
        doc["cases"] = {k: doc["cases"][k] for k in CASES if k in doc["cases"]}
        with open(path, "w") as f:
            json.dump(doc, f, sort_keys=True, allow_nan=False, separators=(",", ":"))
            f.write("\n")


def hash_seed(case: str) -> int:
    return int(sha256(case.encode())[:8], 16)


if __name__ == "__main__":
    main(sys.argv[1:])
