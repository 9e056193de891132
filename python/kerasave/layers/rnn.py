"""Recurrent layers (SimpleRNN, LSTM, GRU), wrappers (Bidirectional, TimeDistributed), Masking
and Lambda, with numpy forward passes (inference; masks are not propagated)."""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

import numpy as np

from kerasave import activations, initializers
from kerasave.layers.base import Layer, _register
from kerasave.layers.core import _ser_init
from kerasave.saving.serialization import deserialize_keras_object, serialize_keras_object


class _Cell(Layer):
    gates = 1

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, reset_after: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.reset_after = reset_after

    def _bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def build(self, input_shape: Any) -> None:
        n = self.gates * self.units
        self.kernel = self.add_weight(name="kernel", shape=(int(input_shape[-1]), n),
                                      initializer=self.kernel_initializer)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.units, n),
                                                initializer=self.recurrent_initializer)
        if self.use_bias:
            init = self.bias_initializer
            if isinstance(self, LSTMCell) and self.unit_forget_bias:
                u = self.units
                base = self.bias_initializer

                class _ForgetOnes(initializers.Initializer):
                    def __call__(self, shape: Any, dtype: Any = "float32") -> np.ndarray:
                        b = np.asarray(base((u * 4,), dtype))
                        b[u:2 * u] = 1
                        return b

                init = _ForgetOnes()
            self.bias = self.add_weight(name="bias", shape=self._bias_shape(), initializer=init)
        else:
            self.bias = None
        self.built = True


@_register
class SimpleRNNCell(_Cell):
    """``h = activation(x @ W + h @ U + b)``."""

    gates = 1

    def step(self, x: np.ndarray, states: List[np.ndarray]) -> tuple:
        h = x @ self.kernel.numpy() + states[0] @ self.recurrent_kernel.numpy()
        if self.bias is not None:
            h = h + self.bias.numpy()
        h = self.activation(h)
        return h, [h]


@_register
class LSTMCell(_Cell):
    """LSTM step with gates ordered i, f, c, o."""

    gates = 4

    def step(self, x: np.ndarray, states: List[np.ndarray]) -> tuple:
        h, c = states
        z = x @ self.kernel.numpy() + h @ self.recurrent_kernel.numpy()
        if self.bias is not None:
            z = z + self.bias.numpy()
        u = self.units
        i = self.recurrent_activation(z[:, :u])
        f = self.recurrent_activation(z[:, u:2 * u])
        c = f * c + i * self.activation(z[:, 2 * u:3 * u])
        o = self.recurrent_activation(z[:, 3 * u:])
        h = o * self.activation(c)
        return h, [h, c]


@_register
class GRUCell(_Cell):
    """GRU step with gates ordered z, r, h (``reset_after`` as Keras)."""

    gates = 3

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def step(self, x: np.ndarray, states: List[np.ndarray]) -> tuple:
        h = states[0]
        u = self.units
        w, r_k = self.kernel.numpy(), self.recurrent_kernel.numpy()
        b = self.bias.numpy() if self.bias is not None else None
        mx = x @ w
        if b is not None:
            mx = mx + (b[0] if self.reset_after else b)
        if self.reset_after:
            mi = h @ r_k
            if b is not None:
                mi = mi + b[1]
            z = self.recurrent_activation(mx[:, :u] + mi[:, :u])
            r = self.recurrent_activation(mx[:, u:2 * u] + mi[:, u:2 * u])
            hh = self.activation(mx[:, 2 * u:] + r * mi[:, 2 * u:])
        else:
            z = self.recurrent_activation(mx[:, :u] + h @ r_k[:, :u])
            r = self.recurrent_activation(mx[:, u:2 * u] + h @ r_k[:, u:2 * u])
            hh = self.activation(mx[:, 2 * u:] + (r * h) @ r_k[:, 2 * u:])
        h = z * h + (1 - z) * hh
        return h, [h]


_RNN_KEYS = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
             "activity_regularizer", "kernel_constraint", "recurrent_constraint",
             "bias_constraint")


class _RNN(Layer):
    cell_class: type = SimpleRNNCell

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: Any = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 reset_after: bool = True, use_cudnn: Any = "auto",
                 zero_output_for_mask: bool = False, time_major: bool = False,
                 implementation: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cell_kwargs: Dict[str, Any] = dict(
            units=units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, reset_after=reset_after,
            dtype=self.dtype_policy)
        self.cell = self.cell_class(**cell_kwargs)
        self.regularizers = {k: v for k, v in zip(_RNN_KEYS, (
            kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer,
            kernel_constraint, recurrent_constraint, bias_constraint))}
        self.dropout, self.recurrent_dropout, self.seed = dropout, recurrent_dropout, seed
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.stateful, self.unroll = go_backwards, stateful, unroll
        self.zero_output_for_mask = zero_output_for_mask
        self.use_cudnn = use_cudnn

    @property
    def units(self) -> int:
        """Number of units."""
        return self.cell.units

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The input mask for sequence outputs, else None."""
        if isinstance(mask, list):
            mask = mask[0]
        return mask if self.return_sequences and not self.return_state else None

    def build(self, input_shape: Any) -> None:
        if not self.cell.built:
            self.cell.build(tuple(input_shape[:1]) + tuple(input_shape[2:]))
            self.cell.built = True
        self.built = True

    def call(self, inputs: Any, mask: Any = None, initial_state: Any = None,
             training: bool = False) -> Any:
        x = np.asarray(inputs)
        dt = x.dtype
        n, t = x.shape[0], x.shape[1]
        n_states = 2 if isinstance(self.cell, LSTMCell) else 1
        if initial_state is not None:
            states = [np.asarray(s, dt) for s in (initial_state if isinstance(
                initial_state, (list, tuple)) else [initial_state])]
        else:
            states = [np.zeros((n, self.units), dt) for _ in range(n_states)]
        steps = range(t - 1, -1, -1) if self.go_backwards else range(t)
        outs = []
        out = np.zeros((n, self.units), dt)
        m = None if mask is None else np.asarray(mask, bool)
        for i in steps:
            new_out, new_states = self.cell.step(x[:, i], states)
            if m is not None:
                keep = m[:, i:i + 1]
                new_out = np.where(keep, new_out, 0 if self.zero_output_for_mask else out)
                new_states = [np.where(keep, ns, s) for ns, s in zip(new_states, states)]
            out, states = new_out.astype(dt, copy=False), [s.astype(dt, copy=False)
                                                          for s in new_states]
            outs.append(out)
        result = np.stack(outs, axis=1) if self.return_sequences else out
        if self.return_state:
            return [result] + states
        return result

    def get_config(self) -> Dict[str, Any]:
        cell = self.cell
        config: Dict[str, Any] = {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "units": cell.units,
            "activation": activations.serialize(cell.activation),
        }
        if not isinstance(cell, SimpleRNNCell):
            config["recurrent_activation"] = activations.serialize(cell.recurrent_activation)
        config.update({
            "use_bias": cell.use_bias,
            "kernel_initializer": _ser_init(cell.kernel_initializer),
            "recurrent_initializer": _ser_init(cell.recurrent_initializer),
            "bias_initializer": _ser_init(cell.bias_initializer),
        })
        if isinstance(cell, LSTMCell):
            config["unit_forget_bias"] = cell.unit_forget_bias
        config.update(self.regularizers)
        config.update({"dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout})
        if isinstance(cell, GRUCell):
            config["reset_after"] = cell.reset_after
        if not isinstance(cell, SimpleRNNCell):
            config["seed"] = self.seed
        return config


@_register
class SimpleRNN(_RNN):
    """Fully connected RNN (``activation(x W + h U + b)``); see Keras ``SimpleRNN``."""

    cell_class = SimpleRNNCell


@_register
class LSTM(_RNN):
    """Long short-term memory; weights live in ``cell`` (``kernel``, ``recurrent_kernel``,
    ``bias``)."""

    cell_class = LSTMCell


@_register
class GRU(_RNN):
    """Gated recurrent unit (``reset_after=True`` by default, as Keras 3)."""

    cell_class = GRUCell


def _clone_layer(layer: Layer, **overrides: Any) -> Layer:
    config = serialize_keras_object(layer)
    config["config"] = {**config["config"], **overrides}
    config.pop("build_config", None)
    return deserialize_keras_object(config)


@_register
class Bidirectional(Layer):
    """Runs a recurrent layer forwards and backwards and merges the outputs.

    Args:
        layer: The forward recurrent layer (instance or config).
        merge_mode: ``"concat"``, ``"sum"``, ``"mul"``, ``"ave"`` or None (a list).
        weights: Unsupported.
        backward_layer: Optional explicit backward layer.
        **kwargs: Base layer arguments.
    """

    def __init__(self, layer: Any, merge_mode: Optional[str] = "concat", weights: Any = None,
                 backward_layer: Any = None, **kwargs: Any) -> None:
        if isinstance(layer, dict):
            layer = deserialize_keras_object(layer)
        if isinstance(backward_layer, dict):
            backward_layer = deserialize_keras_object(backward_layer)
        super().__init__(**kwargs)
        fwd_name = layer.name if layer.name.startswith("forward_") else f"forward_{layer.name}"
        self.forward_layer = _clone_layer(layer, name=fwd_name)
        if backward_layer is None:
            base = layer.name
            self.backward_layer = _clone_layer(layer, name=f"backward_{base}",
                                               go_backwards=not layer.go_backwards)
        else:
            self.backward_layer = backward_layer
        # Keras 3 and tf_keras force zero outputs at masked steps when returning sequences, so
        # the reversed backward sequence lines up; tf_keras configs do not record it.
        for sub in (self.forward_layer, self.backward_layer):
            if hasattr(sub, "zero_output_for_mask"):
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state

    def build(self, input_shape: Any) -> None:
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(input_shape)
                sub.built = True
        # Keras records the forward layer's build shape (its record carries build_config).
        self.forward_layer._build_shapes = tuple(input_shape)
        self.built = True

    def call(self, inputs: Any, mask: Any = None, initial_state: Any = None,
             training: bool = False) -> Any:
        kw: Dict[str, Any] = {}
        if mask is not None:
            kw["mask"] = mask
        if initial_state is not None:
            half = len(initial_state) // 2
            fw = self.forward_layer(inputs, initial_state=initial_state[:half], **kw)
            bw = self.backward_layer(inputs, initial_state=initial_state[half:], **kw)
        else:
            fw = self.forward_layer(inputs, **kw)
            bw = self.backward_layer(inputs, **kw)
        states: List[Any] = []
        if self.return_state:
            fw, fw_states = fw[0], fw[1:]
            bw, bw_states = bw[0], bw[1:]
            states = list(fw_states) + list(bw_states)
        if self.return_sequences:
            bw = np.flip(bw, axis=1)
        if self.merge_mode == "concat":
            out: Any = np.concatenate([fw, bw], axis=-1)
        elif self.merge_mode == "sum":
            out = fw + bw
        elif self.merge_mode == "ave":
            out = (fw + bw) / 2
        elif self.merge_mode == "mul":
            out = fw * bw
        else:
            out = [fw, bw]
        if self.return_state:
            return (out if isinstance(out, list) else [out]) + states
        return out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The input mask for sequence outputs, else None."""
        return mask if self.return_sequences and not self.return_state else None

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialize_keras_object(self.forward_layer),
                "backward_layer": serialize_keras_object(self.backward_layer)}


@_register
class TimeDistributed(Layer):
    """Applies ``layer`` to every time step (axis 1).

    Args:
        layer: The inner layer (instance or config).
        **kwargs: Base layer arguments.
    """

    def __init__(self, layer: Any, **kwargs: Any) -> None:
        if isinstance(layer, dict):
            layer = deserialize_keras_object(layer)
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape: Any) -> None:
        if not self.layer.built:
            inner = (input_shape[0],) + tuple(input_shape[2:])
            self.layer._build_shapes = inner
            self.layer.build(inner)
            self.layer.built = True
        self.built = True

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The time mask passes through."""
        return mask

    def call(self, inputs: Any, training: bool = False, mask: Any = None) -> np.ndarray:
        x = np.asarray(inputs)
        n, t = x.shape[:2]
        y = np.asarray(self.layer(x.reshape((n * t,) + x.shape[2:])))
        return y.reshape((n, t) + y.shape[1:])

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "layer": serialize_keras_object(self.layer)}


@_register
class Masking(Layer):
    """Zeroes time steps whose features all equal ``mask_value`` (masks are not propagated).

    Args:
        mask_value: The padding value.
        **kwargs: Base layer arguments.
    """

    _SUPPORTS_MASKING = True

    _BUILT_AT_INIT = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_value = mask_value

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Steps whose features are not all ``mask_value``."""
        return np.any(np.asarray(inputs) != self.mask_value, axis=-1)

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs)
        keep = np.any(x != self.mask_value, axis=-1, keepdims=True)
        return x * keep.astype(x.dtype)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}


@_register
class Lambda(Layer):
    """Wraps a Python function as a layer. Loading one from a file runs its bytecode, so it
    requires ``safe_mode=False``.

    Args:
        function: The function (``fn(x)`` on numpy arrays).
        output_shape: Recorded only.
        mask: Recorded only.
        arguments: Extra keyword arguments for ``function``.
        **kwargs: Base layer arguments.
    """

    def __init__(self, function: Any, output_shape: Any = None, mask: Any = None,
                 arguments: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.function = function
        self.output_shape = output_shape
        self.mask = mask
        self.arguments = arguments or {}

    def call(self, inputs: Any, mask: Any = None, training: bool = False) -> Any:
        return self.function(inputs, **self.arguments)

    def get_config(self) -> Dict[str, Any]:
        from kerasave.saving.safe_mode import func_dump

        fn = self.function
        if getattr(fn, "__name__", "") == "<lambda>":
            code, defaults, closure = func_dump(fn)
            fconf: Any = {"class_name": "__lambda__",
                          "config": {"code": code, "defaults": defaults, "closure": closure}}
        else:
            fconf = serialize_keras_object(fn)
        return {**super().get_config(), "function": fconf,
                "arguments": copy.deepcopy(self.arguments)}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Lambda":
        """Rebuilds the function: bytecode only with safe mode off."""
        from kerasave.saving.safe_mode import check_class_config, effective_safe_mode, func_load

        config = dict(config)
        check_class_config("Lambda", config, effective_safe_mode(None))
        fconf = config.pop("function")
        if isinstance(fconf, dict) and fconf.get("class_name") == "__lambda__":
            inner = fconf["config"]
            if "code" in inner:
                fn = func_load(inner["code"], inner.get("defaults"), inner.get("closure"),
                               globs={"__builtins__": __builtins__, "np": np})
            else:
                fn = func_load(inner["value"])
        elif config.get("function_type") == "lambda":
            fn = func_load(fconf, globs={"__builtins__": __builtins__, "np": np})
        else:
            fn = deserialize_keras_object(fconf)
        for key in ("function_type", "module", "output_shape_type", "output_shape_module"):
            config.pop(key, None)
        return cls(fn, **config)

