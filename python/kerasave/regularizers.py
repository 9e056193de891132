"""Keras 3 weight regularizers (``ks.regularizers``): the classes with Keras 3.15.1 configs, so
models that use them load, save and round-trip; the penalties compute with numpy (kerasave does
not train, but a loaded model's regularization loss can be evaluated).

::

    import kerasave as keras

    reg = keras.regularizers.L1(0.005)
    keras.saving.serialize_keras_object(reg)
    # {'module': 'keras.regularizers', 'class_name': 'L1',
    #  'config': {'l1': 0.004999999888241291}, 'registered_name': None}
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

import numpy as np

from kerasave._identifiers import resolve_identifier
from kerasave.saving import registry as _registry

__all__ = ["L1", "L1L2", "L2", "OrthogonalRegularizer", "Regularizer", "deserialize", "get",
           "serialize"]


def _validate(value: Any, name: str) -> float:
    """Keras's ``validate_float_arg``: a finite, non-negative int or float."""
    if (isinstance(value, bool) or not isinstance(value, (float, int, np.floating, np.integer))
            or math.isinf(value) or math.isnan(value) or value < 0):
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float."
                         f"Received: {name}={value}")
    return float(value)


class Regularizer:
    """Base class: ``regularizer(x)`` is the penalty for a weight ``x``."""

    def __call__(self, x: Any) -> Any:
        """The penalty (0 for the base class)."""
        return 0.0

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Regularizer":
        """``cls(**config)``."""
        return cls(**config)

    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments; subclasses must define it (as in Keras)."""
        raise NotImplementedError(f"{self} does not implement get_config()")


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``.

    Args:
        l1: L1 factor.
        l2: L2 factor.
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        l1 = 0.0 if l1 is None else l1
        l2 = 0.0 if l2 is None else l2
        self.l1 = _validate(l1, "l1")
        self.l2 = _validate(l2, "l2")

    def __call__(self, x: Any) -> Any:
        x = np.asarray(x)
        penalty = np.zeros((), x.dtype)
        if self.l1 != 0.0:
            penalty = penalty + x.dtype.type(self.l1) * np.sum(np.abs(x))
        if self.l2 != 0.0:
            penalty = penalty + x.dtype.type(self.l2) * np.sum(np.square(x))
        return penalty

    def get_config(self) -> Dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``. Keras keeps the factor as a float32 tensor, so the config holds the
    float32 value (``L1(0.005)`` -> ``0.004999999888241291``).

    Args:
        l1: L1 factor.
    """

    def __init__(self, l1: float = 0.01) -> None:
        l1 = 0.01 if l1 is None else l1
        self.l1 = np.float32(_validate(l1, "l1"))

    def __call__(self, x: Any) -> Any:
        x = np.asarray(x)
        return x.dtype.type(self.l1) * np.sum(np.abs(x))

    def get_config(self) -> Dict[str, Any]:
        return {"l1": float(self.l1)}


class L2(Regularizer):
    """``l2 * sum(x**2)``.

    Args:
        l2: L2 factor.
    """

    def __init__(self, l2: float = 0.01) -> None:
        l2 = 0.01 if l2 is None else l2
        self.l2 = _validate(l2, "l2")

    def __call__(self, x: Any) -> Any:
        x = np.asarray(x)
        return x.dtype.type(self.l2) * np.sum(np.square(x))

    def get_config(self) -> Dict[str, Any]:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalizes non-orthogonal rows (or columns) of a rank-2 weight.

    Args:
        factor: Penalty factor (kept as float32, as Keras does).
        mode: ``"rows"`` or ``"columns"``.
    """

    def __init__(self, factor: float = 0.01, mode: str = "rows") -> None:
        self.factor = np.float32(_validate(factor, "factor"))
        if mode not in {"rows", "columns"}:
            raise ValueError("Invalid value for argument `mode`. Expected one of "
                             f'{{"rows", "columns"}}. Received: mode={mode}')
        self.mode = mode

    def __call__(self, inputs: Any) -> Any:
        x = np.asarray(inputs)
        if x.ndim != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={x.shape}")
        axis = 1 if self.mode == "rows" else 0
        norm = np.sqrt(np.maximum(np.sum(np.square(x), axis=axis, keepdims=True), 1e-12))
        x = x / norm
        product = x @ x.T if self.mode == "rows" else x.T @ x
        size = product.shape[0]
        off_diagonal = product * (1.0 - np.eye(size, dtype=x.dtype))
        num_pairs = size * (size - 1.0) / 2.0
        return x.dtype.type(self.factor) * 0.5 * np.sum(np.abs(off_diagonal)) / num_pairs

    def get_config(self) -> Dict[str, Any]:
        return {"factor": float(self.factor), "mode": self.mode}


_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
#: Keras's lookup table: class names and their snake_case forms ("l1l2", as Keras spells it).
_OBJECTS: Dict[str, Any] = {cls.__name__: cls for cls in _CLASSES}
_OBJECTS.update({"regularizer": Regularizer, "l1": L1, "l2": L2, "l1l2": L1L2,
                 "orthogonal_regularizer": OrthogonalRegularizer})

for _cls in _CLASSES:
    _registry.register_builtin("keras.regularizers", _cls.__name__, _cls)
# Keras also exports the lower-case names (keras.regularizers.l1 is L1, l1_l2 is L1L2).
for _alias, _cls in (("l1", L1), ("l2", L2), ("l1_l2", L1L2),
                     ("orthogonal_regularizer", OrthogonalRegularizer)):
    _registry.register_builtin("keras.regularizers", _alias, _cls)


def serialize(regularizer: Regularizer) -> Any:
    """``serialize_keras_object`` of a regularizer."""
    from kerasave.saving.serialization import serialize_keras_object

    return serialize_keras_object(regularizer)


def deserialize(config: Any, custom_objects: Optional[Dict[str, Any]] = None) -> Any:
    """A regularizer from its config (a record or a name)."""
    from kerasave.saving.serialization import deserialize_keras_object

    return deserialize_keras_object(config, module_objects=_OBJECTS,
                                    custom_objects=custom_objects)


def get(identifier: Any) -> Optional[Regularizer]:
    """A regularizer from ``None``, a record, a name (``"l2"``) or an instance, as Keras's
    ``regularizers.get``.

    Raises:
        ValueError: The identifier names nothing.
    """
    return resolve_identifier(identifier, kind="regularizer", deserialize=deserialize,
                              lookup=_OBJECTS.get)
