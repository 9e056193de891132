"""Keras 3 metrics (``ks.metrics``): configs as Keras 3.15.1 writes them and the state variables
each metric creates (``Mean``: ``total``, ``count``; ``AUC``: four ``(num_thresholds,)``
accumulators; ...), with ``variables`` paths such as ``"mean/total"``. The mean-style metrics
also update with numpy; kerasave does not train."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from kerasave._identifiers import resolve_identifier
from kerasave import losses as _losses
from kerasave.layers.base import Variable, _np_dtype, to_snake_case, unique_name
from kerasave.saving import registry as _registry

__all__ = ["Mean", "MeanMetricWrapper", "Metric", "Sum", "deserialize", "get", "serialize"]


# -- metric functions ----------------------------------------------------------------------------

def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """``mean(y_true == (y_pred > threshold), axis=-1)``."""
    p = (np.asarray(y_pred) > threshold).astype(np.float32)
    return np.mean((np.asarray(y_true, np.float32) == p).astype(np.float32), axis=-1)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """``argmax(y_true) == argmax(y_pred)``."""
    return (np.argmax(y_true, -1) == np.argmax(y_pred, -1)).astype(np.float32)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """Integer labels against ``argmax(y_pred)``."""
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if t.ndim == p.ndim:
        t = np.squeeze(t, -1)
    return (t.astype(np.int64) == np.argmax(p, -1)).astype(np.float32)


def _top_k(labels: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    top = np.argsort(-y_pred, axis=-1, kind="stable")[..., :k]
    return np.any(top == labels[..., None], axis=-1).astype(np.float32)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """Whether the true class is among the top ``k`` predictions (one-hot labels)."""
    return _top_k(np.argmax(y_true, -1), np.asarray(y_pred), k)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5,
                                      from_sorted_ids: bool = False) -> np.ndarray:
    """Whether the integer label is among the top ``k`` predictions."""
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if from_sorted_ids:
        return np.any(p[..., :k] == t.reshape(t.shape[0], 1), axis=-1).astype(np.float32)
    if t.ndim == p.ndim:
        t = np.squeeze(t, -1)
    return _top_k(t.astype(np.int64), p, k)


def _accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    return (np.asarray(y_true) == np.asarray(y_pred)).astype(np.float32)


def _not_computed(name: str) -> Callable[..., Any]:
    def fn(y_true: Any, y_pred: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"kerasave keeps the config of keras.metrics.{name} but does "
                                  "not compute it (no training)")
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``keras.metrics.{name}`` (config only: calling it raises NotImplementedError)."
    return fn


concordance_correlation = _not_computed("concordance_correlation")
pearson_correlation = _not_computed("pearson_correlation")

FUNCTIONS = (binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
             top_k_categorical_accuracy, sparse_top_k_categorical_accuracy,
             concordance_correlation, pearson_correlation)
#: Loss functions Keras also exports under ``keras.metrics``.
LOSS_FUNCTIONS = (_losses.binary_crossentropy, _losses.binary_focal_crossentropy,
                  _losses.categorical_crossentropy, _losses.categorical_focal_crossentropy,
                  _losses.categorical_hinge, _losses.hinge, _losses.huber,
                  _losses.kl_divergence, _losses.log_cosh, _losses.mean_absolute_error,
                  _losses.mean_absolute_percentage_error, _losses.mean_squared_error,
                  _losses.mean_squared_logarithmic_error, _losses.poisson,
                  _losses.sparse_categorical_crossentropy, _losses.squared_hinge)


# -- base classes --------------------------------------------------------------------------------

class Metric:
    """Base metric: a name, a dtype and state variables (``add_variable``).

    Args:
        dtype: The variables' dtype (default ``"float32"``).
        name: Default ``snake_case(class name)``.
    """

    def __init__(self, dtype: Any = None, name: Optional[str] = None) -> None:
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._dtype = dtype
        self._variables: List[Variable] = []
        self._initial_values: List[np.ndarray] = []

    @property
    def dtype(self) -> str:
        """The dtype name."""
        if self._dtype is None:
            return "float32"
        return self._dtype if isinstance(self._dtype, str) else np.dtype(self._dtype).name

    @property
    def variables(self) -> List[Variable]:
        """The state variables in creation order."""
        return list(self._variables)

    def add_variable(self, shape: Sequence[int], initializer: Any = "zeros",
                     dtype: Any = None, aggregation: str = "sum",
                     name: Optional[str] = None) -> Variable:
        """Adds a state variable with path ``"<metric name>/<name>"``.

        Args:
            shape: Its shape.
            initializer: ``"zeros"``/``"ones"`` or a number.
            dtype: Defaults to the metric's dtype.
            aggregation: Ignored.
            name: Variable name.

        Returns:
            The variable.
        """
        np_dtype = _np_dtype(dtype if dtype is not None else self.dtype)
        shape = tuple(int(s) for s in shape)
        fill = {"zeros": 0, "ones": 1}.get(initializer, initializer) \
            if isinstance(initializer, str) else initializer
        value = np.full(shape, fill, dtype=np_dtype)
        var = Variable(value, name=name or "variable", path=f"{self.name}/{name or 'variable'}",
                       trainable=False)
        self._variables.append(var)
        self._initial_values.append(value.copy())
        return var

    def reset_state(self) -> None:
        """Sets every variable back to its initial value."""
        for var, value in zip(self._variables, self._initial_values):
            var.assign(value.copy())

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Accumulates statistics; only mean-style metrics compute in kerasave."""
        raise NotImplementedError(
            f"kerasave keeps the state of {type(self).__name__} but does not update it")

    def result(self) -> Any:
        """The metric value from the state; only mean-style metrics compute in kerasave."""
        raise NotImplementedError(
            f"kerasave keeps the state of {type(self).__name__} but does not compute its result")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> Dict[str, Any]:
        """``{"name", "dtype"}``."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Metric":
        """``cls(**config)``."""
        return cls(**config)

    def _own_variables(self) -> List[Variable]:
        return self.variables

    def _obj_type(self) -> str:
        return "Metric"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class Sum(Metric):
    """Sum of values: variable ``total``."""

    def __init__(self, name: str = "sum", dtype: Any = None) -> None:
        super().__init__(dtype=dtype, name=name)
        self.total = self.add_variable((), name="total")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Adds ``sum(values * sample_weight)``."""
        v = np.asarray(values, dtype=_np_dtype(self.dtype))
        if sample_weight is not None:
            v = v * np.asarray(sample_weight, dtype=v.dtype)
        self.total.assign(self.total.numpy() + np.sum(v))

    def result(self) -> Any:
        return self.total.numpy().copy()


class Mean(Metric):
    """Weighted mean: variables ``total``, ``count``."""

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(dtype=dtype, name=name)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Accumulates ``sum(values * w)`` and ``sum(w)`` (w = 1 without weights)."""
        dt = _np_dtype(self.dtype)
        v = np.asarray(values, dtype=dt)
        if sample_weight is None:
            total, count = np.sum(v), v.size
        else:
            w = np.broadcast_to(np.asarray(sample_weight, dtype=dt), v.shape)
            total, count = np.sum(v * w), np.sum(w)
        self.total.assign(self.total.numpy() + total)
        self.count.assign(self.count.numpy() + count)

    def result(self) -> Any:
        count = self.count.numpy()
        return self.total.numpy() / count if count else np.zeros((), self.total.numpy().dtype)


class MeanMetricWrapper(Mean):
    """Mean of ``fn(y_true, y_pred, **kwargs)`` over batches.

    Args:
        fn: The function.
        name: Metric name.
        dtype: Dtype.
        **kwargs: Passed to ``fn``; part of the config.
    """

    def __init__(self, fn: Callable[..., Any], name: Optional[str] = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"),
                         dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds the batch's ``fn`` values."""
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self) -> Dict[str, Any]:
        from kerasave.saving.serialization import serialize_keras_object

        config = {"fn": serialize_keras_object(self._fn)}
        config.update(serialize_keras_object(self._fn_kwargs))
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Metric":
        from kerasave.saving.serialization import deserialize_keras_object

        config = dict(config)
        fn = config.get("fn")
        if isinstance(fn, str) and fn in _FUNCTIONS_BY_NAME:
            # Keras 2 / tf_keras write the function by name ("mean_absolute_error").
            config["fn"] = _FUNCTIONS_BY_NAME[fn]
        elif fn is not None:
            config = deserialize_keras_object(config)
        return cls(**config)


class RootMeanSquaredError(Mean):
    """``sqrt(mean(square(y_true - y_pred)))``: variables ``total``, ``count``."""

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds squared errors."""
        err = np.square(np.asarray(y_true, np.float32) - np.asarray(y_pred, np.float32))
        super().update_state(err, sample_weight)

    def result(self) -> Any:
        return np.sqrt(super().result())


# -- generated classes ---------------------------------------------------------------------------
# (class name, kind, constructor parameters in Keras's signature order, config keys in Keras's
#  order, function for mean-style metrics). Kinds: "mean" (MeanMetricWrapper of fn), "thr"
# (confusion accumulators), "auc", "at" (sensitivity/specificity family), "pr" (precision,
# recall), "iou", "f" (F-scores, variables created on first update), "r2".

_MEAN_CLASSES: Sequence[Tuple[str, Callable[..., Any], str, List[Tuple[str, Any]], List[str]]] = [
    ("Accuracy", _accuracy, "accuracy", [], []),
    ("BinaryAccuracy", binary_accuracy, "binary_accuracy", [("threshold", 0.5)], ["threshold"]),
    ("CategoricalAccuracy", categorical_accuracy, "categorical_accuracy", [], []),
    ("SparseCategoricalAccuracy", sparse_categorical_accuracy, "sparse_categorical_accuracy",
     [], []),
    ("TopKCategoricalAccuracy", top_k_categorical_accuracy, "top_k_categorical_accuracy",
     [("k", 5)], ["k"]),
    ("SparseTopKCategoricalAccuracy", sparse_top_k_categorical_accuracy,
     "sparse_top_k_categorical_accuracy", [("k", 5), ("from_sorted_ids", False)], ["k"]),
    ("MeanSquaredError", _losses.mean_squared_error, "mean_squared_error", [], []),
    ("MeanAbsoluteError", _losses.mean_absolute_error, "mean_absolute_error", [], []),
    ("MeanAbsolutePercentageError", _losses.mean_absolute_percentage_error,
     "mean_absolute_percentage_error", [], []),
    ("MeanSquaredLogarithmicError", _losses.mean_squared_logarithmic_error,
     "mean_squared_logarithmic_error", [], []),
    ("CosineSimilarity", _losses.cosine_similarity, "cosine_similarity", [("axis", -1)], []),
    ("LogCoshError", _losses.log_cosh, "logcosh", [], []),
    ("Hinge", _losses.hinge, "hinge", [], []),
    ("SquaredHinge", _losses.squared_hinge, "squared_hinge", [], []),
    ("CategoricalHinge", _losses.categorical_hinge, "categorical_hinge", [], []),
    ("KLDivergence", _losses.kl_divergence, "kl_divergence", [], []),
    ("Poisson", _losses.poisson, "poisson", [], []),
    ("BinaryCrossentropy", _losses.binary_crossentropy, "binary_crossentropy",
     [("from_logits", False), ("label_smoothing", 0)], ["from_logits", "label_smoothing"]),
    ("CategoricalCrossentropy", _losses.categorical_crossentropy, "categorical_crossentropy",
     [("from_logits", False), ("label_smoothing", 0), ("axis", -1)],
     ["from_logits", "label_smoothing", "axis"]),
    ("SparseCategoricalCrossentropy", _losses.sparse_categorical_crossentropy,
     "sparse_categorical_crossentropy",
     [("from_logits", False), ("ignore_class", None), ("axis", -1)],
     ["from_logits", "ignore_class", "axis"]),
    ("ConcordanceCorrelation", concordance_correlation, "concordance_correlation",
     [("axis", -1)], ["axis"]),
    ("PearsonCorrelation", pearson_correlation, "pearson_correlation", [("axis", -1)],
     ["axis"]),
]


def _signature(params: List[Tuple[str, Any]]) -> inspect.Signature:
    return inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d)
           for p, d in params])


def _bind(signature: inspect.Signature, self: Any, args: tuple,
          kwargs: Dict[str, Any]) -> Dict[str, Any]:
    bound = signature.bind(self, *args, **kwargs)
    bound.apply_defaults()
    values = dict(bound.arguments)
    values.pop("self")
    return values


def _make_mean_class(class_name: str, fn: Callable[..., Any], default_name: str,
                     extra: List[Tuple[str, Any]], config_keys: List[str]) -> type:
    params = [("name", default_name), ("dtype", None)] + extra
    signature = _signature(params)
    fn_keys = [p for p, _ in extra]

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        values = _bind(signature, self, args, kwargs)
        MeanMetricWrapper.__init__(self, fn, name=values["name"], dtype=values["dtype"],
                                   **{k: values[k] for k in fn_keys})

    def update_state(self: Any, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        accepted = inspect.signature(fn).parameters
        kwargs = {k: v for k, v in self._fn_kwargs.items() if k in accepted}
        Mean.update_state(self, fn(y_true, y_pred, **kwargs), sample_weight)

    def get_config(self: Any) -> Dict[str, Any]:
        config = Metric.get_config(self)
        config.update({k: self._fn_kwargs[k] for k in config_keys})
        return config

    @classmethod  # type: ignore[misc]
    def from_config(cls: Any, config: Mapping[str, Any]) -> Any:
        return cls(**config)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    doc = (f"Keras 3 ``keras.metrics.{class_name}``: mean of ``{fn.__name__}``; variables "
           f"``total``, ``count``.\n\nArgs: {', '.join(f'{p}={d!r}' for p, d in params)}.")
    return type(class_name, (MeanMetricWrapper,), {
        "__init__": __init__, "update_state": update_state, "get_config": get_config,
        "from_config": from_config, "__doc__": doc, "__module__": __name__})


class _ConfigMetric(Metric):
    """Base of the generated state-only metrics: constructor arguments kept in ``_args``."""

    _SIGNATURE: inspect.Signature
    _CONFIG_KEYS: Tuple[str, ...] = ()

    def _init_args(self, args: tuple, kwargs: Dict[str, Any], default_dtype: Any = None) -> None:
        values = _bind(type(self)._SIGNATURE, self, args, kwargs)
        dtype = values.get("dtype")
        Metric.__init__(self, dtype=dtype if dtype is not None else default_dtype,
                        name=values.get("name"))
        self._args = values

    def get_config(self) -> Dict[str, Any]:
        config: Dict[str, Any] = {}
        for key in type(self)._CONFIG_KEYS:
            config[key] = self.name if key == "name" else self.dtype if key == "dtype" \
                else self._args[key]
        return config


def _thresholds_count(thresholds: Any) -> int:
    if thresholds is None:
        return 1
    return len(thresholds) if isinstance(thresholds, (list, tuple)) else 1


def _make_state_class(class_name: str, params: List[Tuple[str, Any]], config_keys: List[str],
                      build: Callable[[Any], None], default_dtype: Any = None,
                      doc: str = "") -> type:
    signature = _signature(params)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        self._init_args(args, kwargs, default_dtype)
        build(self)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    return type(class_name, (_ConfigMetric,), {
        "__init__": __init__, "_SIGNATURE": signature, "_CONFIG_KEYS": tuple(config_keys),
        "__doc__": f"Keras 3 ``keras.metrics.{class_name}`` (config and state only). {doc}\n\n"
                   f"Args: {', '.join(f'{p}={d!r}' for p, d in params)}.",
        "__module__": __name__})


def _build_confusion(name: str) -> Callable[[Any], None]:
    def build(self: Any) -> None:
        self.accumulator = self.add_variable((_thresholds_count(self._args["thresholds"]),),
                                             name="accumulator")
    return build


def _build_pr(names: Tuple[str, str]) -> Callable[[Any], None]:
    def build(self: Any) -> None:
        n = _thresholds_count(self._args["thresholds"])
        for var in names:
            setattr(self, var, self.add_variable((n,), name=var))
    return build


_CONFUSION4 = ("true_positives", "false_positives", "true_negatives", "false_negatives")


def _build_auc(self: Any) -> None:
    thresholds = self._args["thresholds"]
    if thresholds is not None:
        self._args["num_thresholds"] = len(thresholds) + 2
    n = self._args["num_thresholds"]
    if self._args["multi_label"] and self._args["num_labels"] is None:
        return  # Keras builds these on the first update, when the label count is known.
    shape: Tuple[int, ...] = (n, self._args["num_labels"]) if self._args["multi_label"] else (n,)
    for var in _CONFUSION4:
        setattr(self, var, self.add_variable(shape, name=var))


def _build_at(self: Any) -> None:
    for var in _CONFUSION4:
        setattr(self, var, self.add_variable((self._args["num_thresholds"],), name=var))


def _build_iou(self: Any) -> None:
    n = self._args.get("num_classes", 2)
    self.total_cm = self.add_variable((n, n), name="total_confusion_matrix")


def _build_nothing(self: Any) -> None:
    pass


def _build_r2(self: Any) -> None:
    self.num_samples = self.add_variable((), name="num_samples")


class AUC(_ConfigMetric):
    """Keras 3 ``keras.metrics.AUC`` (config and state only): ``true_positives``,
    ``false_positives``, ``true_negatives``, ``false_negatives`` of shape ``(num_thresholds,)``
    (``(num_thresholds, num_labels)`` with ``multi_label``). Explicit ``thresholds`` add the
    key ``thresholds`` to the config and set ``num_thresholds = len(thresholds) + 2``."""

    _SIGNATURE = _signature([("num_thresholds", 200), ("curve", "ROC"),
                             ("summation_method", "interpolation"), ("name", None),
                             ("dtype", None), ("thresholds", None), ("multi_label", False),
                             ("num_labels", None), ("label_weights", None),
                             ("from_logits", False)])
    _CONFIG_KEYS = ("name", "dtype", "num_thresholds", "curve", "summation_method",
                    "multi_label", "num_labels", "label_weights", "from_logits")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._init_args(args, kwargs)
        _build_auc(self)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        if self._args["thresholds"] is not None:
            config["thresholds"] = list(self._args["thresholds"])
        return config


AUC.__init__.__signature__ = AUC._SIGNATURE  # type: ignore[attr-defined]

_N, _D = ("name", None), ("dtype", None)
_STATE_CLASSES: List[Tuple[str, List[Tuple[str, Any]], List[str], Callable[[Any], None], Any,
                           str]] = [
    ("TruePositives", [("thresholds", None), ("name", None), _D],
     ["name", "dtype", "thresholds"], _build_confusion("tp"), None, "Variable ``accumulator``."),
    ("FalsePositives", [("thresholds", None), ("name", None), _D],
     ["name", "dtype", "thresholds"], _build_confusion("fp"), None, "Variable ``accumulator``."),
    ("TrueNegatives", [("thresholds", None), ("name", None), _D],
     ["name", "dtype", "thresholds"], _build_confusion("tn"), None, "Variable ``accumulator``."),
    ("FalseNegatives", [("thresholds", None), ("name", None), _D],
     ["name", "dtype", "thresholds"], _build_confusion("fn"), None, "Variable ``accumulator``."),
    ("Precision", [("thresholds", None), ("top_k", None), ("class_id", None),
                   ("name", None), _D],
     ["name", "dtype", "thresholds", "top_k", "class_id"],
     _build_pr(("true_positives", "false_positives")), None,
     "Variables ``true_positives``, ``false_positives``."),
    ("Recall", [("thresholds", None), ("top_k", None), ("class_id", None), ("name", None),
                _D],
     ["name", "dtype", "thresholds", "top_k", "class_id"],
     _build_pr(("true_positives", "false_negatives")), None,
     "Variables ``true_positives``, ``false_negatives``."),
    ("PrecisionAtRecall", [("recall", inspect.Parameter.empty), ("num_thresholds", 200),
                           ("class_id", None), ("name", None), _D],
     ["name", "dtype", "class_id", "num_thresholds", "recall"], _build_at, None,
     "Four ``(num_thresholds,)`` confusion accumulators."),
    ("RecallAtPrecision", [("precision", inspect.Parameter.empty), ("num_thresholds", 200),
                           ("class_id", None), ("name", None), _D],
     ["name", "dtype", "class_id", "num_thresholds", "precision"], _build_at, None,
     "Four ``(num_thresholds,)`` confusion accumulators."),
    ("SensitivityAtSpecificity", [("specificity", inspect.Parameter.empty),
                                  ("num_thresholds", 200), ("class_id", None),
                                  ("name", None), _D],
     ["name", "dtype", "class_id", "num_thresholds", "specificity"], _build_at, None,
     "Four ``(num_thresholds,)`` confusion accumulators."),
    ("SpecificityAtSensitivity", [("sensitivity", inspect.Parameter.empty),
                                  ("num_thresholds", 200), ("class_id", None),
                                  ("name", None), _D],
     ["name", "dtype", "class_id", "num_thresholds", "sensitivity"], _build_at, None,
     "Four ``(num_thresholds,)`` confusion accumulators."),
    ("IoU", [("num_classes", inspect.Parameter.empty),
             ("target_class_ids", inspect.Parameter.empty), ("name", None), _D,
             ("ignore_class", None), ("sparse_y_true", True), ("sparse_y_pred", True),
             ("axis", -1)],
     ["name", "dtype", "num_classes", "target_class_ids", "ignore_class", "sparse_y_true",
      "sparse_y_pred", "axis"], _build_iou, "int64",
     "Variable ``total_confusion_matrix`` (num_classes, num_classes)."),
    ("MeanIoU", [("num_classes", inspect.Parameter.empty), ("name", None), _D,
                 ("ignore_class", None), ("sparse_y_true", True), ("sparse_y_pred", True),
                 ("axis", -1)],
     ["num_classes", "name", "dtype", "ignore_class", "sparse_y_true", "sparse_y_pred", "axis"],
     _build_iou, "int64", "Variable ``total_confusion_matrix``."),
    ("OneHotIoU", [("num_classes", inspect.Parameter.empty),
                   ("target_class_ids", inspect.Parameter.empty), ("name", None), _D,
                   ("ignore_class", None), ("sparse_y_pred", False), ("axis", -1)],
     ["num_classes", "target_class_ids", "name", "dtype", "ignore_class", "sparse_y_pred",
      "axis"], _build_iou, "int64", "Variable ``total_confusion_matrix``."),
    ("OneHotMeanIoU", [("num_classes", inspect.Parameter.empty),
                       ("name", None), _D, ("ignore_class", None),
                       ("sparse_y_pred", False), ("axis", -1)],
     ["num_classes", "name", "dtype", "ignore_class", "sparse_y_pred", "axis"], _build_iou,
     "int64", "Variable ``total_confusion_matrix``."),
    ("BinaryIoU", [("target_class_ids", [0, 1]), ("threshold", 0.5), ("name", None),
                   _D],
     ["target_class_ids", "threshold", "name", "dtype"], _build_iou, "int64",
     "Variable ``total_confusion_matrix`` (2, 2)."),
    ("F1Score", [("average", None), ("threshold", None), ("name", "f1_score"), _D],
     ["name", "dtype", "average", "threshold"], _build_nothing, None,
     "Variables are created on the first update (not before)."),
    ("FBetaScore", [("average", None), ("beta", 1.0), ("threshold", None),
                    ("name", "fbeta_score"), _D],
     ["name", "dtype", "average", "beta", "threshold"], _build_nothing, None,
     "Variables are created on the first update (not before)."),
    ("R2Score", [("class_aggregation", "uniform_average"), ("num_regressors", 0),
                 ("name", "r2_score"), _D],
     ["name", "dtype", "class_aggregation", "num_regressors"], _build_r2, None,
     "Variable ``num_samples`` (the per-output sums are created on the first update)."),
]

for _spec in _MEAN_CLASSES:
    globals()[_spec[0]] = _make_mean_class(*_spec)
    __all__.append(_spec[0])
for _name, _params, _keys, _build, _dtype, _doc in _STATE_CLASSES:
    globals()[_name] = _make_state_class(_name, _params, _keys, _build, _dtype, _doc)
    __all__.append(_name)
__all__ += ["AUC", "RootMeanSquaredError"] + [f.__name__ for f in FUNCTIONS]

CLASSES: Tuple[type, ...] = (
    (Mean, Sum, MeanMetricWrapper, RootMeanSquaredError, AUC)
    + tuple(globals()[s[0]] for s in _MEAN_CLASSES)
    + tuple(globals()[s[0]] for s in _STATE_CLASSES))

#: Keras's ``metrics.ALL_OBJECTS_DICT``: class names, their snake_case names, aliases.
ALL_OBJECTS_DICT: Dict[str, Any] = {c.__name__: c for c in (Metric,) + CLASSES}
ALL_OBJECTS_DICT.update({to_snake_case(c.__name__): c for c in (Metric,) + CLASSES})
ALL_OBJECTS_DICT.update({
    "bce": globals()["BinaryCrossentropy"], "BCE": globals()["BinaryCrossentropy"],
    "mse": globals()["MeanSquaredError"], "MSE": globals()["MeanSquaredError"],
    "mae": globals()["MeanAbsoluteError"], "MAE": globals()["MeanAbsoluteError"],
    "mape": globals()["MeanAbsolutePercentageError"],
    "MAPE": globals()["MeanAbsolutePercentageError"],
    "msle": globals()["MeanSquaredLogarithmicError"],
    "MSLE": globals()["MeanSquaredLogarithmicError"],
})

_FUNCTIONS_BY_NAME: Dict[str, Callable[..., Any]] = {
    **{f.__name__: f for f in FUNCTIONS + _losses.FUNCTIONS}, **_losses.ALIASES}

_registry.register_builtin("keras", "Metric", Metric, aliases=["keras.metrics.Metric"])
for _cls in CLASSES:
    _registry.register_builtin("keras.metrics", _cls.__name__, _cls)
for _fn in FUNCTIONS + LOSS_FUNCTIONS:
    _registry.register_builtin("keras.metrics", _fn.__name__, _fn)


def serialize(metric: Any) -> Any:
    """The Keras record of a metric object or function."""
    from kerasave.saving.serialization import serialize_keras_object

    return serialize_keras_object(metric)


def deserialize(config: Any, custom_objects: Optional[Mapping[str, Any]] = None) -> Any:
    """A metric from its record (or a name).

    Raises:
        UnknownObjectError: Not a Keras metric and not registered.
    """
    from kerasave.saving.serialization import deserialize_keras_object

    return deserialize_keras_object(config, custom_objects=custom_objects,
                                    module_objects=ALL_OBJECTS_DICT)


def get(identifier: Any) -> Any:
    """A metric from None, a name (``"mae"`` gives a ``MeanAbsoluteError`` instance, as in
    Keras), a record dict, a class (instantiated) or a callable.

    Raises:
        ValueError: The identifier does not give a metric.
    """
    return resolve_identifier(identifier, kind="metric", deserialize=deserialize,
                              lookup=ALL_OBJECTS_DICT.get)
