"""Keras 3 graph operations (``keras.src.ops.numpy.*``) that appear in functional configs: tensor
arithmetic on KerasTensors and the explicit mask plumbing Keras writes (``NotEqual``, ``Any``,
``LogicalOr``...). Each is a weightless node; ``Model.layers`` leaves them out, as Keras does."""

from __future__ import annotations

from typing import Any, Callable, Dict

import numpy as np

from kerasave.layers.base import Layer, _np_dtype
from kerasave.saving import registry as _registry


class Operation(Layer):
    """A weightless graph operation rebuilt from a Keras ``keras.src.ops`` record.

    Args:
        name: The operation name.
        **params: The operation's config (``axis``, ``keepdims``, ``dtype``...).
    """

    _BUILT_AT_INIT = True
    _IS_OPERATION = True
    fn: Callable[..., Any] = staticmethod(lambda *a, **k: a[0])

    def __init__(self, name: Any = None, **params: Any) -> None:
        super().__init__(name=name)
        self.params = params

    def _cast_input(self, x: Any) -> Any:
        return np.asarray(x) if isinstance(x, (int, float, bool, np.generic)) else x

    def call(self, *args: Any, **kwargs: Any) -> Any:
        def conv(v: Any) -> Any:
            if v is None or v is Ellipsis or isinstance(v, slice):
                return v
            return np.asarray(v)

        args = tuple(conv(a) if not isinstance(a, (list, tuple)) else [conv(v) for v in a]
                     for a in args)
        return type(self).fn(*args, **{**self.params, **kwargs})

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, **self.params}

    def get_build_config(self) -> None:
        """Operations record no build config."""
        return None


def _binary(np_fn: Callable[..., Any]) -> Callable[..., Any]:
    def fn(x: Any, y: Any, **_: Any) -> Any:
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype.kind == "f" and y.dtype.kind != "f" and y.ndim == 0:
            y = y.astype(x.dtype)
        elif y.dtype.kind == "f" and x.dtype.kind != "f" and x.ndim == 0:
            x = x.astype(y.dtype)
        elif x.dtype.kind == "f" and y.dtype.kind == "f" and x.dtype != y.dtype:
            if x.ndim == 0:
                x = x.astype(y.dtype)
            elif y.ndim == 0:
                y = y.astype(x.dtype)
        return np_fn(x, y)

    return fn


def _reduce(np_fn: Callable[..., Any]) -> Callable[..., Any]:
    def fn(x: Any, axis: Any = None, keepdims: bool = False, **_: Any) -> Any:
        return np_fn(x, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)

    return fn


def _like(np_fn: Callable[..., Any]) -> Callable[..., Any]:
    def fn(x: Any, dtype: Any = None, **_: Any) -> Any:
        return np_fn(x, dtype=_np_dtype(dtype) if dtype else None)

    return fn


def _concat(xs: Any, axis: int = 0, **_: Any) -> Any:
    return np.concatenate([np.asarray(x) for x in xs], axis=axis)


def _cast(x: Any, dtype: Any = "float32", **_: Any) -> Any:
    return np.asarray(x).astype(_np_dtype(dtype))


def _get_item(x: Any, key: Any, **_: Any) -> Any:
    if isinstance(key, list):
        key = tuple(key)
    return np.asarray(x)[key]


_NUMPY_OPS: Dict[str, Callable[..., Any]] = {
    "Add": _binary(np.add), "Subtract": _binary(np.subtract),
    "Multiply": _binary(np.multiply), "Divide": _binary(np.true_divide),
    "TrueDivide": _binary(np.true_divide), "Power": _binary(np.power),
    "Maximum": _binary(np.maximum), "Minimum": _binary(np.minimum),
    "Equal": _binary(np.equal), "NotEqual": _binary(np.not_equal),
    "Greater": _binary(np.greater), "GreaterEqual": _binary(np.greater_equal),
    "Less": _binary(np.less), "LessEqual": _binary(np.less_equal),
    "LogicalAnd": _binary(np.logical_and), "LogicalOr": _binary(np.logical_or),
    "Matmul": _binary(np.matmul),
    "LogicalNot": lambda x, **_: np.logical_not(x),
    "Negative": lambda x, **_: np.negative(x), "Abs": lambda x, **_: np.abs(x),
    "Absolute": lambda x, **_: np.abs(x), "Exp": lambda x, **_: np.exp(x),
    "Log": lambda x, **_: np.log(x), "Sqrt": lambda x, **_: np.sqrt(x),
    "Square": lambda x, **_: np.square(x), "Tanh": lambda x, **_: np.tanh(x),
    "Any": _reduce(np.any), "All": _reduce(np.all), "Sum": _reduce(np.sum),
    "Mean": _reduce(np.mean), "Max": _reduce(np.max), "Min": _reduce(np.min),
    "ExpandDims": lambda x, axis=0, **_: np.expand_dims(x, axis),
    "Squeeze": lambda x, axis=None, **_: np.squeeze(
        x, axis=tuple(axis) if isinstance(axis, list) else axis),
    "ZerosLike": _like(np.zeros_like), "OnesLike": _like(np.ones_like),
    "Concatenate": _concat,
    "Reshape": lambda x, newshape=None, **_: np.reshape(x, newshape),
    "Transpose": lambda x, axes=None, **_: np.transpose(x, axes),
    "Where": lambda c, x=None, y=None, **_: np.where(c, x, y),
    "GetItem": _get_item,
}

_CORE_OPS: Dict[str, Callable[..., Any]] = {"Cast": _cast}

for _name, _fn in _NUMPY_OPS.items():
    _cls = type(_name, (Operation,), {"fn": staticmethod(_fn),
                                      "__doc__": f"Keras ``ops.{_name}`` as a graph node.",
                                      "__module__": __name__})
    _registry.register_builtin("keras.src.ops.numpy", _name, _cls)
for _name, _fn in _CORE_OPS.items():
    _cls = type(_name, (Operation,), {"fn": staticmethod(_fn),
                                      "__doc__": f"Keras ``ops.{_name}`` as a graph node.",
                                      "__module__": __name__})
    _registry.register_builtin("keras.src.ops.core", _name, _cls)
