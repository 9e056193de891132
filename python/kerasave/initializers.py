"""Keras initializers: configs identical to Keras 3 plus numpy sampling (for building models)."""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence

import numpy as np

from kerasave.saving import registry as _registry


def _rng(seed: Any) -> np.random.Generator:
    return np.random.default_rng(seed if isinstance(seed, int) else None)


def _fans(shape: Sequence[int]) -> tuple:
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base initializer: ``init(shape, dtype)`` returns a numpy array."""

    def __call__(self, shape: Sequence[int], dtype: Any = "float32") -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> Dict[str, Any]:
        """Returns the constructor arguments."""
        return {}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Initializer":
        """Builds an initializer from :meth:`get_config` output."""
        return cls(**config)


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape: Sequence[int], dtype: Any = "float32") -> np.ndarray:
        return np.zeros(tuple(shape), dtype=dtype)


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape: Sequence[int], dtype: Any = "float32") -> np.ndarray:
        return np.ones(tuple(shape), dtype=dtype)


class Constant(Initializer):
    """A constant value."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def __call__(self, shape: Sequence[int], dtype: Any = "float32") -> np.ndarray:
        return np.full(tuple(shape), self.value, dtype=dtype)

    def get_config(self) -> Dict[str, Any]:
        return {"value": self.value}


class Identity(Initializer):
    """Identity matrix times ``gain``."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, shape: Sequence[int], dtype: Any = "float32") -> np.ndarray:
        return (self.gain * np.eye(*tuple(shape))).astype(dtype)

    def get_config(self) -> Dict[str, Any]:
        return {"gain": self.gain}


class _Seeded(Initializer):
    def __init__(self, seed: Optional[int] = None) -> None:
        self.seed = seed

    def get_config(self) -> Dict[str, Any]:
        return {"seed": self.seed}


class RandomUniform(_Seeded):
    """Uniform in ``[minval, maxval)``."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05,
                 seed: Optional[int] = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape: Sequence[int], dtype: Any = "float32") -> np.ndarray:
        return _rng(self.seed).uniform(self.minval, self.maxval, tuple(shape)).astype(dtype)

    def get_config(self) -> Dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(_Seeded):
    """Normal with ``mean`` and ``stddev``."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05,
                 seed: Optional[int] = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape: Sequence[int], dtype: Any = "float32") -> np.ndarray:
        return _rng(self.seed).normal(self.mean, self.stddev, tuple(shape)).astype(dtype)

    def get_config(self) -> Dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


def _truncated(rng: np.random.Generator, shape: tuple, stddev: float) -> np.ndarray:
    out = rng.normal(0, 1, shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.normal(0, 1, int(bad.sum()))
        bad = np.abs(out) > 2
    return out * stddev


class TruncatedNormal(RandomNormal):
    """Normal truncated to two standard deviations."""

    def __call__(self, shape: Sequence[int], dtype: Any = "float32") -> np.ndarray:
        return (self.mean + _truncated(_rng(self.seed), tuple(shape), self.stddev)).astype(dtype)


class VarianceScaling(_Seeded):
    """Keras's variance-scaling family."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: Optional[int] = None) -> None:
        super().__init__(seed)
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape: Sequence[int], dtype: Any = "float32") -> np.ndarray:
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out}.get(self.mode, (fan_in + fan_out) / 2.0)
        scale = self.scale / max(1.0, n)
        rng, shape = _rng(self.seed), tuple(shape)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * scale)
            return rng.uniform(-limit, limit, shape).astype(dtype)
        if self.distribution == "untruncated_normal":
            return rng.normal(0, math.sqrt(scale), shape).astype(dtype)
        return _truncated(rng, shape, math.sqrt(scale) / 0.87962566103423978).astype(dtype)

    def get_config(self) -> Dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


def _fixed(name: str, scale: float, mode: str, distribution: str) -> type:
    def __init__(self: Any, seed: Optional[int] = None) -> None:
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self: Any) -> Dict[str, Any]:
        return {"seed": self.seed}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": f"Keras {name}."})


GlorotNormal = _fixed("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _fixed("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _fixed("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _fixed("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _fixed("LecunUniform", 1.0, "fan_in", "uniform")


class GlorotUniform(VarianceScaling):
    """Glorot (Xavier) uniform; Keras 3.15 records ``input_axes``/``output_axes`` too."""

    def __init__(self, seed: Optional[int] = None, input_axes: Any = None,
                 output_axes: Any = None) -> None:
        super().__init__(1.0, "fan_avg", "uniform", seed)
        self.input_axes, self.output_axes = input_axes, output_axes

    def get_config(self) -> Dict[str, Any]:
        return {"seed": self.seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class Orthogonal(_Seeded):
    """Random orthogonal matrix times ``gain``."""

    def __init__(self, gain: float = 1.0, seed: Optional[int] = None) -> None:
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape: Sequence[int], dtype: Any = "float32") -> np.ndarray:
        shape = tuple(shape)
        rows = int(np.prod(shape[:-1]))
        cols = shape[-1]
        a = _rng(self.seed).normal(0, 1, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q[:rows, :cols]).reshape(shape).astype(dtype)

    def get_config(self) -> Dict[str, Any]:
        return {"gain": self.gain, "seed": self.seed}


_CLASSES = [Zeros, Ones, Constant, Identity, RandomUniform, RandomNormal, TruncatedNormal,
            VarianceScaling, GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal,
            LecunUniform, Orthogonal]
_STRINGS = {"zeros": Zeros, "ones": Ones, "constant": Constant, "identity": Identity,
            "random_uniform": RandomUniform, "random_normal": RandomNormal,
            "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
            "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
            "he_normal": HeNormal, "he_uniform": HeUniform, "lecun_normal": LecunNormal,
            "lecun_uniform": LecunUniform, "orthogonal": Orthogonal}
# Keras 3.15 writes "Orthogonal" / "Identity" (checked against real Keras); the
# *Initializer spellings are accepted aliases.
for _cls in _CLASSES:
    _registry.register_builtin("keras.initializers", _cls.__name__, _cls)
_registry.register_builtin("keras.initializers", "IdentityInitializer", Identity)
_registry.register_builtin("keras.initializers", "OrthogonalInitializer", Orthogonal)


def serialize(initializer: Initializer) -> Any:
    """``serialize_keras_object`` of an initializer."""
    from kerasave.saving.serialization import serialize_keras_object

    return serialize_keras_object(initializer)


def get(identifier: Any) -> Optional[Initializer]:
    """Returns an initializer for a name, a config record, an instance or None.

    Args:
        identifier: ``"glorot_uniform"``, a record, an instance, or None.

    Returns:
        The initializer instance (or None).
    """
    if identifier is None or isinstance(identifier, Initializer) or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        cls = _STRINGS.get(identifier) or {c.__name__: c for c in _CLASSES}.get(identifier)
        if cls is None:
            from kerasave.errors import UnknownObjectError

            raise UnknownObjectError(f"Unknown initializer: '{identifier}'.")
        return cls()
    from kerasave.saving.serialization import deserialize_keras_object

    if isinstance(identifier, dict) and "module" not in identifier:
        cls = {c.__name__: c for c in _CLASSES}.get(identifier.get("class_name"))
        if cls is not None:
            return cls.from_config(identifier.get("config") or {})
    return deserialize_keras_object(identifier)
