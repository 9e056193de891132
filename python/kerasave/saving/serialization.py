"""``serialize_keras_object`` / ``deserialize_keras_object`` in Keras 3.15.1's config grammar.

A Keras object becomes a record (``keras_formats.md`` §1.3)::

    {"module": "keras.layers", "class_name": "Dense", "config": {...}, "registered_name": null,
     "build_config": {...}, "compile_config": {...}, "shared_object_id": 140596693385168}

and a config becomes an object again by §6.2's rules: registered and custom objects first, then
kerasave's built-ins under their Keras names (:mod:`kerasave.saving.registry`), with safe mode
(:mod:`kerasave.saving.safe_mode`). Keras 2 / tf_keras records (``{"class_name", "config"}`` with
no ``module``, ``"MyPkg>Name"`` class names) resolve by name.

Objects take part by duck typing, as in Keras: ``get_config()`` (a dict) and a ``from_config``
classmethod; optionally ``get_build_config``/``build_from_config``/``built`` and
``get_compile_config``/``compile_from_config``. kerasave's own classes are written under their
Keras names once filed with :func:`~kerasave.saving.registry.register_builtin`.

Differences from Keras, deliberate:

* No module named by a config is ever imported, even with ``safe_mode=False``: Keras imports
  ``keras.*`` modules it is given; kerasave only consults its table. A ``keras.*`` name kerasave
  lacks can be supplied by the user through ``custom_objects`` under its class name.
* Names outside Keras's namespaces (``os``, ``subprocess``, a third-party package) and Python
  built-ins such as ``eval`` raise :class:`~kerasave.errors.UnsafeConfigError` (Keras:
  ``TypeError``); names that are merely unknown raise :class:`~kerasave.errors.UnknownObjectError`
  with the decorator or ``custom_objects`` key that would make them known.
* The outermost ``deserialize_keras_object`` call restores shared objects
  (``shared_object_id``) even outside a save/load; serialization adds the ids only inside an
  :class:`ObjectSharingScope`, as Keras does.
"""

from __future__ import annotations

import builtins
import inspect
import threading
import types
import warnings
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from kerasave.errors import UnknownObjectError, UnsafeConfigError
from kerasave.saving import registry
from kerasave.saving.registry import CustomObjectScope, get_registered_name, get_registered_object
from kerasave.saving.safe_mode import (
    NON_MODELING_APIS,
    SafeModeScope,
    check_class_config,
    effective_safe_mode,
    func_dump,
    func_load,
    raise_for_lambda,
)

__all__ = [
    "ObjectSharingScope",
    "deserialize_keras_object",
    "serialize_keras_object",
]

PLAIN_TYPES = (str, int, float, bool)

#: Where Keras looks up a function serialized with module ``"builtins"`` (its BUILTIN_MODULES).
BUILTIN_FUNCTION_NAMESPACES = tuple(
    f"keras.{m}"
    for m in (
        "activations",
        "constraints",
        "initializers",
        "losses",
        "metrics",
        "optimizers",
        "regularizers",
    )
)

_KERAS_FAMILY = frozenset({"keras_hub", "keras_cv", "keras_nlp"})


# -- shared objects ----------------------------------------------------------------------------


class _SharingState(threading.local):
    def __init__(self) -> None:
        self.id_to_obj: Optional[Dict[Any, Any]] = None
        self.id_to_config: Optional[Dict[int, Tuple[Any, dict]]] = None


_SHARING = _SharingState()


class ObjectSharingScope:
    """Detects objects serialized twice and restores them as one object (per thread).

    Inside the scope, an object serialized a second time gives both its first record and the new
    one a ``"shared_object_id"`` key, and records carrying the same id deserialize to the same
    instance. Saving wraps its ``serialize_keras_object`` call in one, as Keras's does.
    Scopes nest; the inner one starts fresh and the outer one resumes afterwards.
    """

    def __init__(self) -> None:
        self._backups: list = []

    def __enter__(self) -> "ObjectSharingScope":
        self._backups.append((_SHARING.id_to_obj, _SHARING.id_to_config))
        _SHARING.id_to_obj = {}
        _SHARING.id_to_config = {}
        return self

    def __exit__(self, *exc: Any) -> None:
        _SHARING.id_to_obj, _SHARING.id_to_config = self._backups.pop()


def _record_after_serialization(obj: Any, config: dict) -> None:
    if config.get("module") == "__main__":
        config["module"] = None
    seen = _SHARING.id_to_config
    if seen is None:
        return
    key = id(obj)
    # The entry holds the object itself, so its id cannot be reused within the scope.
    if key not in seen:
        seen[key] = (obj, config)
    else:
        config["shared_object_id"] = key
        seen[key][1]["shared_object_id"] = key


# -- KerasTensor records -----------------------------------------------------------------------


class _KerasTensorPlaceholder:
    """What a ``__keras_tensor__`` record revives to until kerasave registers a ``KerasTensor``.

    Functional ``from_config`` reads ``_pre_serialization_keras_history`` (as in Keras) to find
    the producing layer: ``[layer_name, node_index, tensor_index]``.
    """

    __slots__ = ("shape", "dtype", "_pre_serialization_keras_history")

    def __init__(self, shape: Any, dtype: Any, keras_history: Any) -> None:
        self.shape = None if shape is None else tuple(shape)
        self.dtype = dtype
        self._pre_serialization_keras_history = keras_history

    @property
    def _keras_history(self) -> Any:
        return self._pre_serialization_keras_history

    def __repr__(self) -> str:
        return (
            f"<KerasTensor shape={self.shape} dtype={self.dtype} "
            f"keras_history={self._pre_serialization_keras_history}>"
        )


def _keras_tensor_class() -> Any:
    return registry.lookup_builtin("keras", "KerasTensor")


def _is_keras_tensor(obj: Any) -> bool:
    if isinstance(obj, _KerasTensorPlaceholder):
        return True
    cls = _keras_tensor_class()
    return isinstance(cls, type) and isinstance(obj, cls)


def _revive_keras_tensor(config: Mapping[str, Any]) -> Any:
    shape, dtype, history = config.get("shape"), config.get("dtype"), config.get("keras_history")
    cls = _keras_tensor_class()
    if cls is None:
        return _KerasTensorPlaceholder(shape, dtype, history)
    obj = cls(None if shape is None else tuple(shape), dtype=dtype)
    obj._pre_serialization_keras_history = history
    return obj


# -- numpy -------------------------------------------------------------------------------------


def _dtype_name(dtype: Any) -> str:
    """Keras's ``standardize_dtype`` for numpy dtypes: ``"float32"``, ``"bool"``, ``"string"``."""
    dtype = np.dtype(dtype)
    if dtype.kind in "USO":
        return "string"
    return dtype.name


_NUMERIC_DTYPES = frozenset(
    {
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    }
)


def _numpy_dtype(name: Any) -> Any:
    """The numpy dtype for a config's dtype name; ml_dtypes names (bfloat16, ...) if installed."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise TypeError(f"expected a dtype name, got {name!r}")
    if name in _NUMERIC_DTYPES:
        return np.dtype(name)
    if name == "string":
        return np.dtype(object)
    try:
        import ml_dtypes
    except ImportError:
        ml_dtypes = None
    if ml_dtypes is not None and name.isidentifier() and not name.startswith("_"):
        found = getattr(ml_dtypes, name, None)
        if isinstance(found, type) and issubclass(found, np.generic):
            return np.dtype(found)
    raise TypeError(f"unsupported dtype {name!r} in a __numpy__/__tensor__ record")


def _serialize_ndarray(arr: np.ndarray) -> Any:
    if arr.ndim == 0:
        return arr.item()
    value = arr
    if arr.dtype.type.__module__ != "numpy":  # ml_dtypes scalars are not JSON numbers
        value = arr.astype(np.float32)
    return {
        "class_name": "__numpy__",
        "config": {"value": value.tolist(), "dtype": _dtype_name(arr.dtype)},
    }


# -- serialization -----------------------------------------------------------------------------


def serialize_keras_object(obj: Any) -> Any:
    """Turns a Keras-style object into its JSON-able config, as Keras 3.15.1 does.

    * ``None``, str, int, float and bool are returned as they are; lists stay lists, tuples stay
      tuples (JSON writes both as arrays) and dicts are serialized value by value.
    * numpy arrays (``ndim > 0``) become ``{"class_name": "__numpy__", "config": {"value",
      "dtype"}}``; numpy scalars become plain numbers; numpy dtypes become their names.
    * ``bytes``, slices, ``...``, KerasTensors and lambdas get Keras's ``__bytes__``,
      ``__slice__``, ``__ellipsis__``, ``__keras_tensor__`` and ``__lambda__`` records.
    * A function becomes ``{"module": "builtins", "class_name": "function", "config": <its
      registered name or __name__>, "registered_name": "function"}``.
    * Anything with ``get_config()`` becomes a record ``{module, class_name, config,
      registered_name}`` plus ``build_config`` / ``compile_config`` when the object reports them:
      kerasave built-ins under their Keras names, other classes under their Python module (null
      for ``__main__``) and registered name.

    Args:
        obj: The object.

    Returns:
        A structure of dicts, lists, tuples and plain values.

    Raises:
        TypeError: the object cannot be serialized (no ``get_config`` and no ``__name__``), or
            its ``get_config()`` did not return a dict.
    """
    if obj is None:
        return obj
    if isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(x) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return _serialize_dict(obj)
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {
            "class_name": "__slice__",
            "config": {
                "start": serialize_keras_object(obj.start),
                "stop": serialize_keras_object(obj.stop),
                "step": serialize_keras_object(obj.step),
            },
        }
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if _is_keras_tensor(obj):
        history = getattr(obj, "_keras_history", None)
        if history:
            history = list(history)
            history[0] = getattr(history[0], "name", history[0])
        return {
            "class_name": "__keras_tensor__",
            "config": {"shape": obj.shape, "dtype": obj.dtype, "keras_history": history},
        }
    if isinstance(obj, np.dtype):
        return _dtype_name(obj)
    if isinstance(obj, type) and issubclass(obj, np.generic):
        return _dtype_name(obj)
    if isinstance(obj, np.ndarray):
        return _serialize_ndarray(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        try:
            source = inspect.getsource(obj).strip()
        except (OSError, TypeError):
            source = repr(obj)
        warnings.warn(
            "The object being serialized includes a `lambda`. This is unsafe. In order to reload "
            "the object, you will have to pass `safe_mode=False` to the loading function. Please "
            "avoid using `lambda` in the future, and use named Python functions instead. This is "
            f"the `lambda` being serialized: {source}",
            stacklevel=2,
        )
        return {"class_name": "__lambda__", "config": {"value": func_dump(obj)}}

    inner_config = _get_class_or_fn_config(obj)
    config = _serialize_with_public_class(type(obj), inner_config)
    _add_build_and_compile_config(obj, config)
    _record_after_serialization(obj, config)
    return config


def _serialize_dict(obj: Mapping[Any, Any]) -> dict:
    return {key: serialize_keras_object(value) for key, value in obj.items()}


def _get_class_or_fn_config(obj: Any) -> Any:
    if isinstance(obj, types.FunctionType):
        return get_registered_name(obj)
    if hasattr(obj, "get_config"):
        config = obj.get_config()
        if not isinstance(config, dict):
            raise TypeError(
                f"The `get_config()` method of {obj} should return a dict. It returned: {config}"
            )
        return _serialize_dict(config)
    if hasattr(obj, "__name__"):
        return get_registered_name(obj)
    raise TypeError(
        f"Cannot serialize object {obj} of type {type(obj)}. To be serializable, a class must "
        "implement the `get_config()` method."
    )


def _serialize_with_public_class(cls: type, inner_config: Any) -> dict:
    builtin = registry.builtin_name(cls)
    if builtin is None:
        return {
            "module": cls.__module__,
            "class_name": cls.__name__,
            "config": inner_config,
            "registered_name": get_registered_name(cls),
        }
    module, name = builtin
    return {
        "module": module,
        "class_name": name,
        "config": inner_config,
        # Keras exports its public classes (registered_name null); classes it does not export
        # (Functional) are written with their internal module and their own name.
        "registered_name": name if module.startswith("keras.src.") else None,
    }


def _add_build_and_compile_config(obj: Any, config: dict) -> None:
    if hasattr(obj, "get_build_config"):
        build_config = obj.get_build_config()
        if build_config is not None:
            config["build_config"] = _serialize_dict(build_config)
    if hasattr(obj, "get_compile_config"):
        compile_config = obj.get_compile_config()
        if compile_config is not None:
            config["compile_config"] = _serialize_dict(compile_config)


# -- deserialization ---------------------------------------------------------------------------


def deserialize_keras_object(
    config: Any,
    custom_objects: Optional[Mapping[str, Any]] = None,
    safe_mode: bool = True,
    **kwargs: Any,
) -> Any:
    """Rebuilds the object a config describes (the reverse of :func:`serialize_keras_object`).

    Records resolve in Keras's order: the registry (custom-object scope, registered objects,
    ``custom_objects``) under the record's ``registered_name`` (functions: their name), then
    ``module_objects``, then kerasave's built-ins under the record's Keras ``module``. Keras 2
    records (no ``module``) resolve by class name. The class's ``from_config`` runs inside a
    :class:`CustomObjectScope` holding every visible custom object and a ``SafeModeScope``, then
    ``build_from_config`` / ``compile_from_config`` when the record has those configs.

    Example::

        config = ks.saving.serialize_keras_object(layer)
        clone = ks.saving.deserialize_keras_object(config)

    Args:
        config: A record, or any structure of records and plain values.
        custom_objects: ``{name: class_or_function}`` for custom objects, keyed by their
            registered name (``"MyPkg>Scaler"``) or, for functions and unregistered classes,
            their name.
        safe_mode: Refuse lambdas and other payloads that run code or read outside files. A
            ``SafeModeScope`` or ``enable_unsafe_deserialization()`` on this thread overrides it.
        **kwargs: ``module_objects``: ``{name: object}`` consulted after the registry (what
            Keras's ``activations.get`` and similar pass).

    Returns:
        The object; lists, dicts and plain values are returned with their records rebuilt.

    Raises:
        UnknownObjectError: a record names a class or function nothing registers.
        UnsafeConfigError: the config asks for something safe mode or the module allow-list
            refuses.
        TypeError: a record is malformed, or ``from_config`` failed with a TypeError.
    """
    module_objects = kwargs.pop("module_objects", None)
    if kwargs:
        raise TypeError(f"deserialize_keras_object() got unexpected arguments {sorted(kwargs)}")
    safe = effective_safe_mode(safe_mode)
    merged: Dict[str, Any] = {
        **(custom_objects or {}),
        **registry._scope_dict(),
        **registry.get_custom_objects(),
    }
    if _SHARING.id_to_obj is None:
        # Outermost call outside a load: restore sharing for this call only.
        _SHARING.id_to_obj = {}
        try:
            return _deserialize(config, merged, safe, module_objects)
        finally:
            _SHARING.id_to_obj = None
    return _deserialize(config, merged, safe, module_objects)


def _deserialize(
    config: Any,
    custom_objects: Dict[str, Any],
    safe_mode: bool,
    module_objects: Optional[Mapping[str, Any]],
) -> Any:
    if config is None:
        return None
    if isinstance(config, str):
        # Legacy formats store plain functions by name.
        obj = custom_objects.get(config)
        if obj is not None:
            return obj
        if module_objects is not None and module_objects.get(config) is not None:
            return _from_module_object(module_objects[config], custom_objects, safe_mode)
        return config
    if isinstance(config, (list, tuple)):
        return [_deserialize(x, custom_objects, safe_mode, module_objects) for x in config]
    if isinstance(config, PLAIN_TYPES):
        return config
    if not isinstance(config, Mapping):
        raise TypeError(f"Could not parse config: {config!r}")
    if "class_name" not in config or "config" not in config:
        return {
            key: _deserialize(value, custom_objects, safe_mode, module_objects)
            for key, value in config.items()
        }

    class_name = config["class_name"]
    inner_config = config["config"] if config["config"] is not None else {}
    if not isinstance(class_name, str):
        raise TypeError(f"Expected 'class_name' to be a str, got {class_name!r}")

    special = _SPECIAL.get(class_name)
    if special is not None:
        return special(config, inner_config, custom_objects, safe_mode)

    has_module = "module" in config
    module = config.get("module")
    registered_name = config.get("registered_name", class_name)

    if class_name == "function":
        if not isinstance(inner_config, str):
            raise TypeError(
                "Expected 'config' to be a non-null str for a function class_name, instead got "
                f"{type(inner_config).__name__}. Full config: {dict(config)}"
            )
        return _retrieve_class_or_fn(
            inner_config, registered_name, module, has_module, "function", config,
            custom_objects, module_objects, safe_mode,
        )

    if not isinstance(inner_config, Mapping):
        raise TypeError(
            f"Expected 'config' to be a dict for {class_name}, instead got "
            f"{type(inner_config).__name__}. Full config: {dict(config)}"
        )
    shared_id = config.get("shared_object_id")
    id_to_obj = _SHARING.id_to_obj
    if shared_id is not None and id_to_obj is not None:
        try:
            obj = id_to_obj.get(shared_id)
        except TypeError:  # an unhashable id in a hostile config
            obj = None
        if obj is not None:
            return obj

    cls = _retrieve_class_or_fn(
        class_name, registered_name, module, has_module, "class", config,
        custom_objects, module_objects, safe_mode,
    )
    if isinstance(cls, types.FunctionType):
        return cls
    if not hasattr(cls, "from_config"):
        raise TypeError(
            f"Unable to reconstruct an instance of '{class_name}' because the class is missing a "
            f"`from_config()` method. Full object config: {dict(config)}"
        )
    with CustomObjectScope(custom_objects), SafeModeScope(safe_mode):
        try:
            instance = cls.from_config(dict(inner_config))
        except TypeError as e:
            raise TypeError(
                f"{cls} could not be deserialized properly. Please ensure that components that "
                "are Python object instances (layers, models, etc.) returned by `get_config()` "
                "are explicitly deserialized in the model's `from_config()` method."
                f"\n\nconfig={dict(config)}.\n\nException encountered: {e}"
            ) from e
        build_config = config.get("build_config")
        if build_config and not getattr(instance, "built", False):
            instance.build_from_config(build_config)
            if hasattr(instance, "built"):
                instance.built = True
        compile_config = config.get("compile_config")
        if compile_config:
            instance.compile_from_config(compile_config)
            if hasattr(instance, "compiled"):
                instance.compiled = True
    if shared_id is not None and _SHARING.id_to_obj is not None:
        try:
            _SHARING.id_to_obj[shared_id] = instance
        except TypeError:
            pass
    return instance


def _from_module_object(obj: Any, custom_objects: Dict[str, Any], safe_mode: bool) -> Any:
    """A name found in ``module_objects``: functions as they are, classes instantiated (Keras)."""
    if isinstance(obj, type) and hasattr(obj, "from_config"):
        with CustomObjectScope(custom_objects), SafeModeScope(safe_mode):
            return obj.from_config({})
    return obj


# special class names -> reviver(config, inner_config, custom_objects, safe_mode)


def _revive_tensor(config: Any, inner: Any, custom_objects: Any, safe_mode: bool) -> Any:
    return np.array(inner["value"], dtype=_numpy_dtype(inner.get("dtype")))


def _revive_bytes(config: Any, inner: Any, custom_objects: Any, safe_mode: bool) -> Any:
    return inner["value"].encode("utf-8")


def _revive_ellipsis(config: Any, inner: Any, custom_objects: Any, safe_mode: bool) -> Any:
    return Ellipsis


def _revive_slice(config: Any, inner: Any, custom_objects: Any, safe_mode: bool) -> Any:
    return slice(
        *(
            _deserialize(inner.get(k), custom_objects, safe_mode, None)
            for k in ("start", "stop", "step")
        )
    )


def _revive_lambda(config: Any, inner: Any, custom_objects: Any, safe_mode: bool) -> Any:
    if safe_mode:
        raise_for_lambda()
    with SafeModeScope(False):
        return func_load(inner["value"])


def _revive_typespec(config: Any, inner: Any, custom_objects: Any, safe_mode: bool) -> Any:
    raise UnknownObjectError(
        f"Cannot deserialize tf.TypeSpec record {config.get('spec_name')!r}: TensorFlow type "
        "specs have no kerasave equivalent."
    )


def _revive_keras_tensor_record(
    config: Any, inner: Any, custom_objects: Any, safe_mode: bool
) -> Any:
    return _revive_keras_tensor(inner)


_SPECIAL = {
    "__keras_tensor__": _revive_keras_tensor_record,
    "__tensor__": _revive_tensor,
    "__numpy__": _revive_tensor,
    "__bytes__": _revive_bytes,
    "__ellipsis__": _revive_ellipsis,
    "__slice__": _revive_slice,
    "__lambda__": _revive_lambda,
    "__typespec__": _revive_typespec,
}


# -- name resolution ---------------------------------------------------------------------------


def _is_keras_module(module: str) -> bool:
    return module == "keras" or module.startswith("keras.")


def _assert_no_registered_name_for_builtin(
    full_config: Mapping[str, Any], name: str, api: str
) -> None:
    explicit = full_config.get("registered_name")
    if not explicit or explicit in (name, full_config.get("class_name")):
        return
    raise UnsafeConfigError(
        f"`registered_name={explicit!r}` was provided in the config, but '{api}' resolved to a "
        "Keras built-in and does not use registered names. Remove the `registered_name` field "
        f"from the config. Full object config: {dict(full_config)}"
    )


def _retrieve_class_or_fn(
    name: str,
    registered_name: Optional[str],
    module: Optional[str],
    has_module: bool,
    obj_type: str,
    full_config: Mapping[str, Any],
    custom_objects: Dict[str, Any],
    module_objects: Optional[Mapping[str, Any]],
    safe_mode: bool,
) -> Any:
    # 1. What the user registered or passed takes precedence (Keras keys classes by their
    #    registered name; a null registered_name skips this).
    key = name if obj_type == "function" else registered_name
    if isinstance(key, str):
        obj = get_registered_object(key, custom_objects)
        if obj is not None:
            return obj
    if module is not None and not isinstance(module, str):
        raise TypeError(f"Expected 'module' to be a str or null, got {module!r}")
    # Everything below is kerasave's own: refuse, in safe mode, the built-in layers that load
    # code or outside files before finding them.
    keras_side = not has_module or (module is not None and _is_keras_module(module))
    if obj_type == "class" and (keras_side or module_objects is not None):
        check_class_config(name, full_config.get("config"), safe_mode)
    if module_objects is not None and module_objects.get(name) is not None:
        return module_objects[name]

    # 2. Keras 2 / tf_keras records carry no module: kerasave's built-ins by name.
    if not has_module:
        obj = registry.search_builtins(name)
        if obj is None and name.startswith("Custom>"):
            # tf_keras files its own new optimizers under the default package ("Custom>Adam").
            obj = registry.search_builtins(name[len("Custom>"):], ("keras.optimizers",))
        if obj is not None:
            return obj
        raise _unknown(obj_type, name, registered_name, None, custom_objects)

    if module is None or module == "__main__":
        raise _unknown(obj_type, name, registered_name, None, custom_objects)

    # 3. Keras namespaces map onto kerasave's table; nothing is imported.
    if _is_keras_module(module):
        api = f"{module}.{name}"
        if api in NON_MODELING_APIS:
            raise UnsafeConfigError(
                f"Cannot deserialize `{api}` because it is not a modeling function. Non-modeling "
                "APIs are disallowed during deserialization for security. Model configuration "
                "should only contain operations, layers, metrics, losses, or registered custom "
                "objects and functions."
            )
        obj = registry.lookup_builtin(module, name)
        if obj is not None:
            _assert_no_registered_name_for_builtin(full_config, name, api)
            return obj
        if not registry.is_modeling_namespace(module):
            raise UnsafeConfigError(
                f"Cannot deserialize '{api}': '{module}' is not a Keras modeling namespace (only "
                "layers, models, activations, initializers, optimizers, losses, metrics, "
                "regularizers, constraints, dtype policies and quantizers can be named by a "
                "config)."
            )
        # A Keras built-in kerasave lacks: the user may supply a port under its class name.
        obj = get_registered_object(name, custom_objects)
        if obj is not None:
            return obj
        raise _unknown(obj_type, name, registered_name, module, custom_objects, builtin_api=api)

    # 4. Functions written with module "builtins": Keras's built-in function namespaces.
    if obj_type == "function" and module == "builtins":
        for ns in BUILTIN_FUNCTION_NAMESPACES:
            obj = registry.lookup_builtin(ns, name)
            if obj is not None:
                _assert_no_registered_name_for_builtin(full_config, name, f"{ns}.{name}")
                return obj
        if ">" not in name:
            # Keras <= 3.6 wrote custom functions by bare name instead of "package>name".
            suffix = f">{name}"
            for custom_name, custom_object in custom_objects.items():
                if custom_name.endswith(suffix):
                    return custom_object
        if hasattr(builtins, name):
            raise UnsafeConfigError(
                f"Cannot deserialize function '{name}': it names a Python built-in, not a Keras "
                "function. Only Keras activations, constraints, initializers, losses, metrics, "
                "optimizers, regularizers and registered functions can be named by a config."
            )
        raise _unknown(obj_type, name, registered_name, None, custom_objects)

    # 5. Anything else would need an import: never.
    if module.split(".", 1)[0] in _KERAS_FAMILY:
        raise _unknown(obj_type, name, registered_name, module, custom_objects)
    key = registered_name if obj_type == "class" and registered_name else name
    raise UnsafeConfigError(
        f"Cannot deserialize {obj_type} '{name}' from module '{module}': kerasave never imports "
        "modules named in a config, and only Keras objects and registered custom objects can be "
        f"named. If '{name}' is your own {obj_type}, register it with "
        f"{_decorator_hint(key)} (and import it before loading) or pass "
        f"custom_objects={{{key!r}: ...}}."
    )


def _decorator_hint(key: str) -> str:
    package, sep, short = key.rpartition(">")
    if sep:
        return f"@keras.saving.register_keras_serializable(package={package!r}, name={short!r})"
    return "@keras.saving.register_keras_serializable()"


def _unknown(
    obj_type: str,
    name: str,
    registered_name: Optional[str],
    module: Optional[str],
    custom_objects: Mapping[str, Any],
    builtin_api: Optional[str] = None,
) -> UnknownObjectError:
    key = registered_name if obj_type == "class" and isinstance(registered_name, str) else name
    if builtin_api is not None:
        return UnknownObjectError(
            f"Unknown {obj_type} '{name}': kerasave has no built-in '{builtin_api}' yet; pass "
            f"custom_objects={{{name!r}: ...}} with an equivalent class or function."
        )
    described = f"'{name}'" if key == name else f"'{name}' (registered as '{key}')"
    where = f" from module '{module}'" if module else ""
    hint = ""
    if key != name and name in custom_objects:
        hint = (
            f" custom_objects has '{name}', but the config refers to it as '{key}': pass it "
            "under that key."
        )
    return UnknownObjectError(
        f"Unknown {obj_type} {described}{where}: nothing registers it; register it with "
        f"{_decorator_hint(key)} (and import it before loading) or pass "
        f"custom_objects={{{key!r}: ...}}.{hint}"
    )
