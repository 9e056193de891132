"""Keras 3 losses (``ks.losses``): the loss classes with Keras 3.15.1 configs (keys, order,
defaults, and Keras's omissions such as ``Huber``'s ``delta``) and the loss functions under their
Keras names and aliases (``"mse"``). kerasave does not train; the common losses also compute
with numpy so a loaded model can be evaluated."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from kerasave._identifiers import resolve_identifier
from kerasave.saving import registry as _registry

__all__ = ["Loss", "LossFunctionWrapper", "deserialize", "get", "serialize"]

_EPS = 1e-7
_REDUCTIONS = {"sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight"}


def _f(x: Any) -> np.ndarray:
    arr = np.asarray(x)
    return arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float32)


# -- functions (numpy) ---------------------------------------------------------------------------

def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """``mean(square(y_true - y_pred), axis=-1)``."""
    return np.mean(np.square(_f(y_true) - _f(y_pred)), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """``mean(abs(y_true - y_pred), axis=-1)``."""
    return np.mean(np.abs(_f(y_true) - _f(y_pred)), axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), eps)), axis=-1)``."""
    t, p = _f(y_true), _f(y_pred)
    return 100.0 * np.mean(np.abs((t - p) / np.maximum(np.abs(t), _EPS)), axis=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """``mean(square(log(y_true + 1) - log(y_pred + 1)), axis=-1)`` (clipped at eps)."""
    t = np.log(np.maximum(_f(y_true), _EPS) + 1.0)
    p = np.log(np.maximum(_f(y_pred), _EPS) + 1.0)
    return np.mean(np.square(t - p), axis=-1)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> np.ndarray:
    """Negative cosine similarity along ``axis``."""
    t, p = _f(y_true), _f(y_pred)
    t = t / np.maximum(np.linalg.norm(t, axis=axis, keepdims=True), 1e-12)
    p = p / np.maximum(np.linalg.norm(p, axis=axis, keepdims=True), 1e-12)
    return -np.sum(t * p, axis=axis)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> np.ndarray:
    """Huber loss: quadratic within ``delta``, linear outside."""
    err = np.abs(_f(y_pred) - _f(y_true))
    return np.mean(np.where(err <= delta, 0.5 * err ** 2, delta * (err - 0.5 * delta)), axis=-1)


def log_cosh(y_true: Any, y_pred: Any) -> np.ndarray:
    """``mean(log(cosh(y_pred - y_true)), axis=-1)`` (overflow-safe form)."""
    x = _f(y_pred) - _f(y_true)
    return np.mean(x + np.log1p(np.exp(-2.0 * x)) - np.log(2.0), axis=-1)


def hinge(y_true: Any, y_pred: Any) -> np.ndarray:
    """``mean(maximum(1 - y_true * y_pred, 0), axis=-1)``; 0/1 labels become -1/1."""
    t = _f(y_true)
    t = np.where(t == 0, -1.0, t)
    return np.mean(np.maximum(1.0 - t * _f(y_pred), 0.0), axis=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> np.ndarray:
    """``mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)``."""
    t = _f(y_true)
    t = np.where(t == 0, -1.0, t)
    return np.mean(np.square(np.maximum(1.0 - t * _f(y_pred), 0.0)), axis=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> np.ndarray:
    """``maximum(neg - pos + 1, 0)``."""
    t, p = _f(y_true), _f(y_pred)
    pos = np.sum(t * p, axis=-1)
    neg = np.max((1.0 - t) * p, axis=-1)
    return np.maximum(neg - pos + 1.0, 0.0)


def kl_divergence(y_true: Any, y_pred: Any) -> np.ndarray:
    """``sum(y_true * log(y_true / y_pred), axis=-1)`` (clipped to [eps, 1])."""
    t = np.clip(_f(y_true), _EPS, 1.0)
    p = np.clip(_f(y_pred), _EPS, 1.0)
    return np.sum(t * np.log(t / p), axis=-1)


def poisson(y_true: Any, y_pred: Any) -> np.ndarray:
    """``mean(y_pred - y_true * log(y_pred + eps), axis=-1)``."""
    p = _f(y_pred)
    return np.mean(p - _f(y_true) * np.log(p + _EPS), axis=-1)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> np.ndarray:
    """Binary cross-entropy, mean over ``axis``."""
    t, p = _f(y_true), _f(y_pred)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        bce = np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))
    else:
        p = np.clip(p, _EPS, 1.0 - _EPS)
        bce = -(t * np.log(p) + (1.0 - t) * np.log(1.0 - p))
    return np.mean(bce, axis=axis)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> np.ndarray:
    """Categorical cross-entropy over ``axis`` (probabilities renormalized as Keras does)."""
    t, p = _f(y_true), _f(y_pred)
    if label_smoothing:
        n = t.shape[axis]
        t = t * (1.0 - label_smoothing) + label_smoothing / n
    if from_logits:
        return -np.sum(t * _log_softmax(p, axis), axis=axis)
    p = p / np.sum(p, axis=axis, keepdims=True)
    return -np.sum(t * np.log(np.clip(p, _EPS, 1.0 - _EPS)), axis=axis)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: Optional[int] = None,
                                    axis: int = -1) -> np.ndarray:
    """Cross-entropy with integer labels (``ignore_class`` entries give 0)."""
    p = _f(y_pred)
    labels = np.asarray(y_true).astype(np.int64)
    if labels.ndim == p.ndim:
        labels = np.squeeze(labels, axis=axis)
    logp = _log_softmax(p, axis) if from_logits else np.log(
        np.clip(p / np.sum(p, axis=axis, keepdims=True), _EPS, 1.0 - _EPS))
    logp = np.moveaxis(logp, axis, -1)
    valid = labels != ignore_class if ignore_class is not None else np.ones_like(labels, bool)
    safe = np.where(valid, labels, 0)
    out = -np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    return np.where(valid, out, 0.0)


def _not_computed(name: str) -> Callable[..., Any]:
    def fn(y_true: Any, y_pred: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"kerasave keeps the config of keras.losses.{name} but does "
                                  "not compute it (no training)")
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``keras.losses.{name}`` (config only: calling it raises NotImplementedError)."
    return fn


binary_focal_crossentropy = _not_computed("binary_focal_crossentropy")
categorical_focal_crossentropy = _not_computed("categorical_focal_crossentropy")
categorical_generalized_cross_entropy = _not_computed("categorical_generalized_cross_entropy")
circle = _not_computed("circle")
ctc = _not_computed("ctc")
dice = _not_computed("dice")
tversky = _not_computed("tversky")

FUNCTIONS = (
    kl_divergence, poisson, binary_crossentropy, binary_focal_crossentropy,
    categorical_crossentropy, categorical_focal_crossentropy, sparse_categorical_crossentropy,
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, cosine_similarity, log_cosh, huber, hinge, squared_hinge,
    categorical_hinge, dice, tversky, circle, ctc, categorical_generalized_cross_entropy,
)

#: Keras's alias names.
ALIASES: Dict[str, Callable[..., Any]] = {
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
    "kld": kl_divergence, "KLD": kl_divergence,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mse": mean_squared_error, "MSE": mean_squared_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
}


# -- classes -------------------------------------------------------------------------------------

def _reduce(values: np.ndarray, sample_weight: Any, reduction: Optional[str]) -> Any:
    values = np.asarray(values)
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=values.dtype)
        while w.ndim > values.ndim:
            w = np.squeeze(w, -1)
        values = values * w
    if reduction in (None, "none"):
        return values
    total = np.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return total / np.sum(np.broadcast_to(np.asarray(sample_weight), values.shape))
    return total / max(values.size, 1)


class Loss:
    """Base loss: ``name``, ``reduction``, ``dtype``; ``__call__`` reduces :meth:`call`.

    Args:
        name: The loss name.
        reduction: ``"sum_over_batch_size"`` (default), ``"sum"``, ``"mean"``,
            ``"mean_with_sample_weight"``, ``"none"`` or None.
        dtype: Recorded (not in the config, as in Keras 3).

    Raises:
        ValueError: An unknown reduction.
    """

    def __init__(self, name: Optional[str] = None, reduction: Optional[str] = "sum_over_batch_size",
                 dtype: Any = None) -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(
                "Invalid value for argument `reduction`. Expected one of "
                f"{sorted(str(r) for r in _REDUCTIONS)}. Received: reduction={reduction}")
        from kerasave.layers.base import to_snake_case, unique_name

        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.reduction = reduction
        self._dtype = dtype

    @property
    def dtype(self) -> str:
        """The computation dtype (``float32`` unless given)."""
        return self._dtype if isinstance(self._dtype, str) else "float32"

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        return _reduce(self.call(y_true, y_pred), sample_weight, self.reduction)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Per-sample losses; subclasses implement it."""
        raise NotImplementedError

    def get_config(self) -> Dict[str, Any]:
        """``{"name", "reduction"}`` (Keras 3 writes no dtype)."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Loss":
        """``cls(**config)``."""
        return cls(**config)

    def _obj_type(self) -> str:
        return "Loss"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class LossFunctionWrapper(Loss):
    """A loss function with fixed keyword arguments (Keras ``LossFunctionWrapper``).

    Args:
        fn: The function ``fn(y_true, y_pred, **kwargs)``.
        reduction, name, dtype: As :class:`Loss`.
        **kwargs: Passed to ``fn``; part of the config.
    """

    def __init__(self, fn: Callable[..., Any], reduction: Optional[str] = "sum_over_batch_size",
                 name: Optional[str] = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> Dict[str, Any]:
        from kerasave.saving.serialization import serialize_keras_object

        config = super().get_config()
        config["fn"] = serialize_keras_object(self.fn)
        config.update(serialize_keras_object(self._fn_kwargs))
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Loss":
        from kerasave.saving.serialization import deserialize_keras_object

        config = dict(config)
        if "fn" in config:
            config = deserialize_keras_object(config)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"


# (class name, function, default name, constructor parameters in Keras's signature order
#  (name, default), the keys get_config writes after name/reduction). Checked against Keras 3.15.1.
_R = ("reduction", "sum_over_batch_size")
_CLASSES: Sequence[Tuple[str, Callable[..., Any], str, List[Tuple[str, Any]], List[str]]] = [
    ("MeanSquaredError", mean_squared_error, "mean_squared_error", [_R], []),
    ("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error", [_R], []),
    ("MeanAbsolutePercentageError", mean_absolute_percentage_error,
     "mean_absolute_percentage_error", [_R], []),
    ("MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
     "mean_squared_logarithmic_error", [_R], []),
    ("CosineSimilarity", cosine_similarity, "cosine_similarity", [("axis", -1), _R], []),
    ("Huber", huber, "huber_loss", [("delta", 1.0), _R], []),
    ("LogCosh", log_cosh, "log_cosh", [_R], []),
    ("Hinge", hinge, "hinge", [_R], []),
    ("SquaredHinge", squared_hinge, "squared_hinge", [_R], []),
    ("CategoricalHinge", categorical_hinge, "categorical_hinge", [_R], []),
    ("KLDivergence", kl_divergence, "kl_divergence", [_R], []),
    ("Poisson", poisson, "poisson", [_R], []),
    ("BinaryCrossentropy", binary_crossentropy, "binary_crossentropy",
     [("from_logits", False), ("label_smoothing", 0.0), ("axis", -1), _R],
     ["from_logits", "label_smoothing", "axis"]),
    ("BinaryFocalCrossentropy", binary_focal_crossentropy, "binary_focal_crossentropy",
     [("apply_class_balancing", False), ("alpha", 0.25), ("gamma", 2.0), ("from_logits", False),
      ("label_smoothing", 0.0), ("axis", -1), _R],
     ["from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha", "gamma"]),
    ("CategoricalCrossentropy", categorical_crossentropy, "categorical_crossentropy",
     [("from_logits", False), ("label_smoothing", 0.0), ("axis", -1), _R],
     ["from_logits", "label_smoothing", "axis"]),
    ("CategoricalFocalCrossentropy", categorical_focal_crossentropy,
     "categorical_focal_crossentropy",
     [("alpha", 0.25), ("gamma", 2.0), ("from_logits", False), ("label_smoothing", 0.0),
      ("axis", -1), _R],
     ["from_logits", "label_smoothing", "axis", "alpha", "gamma"]),
    ("SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
     "sparse_categorical_crossentropy",
     [("from_logits", False), ("ignore_class", None), _R, ("axis", -1)],
     ["from_logits", "ignore_class"]),
    ("CategoricalGeneralizedCrossEntropy", categorical_generalized_cross_entropy,
     "categorical_generalized_cross_entropy", [("q", 0.5), _R], ["q"]),
    ("Dice", dice, "dice", [_R, ("name", "dice"), ("axis", None)], ["axis"]),
    ("Tversky", tversky, "tversky", [("alpha", 0.5), ("beta", 0.5), _R, ("name", "tversky"),
                                     ("axis", None)], ["alpha", "beta", "axis"]),
    ("Circle", circle, "circle", [("gamma", 80.0), ("margin", 0.4), ("remove_diagonal", True),
                                  _R], ["gamma", "margin", "remove_diagonal"]),
    ("CTC", ctc, "ctc", [_R], []),
]


def _make_class(class_name: str, fn: Callable[..., Any], default_name: str,
                params: List[Tuple[str, Any]], config_keys: List[str]) -> type:
    names = [p for p, _ in params]
    if "name" not in names:
        params = params + [("name", default_name)]
    params = params + [("dtype", None)]
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d)
           for p, d in params])
    fn_keys = [p for p, _ in params if p not in ("reduction", "name", "dtype")]

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        values.pop("self")
        LossFunctionWrapper.__init__(
            self, fn, reduction=values["reduction"], name=values["name"], dtype=values["dtype"],
            **{k: values[k] for k in fn_keys})

    def call(self: Any, y_true: Any, y_pred: Any) -> Any:
        kwargs = {k: v for k, v in self._fn_kwargs.items()
                  if k in inspect.signature(fn).parameters}
        return fn(y_true, y_pred, **kwargs)

    def get_config(self: Any) -> Dict[str, Any]:
        config = Loss.get_config(self)
        config.update({k: self._fn_kwargs[k] for k in config_keys})
        return config

    @classmethod  # type: ignore[misc]
    def from_config(cls: Any, config: Mapping[str, Any]) -> Any:
        return cls(**config)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    doc = (f"Keras 3 ``keras.losses.{class_name}`` (wraps ``{fn.__name__}``).\n\n"
           f"Args: {', '.join(f'{p}={d!r}' for p, d in params)}. Config keys: name, reduction"
           + "".join(f", {k}" for k in config_keys) + ".")
    return type(class_name, (LossFunctionWrapper,), {
        "__init__": __init__, "call": call, "get_config": get_config,
        "from_config": from_config, "__doc__": doc, "__module__": __name__})


for _spec in _CLASSES:
    globals()[_spec[0]] = _make_class(*_spec)
    __all__.append(_spec[0])
__all__ += [f.__name__ for f in FUNCTIONS]

CLASSES: Tuple[type, ...] = tuple(globals()[s[0]] for s in _CLASSES)

#: ``{name: object}`` as Keras's ``losses.ALL_OBJECTS_DICT`` (class and function names, aliases).
ALL_OBJECTS_DICT: Dict[str, Any] = {c.__name__: c for c in (Loss, LossFunctionWrapper) + CLASSES}
ALL_OBJECTS_DICT.update({f.__name__: f for f in FUNCTIONS})
ALL_OBJECTS_DICT.update(ALIASES)

_registry.register_builtin("keras", "Loss", Loss, aliases=["keras.losses.Loss"])
# Not exported by Keras: written with its internal module and registered_name, as Keras does.
_registry.register_builtin("keras.src.losses.losses", "LossFunctionWrapper", LossFunctionWrapper)
for _cls in CLASSES:
    _registry.register_builtin("keras.losses", _cls.__name__, _cls)
for _fn in FUNCTIONS:
    _registry.register_builtin("keras.losses", _fn.__name__, _fn)
for _alias, _fn in ALIASES.items():
    _registry.register_builtin("keras.losses", _alias, _fn)


def serialize(loss: Any) -> Any:
    """The Keras record of a loss object or function."""
    from kerasave.saving.serialization import serialize_keras_object

    return serialize_keras_object(loss)


def deserialize(name: Any, custom_objects: Optional[Mapping[str, Any]] = None) -> Any:
    """A loss from a name (``"mse"``) or a record.

    Raises:
        UnknownObjectError: Not a Keras loss and not registered.
    """
    from kerasave.saving.serialization import deserialize_keras_object

    return deserialize_keras_object(name, custom_objects=custom_objects,
                                    module_objects=ALL_OBJECTS_DICT)


def _lookup(name: str) -> Any:
    """A loss by Keras name, else a registered object of that name."""
    from kerasave.saving.registry import get_registered_object

    return ALL_OBJECTS_DICT.get(name) or get_registered_object(name)


def get(identifier: Any) -> Any:
    """A loss from None, a name, a record dict, a class (instantiated) or a callable.

    Raises:
        ValueError: The identifier does not give a loss.
    """
    return resolve_identifier(identifier, kind="loss", deserialize=deserialize,
                              lookup=_lookup)
