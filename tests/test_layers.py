"""Layers: Keras-identical configs, weights order, numpy forward passes, Variable API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kerasave as keras
from kerasave.layers.base import clear_session, to_snake_case
from kerasave.saving import deserialize_keras_object, serialize_keras_object

DATA = Path(__file__).parent / "data" / "keras"
L = keras.layers
RNG = np.random.default_rng(0)


def _strip_shared(obj):
    if isinstance(obj, dict):
        return {k: _strip_shared(v) for k, v in obj.items() if k != "shared_object_id"}
    if isinstance(obj, list):
        return [_strip_shared(v) for v in obj]
    return obj


def _my_act(x):
    return np.tanh(x) * 2.0


def _k3_layer_records():
    records = []
    for path in sorted(DATA.glob("*/expected.json")):
        files = json.loads(path.read_text())["files"]
        for name, info in files.items():
            if name.startswith("tfk"):
                continue  # tf_keras configs: read, but kerasave writes Keras 3 configs
            config = info.get("config") if isinstance(info, dict) else None
            if not isinstance(config, dict) or "module" not in config:
                continue
            stack = [config]
            while stack:
                item = stack.pop()
                if isinstance(item, dict):
                    if item.get("module") == "keras.layers" and isinstance(item.get("config"),
                                                                         dict):
                        records.append((f"{name}:{item['config'].get('name')}", item))
                    stack.extend(item.values())
                elif isinstance(item, list):
                    stack.extend(item)
    return records


SUPPORTED = {"InputLayer", "Dense", "BatchNormalization", "Concatenate", "Embedding",
             "GlobalAveragePooling1D", "Identity", "Activation", "Dropout"}
RECORDS = [(i, r) for i, r in _k3_layer_records() if r["class_name"] in SUPPORTED
           and r["config"].get("dtype", {}) and "Quantized" not in json.dumps(r["config"])
           and "MyPkg" not in json.dumps(r["config"])]


@pytest.mark.parametrize("record", [r for _, r in RECORDS], ids=[i for i, _ in RECORDS])
def test_config_round_trips_keras_records(record) -> None:
    clean = {k: v for k, v in _strip_shared(record).items() if k not in ("name", "inbound_nodes")}
    layer = deserialize_keras_object(clean, custom_objects={"MyPkg>my_act": _my_act})
    assert _strip_shared(serialize_keras_object(layer)) == clean


def test_layer_records_found() -> None:
    assert {r["class_name"] for _, r in RECORDS} >= {"Dense", "BatchNormalization",
                                                     "Concatenate", "InputLayer"}


def test_snake_case_and_unique_names() -> None:
    assert [to_snake_case(n) for n in ("Dense", "Conv2D", "ReLU", "PReLU", "GRUCell",
                                       "MultiHeadAttention", "MyHTTPLayer")] == [
        "dense", "conv2d", "re_lu", "p_re_lu", "gru_cell", "multi_head_attention",
        "my_http_layer"]
    clear_session()
    assert [L.Dense(1).name for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    assert L.Dense(1, name="mine").name == "mine"


def test_variable_api() -> None:
    layer = L.Dense(3, name="d")
    layer.build((None, 4))
    k = layer.kernel
    assert (k.name, k.path, k.shape, k.dtype, k.trainable) == ("kernel", "d/kernel", (4, 3),
                                                               "float32", True)
    k.assign(np.ones((4, 3)))
    assert np.array_equal(np.asarray(k), np.ones((4, 3), np.float32))
    assert k.numpy().dtype == np.float32
    with pytest.raises(ValueError):
        k.assign(np.ones((3, 3)))


def test_weights_order_trainable_then_non_trainable() -> None:
    bn = L.BatchNormalization()
    bn.build((None, 3))
    assert [w.name for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in bn.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in bn.non_trainable_weights] == ["moving_mean", "moving_variance"]
    bn.trainable = False
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4


def test_get_set_weights_between_layers() -> None:
    a, b = L.Dense(2), L.Dense(2)
    a.build((None, 3))
    b.build((None, 3))
    b.set_weights(a.get_weights())
    x = RNG.normal(size=(4, 3)).astype(np.float32)
    assert np.array_equal(a(x), b(x))
    with pytest.raises(ValueError):
        b.set_weights(a.get_weights()[:1])


def test_dense_forward() -> None:
    layer = L.Dense(3, activation="relu")
    x = RNG.normal(size=(5, 4)).astype(np.float32)
    y = layer(x)
    w, bias = layer.get_weights()
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, np.maximum(x @ w + bias, 0), rtol=1e-6)


def test_batch_and_layer_normalization_forward() -> None:
    x = RNG.normal(size=(6, 3)).astype(np.float32)
    bn = L.BatchNormalization(epsilon=1e-3)
    bn.build((None, 3))
    g, b, m, v = [RNG.uniform(0.5, 1.5, 3).astype(np.float32) for _ in range(4)]
    bn.set_weights([g, b, m, v])
    np.testing.assert_allclose(bn(x), (x - m) / np.sqrt(v + 1e-3) * g + b, rtol=1e-5)
    ln = L.LayerNormalization()
    y = ln(x)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-5)


def test_merges_and_shapes() -> None:
    a = RNG.normal(size=(2, 3)).astype(np.float32)
    b = RNG.normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_allclose(L.Add()([a, b]), a + b)
    np.testing.assert_allclose(L.Subtract()([a, b]), a - b)
    np.testing.assert_allclose(L.Multiply()([a, b]), a * b)
    np.testing.assert_allclose(L.Average()([a, b]), (a + b) / 2)
    np.testing.assert_allclose(L.Maximum()([a, b]), np.maximum(a, b))
    np.testing.assert_allclose(L.Minimum()([a, b]), np.minimum(a, b))
    assert L.Concatenate()([a, b]).shape == (2, 6)
    assert L.Flatten()(np.zeros((2, 3, 4))).shape == (2, 12)
    assert L.Reshape((4, 3))(np.zeros((2, 12))).shape == (2, 4, 3)
    assert L.Permute((2, 1))(np.zeros((2, 3, 4))).shape == (2, 4, 3)
    assert L.RepeatVector(5)(np.zeros((2, 3))).shape == (2, 5, 3)
    np.testing.assert_allclose(L.Dropout(0.5)(a), a)
    np.testing.assert_allclose(L.Softmax()(a).sum(-1), 1, rtol=1e-6)
    np.testing.assert_allclose(L.ReLU()(a), np.maximum(a, 0))
    np.testing.assert_allclose(L.LeakyReLU(0.1)(a), np.where(a >= 0, a, 0.1 * a), rtol=1e-6)
    np.testing.assert_allclose(L.Rescaling(2.0, 1.0)(a), a * 2 + 1, rtol=1e-6)


def test_embedding_and_normalization() -> None:
    emb = L.Embedding(10, 4)
    out = emb(np.array([[1, 2], [3, 9]]))
    assert out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out[0, 0], emb.embeddings.numpy()[1])
    norm = L.Normalization(mean=2.0, variance=4.0)
    np.testing.assert_allclose(norm(np.array([[4.0, 6.0]], np.float32)), [[1.0, 2.0]])
    adapt = L.Normalization()
    data = RNG.normal(3, 2, size=(100, 2)).astype(np.float32)
    adapt.adapt(data)
    np.testing.assert_allclose(adapt(data).mean(0), 0, atol=1e-4)


def _naive_conv2d(x, k, stride):
    n, h, w, _ = x.shape
    kh, kw, _, f = k.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, k, axes=([1, 2, 3], [0, 1, 2]))
    return out


def test_conv_and_pooling() -> None:
    x = RNG.normal(size=(2, 7, 6, 3)).astype(np.float32)
    conv = L.Conv2D(4, 3, strides=2)
    y = conv(x)
    kernel, bias = conv.get_weights()
    np.testing.assert_allclose(y, _naive_conv2d(x, kernel, 2) + bias, rtol=1e-4, atol=1e-5)
    assert L.Conv2D(4, 3, padding="same")(x).shape == (2, 7, 6, 4)
    assert L.Conv1D(5, 3, padding="causal")(x[:, :, 0, :]).shape == (2, 7, 5)
    mp = L.MaxPooling2D()(x)
    assert mp.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(mp[0, 0, 0], x[0, :2, :2].max(axis=(0, 1)))
    ap = L.AveragePooling2D()(x)
    np.testing.assert_allclose(ap[0, 1, 2], x[0, 2:4, 4:6].mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(L.GlobalAveragePooling2D()(x), x.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(L.GlobalMaxPooling2D()(x), x.max(axis=(1, 2)))
    assert L.MaxPooling2D(padding="same")(x).shape == (2, 4, 3, 3)


def test_activations_registered_and_named() -> None:
    names = ["relu", "sigmoid", "softmax", "tanh", "linear", "elu", "selu", "gelu", "silu",
             "softplus", "softsign", "exponential", "hard_sigmoid", "leaky_relu", "relu6",
             "mish", "log_softmax", "hard_silu"]
    x = np.linspace(-3, 3, 7, dtype=np.float32)
    for name in names:
        fn = keras.activations.get(name)
        assert keras.activations.serialize(fn) == name
        assert fn(x).shape == x.shape
    np.testing.assert_allclose(keras.activations.get("sigmoid")(x), 1 / (1 + np.exp(-x)),
                               rtol=1e-6)


def test_initializers_configs() -> None:
    init = keras.initializers.GlorotUniform(seed=1)
    assert serialize_keras_object(init) == {
        "module": "keras.initializers", "class_name": "GlorotUniform",
        "config": {"seed": 1, "input_axes": None, "output_axes": None},
        "registered_name": None}
    w = init((100, 50))
    limit = np.sqrt(6 / 150)
    assert w.shape == (100, 50) and np.abs(w).max() <= limit
    assert np.array_equal(keras.initializers.get("ones")((2,)), np.ones(2, np.float32))


class Scale(keras.layers.Layer):
    def __init__(self, factor: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_custom_layer_with_custom_object_scope() -> None:
    layer = Scale(3.0, name="s")
    config = serialize_keras_object(layer)
    assert config["class_name"] == "Scale" and config["config"]["factor"] == 3.0
    with keras.saving.custom_object_scope({"Scale": Scale}):
        clone = deserialize_keras_object(config)
    assert isinstance(clone, Scale) and clone.factor == 3.0
    np.testing.assert_allclose(clone(np.ones((1, 2), np.float32)), [[3.0, 3.0]])


def _sig(x):
    return 1 / (1 + np.exp(-x))


def test_recurrent_layers_forward() -> None:
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    rnn = L.SimpleRNN(4, return_sequences=True)
    y = rnn(x)
    w, u, b = rnn.get_weights()
    h = np.zeros((2, 4), np.float32)
    for t in range(5):
        h = np.tanh(x[:, t] @ w + h @ u + b)
        np.testing.assert_allclose(y[:, t], h, rtol=1e-5, atol=1e-6)
    lstm = L.LSTM(4)
    w, u, b = lstm.get_weights() if lstm.built else (None, None, None)
    out = lstm(x)
    w, u, b = lstm.get_weights()
    assert np.array_equal(b[4:8], np.ones(4, np.float32))  # unit_forget_bias
    h = c = np.zeros((2, 4), np.float32)
    for t in range(5):
        z = x[:, t] @ w + h @ u + b
        i, f, g, o = _sig(z[:, :4]), _sig(z[:, 4:8]), np.tanh(z[:, 8:12]), _sig(z[:, 12:])
        c = f * c + i * g
        h = o * np.tanh(c)
    np.testing.assert_allclose(out, h, rtol=1e-5, atol=1e-6)
    gru = L.GRU(4, return_state=True)
    seq, state = gru(x)
    assert gru.get_weights()[2].shape == (2, 12)
    np.testing.assert_array_equal(seq, state)
    back = L.SimpleRNN(4, go_backwards=True)
    back.build((None, 5, 3))
    back.set_weights(rnn.get_weights())
    np.testing.assert_allclose(back(x), L.SimpleRNN.__call__(rnn, x[:, ::-1])[:, -1],
                               rtol=1e-5, atol=1e-6)


def test_bidirectional_and_time_distributed() -> None:
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    bi = L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode="concat")
    y = bi(x)
    assert y.shape == (2, 5, 8)
    np.testing.assert_allclose(y[:, :, :4], bi.forward_layer(x), rtol=1e-6)
    np.testing.assert_allclose(y[:, :, 4:], bi.backward_layer(x)[:, ::-1], rtol=1e-6)
    assert bi.backward_layer.go_backwards and bi.forward_layer.name.startswith("forward_")
    td = L.TimeDistributed(L.Dense(2))
    y = td(x)
    k, b = td.get_weights()
    np.testing.assert_allclose(y, x @ k + b, rtol=1e-5)


def test_recurrent_model_keras_paths(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((5, 3)),
                              L.Bidirectional(L.GRU(4, return_sequences=True)),
                              L.TimeDistributed(L.Dense(2)), L.LSTM(3)])
    model.save(tmp_path / "r.keras")
    with keras.open(tmp_path / "r.keras") as store:
        keys = set(store)
    assert {"layers/bidirectional/forward_layer/cell/vars/2",
            "layers/bidirectional/backward_layer/cell/vars/0",
            "layers/time_distributed/layer/vars/1", "layers/lstm/cell/vars/2"} <= keys
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "r.keras").predict(x),
                                  model.predict(x))


def test_lambda_needs_unsafe_mode(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((2,)), L.Lambda(lambda t: t * 3)])
    model.save(tmp_path / "l.keras")
    with pytest.raises(keras.UnsafeConfigError):
        keras.saving.load_model(tmp_path / "l.keras")
    loaded = keras.saving.load_model(tmp_path / "l.keras", safe_mode=False)
    np.testing.assert_allclose(loaded.predict(np.ones((1, 2), np.float32)), [[3.0, 3.0]])


def test_masking_zeroes_padded_steps() -> None:
    x = np.array([[[1.0, 2.0], [0.0, 0.0]]], np.float32)
    np.testing.assert_array_equal(L.Masking()(x), x)
    x2 = np.array([[[1.0, 2.0], [5.0, 5.0]]], np.float32)
    np.testing.assert_array_equal(L.Masking(5.0)(x2), [[[1.0, 2.0], [0.0, 0.0]]])


def test_multi_head_attention(tmp_path: Path) -> None:
    q_in, v_in = keras.Input((5, 8)), keras.Input((7, 6))
    mha = L.MultiHeadAttention(num_heads=2, key_dim=4)
    model = keras.Model([q_in, v_in], mha(q_in, v_in))
    q = RNG.normal(size=(2, 5, 8)).astype(np.float32)
    v = RNG.normal(size=(2, 7, 6)).astype(np.float32)
    out = model.predict([q, v])
    wq, bq, wk, bk, wv, bv, wo, bo = mha.get_weights()
    assert wq.shape == (8, 2, 4) and wo.shape == (2, 4, 8) and bo.shape == (8,)
    qh = np.einsum("btd,dhk->bthk", q, wq) + bq
    kh = np.einsum("bsd,dhk->bshk", v, wk) + bk
    vh = np.einsum("bsd,dhk->bshk", v, wv) + bv
    logits = np.einsum("bthk,bshk->bhts", qh, kh) / 2.0
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    ctx = np.einsum("bhts,bshk->bthk", p, vh)
    np.testing.assert_allclose(out, np.einsum("bthk,hkd->btd", ctx, wo) + bo, rtol=1e-4,
                               atol=1e-5)
    model.save(tmp_path / "a.keras")
    with keras.open(tmp_path / "a.keras") as store:
        assert {f"layers/multi_head_attention/{n}_dense/vars/1"
                for n in ("query", "key", "value", "output")} <= set(store)
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "a.keras").predict([q, v]),
                                  out)


def test_depthwise_separable_and_transpose_convs() -> None:
    x = RNG.normal(size=(2, 7, 6, 3)).astype(np.float32)
    dw = L.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False)
    y = dw(x)
    k = dw.get_weights()[0]
    for c in range(3):
        for m in range(2):
            ref = _naive_conv2d(x[..., c:c + 1], k[:, :, c:c + 1, m:m + 1], 1)[..., 0]
            np.testing.assert_allclose(y[..., c * 2 + m], ref, rtol=1e-4, atol=1e-5)
    sep = L.SeparableConv2D(4, 3, use_bias=False)
    out = sep(x)
    dk, pk = sep.get_weights()
    depth = np.stack([_naive_conv2d(x[..., c:c + 1], dk[:, :, c:c + 1, :1], 1)[..., 0]
                      for c in range(3)], axis=-1)
    np.testing.assert_allclose(out, depth @ pk[0, 0], rtol=1e-4, atol=1e-5)
    # Conv2DTranspose is the adjoint of Conv2D with the same kernel and strides.
    conv = L.Conv2D(5, 3, strides=2, use_bias=False)
    xc = RNG.normal(size=(1, 7, 7, 3)).astype(np.float32)
    yc = conv(xc)
    tr = L.Conv2DTranspose(3, 3, strides=2, use_bias=False)
    tr.build((None, 3, 3, 5))
    tr.set_weights(conv.get_weights())
    g = RNG.normal(size=yc.shape).astype(np.float32)
    back = tr(g)
    assert back.shape == xc.shape
    np.testing.assert_allclose(np.sum(yc * g), np.sum(xc * back), rtol=1e-4)
    assert L.Conv2DTranspose(4, 3, strides=2, padding="same")(x).shape == (2, 14, 12, 4)


# -- issue 4: behaviours the layer zoo (tests/data/keras_zoo) pinned down -----------------------


def test_sparse_sigmoid_and_keras_sparsemax() -> None:
    x = np.array([[-2.0, -1.0, -0.5, 0.5, 1.0, 3.0]], np.float32)
    np.testing.assert_array_equal(keras.activations.get("sparse_sigmoid")(x),
                                  [[0.0, 0.0, 0.25, 0.75, 1.0, 1.0]])
    # Keras's tau is (sum of the cumulative sums inside the support - 1) / k: for [1, 0.8, -1]
    # the support is {1, 0.8}, cumsums 1 and 1.8, tau = (2.8 - 1) / 2 = 0.9.
    y = keras.activations.get("sparsemax")(np.array([[1.0, 0.8, -1.0]], np.float32))
    np.testing.assert_allclose(y, [[0.1, 0.0, 0.0]], atol=1e-7)


def test_hard_sigmoid_follows_the_writing_keras_version() -> None:
    from kerasave.activations import keras_version_scope

    x = np.array([-3.0, -1.0, 0.0, 1.0, 3.0], np.float32)
    np.testing.assert_allclose(keras.activations.get("hard_sigmoid")(x),
                               [0.0, 1 / 3, 0.5, 2 / 3, 1.0], rtol=1e-6)
    with keras_version_scope("2.21.0"):
        layer = L.Dense.from_config({"units": 1, "activation": "hard_sigmoid"})
        np.testing.assert_allclose(layer.activation(x), [0.0, 0.3, 0.5, 0.7, 1.0], rtol=1e-6)
        assert layer.get_config()["activation"] == "hard_sigmoid"
    with keras_version_scope("3.15.1"):
        layer = L.Dense.from_config({"units": 1, "activation": "hard_sigmoid"})
        np.testing.assert_allclose(layer.activation(x)[1], 1 / 3, rtol=1e-6)


def test_upsampling_bilinear_half_pixel() -> None:
    x = np.array([0.0, 4.0], np.float32).reshape(1, 1, 2, 1)
    y = L.UpSampling2D((1, 2), interpolation="bilinear")(x)
    # Half-pixel centers: source positions -0.25, 0.25, 0.75, 1.25 (clamped at the edges).
    np.testing.assert_allclose(y.reshape(-1), [0.0, 1.0, 3.0, 4.0])
    with pytest.raises(NotImplementedError, match="bicubic"):
        L.UpSampling2D(2, interpolation="bicubic")(x)


@pytest.mark.parametrize("kernel,strides,padding,output_padding,dilation,want", [
    (3, 2, "same", None, 1, 8),      # n * s
    (3, 2, "same", 1, 1, 8),         # (n - 1) * s + k - 2 * (k // 2) + op
    (3, 2, "valid", 1, 1, 10),       # (n - 1) * s + k + op
    (2, 3, "valid", None, 1, 12),    # kernel < stride: n * s
    (3, 1, "same", None, 2, 4),      # dilated
    (3, 1, "valid", None, 2, 8),     # effective kernel 5
])
def test_conv2d_transpose_output_length(kernel, strides, padding, output_padding, dilation,
                                        want) -> None:
    layer = L.Conv2DTranspose(1, kernel, strides=strides, padding=padding,
                              output_padding=output_padding, dilation_rate=dilation,
                              use_bias=False)
    x = RNG.standard_normal((1, 4, 4, 1)).astype(np.float32)
    y = layer(x)
    assert y.shape == (1, want, want, 1)
    if padding == "valid" and output_padding is None and kernel >= strides:
        # The definition: input pixel a adds tap i at a * stride + i * dilation.
        k = layer.kernel.numpy()[:, :, 0, 0]
        ref = np.zeros((want, want), np.float32)
        for a in range(4):
            for b in range(4):
                for i in range(kernel):
                    for j in range(kernel):
                        ref[a * strides + i * dilation, b * strides + j * dilation] += \
                            x[0, a, b, 0] * k[i, j]
        np.testing.assert_allclose(y[0, :, :, 0], ref, rtol=1e-5, atol=1e-6)


def test_layer_normalization_rms_scaling_is_keras_variance() -> None:
    x = np.array([[1.0, 2.0, 3.0, 6.0]], np.float32)
    layer = L.LayerNormalization(rms_scaling=True, epsilon=0.0)
    y = layer(x)
    np.testing.assert_allclose(y, x / np.sqrt(np.var(x)), rtol=1e-6)


def test_multi_head_attention_masks_and_axes() -> None:
    clear_session()
    tok = keras.Input((3,), dtype="int32")
    e = L.Embedding(5, 4, mask_zero=True)(tok)
    mha = L.MultiHeadAttention(1, 2)
    out = L.GlobalAveragePooling1D()(mha(e, e))
    model = keras.Model(tok, out)
    ids = np.array([[1, 2, 0]], np.int32)
    # The padded step is neither attended to (value mask) nor averaged (query mask passes on).
    emb = model.layers[1](ids)
    direct = mha(emb[:, :2], emb[:, :2]).mean(axis=1)
    np.testing.assert_allclose(model.predict(ids), direct, rtol=1e-5, atol=1e-6)
    # attention_axes over two index dimensions: scores (batch, heads, 2, 3, 2, 3).
    x = RNG.standard_normal((1, 2, 3, 4)).astype(np.float32)
    mha2 = L.MultiHeadAttention(2, 3, attention_axes=(1, 2))
    y, scores = mha2(x, x, return_attention_scores=True)
    assert y.shape == x.shape and scores.shape == (1, 2, 2, 3, 2, 3)
    np.testing.assert_allclose(scores.sum(axis=(-2, -1)), 1.0, rtol=1e-5)


def test_model_from_json_uses_the_recorded_keras_version() -> None:
    from kerasave.activations import hard_sigmoid, hard_sigmoid_keras2

    model = keras.Sequential([keras.Input((3,)), L.Dense(2, activation="hard_sigmoid")])
    data = json.loads(model.to_json())
    data["keras_version"] = "2.21.0"  # as tf_keras's to_json writes it
    assert keras.models.model_from_json(json.dumps(data)).layers[-1].activation \
        is hard_sigmoid_keras2
    data.pop("keras_version")
    assert keras.models.model_from_json(json.dumps(data)).layers[-1].activation is hard_sigmoid


def test_add_variable_is_keras3_add_weight():
    """Keras 3's ``add_variable(shape, initializer, ...)`` creates the same tracked variable."""

    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_variable((input_shape[-1], 2), "ones", name="kernel")
            self.count = self.add_variable((), "zeros", dtype="int64", trainable=False,
                                           name="count")

        def call(self, x):
            return x @ np.asarray(self.kernel)

    layer = Scale(name="scale")
    out = layer(np.ones((1, 3), "float32"))
    np.testing.assert_array_equal(out, np.full((1, 2), 3.0, "float32"))
    assert [w.path for w in layer.trainable_weights] == ["scale/kernel"]
    assert [w.path for w in layer.non_trainable_weights] == ["scale/count"]
    assert layer.non_trainable_weights[0].dtype == "int64"
