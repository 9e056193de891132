"""Keras 3 weight constraints (``ks.constraints``): the classes with Keras 3.15.1 configs, so
models that use them load, save and round-trip; ``constraint(w)`` applies the projection with
numpy (kerasave does not train)."""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from kerasave._identifiers import resolve_identifier
from kerasave.saving import registry as _registry

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "deserialize", "get",
           "serialize"]

_EPSILON = 1e-7  # keras.config.epsilon()


def _norms(w: np.ndarray, axis: Any) -> np.ndarray:
    return np.sqrt(np.sum(np.square(w), axis=tuple(axis) if isinstance(axis, list) else axis,
                          keepdims=True))


class Constraint:
    """Base class: ``constraint(w)`` returns the projected weight (the identity here)."""

    def __call__(self, w: Any) -> Any:
        return w

    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments (none for the base class)."""
        return {}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Constraint":
        """``cls(**config)``."""
        return cls(**config)


class MaxNorm(Constraint):
    """Caps the norm of the weights along ``axis`` at ``max_value``."""

    def __init__(self, max_value: float = 2, axis: Any = 0) -> None:
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w: Any) -> Any:
        w = np.asarray(w)
        norms = _norms(w, self.axis)
        return w * (np.clip(norms, 0, self.max_value) / (_EPSILON + norms))

    def get_config(self) -> Dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Clips the weights at 0 from below."""

    def __call__(self, w: Any) -> Any:
        return np.maximum(np.asarray(w), 0)


class UnitNorm(Constraint):
    """Scales the weights to unit norm along ``axis``."""

    def __init__(self, axis: Any = 0) -> None:
        self.axis = axis

    def __call__(self, w: Any) -> Any:
        w = np.asarray(w)
        return w / (_EPSILON + _norms(w, self.axis))

    def get_config(self) -> Dict[str, Any]:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the norm along ``axis`` into ``[min_value, max_value]`` at ``rate``."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0,
                 axis: Any = 0) -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w: Any) -> Any:
        w = np.asarray(w)
        norms = _norms(w, self.axis)
        desired = (self.rate * np.clip(norms, self.min_value, self.max_value)
                   + (1 - self.rate) * norms)
        return w * (desired / (_EPSILON + norms))

    def get_config(self) -> Dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


_CLASSES = (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)
#: Keras's lookup table: class names and their snake_case forms.
_OBJECTS: Dict[str, Any] = {cls.__name__: cls for cls in _CLASSES}
_OBJECTS.update({"constraint": Constraint, "max_norm": MaxNorm, "min_max_norm": MinMaxNorm,
                 "non_neg": NonNeg, "unit_norm": UnitNorm})

for _cls in _CLASSES:
    _registry.register_builtin("keras.constraints", _cls.__name__, _cls)
for _alias, _cls in (("max_norm", MaxNorm), ("min_max_norm", MinMaxNorm), ("non_neg", NonNeg),
                     ("unit_norm", UnitNorm)):
    _registry.register_builtin("keras.constraints", _alias, _cls)


def serialize(constraint: Constraint) -> Any:
    """``serialize_keras_object`` of a constraint."""
    from kerasave.saving.serialization import serialize_keras_object

    return serialize_keras_object(constraint)


def deserialize(config: Any, custom_objects: Optional[Dict[str, Any]] = None) -> Any:
    """A constraint from its config (a record or a name)."""
    from kerasave.saving.serialization import deserialize_keras_object

    return deserialize_keras_object(config, module_objects=_OBJECTS,
                                    custom_objects=custom_objects)


def get(identifier: Any) -> Optional[Constraint]:
    """A constraint from ``None``, a record, a name (``"non_neg"``) or an instance, as Keras's
    ``constraints.get``.

    Raises:
        ValueError: The identifier names nothing.
    """
    return resolve_identifier(identifier, kind="constraint", deserialize=deserialize,
                              lookup=_OBJECTS.get)
