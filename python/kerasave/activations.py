"""Keras activations as numpy functions, registered under ``keras.activations``."""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator, Optional

import numpy as np

from kerasave import ops as _ops
from kerasave.saving import registry as _registry


def _f(x: Any) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating) and x.dtype.kind != "V":
        x = x.astype(np.float32)
    return x


def linear(x: Any) -> np.ndarray:
    """Identity."""
    return np.asarray(x)


def relu(x: Any, negative_slope: float = 0.0, max_value: Optional[float] = None,
         threshold: float = 0.0) -> np.ndarray:
    """Rectified linear unit with Keras's optional slope, cap and threshold."""
    x = _f(x)
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return np.maximum(x, np.zeros((), x.dtype))
    out = np.where(x >= threshold, x, negative_slope * (x - threshold)).astype(x.dtype)
    if max_value is not None:
        out = np.minimum(out, np.asarray(max_value, x.dtype))
    return out


def relu6(x: Any) -> np.ndarray:
    """``min(max(x, 0), 6)``."""
    x = _f(x)
    return np.clip(x, 0, 6).astype(x.dtype)


def sigmoid(x: Any) -> np.ndarray:
    """Logistic sigmoid."""
    return _ops.sigmoid(_f(x))


def hard_sigmoid(x: Any) -> np.ndarray:
    """``relu6(x + 3) / 6``."""
    x = _f(x)
    return (np.clip(x + 3, 0, 6) / 6).astype(x.dtype)


def hard_sigmoid_keras2(x: Any) -> np.ndarray:
    """Keras 2 / tf_keras ``hard_sigmoid``: ``clip(0.2 * x + 0.5, 0, 1)``.

    Keras 3 changed the slope to 1/6; configs written by Keras 2 still say ``"hard_sigmoid"``, so
    loading resolves that name to this function inside :func:`keras_version_scope` ("2.x").
    """
    x = _f(x)
    return np.clip(x * np.asarray(0.2, x.dtype) + np.asarray(0.5, x.dtype), 0, 1).astype(x.dtype)


def hard_silu(x: Any) -> np.ndarray:
    """``x * hard_sigmoid(x)``."""
    x = _f(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def softmax(x: Any, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``."""
    return _ops.softmax(_f(x), axis=axis)


def log_softmax(x: Any, axis: int = -1) -> np.ndarray:
    """Log-softmax along ``axis``."""
    return _ops.log_softmax(_f(x), axis=axis)


def softplus(x: Any) -> np.ndarray:
    """``log(1 + exp(x))``, stable."""
    x = _f(x)
    return (np.logaddexp(0, x)).astype(x.dtype)


def softsign(x: Any) -> np.ndarray:
    """``x / (1 + |x|)``."""
    x = _f(x)
    return x / (1 + np.abs(x))


def tanh(x: Any) -> np.ndarray:
    """Hyperbolic tangent."""
    return np.tanh(_f(x))


def silu(x: Any) -> np.ndarray:
    """``x * sigmoid(x)``."""
    x = _f(x)
    return x * _ops.sigmoid(x)


swish = silu


def exponential(x: Any) -> np.ndarray:
    """``exp(x)``."""
    return np.exp(_f(x))


def elu(x: Any, alpha: float = 1.0) -> np.ndarray:
    """Exponential linear unit."""
    x = _f(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype)


def selu(x: Any) -> np.ndarray:
    """Scaled ELU."""
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    x = _f(x)
    return (scale * elu(x, alpha)).astype(x.dtype)


def gelu(x: Any, approximate: bool = False) -> np.ndarray:
    """Gaussian error linear unit (exact, or the tanh approximation)."""
    x = _f(x)
    if approximate:
        c = np.asarray(np.sqrt(2 / np.pi), x.dtype)
        return (0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3)))).astype(x.dtype)
    return (0.5 * x * (1 + _ops.erf(x / np.sqrt(2).astype(x.dtype)))).astype(x.dtype)


def leaky_relu(x: Any, negative_slope: float = 0.2) -> np.ndarray:
    """Leaky ReLU."""
    x = _f(x)
    return np.where(x >= 0, x, negative_slope * x).astype(x.dtype)


def mish(x: Any) -> np.ndarray:
    """``x * tanh(softplus(x))``."""
    x = _f(x)
    return x * np.tanh(softplus(x))


def celu(x: Any, alpha: float = 1.0) -> np.ndarray:
    """Continuously differentiable ELU."""
    x = _f(x)
    return (np.maximum(x, 0) + alpha * np.expm1(np.minimum(x, 0) / alpha)).astype(x.dtype)


def glu(x: Any, axis: int = -1) -> np.ndarray:
    """Gated linear unit: first half times sigmoid of second half."""
    x = _f(x)
    a, b = np.split(x, 2, axis=axis)
    return a * _ops.sigmoid(b)


def hard_tanh(x: Any) -> np.ndarray:
    """``clip(x, -1, 1)``."""
    x = _f(x)
    return np.clip(x, -1, 1)


def hard_shrink(x: Any, threshold: float = 0.5) -> np.ndarray:
    """Zero where ``|x| <= threshold``."""
    x = _f(x)
    return np.where(np.abs(x) > threshold, x, 0).astype(x.dtype)


def soft_shrink(x: Any, threshold: float = 0.5) -> np.ndarray:
    """Shrinks towards zero by ``threshold``."""
    x = _f(x)
    return np.where(x > threshold, x - threshold,
                    np.where(x < -threshold, x + threshold, 0)).astype(x.dtype)


def tanh_shrink(x: Any) -> np.ndarray:
    """``x - tanh(x)``."""
    x = _f(x)
    return x - np.tanh(x)


def squareplus(x: Any, b: float = 4) -> np.ndarray:
    """``(x + sqrt(x^2 + b)) / 2``."""
    x = _f(x)
    return ((x + np.sqrt(x * x + b)) / 2).astype(x.dtype)


def sparse_plus(x: Any) -> np.ndarray:
    """Piecewise smooth ReLU."""
    x = _f(x)
    return np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)).astype(x.dtype)


def sparsemax(x: Any, axis: int = -1) -> np.ndarray:
    """Sparsemax along ``axis``, exactly as Keras 3 computes it.

    Keras (every backend) takes ``tau = (sum of the cumulative sums inside the support - 1) / k``
    rather than the paper's ``(cumsum[k] - 1) / k``; the two differ once the support has more than
    one element, and matching Keras's outputs means following Keras.
    """
    x = _f(x)
    z = np.moveaxis(x, axis, -1)
    zs = -np.sort(-z, axis=-1)
    r = np.arange(1, z.shape[-1] + 1, dtype=x.dtype)
    cs = np.cumsum(zs, axis=-1)
    support = zs - (cs - 1) / r > 0
    k = np.sum(support, axis=-1, keepdims=True).astype(x.dtype)
    tau = (np.sum(np.where(support, cs, 0), axis=-1, keepdims=True) - 1) / k
    return np.moveaxis(np.maximum(z - tau, 0), -1, axis).astype(x.dtype)


def sparse_sigmoid(x: Any) -> np.ndarray:
    """0 below -1, 1 above 1, ``(x + 1) / 2`` between."""
    x = _f(x)
    return np.where(x <= -1, 0, np.where(x >= 1, 1, (x + 1) * 0.5)).astype(x.dtype)


def threshold(x: Any, threshold: float = 0.0, default_value: float = 0.0) -> np.ndarray:
    """``x`` where ``x > threshold`` else ``default_value``."""
    x = _f(x)
    return np.where(x > threshold, x, default_value).astype(x.dtype)


def log_sigmoid(x: Any) -> np.ndarray:
    """``log(sigmoid(x))``."""
    x = _f(x)
    return (-np.logaddexp(0, -x)).astype(x.dtype)


_ALL = {
    "linear": linear, "relu": relu, "relu6": relu6, "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid, "hard_silu": hard_silu, "softmax": softmax,
    "log_softmax": log_softmax, "softplus": softplus, "softsign": softsign, "tanh": tanh,
    "silu": silu, "exponential": exponential, "elu": elu, "selu": selu, "gelu": gelu,
    "leaky_relu": leaky_relu, "mish": mish, "celu": celu, "glu": glu, "hard_tanh": hard_tanh,
    "hard_shrink": hard_shrink, "soft_shrink": soft_shrink, "tanh_shrink": tanh_shrink,
    "squareplus": squareplus, "sparse_plus": sparse_plus, "sparsemax": sparsemax,
    "sparse_sigmoid": sparse_sigmoid, "threshold": threshold, "log_sigmoid": log_sigmoid,
}

#: True while deserializing a config written by Keras 2 / tf_keras (see keras_version_scope).
_KERAS2: contextvars.ContextVar[bool] = contextvars.ContextVar("kerasave_keras2_activations",
                                                              default=False)


@contextlib.contextmanager
def keras_version_scope(version: Optional[str]) -> Iterator[None]:
    """Resolves activation names with the semantics of the Keras version that wrote a file.

    Only ``hard_sigmoid`` differs between Keras 2 (tf_keras) and Keras 3 among the names both
    register; the loaders enter this scope with the file's ``keras_version``.

    Args:
        version: ``"2.21.0"``, ``"3.15.1"``... or None (Keras 3 semantics).
    """
    token = _KERAS2.set(bool(version) and str(version).split(".")[0] in ("1", "2"))
    try:
        yield
    finally:
        _KERAS2.reset(token)
_ALIASES = {"swish": silu, "hard_swish": hard_silu}

for _name, _fn in _ALL.items():
    _registry.register_builtin("keras.activations", _name, _fn)
for _name, _fn in _ALIASES.items():
    _registry.register_builtin("keras.activations", _name, _fn)


def serialize(activation: Callable) -> Any:
    """The config Keras writes for an activation inside a layer config.

    Args:
        activation: A kerasave activation or a registered custom function.

    Returns:
        The plain name for built-ins, else a ``serialize_keras_object`` record.
    """
    for name, fn in _ALL.items():
        if fn is activation:
            return name
    if activation is hard_sigmoid_keras2:
        if not _KERAS2.get():
            import warnings

            warnings.warn("a tf_keras 'hard_sigmoid' (clip(0.2 x + 0.5, 0, 1)) is written as "
                          "'hard_sigmoid', which Keras 3 (and kerasave, reading a Keras 3 "
                          "file) computes as relu6(x + 3) / 6", UserWarning, stacklevel=2)
        return "hard_sigmoid"
    for name, fn in _ALIASES.items():
        if fn is activation:
            return "silu" if name == "swish" else "hard_silu"
    from kerasave.saving.serialization import serialize_keras_object

    return serialize_keras_object(activation)


def deserialize(config: Any, custom_objects: Optional[dict] = None) -> Callable:
    """Resolves an activation config (name or record).

    Args:
        config: ``"relu"`` or a function record.
        custom_objects: Extra ``{name: function}``.

    Returns:
        The function.
    """
    from kerasave.saving.serialization import deserialize_keras_object

    module_objects = {**_ALL, **_ALIASES}
    obj = deserialize_keras_object(config, custom_objects=custom_objects,
                                   module_objects=module_objects)
    if isinstance(obj, str):
        from kerasave.errors import UnknownObjectError

        raise UnknownObjectError(f"Unknown activation function: '{obj}'. Register it with "
                                 "@keras.saving.register_keras_serializable or pass it in "
                                 "custom_objects.")
    if obj is hard_sigmoid and _KERAS2.get():
        return hard_sigmoid_keras2
    return obj


def get(identifier: Any) -> Callable:
    """Returns the activation function for a name, config, callable or None (linear).

    Args:
        identifier: None, a string, a config dict, or a callable.

    Returns:
        A callable.
    """
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    return deserialize(identifier)
