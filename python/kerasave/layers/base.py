"""Variables, dtype policies, symbolic tensors and the ``Layer`` base class (numpy inference)."""

from __future__ import annotations

import re
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from kerasave import initializers
from kerasave.saving import registry as _registry
from kerasave.saving.serialization import deserialize_keras_object, serialize_keras_object

__all__ = [
    "DTypePolicy",
    "InputLayer",
    "Input",
    "KerasTensor",
    "Layer",
    "Node",
    "Variable",
    "to_snake_case",
]


def to_snake_case(name: str) -> str:
    """Keras's ``to_snake_case`` (object paths in ``.keras`` files, default layer names).

    Args:
        name: A class name such as ``"Conv2D"`` or ``"ReLU"``.

    Returns:
        ``"conv2d"``, ``"re_lu"``, ...
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


class _Uids(threading.local):
    def __init__(self) -> None:
        self.counts: Dict[str, int] = {}


_UIDS = _Uids()


def unique_name(prefix: str) -> str:
    """Keras's ``auto_name``: ``dense``, then ``dense_1``, ``dense_2``, ...

    Args:
        prefix: The snake_case class name.

    Returns:
        A name not handed out before on this thread.
    """
    count = _UIDS.counts.get(prefix, 0)
    _UIDS.counts[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session() -> None:
    """Resets the automatic layer-name counters (as ``keras.backend.clear_session``)."""
    _UIDS.counts.clear()


class _InitState(threading.local):
    def __init__(self) -> None:
        self.skip = False


_INIT = _InitState()


class skip_weight_init:
    """Within this context ``add_weight`` allocates zeros (lazily, via calloc) instead of
    sampling initializers: used while loading, where every value is overwritten from the file.
    """

    def __enter__(self) -> "skip_weight_init":
        self._prev = _INIT.skip
        _INIT.skip = True
        return self

    def __exit__(self, *exc: Any) -> None:
        _INIT.skip = self._prev


def _np_dtype(name: Any) -> np.dtype:
    if isinstance(name, np.dtype):
        return name
    if name in ("bfloat16",):
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    if name == "string":
        return np.dtype(object)
    return np.dtype(name)


def dtype_name(dtype: Any) -> str:
    """Keras's dtype name for a numpy dtype (``"float32"``, ``"bfloat16"``...)."""
    dt = _np_dtype(dtype) if isinstance(dtype, str) else np.dtype(dtype)
    if dt.kind in "OUS":
        return "string"
    return "bfloat16" if dt.name == "bfloat16" else dt.name


class DTypePolicy:
    """A Keras dtype policy: ``"float32"``, ``"float16"``, ``"mixed_float16"``, ...

    Args:
        name: The policy name; ``mixed_<x>`` computes in ``<x>`` with float32 variables.
    """

    def __init__(self, name: Optional[str] = None) -> None:
        self._name = name or "float32"
        if self._name.startswith("mixed_"):
            self._compute, self._variable = self._name[6:], "float32"
        else:
            self._compute = self._variable = self._name

    @property
    def name(self) -> str:
        """The policy name."""
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype layers compute in."""
        return self._compute

    @property
    def variable_dtype(self) -> str:
        """The dtype of the layer's variables."""
        return self._variable

    @property
    def quantization_mode(self) -> Optional[str]:
        """None (not quantized)."""
        return None

    def get_config(self) -> Dict[str, Any]:
        """Returns ``{"name": ...}``."""
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "DTypePolicy":
        """Builds a policy from its config."""
        return cls(**config)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'


class QuantizedDTypePolicy(DTypePolicy):
    """The policy of a layer quantized by ``model.quantize(mode)`` (``int8``...).

    Args:
        mode: ``"int8"``, ``"int4"``, ``"float8"``.
        source_name: The float policy the layer computes in.
    """

    def __init__(self, mode: str = "int8", source_name: Optional[str] = None) -> None:
        super().__init__(source_name or "float32")
        self.mode = mode
        self.source_name = source_name or "float32"
        self._name = f"{mode}_from_{self.source_name}"

    @property
    def quantization_mode(self) -> Optional[str]:
        """The quantization mode."""
        return self.mode

    def get_config(self) -> Dict[str, Any]:
        """Returns ``{"mode", "source_name"}``."""
        return {"mode": self.mode, "source_name": self.source_name}


_registry.register_builtin("keras", "DTypePolicy", DTypePolicy,
                           aliases=["keras.dtype_policies.DTypePolicy"])
_registry.register_builtin("keras.dtype_policies", "FloatDTypePolicy", DTypePolicy)
_registry.register_builtin("keras.dtype_policies", "QuantizedDTypePolicy", QuantizedDTypePolicy)
_registry.register_builtin("keras.mixed_precision", "Policy", DTypePolicy)


def get_policy(dtype: Any) -> DTypePolicy:
    """Turns a layer's ``dtype`` argument (str, policy, record) into a policy."""
    if dtype is None:
        return DTypePolicy("float32")
    if isinstance(dtype, DTypePolicy):
        return dtype
    if isinstance(dtype, dict):
        obj = deserialize_keras_object(dtype)
        if isinstance(obj, DTypePolicy):
            return obj
        return DTypePolicy(dtype.get("config", {}).get("name", "float32"))
    if isinstance(dtype, str):
        return DTypePolicy(dtype)
    return DTypePolicy(dtype_name(dtype))


class Variable:
    """A numpy-backed Keras variable.

    Args:
        value: Initial value (kept as given when it already has the right dtype: no copy).
        name: The short name (``"kernel"``).
        path: ``"<layer>/<name>"``.
        trainable: Whether training would update it.
        dtype: The variable dtype.
    """

    def __init__(self, value: Any, name: str = "variable", path: Optional[str] = None,
                 trainable: bool = True, dtype: Any = None) -> None:
        arr = np.asarray(value, dtype=_np_dtype(dtype) if dtype is not None else None)
        self._value = arr
        self.name = name
        self.path = path or name
        self.trainable = trainable

    @property
    def value(self) -> np.ndarray:
        """The current numpy value."""
        return self._value

    @property
    def shape(self) -> Tuple[int, ...]:
        """The shape."""
        return tuple(self._value.shape)

    @property
    def dtype(self) -> str:
        """The Keras dtype name."""
        return dtype_name(self._value.dtype)

    @property
    def ndim(self) -> int:
        """The rank."""
        return self._value.ndim

    def numpy(self) -> np.ndarray:
        """Returns the value (the array itself, not a copy)."""
        return self._value

    def assign(self, value: Any) -> "Variable":
        """Replaces the value; shapes must match.

        Args:
            value: Array-like of the same shape; cast to the variable's dtype (without copying
                when it already has it).

        Returns:
            self.

        Raises:
            ValueError: The shape differs.
        """
        arr = np.asarray(value)
        if arr.dtype != self._value.dtype:
            arr = arr.astype(self._value.dtype)
        if arr.shape != self._value.shape:
            raise ValueError(
                f"The shape of the target variable and the shape of the target value in "
                f"`variable.assign(value)` must match. variable.shape={self._value.shape}, "
                f"Received: value.shape={arr.shape}. Target variable: {self.path}"
            )
        self._value = arr
        return self

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is not None:
            return self._value.astype(dtype)
        return self._value

    def __repr__(self) -> str:
        return (f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
                f"value={self._value!r}>")

    # Arithmetic falls back to numpy.
    def __add__(self, o: Any) -> Any: return self._value + np.asarray(o)  # noqa: E704
    def __radd__(self, o: Any) -> Any: return np.asarray(o) + self._value  # noqa: E704
    def __sub__(self, o: Any) -> Any: return self._value - np.asarray(o)  # noqa: E704
    def __rsub__(self, o: Any) -> Any: return np.asarray(o) - self._value  # noqa: E704
    def __mul__(self, o: Any) -> Any: return self._value * np.asarray(o)  # noqa: E704
    def __rmul__(self, o: Any) -> Any: return np.asarray(o) * self._value  # noqa: E704
    def __truediv__(self, o: Any) -> Any: return self._value / np.asarray(o)  # noqa: E704
    def __rtruediv__(self, o: Any) -> Any: return np.asarray(o) / self._value  # noqa: E704
    def __matmul__(self, o: Any) -> Any: return self._value @ np.asarray(o)  # noqa: E704
    def __rmatmul__(self, o: Any) -> Any: return np.asarray(o) @ self._value  # noqa: E704
    def __neg__(self) -> Any: return -self._value  # noqa: E704
    def __getitem__(self, idx: Any) -> Any: return self._value[idx]  # noqa: E704
    __array_priority__ = 100


class KerasTensor:
    """A symbolic tensor: a shape (batch dim None), a dtype and the layer call that made it.

    Args:
        shape: The shape, ``None`` for unknown dimensions.
        dtype: The dtype name.
        name: An optional name.
    """

    def __init__(self, shape: Any, dtype: Any = "float32", sparse: bool = False,
                 name: Optional[str] = None) -> None:
        self.shape = None if shape is None else tuple(shape)
        self.dtype = dtype_name(_np_dtype(dtype)) if dtype is not None else "float32"
        self.sparse = sparse
        self.name = name
        self._keras_history: Optional[Tuple[Any, int, int]] = None

    @property
    def ndim(self) -> int:
        """The rank."""
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


_registry.register_builtin("keras", "KerasTensor", KerasTensor)


def _is_symbolic(x: Any) -> bool:
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(_is_symbolic(v) for v in x)
    if isinstance(x, dict):
        return any(_is_symbolic(v) for v in x.values())
    return False


def flatten(x: Any) -> List[Any]:
    """Flattens nested lists/tuples/dicts (dicts in insertion order) into a list of leaves."""
    out: List[Any] = []
    stack = [x]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        else:
            out.append(item)
    return out


def map_structure(fn: Any, x: Any) -> Any:
    """Applies ``fn`` to every leaf of a nested list/tuple/dict."""
    if isinstance(x, list):
        return [map_structure(fn, v) for v in x]
    if isinstance(x, tuple):
        return tuple(map_structure(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: map_structure(fn, v) for k, v in x.items()}
    return fn(x)


class Node:
    """One call of a layer on symbolic inputs.

    Attributes:
        operation: The layer.
        call_args: Positional arguments (with KerasTensors).
        call_kwargs: Keyword arguments.
        outputs: The output structure.
        input_tensors: Flat KerasTensor inputs.
        output_tensors: Flat KerasTensor outputs.
    """

    def __init__(self, operation: "Layer", call_args: tuple, call_kwargs: dict,
                 outputs: Any) -> None:
        self.operation = operation
        self.call_args = call_args
        self.call_kwargs = call_kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in flatten((call_args, call_kwargs))
                              if isinstance(t, KerasTensor)]
        self.output_tensors = flatten(outputs)

    @property
    def is_input(self) -> bool:
        """True for an InputLayer's node."""
        return not self.input_tensors

    @property
    def parent_nodes(self) -> List["Node"]:
        """Nodes producing this node's inputs."""
        out = []
        for t in self.input_tensors:
            layer, idx, _ = t._keras_history
            out.append(layer._inbound_nodes[idx])
        return out


# Keys Keras 2 / tf_keras configs carry that Keras 3 layers ignore or no longer have.
_LEGACY_KWARGS = {"input_shape", "batch_input_shape", "batch_size", "input_dim",
                  "activity_regularizer", "autocast", "weights", "input_length", "groups",
                  "implementation", "time_major", "dynamic"}


def _resolve_identifier(attr: str, value: str) -> Any:
    """The record Keras's config holds for a regularizer/constraint string ("l2" ->
    ``{"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01}, ...}``,
    the same form a layer loaded from a file keeps), or the string if nothing matches."""
    if attr.endswith("_regularizer"):
        from kerasave import regularizers as module
    else:
        from kerasave import constraints as module  # type: ignore[no-redef]
    try:
        obj = module.get(value)
    except ValueError:
        return value
    return module.serialize(obj)


class Layer:
    """Base class of kerasave layers. Subclass it, create weights in ``build`` and compute with
    numpy in ``call``.

    Args:
        name: The layer name; default ``snake_case(class)`` made unique.
        trainable: Whether the layer's weights are trainable.
        dtype: A dtype name, a ``DTypePolicy`` or its config record.
        **kwargs: Keras 2 keys (``input_shape``, ``batch_input_shape``, ``input_dim``,
            ``batch_size``, ``activity_regularizer``, ``autocast``) are accepted.
    """

    # Stateless Keras layers set ``built = True`` in ``__init__`` and so write no
    # ``build_config``; those subclasses set this flag.
    _BUILT_AT_INIT = False
    # Layers that pass an input mask through (Keras ``supports_masking``).
    _SUPPORTS_MASKING = False

    _TRACKING_OFF = ("_layers", "_inbound_nodes", "_trainable_variables",
                     "_non_trainable_variables", "_tracked", "_tracking")

    def __init__(self, *, name: Optional[str] = None, trainable: bool = True,
                 dtype: Any = None, **kwargs: Any) -> None:
        unknown = set(kwargs) - _LEGACY_KWARGS
        if unknown:
            raise ValueError(f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                             f"{sorted(unknown)}")
        object.__setattr__(self, "_tracking", False)
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self._dtype_policy = get_policy(dtype)
        # Keras 3's Layer keeps it and writes it to the config when set (recorded only here).
        self.activity_regularizer = kwargs.get("activity_regularizer")
        self.built = type(self)._BUILT_AT_INIT
        self._trainable_variables: List[Variable] = []
        self._non_trainable_variables: List[Variable] = []
        self._layers: List[Layer] = []
        self._tracked: Dict[str, Any] = {}
        self._inbound_nodes: List[Node] = []
        self._build_shapes: Any = None
        self.supports_masking = type(self)._SUPPORTS_MASKING
        batch_input_shape = kwargs.get("batch_input_shape")
        if batch_input_shape is None and kwargs.get("input_shape") is not None:
            batch_input_shape = (kwargs.get("batch_size"),) + tuple(kwargs["input_shape"])
        if batch_input_shape is None and kwargs.get("input_dim") is not None:
            batch_input_shape = (kwargs.get("batch_size"), kwargs["input_dim"])
        self._batch_input_shape = (None if batch_input_shape is None
                                   else tuple(batch_input_shape))
        object.__setattr__(self, "_tracking", True)

    # -- attribute tracking ---------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, str) and name.endswith(("_regularizer", "_constraint")):
            # Keras resolves string identifiers at construction ("l2" -> L2(0.01)), so its
            # config holds the object's record; unknown strings are kept as given.
            value = _resolve_identifier(name, value)
        if self.__dict__.get("_tracking") and name not in Layer._TRACKING_OFF \
                and not name.startswith("__"):
            leaves = flatten(value) if isinstance(value, (list, tuple, dict)) else [value]
            if any(isinstance(v, (Layer, Variable)) for v in leaves):
                self._tracked[name] = value
                for v in leaves:
                    if isinstance(v, Layer) and all(v is not x for x in self._layers):
                        self._layers.append(v)
            elif name in self._tracked:
                del self._tracked[name]
        object.__setattr__(self, name, value)

    # -- properties ------------------------------------------------------------------------

    @property
    def trainable(self) -> bool:
        """Whether the layer's weights count as trainable."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        # As Keras 3: the variables' own flags follow, so a frozen sublayer's weights leave
        # the parent's trainable_weights too.
        for v in self._trainable_variables:
            v.trainable = self._trainable
        for layer in self._layers:
            layer.trainable = value

    @property
    def dtype_policy(self) -> DTypePolicy:
        """The layer's dtype policy."""
        return self._dtype_policy

    @property
    def dtype(self) -> str:
        """The variable dtype."""
        return self._dtype_policy.variable_dtype

    @property
    def compute_dtype(self) -> str:
        """The compute dtype."""
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The variable dtype."""
        return self._dtype_policy.variable_dtype

    @property
    def path(self) -> str:
        """The layer's name (Keras uses it as the variable path prefix)."""
        return self.name

    @property
    def weights(self) -> List[Variable]:
        """Own trainable, own non-trainable, then each sublayer's weights (deduplicated)."""
        out: List[Variable] = []
        seen: set = set()
        stack_result: List[Variable] = list(self._trainable_variables
                                            + self._non_trainable_variables)
        for layer in self._layers:
            stack_result.extend(layer.weights)
        for w in stack_result:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        return out

    variables = weights

    @property
    def trainable_weights(self) -> List[Variable]:
        """Trainable weights (empty if the layer is frozen)."""
        if not self.trainable:
            return []
        return [w for w in self.weights if w.trainable]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> List[Variable]:
        """Non-trainable weights (all weights if the layer is frozen)."""
        if not self.trainable:
            return self.weights
        return [w for w in self.weights if not w.trainable]

    non_trainable_variables = non_trainable_weights

    @property
    def input(self) -> Any:
        """The symbolic input of the layer's first call."""
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} has never been called and thus has no "
                                 "defined input.")
        node = self._inbound_nodes[0]
        return node.call_args[0] if node.call_args else node.outputs

    @property
    def output(self) -> Any:
        """The symbolic output of the layer's first call."""
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} has never been called and thus has no "
                                 "defined output.")
        return self._inbound_nodes[0].outputs

    # -- weights ---------------------------------------------------------------------------

    def add_variable(self, shape: Sequence[int], initializer: Any, dtype: Any = None,
                     trainable: bool = True, autocast: bool = True, regularizer: Any = None,
                     constraint: Any = None, aggregation: str = "none",
                     name: Optional[str] = None) -> Variable:
        """Keras 3's ``add_variable``: :meth:`add_weight` with ``shape`` and ``initializer``
        required (the same variable, tracked the same way)."""
        return self.add_weight(shape=shape, initializer=initializer, dtype=dtype,
                               trainable=trainable, name=name, autocast=autocast,
                               regularizer=regularizer, constraint=constraint,
                               aggregation=aggregation)

    def add_weight(self, shape: Sequence[int] = (), initializer: Any = None,
                   dtype: Any = None, trainable: bool = True, name: Optional[str] = None,
                   **kwargs: Any) -> Variable:
        """Creates a variable owned by this layer.

        Args:
            shape: Shape of the variable.
            initializer: Initializer, its name or config (default ``glorot_uniform`` for floats,
                ``zeros`` otherwise).
            dtype: Defaults to the policy's variable dtype.
            trainable: Trainable or not.
            name: Variable name.
            **kwargs: ``regularizer``, ``constraint``, ``aggregation``, ``autocast`` (ignored).

        Returns:
            The new :class:`Variable`.
        """
        dtype = dtype_name(_np_dtype(dtype)) if dtype is not None else self.variable_dtype
        if initializer is None:
            initializer = "glorot_uniform" if np.issubdtype(_np_dtype(dtype), np.floating) \
                or dtype == "bfloat16" else "zeros"
        init = initializers.get(initializer)
        shape = tuple(int(s) for s in (shape or ()))
        if _INIT.skip:
            value = np.zeros(shape, dtype=_np_dtype(dtype))
        else:
            value = np.asarray(init(shape, dtype="float32" if dtype == "bfloat16" else dtype))
            value = value.astype(_np_dtype(dtype), copy=False)
        name = name or "variable"
        var = Variable(value, name=name, path=f"{self.name}/{name}",
                       trainable=trainable and self.trainable)
        (self._trainable_variables if trainable else self._non_trainable_variables).append(var)
        return var

    def get_weights(self) -> List[np.ndarray]:
        """Returns the values of :attr:`weights` (no copies)."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Assigns values to :attr:`weights` in order.

        Args:
            weights: One array per weight.

        Raises:
            ValueError: Wrong count or shapes.
        """
        own = self.weights
        if len(own) != len(weights):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of "
                f"length {len(weights)}, but the layer was expecting {len(own)} weights.")
        for var, value in zip(own, weights):
            if tuple(np.shape(value)) != var.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {var.shape} is not compatible with provided "
                    f"weight shape {tuple(np.shape(value))}.")
        for var, value in zip(own, weights):
            var.assign(value)

    def _own_variables(self) -> List[Variable]:
        """Variables saved in this layer's ``vars`` group (Keras ``save_own_variables``)."""
        return self._trainable_variables + self._non_trainable_variables

    def save_own_variables(self, store: Dict[str, Any]) -> None:
        """Writes own variables as ``store["0"], store["1"], ...``."""
        for i, v in enumerate(self._own_variables()):
            store[str(i)] = v.numpy()

    def load_own_variables(self, store: Any) -> None:
        """Reads own variables from ``store["0"], ...`` (a mapping).

        Raises:
            ValueError: The count differs.
        """
        own = self._own_variables()
        keys = list(store.keys())
        if len(keys) != len(own):
            raise ValueError(
                f"Layer '{self.name}' expected {len(own)} variables, but received "
                f"{len(keys)} variables during loading. Expected: {[v.name for v in own]}")
        for i, v in enumerate(own):
            v.assign(store[str(i)])

    # -- build / call ----------------------------------------------------------------------

    def build(self, input_shape: Any = None) -> None:
        """Creates the layer's weights for ``input_shape``; the base does nothing."""
        self.built = True

    def build_from_config(self, config: Dict[str, Any]) -> None:
        """Builds from a ``build_config`` (``{"input_shape": ...}``)."""
        if config and "shapes_dict" in config:
            shapes = {k: _to_shape(v) for k, v in config["shapes_dict"].items()}
            self.build(**shapes)
            self.built = True
            return
        shape = config.get("input_shape") if config else None
        if shape is not None:
            shape = _to_shape(shape)
            self._build_shapes = shape
            self.build(shape)
        self.built = True

    def get_build_config(self) -> Optional[Dict[str, Any]]:
        """``{"input_shape": ...}`` once built with a known shape, else None."""
        if self._build_shapes is not None:
            return {"input_shape": _shape_to_list(self._build_shapes)}
        return None

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """The forward pass; the base returns its input."""
        return inputs

    def _maybe_build(self, args: tuple) -> None:
        if self.built:
            return
        first = args[0] if args else None
        shape = map_structure(lambda t: tuple(np.shape(t)) if not isinstance(t, KerasTensor)
                              else t.shape, first)
        self._build_shapes = shape
        self.build(shape)
        self.built = True

    def _cast_input(self, x: Any) -> Any:
        if isinstance(x, Variable):
            x = x.numpy()
        if isinstance(x, (np.ndarray, np.generic, float, int)) and not isinstance(x, bool):
            arr = np.asarray(x)
            if arr.dtype.kind == "f" or arr.dtype.name == "bfloat16":
                target = _np_dtype(self.compute_dtype)
                if arr.dtype != target:
                    arr = arr.astype(target)
            return arr
        return x

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _is_symbolic((args, kwargs)):
            return self._symbolic_call(args, kwargs)
        args = tuple(map_structure(self._cast_input, a) for a in args)
        self._maybe_build(args)
        kwargs.pop("training", None)
        if "mask" in kwargs and kwargs["mask"] is None:
            kwargs.pop("mask")
        return self.call(*args, **kwargs)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The output mask: the input mask passed through when ``supports_masking``, else None.

        Args:
            inputs: The layer's input.
            mask: The input mask (boolean ``(batch, steps)``) or None.
        """
        return mask if self.supports_masking else None

    def _call_with_mask(self, args: tuple, kwargs: dict, mask: Any) -> tuple:
        """Calls the layer, passing ``mask`` when ``call`` takes one; returns
        ``(outputs, output_mask)`` (what models use to propagate Keras masks)."""
        if mask is not None and _accepts_mask(type(self)):
            kwargs = {**kwargs, "mask": mask}
        out = self(*args, **kwargs)
        if kwargs.get("mask") is not None:
            # Keras 3 (Layer.__call__): an explicit mask= (configs record it, e.g. an RNN fed
            # by Embedding(mask_zero) under a mixed policy) is the previous mask for the output.
            mask = kwargs["mask"]
        if isinstance(mask, list) and all(m is None for m in mask):
            mask = None
        return out, self.compute_mask(args[0] if args else None, mask)

    def _arg_masks(self, call_args: Any, call_kwargs: Any,
                   masks: Dict[int, Any]) -> Dict[str, Any]:
        """Keras 3's ``Layer.__call__`` mask rule for calls with several tensor arguments: each
        tensor argument ``k`` whose ``{k}_mask`` parameter ``call`` declares (and the call did not
        pass) receives that tensor's Keras mask (e.g. MultiHeadAttention's ``query_mask`` and
        ``value_mask``). tf_keras's MultiHeadAttention reads the same masks off its inputs.

        Args:
            call_args: The node's symbolic positional arguments.
            call_kwargs: The node's symbolic keyword arguments.
            masks: ``{id(KerasTensor): mask}`` of the tensors computed so far.

        Returns:
            The extra keyword arguments (empty when there is nothing to add).
        """
        import inspect

        try:
            sig = inspect.signature(self.call)
            bound = sig.bind_partial(*call_args, **call_kwargs).arguments
        except (TypeError, ValueError):
            return {}
        tensors = {k: v for k, v in bound.items() if isinstance(v, KerasTensor)}
        if len(tensors) < 2:
            return {}
        extra = {}
        for name, t in tensors.items():
            key = f"{name}_mask"
            if key in sig.parameters and bound.get(key) is None and masks.get(id(t)) is not None:
                extra[key] = masks[id(t)]
        return extra

    def compute_output_spec(self, *args: Any, **kwargs: Any) -> Any:
        """Infers output KerasTensors by running ``call`` on zeros (batch dimension 1)."""
        def concrete(t: Any) -> Any:
            if isinstance(t, KerasTensor):
                shape = tuple(1 if d is None else d for d in t.shape)
                return np.zeros(shape, dtype=_np_dtype(t.dtype))
            return t

        cargs = map_structure(concrete, args)
        ckwargs = map_structure(concrete, kwargs)
        batch_unknown = any(isinstance(t, KerasTensor) and t.shape and t.shape[0] is None
                            for t in flatten((args, kwargs)))
        out = self(*cargs, **ckwargs)

        def spec(o: Any) -> Any:
            arr = np.asarray(o)
            shape = tuple(arr.shape)
            if batch_unknown and shape:
                shape = (None,) + shape[1:]
            return KerasTensor(shape, dtype=dtype_name(arr.dtype))

        return map_structure(spec, out)

    def _symbolic_call(self, args: tuple, kwargs: dict) -> Any:
        self._maybe_build(args)
        outputs = self.compute_output_spec(*args, **kwargs)
        node = Node(self, args, kwargs, outputs)
        index = len(self._inbound_nodes)
        self._inbound_nodes.append(node)
        for i, t in enumerate(node.output_tensors):
            t._keras_history = (self, index, i)
            if t.name is None:
                t.name = self.name
        return outputs

    # -- config ----------------------------------------------------------------------------

    def get_config(self) -> Dict[str, Any]:
        """``{"name", "trainable", "dtype"}`` (the dtype policy record), and
        ``activity_regularizer`` when set, as Keras 3's ``Layer.get_config``."""
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": serialize_keras_object(self._dtype_policy)}
        if getattr(self, "activity_regularizer", None) is not None:
            config["activity_regularizer"] = serialize_keras_object(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Layer":
        """Builds a layer from :meth:`get_config` output."""
        return cls(**config)

    def count_params(self) -> int:
        """Total number of weight elements."""
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


_MASK_ARG: Dict[type, bool] = {}


def _accepts_mask(cls: type) -> bool:
    if cls not in _MASK_ARG:
        import inspect

        try:
            _MASK_ARG[cls] = "mask" in inspect.signature(cls.call).parameters
        except (TypeError, ValueError):
            _MASK_ARG[cls] = False
    return _MASK_ARG[cls]


def _to_shape(shape: Any) -> Any:
    if isinstance(shape, dict):
        return {k: _to_shape(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):
        if all(v is None or isinstance(v, int) for v in shape):
            return tuple(shape)
        return [_to_shape(v) for v in shape]
    return shape


def _shape_to_list(shape: Any) -> Any:
    if isinstance(shape, dict):
        return {k: _shape_to_list(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):
        return [_shape_to_list(v) for v in shape]
    return shape


class InputLayer(Layer):
    """The layer behind ``Input``: holds the batch shape and dtype of a model input.

    Args:
        shape: Shape without the batch dimension.
        batch_size: Optional fixed batch size.
        dtype: The input dtype.
        sparse: Unsupported (recorded only).
        batch_shape: Full shape with batch dimension (overrides ``shape``).
        input_tensor: Unsupported.
        optional: Whether the input may be None.
        name: Layer name.
    """

    def __init__(self, shape: Any = None, batch_size: Optional[int] = None, dtype: Any = None,
                 sparse: Optional[bool] = None, batch_shape: Any = None,
                 input_tensor: Any = None, optional: bool = False, name: Optional[str] = None,
                 ragged: Optional[bool] = None, **kwargs: Any) -> None:
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        kwargs.pop("trainable", None)
        super().__init__(name=name or unique_name("input_layer"),
                         dtype=dtype if isinstance(dtype, (str, type(None))) else dtype, **kwargs)
        if batch_shape is None:
            batch_shape = (batch_size,) + tuple(shape if shape is not None else ())
        self._batch_shape = tuple(batch_shape)
        self._input_dtype = dtype_name(get_policy(dtype).name) if dtype else "float32"
        self.sparse = bool(sparse)
        self.ragged = bool(ragged)
        self.optional = optional
        self.built = True
        tensor = KerasTensor(self._batch_shape, dtype=self._input_dtype, name=self.name)
        node = Node(self, (), {}, tensor)
        self._inbound_nodes.append(node)
        tensor._keras_history = (self, 0, 0)
        self.output_tensor = tensor

    @property
    def batch_shape(self) -> Tuple[Any, ...]:
        """The full input shape."""
        return self._batch_shape

    @property
    def dtype(self) -> str:
        """The input dtype."""
        return self._input_dtype

    def get_config(self) -> Dict[str, Any]:
        """Keras 3 InputLayer config (plain string dtype)."""
        return {"batch_shape": list(self._batch_shape), "dtype": self._input_dtype,
                "sparse": self.sparse, "ragged": self.ragged, "name": self.name,
                "optional": self.optional}


def Input(shape: Any = None, batch_size: Optional[int] = None, dtype: Any = None,
          sparse: Optional[bool] = None, batch_shape: Any = None, name: Optional[str] = None,
          tensor: Any = None, optional: bool = False) -> KerasTensor:
    """Creates a symbolic model input.

    Args:
        shape: Shape without the batch dimension, e.g. ``(4,)``.
        batch_size: Optional fixed batch size.
        dtype: The dtype (default float32).
        sparse: Unsupported (recorded only).
        batch_shape: Full shape including the batch dimension.
        name: Name of the input layer.
        tensor: Unsupported.
        optional: Whether the input may be None.

    Returns:
        A :class:`KerasTensor`.
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name, optional=optional)
    return layer.output_tensor


def _register(cls: type, module: str = "keras.layers") -> type:
    _registry.register_builtin(module, cls.__name__, cls)
    return cls


_register(Layer)
_register(InputLayer)
