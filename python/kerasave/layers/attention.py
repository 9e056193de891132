"""``EinsumDense`` and ``MultiHeadAttention`` (numpy inference)."""

from __future__ import annotations

import string
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from kerasave import activations, initializers
from kerasave import ops as _ops
from kerasave.layers.base import KerasTensor, Layer, _register
from kerasave.layers.core import _ser_init


@_register
class EinsumDense(Layer):
    """A dense layer written as an einsum: ``einsum(equation, x, kernel) + bias``.

    Args:
        equation: E.g. ``"abc,cde->abde"``.
        output_shape: Output shape without the batch dimension (None entries come from the
            input).
        activation: Activation.
        bias_axes: Output characters that carry a bias, e.g. ``"de"``.
        kernel_initializer: Initializer.
        bias_initializer: Initializer.
        kernel_regularizer: Recorded only.
        bias_regularizer: Recorded only.
        kernel_constraint: Recorded only.
        bias_constraint: Recorded only.
        lora_rank: Recorded only.
        **kwargs: Base layer arguments.
    """

    def __init__(self, equation: str, output_shape: Any, activation: Any = None,
                 bias_axes: Optional[str] = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: Any = None, lora_alpha: Any = None,
                 quantization_config: Any = None, activity_regularizer: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.equation = equation
        self.partial_output_shape = (list(output_shape) if isinstance(output_shape, (list, tuple))
                                     else [output_shape])
        self.activation = activations.get(activation)
        self.bias_axes = bias_axes
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        self.lora_rank, self.lora_alpha = lora_rank, lora_alpha
        self.quantization_config = quantization_config
        self.activity_regularizer = activity_regularizer
        self.bias = None

    def build(self, input_shape: Any) -> None:
        inputs, rest = self.equation.split(",")
        weight_spec, output_spec = rest.split("->")
        full_out = [input_shape[0]] + list(self.partial_output_shape)
        if len(full_out) != len(output_spec):
            full_out = list(self.partial_output_shape)
        for i, ch in enumerate(output_spec):
            if full_out[i] is None and ch in inputs:
                full_out[i] = input_shape[inputs.index(ch)]
        dims = {}
        for ch in weight_spec:
            if ch in inputs:
                dims[ch] = int(input_shape[inputs.index(ch)])
            else:
                dims[ch] = int(full_out[output_spec.index(ch)])
        self.kernel = self.add_weight(name="kernel", shape=tuple(dims[c] for c in weight_spec),
                                      initializer=self.kernel_initializer)
        if self.bias_axes:
            idx = {c: full_out[output_spec.index(c)] for c in output_spec}
            first = min(output_spec.find(c) for c in self.bias_axes)
            shape = tuple(int(idx[c]) if c in self.bias_axes else 1
                          for c in output_spec[first:])
            self.bias = self.add_weight(name="bias", shape=shape,
                                        initializer=self.bias_initializer)
        self.full_output_shape = full_out
        self.built = True

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs)
        y = np.einsum(self.equation, x, self.kernel.numpy().astype(x.dtype))
        if self.bias is not None:
            y = y + self.bias.numpy().astype(y.dtype)
        return self.activation(y)

    def get_config(self) -> Dict[str, Any]:
        config = {
            **super().get_config(),
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": _ser_init(self.kernel_initializer),
            "bias_initializer": _ser_init(self.bias_initializer),
            "kernel_regularizer": self.kernel_regularizer,
            "bias_regularizer": self.bias_regularizer,
            "activity_regularizer": self.activity_regularizer,
            "kernel_constraint": self.kernel_constraint,
            "bias_constraint": self.bias_constraint,
            "quantization_config": self.quantization_config,
        }
        if self.lora_rank:
            config["lora_rank"] = self.lora_rank
            config["lora_alpha"] = self.lora_alpha
        return config


def _proj_equation(free_dims: int, bound_dims: int, output_dims: int) -> tuple:
    chars = string.ascii_lowercase
    input_str = kernel_str = output_str = bias_axes = ""
    i = 0
    for _ in range(free_dims):
        input_str += chars[i]
        output_str += chars[i]
        i += 1
    for _ in range(bound_dims):
        input_str += chars[i]
        kernel_str += chars[i]
        i += 1
    for _ in range(output_dims):
        kernel_str += chars[i]
        output_str += chars[i]
        bias_axes += chars[i]
        i += 1
    return f"{input_str},{kernel_str}->{output_str}", bias_axes, len(output_str)


def _attention_equations(rank: int, attn_axes: Sequence[int]) -> tuple:
    """Keras's ``_build_attention_equation``: ``rank`` is the rank of the projected query
    ``(batch, *index dims, heads, head_dim)``; returns the dot-product and combine einsum
    equations and the rank of the attention scores."""
    chars = string.ascii_lowercase
    target = chars[:rank]
    batch_dims = [i for i in range(rank) if i not in tuple(attn_axes) + (rank - 1,)]
    source = ""
    offset = rank
    for i in range(rank):
        if i in batch_dims or i == rank - 1:
            source += target[i]
        else:
            source += chars[offset]
            offset += 1
    product = "".join([target[i] for i in batch_dims] + [target[i] for i in attn_axes]
                      + [source[i] for i in attn_axes])
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


def _out_shape(rank: int, known: Sequence[int]) -> List[Any]:
    return [None] * (rank - len(known)) + list(known)


@_register
class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al.) over ``(batch, steps, features)`` inputs.

    Args:
        num_heads: Number of heads.
        key_dim: Size of each query/key head.
        value_dim: Size of each value head (default ``key_dim``).
        dropout: Recorded only (inference).
        use_bias: Whether the projections have biases.
        output_shape: Output feature size (default: the query's).
        attention_axes: Only the default (the time axis) is supported.
        kernel_initializer: Initializer.
        bias_initializer: Initializer.
        kernel_regularizer: Recorded only.
        bias_regularizer: Recorded only.
        activity_regularizer: Recorded only.
        kernel_constraint: Recorded only.
        bias_constraint: Recorded only.
        seed: Recorded only.
        **kwargs: Base layer arguments.
    """

    # The output carries the query's mask (Keras sets it on the attention output).
    _SUPPORTS_MASKING = True

    # tf_keras tracks the projections as private attributes (checkpoint keys).
    _TF_CKPT_NAMES = {"query_dense": "_query_dense", "key_dense": "_key_dense",
                      "value_dense": "_value_dense", "output_dense": "_output_dense"}

    def __init__(self, num_heads: int, key_dim: int, value_dim: Optional[int] = None,
                 dropout: float = 0.0, use_bias: bool = True, output_shape: Any = None,
                 attention_axes: Any = None, flash_attention: Any = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, seed: Any = None, use_gate: bool = False,
                 sliding_window: Any = None, **kwargs: Any) -> None:
        # tf_keras records the build shapes in the config itself.
        legacy_shapes = {k: kwargs.pop(k, None) for k in ("query_shape", "value_shape",
                                                           "key_shape")}
        kwargs.pop("softmax_robust_masking", None)
        super().__init__(**kwargs)
        if use_gate or sliding_window is not None:
            raise NotImplementedError("kerasave MultiHeadAttention: use_gate and "
                                      "sliding_window are not supported")
        self.use_gate, self.sliding_window = use_gate, sliding_window
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout, self.use_bias = dropout, use_bias
        self._output_shape = output_shape
        self.attention_axes = attention_axes
        self.flash_attention = flash_attention
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.activity_regularizer = activity_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        self.seed = seed
        self._build_shapes_dict: Optional[Dict[str, Any]] = None
        if legacy_shapes["query_shape"] is not None:
            self.build(legacy_shapes["query_shape"], legacy_shapes["value_shape"],
                       legacy_shapes["key_shape"])

    def _dense(self, free: int, out_known: Sequence[int], name: str) -> EinsumDense:
        eq, bias_axes, rank = _proj_equation(free, 1, len(out_known))
        return EinsumDense(eq, output_shape=_out_shape(rank - 1, out_known),
                           bias_axes=bias_axes if self.use_bias else None, name=name,
                           kernel_initializer=self.kernel_initializer,
                           bias_initializer=self.bias_initializer, dtype=self.dtype_policy)

    def build(self, query_shape: Any, value_shape: Any = None, key_shape: Any = None) -> None:
        if value_shape is None and isinstance(query_shape, list) and query_shape and \
                isinstance(query_shape[0], (list, tuple)):
            shapes = list(query_shape) + [None] * 3
            query_shape, value_shape, key_shape = shapes[0], shapes[1], shapes[2]
        value_shape = value_shape if value_shape is not None else query_shape
        shapes = {"query_shape": list(query_shape), "value_shape": list(value_shape)}
        if key_shape is not None:
            shapes["key_shape"] = list(key_shape)
        self._build_shapes_dict = {"shapes_dict": shapes}
        key_shape = key_shape if key_shape is not None else value_shape
        q_rank = len(query_shape)
        self.query_dense = self._dense(q_rank - 1, [self.num_heads, self.key_dim], "query")
        self.query_dense.build(tuple(query_shape))
        self.key_dense = self._dense(len(key_shape) - 1, [self.num_heads, self.key_dim], "key")
        self.key_dense.build(tuple(key_shape))
        self.value_dense = self._dense(len(value_shape) - 1,
                                       [self.num_heads, self.value_dim], "value")
        self.value_dense.build(tuple(value_shape))
        out_dim = self._output_shape or query_shape[-1]
        out_known = list(out_dim) if isinstance(out_dim, (list, tuple)) else [out_dim]
        eq, bias_axes, rank = _proj_equation(q_rank - 1, 2, len(out_known))
        self.output_dense = EinsumDense(eq, output_shape=_out_shape(rank - 1, out_known),
                                        bias_axes=bias_axes if self.use_bias else None,
                                        name="attention_output",
                                        kernel_initializer=self.kernel_initializer,
                                        bias_initializer=self.bias_initializer,
                                        dtype=self.dtype_policy)
        self.output_dense.build(tuple(query_shape[:-1]) + (self.num_heads, self.value_dim))
        for sub in (self.query_dense, self.key_dense, self.value_dense, self.output_dense):
            sub.built = True
        self.built = True

    def build_from_config(self, config: Dict[str, Any]) -> None:
        """Builds from ``{"shapes_dict": {"query_shape", "value_shape"[, "key_shape"]}}``."""
        if config:
            shapes = config.get("shapes_dict", config)
            self.build(shapes["query_shape"], shapes.get("value_shape"),
                       shapes.get("key_shape"))

    def get_build_config(self) -> Optional[Dict[str, Any]]:
        """The shapes the layer was built for."""
        return self._build_shapes_dict

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.built:
            # query/value/key may come as keywords (Keras 3 legacy .h5 configs carry
            # ``kwargs: {"key": ...}`` and no build_config): build from all three.
            vals = list(args[:3]) + [None] * (3 - len(args[:3]))
            for i, name in enumerate(("query", "value", "key")):
                if vals[i] is None and kwargs.get(name) is not None:
                    vals[i] = kwargs[name]
            self._maybe_build(tuple(vals))
        return super().__call__(*args, **kwargs)

    def _maybe_build(self, args: tuple) -> None:
        if self.built:
            return
        shapes = [None if a is None else tuple(a.shape) if isinstance(a, KerasTensor)
                  else tuple(np.shape(a)) for a in args[:3]]
        shapes += [None] * (3 - len(shapes))
        self.build(shapes[0], shapes[1], shapes[2])

    def call(self, query: Any, value: Any, key: Any = None, query_mask: Any = None,
             value_mask: Any = None, key_mask: Any = None, attention_mask: Any = None,
             return_attention_scores: bool = False, training: Any = None,
             use_causal_mask: bool = False) -> Any:
        key = value if key is None else key
        q = self.query_dense(query)
        k = self.key_dense(key)
        v = self.value_dense(value)
        q = q * np.asarray(1.0 / np.sqrt(float(self.key_dim)), q.dtype)
        rank = q.ndim
        if self.attention_axes is None:
            attn_axes: tuple = tuple(range(1, rank - 2))
        elif isinstance(self.attention_axes, int):
            attn_axes = (self.attention_axes,)
        else:
            attn_axes = tuple(self.attention_axes)
        attn_axes = tuple(a % (rank - 1) for a in attn_axes)  # Keras: relative to the input rank
        dot_eq, combine_eq, scores_rank = _attention_equations(rank, attn_axes)
        scores = np.einsum(dot_eq, k, q)
        # Keras's _compute_attention_mask: query mask [B, T, 1] & value/key masks [B, 1, S]
        # & the causal mask & attention_mask.
        mask = None
        for m, axis in ((query_mask, -1), (value_mask, -2), (key_mask, -2)):
            if m is not None:
                m = np.expand_dims(np.asarray(m, bool), axis)
                mask = m if mask is None else (mask & m)
        if use_causal_mask:
            t, s = scores.shape[-2], scores.shape[-1]
            causal = np.tril(np.ones((t, s), bool))[None]
            mask = causal if mask is None else (mask & causal)
        if attention_mask is not None:
            am = np.asarray(attention_mask, bool)
            mask = am if mask is None else (mask & am)
        if mask is not None:
            # Keras's _masked_softmax: insert the head axis (and any missing ones) before the
            # attention axes.
            expand_at = -len(attn_axes) * 2 - 1
            while mask.ndim < scores.ndim:
                mask = np.expand_dims(mask, expand_at)
            # Keras adds (1 - mask) * large_negative: -1e9, -3e4 for float16 (-1e9 is inf there).
            big = -3e4 if scores.dtype == np.float16 else -1e9
            scores = np.where(mask, scores, np.asarray(big, scores.dtype))
        norm_axes = tuple(range(scores_rank - len(attn_axes), scores_rank))
        if len(norm_axes) == 1:
            probs = _ops.softmax(scores, axis=norm_axes[0]).astype(scores.dtype)
        else:
            # Keras's Softmax over several axes: exp(x - logsumexp(x)).
            sf = scores.astype(np.float32) if scores.dtype.itemsize < 4 else scores
            mx = np.max(sf, axis=norm_axes, keepdims=True)
            lse = mx + np.log(np.sum(np.exp(sf - mx), axis=norm_axes, keepdims=True))
            probs = np.exp(sf - lse).astype(scores.dtype)
        out = np.einsum(combine_eq, probs, v)
        out = self.output_dense(out)
        if return_attention_scores:
            return out, probs
        return out

    def get_config(self) -> Dict[str, Any]:
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self._output_shape,
            "attention_axes": self.attention_axes,
            "kernel_initializer": _ser_init(self.kernel_initializer),
            "bias_initializer": _ser_init(self.bias_initializer),
            "kernel_regularizer": self.kernel_regularizer,
            "bias_regularizer": self.bias_regularizer,
            "activity_regularizer": self.activity_regularizer,
            "kernel_constraint": self.kernel_constraint,
            "bias_constraint": self.bias_constraint,
            "seed": self.seed,
            "use_gate": self.use_gate,
            "sliding_window": self.sliding_window,
        }
