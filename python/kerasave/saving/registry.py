"""Names for objects: the custom-object registry (Keras's) and kerasave's built-in table.

Two lookups turn a name from a config into a Python object:

* **Custom objects**, exactly as in Keras 3.15: ``@register_keras_serializable(package, name)``
  stores the object under ``"package>name"``; :class:`CustomObjectScope` makes more names visible
  for the duration of a ``with`` block (per thread); ``custom_objects=`` arguments add more.
  :func:`get_registered_object` searches the scope, then the global registry, then
  ``custom_objects``, then ``module_objects``: the order Keras uses.
* **Built-ins**: kerasave's own classes and functions, filed under the Keras names that configs
  use (``keras.layers`` / ``Dense``, ``keras`` / ``Sequential``,
  ``keras.src.models.functional`` / ``Functional``). kerasave's modules register themselves with
  :func:`register_builtin`; :func:`lookup_builtin` maps a config's ``module`` (public
  ``keras.layers`` or internal ``keras.src.layers.core.dense``) onto that table. Keras resolves
  such names by importing the module the config names; kerasave never imports anything a config
  names, so only what is in this table (or registered by the user) can ever be reached.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any, Callable, Dict, Iterable, Iterator, Mapping, Optional, Tuple

__all__ = [
    "CustomObjectScope",
    "builtin_name",
    "builtin_objects",
    "custom_object_scope",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "lookup_builtin",
    "register_builtin",
    "register_keras_serializable",
]

# -- custom objects (Keras's registry) ---------------------------------------------------------

_GLOBAL_CUSTOM_OBJECTS: Dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: Dict[Any, str] = {}


class _ScopeState(threading.local):
    """Per-thread custom-object scope, like Keras's ``global_state`` (a ``threading.local``)."""

    def __init__(self) -> None:
        self.scope_dict: Dict[str, Any] = {}


_STATE = _ScopeState()


def register_keras_serializable(
    package: str = "Custom", name: Optional[str] = None
) -> Callable[[Any], Any]:
    """Registers a class or function under ``"package>name"`` for serialization.

    Registered objects are found by :func:`deserialize_keras_object` without ``custom_objects``,
    and :func:`serialize_keras_object` writes their registered name into the config. As in Keras,
    registering a name again replaces the earlier object (so re-running a notebook cell works).

    Example::

        @ks.saving.register_keras_serializable(package="MyPkg", name="Scaler")
        class ScaleLayer(ks.layers.Layer):
            ...

        assert ks.saving.get_registered_object("MyPkg>Scaler") is ScaleLayer

    Args:
        package: The package part of the key. Defaults to ``"Custom"``.
        name: The name part of the key. Defaults to the object's ``__name__``.

    Returns:
        A decorator that registers its argument and returns it unchanged.

    Raises:
        ValueError: (from the decorator) the argument is a class without ``get_config()``.
        TypeError: (from the decorator) the argument is neither a class nor callable, or has no
            ``__name__`` and no ``name`` was given.
    """

    def decorator(arg: Any) -> Any:
        if not callable(arg):
            raise TypeError(
                "register_keras_serializable() decorates classes and functions; got "
                f"{arg!r} of type {type(arg).__name__}"
            )
        if name is not None:
            object_name = name
        else:
            object_name = getattr(arg, "__name__", None)
            if not isinstance(object_name, str):
                raise TypeError(
                    f"cannot register {arg!r}: it has no __name__; pass name= explicitly"
                )
        registered_name = f"{package}>{object_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj: Any) -> str:
    """Returns the name ``obj`` is serialized under.

    Args:
        obj: A class or function.

    Returns:
        The ``"package>name"`` key it was registered with; for kerasave's built-ins the Keras
        name (``"Dense"``); otherwise ``obj.__name__``.
    """
    try:
        registered = _GLOBAL_CUSTOM_NAMES.get(obj)
    except TypeError:  # unhashable
        registered = None
    if registered is not None:
        return registered
    builtin = builtin_name(obj)
    if builtin is not None:
        return builtin[1]
    return obj.__name__


def get_registered_object(
    name: str,
    custom_objects: Optional[Mapping[str, Any]] = None,
    module_objects: Optional[Mapping[str, Any]] = None,
) -> Any:
    """Returns the object registered under ``name``, or None.

    The search order is Keras's: the innermost :class:`CustomObjectScope` of this thread, then
    the global registry (:func:`register_keras_serializable`), then ``custom_objects``, then
    ``module_objects``.

    Args:
        name: The name to look up, e.g. ``"MyPkg>Scaler"``.
        custom_objects: Extra ``{name: object}`` pairs, typically from the user.
        module_objects: Extra ``{name: object}`` pairs, typically a library's own namespace.

    Returns:
        The object, or None when no source has the name.
    """
    scope = _STATE.scope_dict
    if name in scope:
        return scope[name]
    if name in _GLOBAL_CUSTOM_OBJECTS:
        return _GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def get_custom_objects() -> Dict[str, Any]:
    """Returns the live global registry dict (``{"package>name": object}``).

    Objects made visible by a :class:`CustomObjectScope` are not in it.

    Returns:
        The dict itself, so ``get_custom_objects()["MyLayer"] = MyLayer`` registers a name.
    """
    return _GLOBAL_CUSTOM_OBJECTS


def _scope_dict() -> Dict[str, Any]:
    """The current thread's scope dict (read-only by convention)."""
    return _STATE.scope_dict


class CustomObjectScope:
    """Makes custom classes and functions visible to deserialization inside a ``with`` block.

    As in Keras 3, entering a scope *replaces* this thread's scope dict with the scope's objects
    (it does not merge with an enclosing scope); leaving it restores the enclosing one. The scope
    is per thread. Deserialization itself runs ``from_config`` inside a scope holding every
    object it can see, so nested objects resolve the same names.

    Example::

        with ks.utils.custom_object_scope({"MyPkg>Scaler": ScaleLayer}):
            model = ks.models.load_model("model.keras")

    Args:
        *custom_objects: Dicts of ``{name: object}``; later dicts win (Keras 2 also accepted
            several). ``None`` entries are ignored.
    """

    def __init__(self, *custom_objects: Optional[Mapping[str, Any]]) -> None:
        merged: Dict[str, Any] = {}
        for objects in custom_objects:
            if objects:
                merged.update(objects)
        self.custom_objects = merged
        self._backups: list = []

    def __enter__(self) -> "CustomObjectScope":
        self._backups.append(_STATE.scope_dict)
        _STATE.scope_dict = dict(self.custom_objects)
        return self

    def __exit__(self, *exc: Any) -> None:
        _STATE.scope_dict = self._backups.pop()


#: Alias, as in Keras.
custom_object_scope = CustomObjectScope


# -- kerasave's built-ins, under their Keras names ---------------------------------------------

# Where Keras's internal package ``keras.src.<pkg>....`` exports its public objects. A config may
# name either (``keras.src.layers.core.dense`` / ``Dense`` is what Keras writes for a class it
# does not export under its canonical name); both resolve to the same table entries.
_SRC_PACKAGES: Dict[str, Tuple[str, ...]] = {
    "activations": ("keras.activations",),
    "constraints": ("keras.constraints",),
    "dtype_policies": ("keras.dtype_policies", "keras"),
    "initializers": ("keras.initializers",),
    "layers": ("keras.layers",),
    "losses": ("keras.losses",),
    "metrics": ("keras.metrics",),
    "models": ("keras", "keras.models"),
    "ops": ("keras.ops",),
    "optimizers": ("keras.optimizers", "keras.optimizers.schedules"),
    "quantizers": ("keras.quantizers",),
    "regularizers": ("keras.regularizers",),
}

# Public namespaces that hold each other's objects (Keras exports ``Sequential`` as
# ``keras.Sequential`` and ``keras.models.Sequential``).
_PUBLIC_ALIASES: Dict[str, Tuple[str, ...]] = {
    "keras.models": ("keras",),
    "keras.dtype_policies": ("keras",),
}

#: Keras namespaces that hold modeling objects; a config naming anything else under ``keras`` is
#: refused rather than reported as merely unknown.
MODELING_NAMESPACES = frozenset(
    {"keras"} | {ns for spaces in _SRC_PACKAGES.values() for ns in spaces}
)

#: Where a config's module-less (Keras 2 / tf_keras) records are looked up, in order; namespaces
#: registered later follow in sorted order.
DEFAULT_SEARCH_ORDER: Tuple[str, ...] = (
    "keras.layers",
    "keras",
    "keras.models",
    "keras.src.models.functional",
    "keras.initializers",
    "keras.regularizers",
    "keras.constraints",
    "keras.optimizers",
    "keras.optimizers.schedules",
    "keras.losses",
    "keras.metrics",
    "keras.activations",
    "keras.dtype_policies",
    "keras.quantizers",
)


class _BuiltinTable:
    """``{namespace: {name: object}}`` plus the reverse map to each object's canonical name."""

    def __init__(self) -> None:
        self.by_namespace: Dict[str, Dict[str, Any]] = {}
        self.canonical: Dict[int, Tuple[Any, str, str]] = {}  # id(obj) -> (obj, module, name)

    def add(self, module: str, name: str, obj: Any) -> None:
        names = self.by_namespace.setdefault(module, {})
        existing = names.get(name)
        if existing is not None and existing is not obj:
            raise ValueError(
                f"kerasave built-in {module}.{name} is already registered to {existing!r}"
            )
        names[name] = obj
        self.canonical.setdefault(id(obj), (obj, module, name))

    def get(self, module: str, name: str) -> Any:
        return self.by_namespace.get(module, {}).get(name)

    def name_of(self, obj: Any) -> Optional[Tuple[str, str]]:
        entry = self.canonical.get(id(obj))
        if entry is None or entry[0] is not obj:
            return None
        return entry[1], entry[2]

    def namespaces(self) -> Iterator[str]:
        seen = set()
        for ns in DEFAULT_SEARCH_ORDER:
            seen.add(ns)
            yield ns
        for ns in sorted(self.by_namespace):
            if ns not in seen:
                yield ns


_BUILTINS = _BuiltinTable()


def _split_api_name(api_name: str) -> Tuple[str, str]:
    module, sep, name = api_name.rpartition(".")
    if not sep or not (module == "keras" or module.startswith("keras.")):
        raise ValueError(
            f"expected a Keras API name such as 'keras.layers.Dense', got {api_name!r}"
        )
    return module, name


def register_builtin(
    module: str,
    name: Optional[str] = None,
    obj: Any = None,
    *,
    aliases: Iterable[str] = (),
) -> Any:
    """Files one of kerasave's own classes or functions under its Keras name.

    The first registration of an object is its canonical name: :func:`serialize_keras_object`
    writes ``module`` / ``name`` for it (with ``registered_name`` null, or the class name for an
    internal ``keras.src.*`` module, as Keras does for classes it does not export).
    Deserialization finds it under that name, each alias, and the matching internal modules
    (``keras.src.layers.<anything>`` for ``keras.layers``).

    Usable directly or as a decorator::

        @register_builtin("keras.layers")
        class Dense(Layer): ...

        register_builtin("keras.activations", "relu", relu)
        register_builtin("keras", "Sequential", Sequential, aliases=["keras.models.Sequential"])

    Args:
        module: The Keras namespace, e.g. ``"keras.layers"``, ``"keras"``, or an internal module
            Keras writes for unexported classes (``"keras.src.models.functional"``).
        name: The Keras name; defaults to ``obj.__name__``.
        obj: The object; omit to get a decorator.
        aliases: Further full Keras names of the same object, e.g. ``"keras.models.Sequential"``.

    Returns:
        ``obj`` (or a decorator returning its argument).

    Raises:
        ValueError: ``module`` is not a Keras namespace, or the name already belongs to a
            different object.
    """
    if not (module == "keras" or module.startswith("keras.")):
        raise ValueError(f"built-ins live in Keras namespaces ('keras', 'keras.*'), got {module!r}")
    alias_list = [_split_api_name(a) for a in aliases]

    def decorator(target: Any) -> Any:
        key = name if name is not None else target.__name__
        _BUILTINS.add(module, key, target)
        for alias_module, alias_name in alias_list:
            _BUILTINS.add(alias_module, alias_name, target)
        return target

    if obj is None:
        return decorator
    return decorator(obj)


def _candidate_namespaces(module: str) -> Tuple[str, ...]:
    """Table namespaces a config's ``module`` may refer to, most specific first."""
    out = [module]
    out.extend(_PUBLIC_ALIASES.get(module, ()))
    parts = module.split(".")
    if len(parts) >= 3 and parts[0] == "keras" and parts[1] == "src":
        spaces = _SRC_PACKAGES.get(parts[2], ())
        if parts[2] == "optimizers" and "schedules" in parts[3:]:
            spaces = ("keras.optimizers.schedules", "keras.optimizers")
        out.extend(spaces)
    return tuple(dict.fromkeys(out))


def lookup_builtin(module: str, name: str) -> Any:
    """Finds a kerasave built-in by the ``module`` and name a Keras config gives.

    Args:
        module: ``"keras.layers"``, ``"keras"``, ``"keras.src.layers.core.dense"``, ...
        name: ``"Dense"``.

    Returns:
        The object, or None. Nothing is imported.
    """
    for ns in _candidate_namespaces(module):
        obj = _BUILTINS.get(ns, name)
        if obj is not None:
            return obj
    return None


def is_modeling_namespace(module: str) -> bool:
    """Whether ``module`` names a Keras namespace that can hold modeling objects."""
    return any(
        ns in MODELING_NAMESPACES or ns in _BUILTINS.by_namespace
        for ns in _candidate_namespaces(module)
    )


def search_builtins(name: str, namespaces: Optional[Iterable[str]] = None) -> Any:
    """Finds a built-in by bare name, for configs that carry no module (Keras 2 / tf_keras).

    Args:
        name: A class or function name, e.g. ``"Dense"``.
        namespaces: Where to look, in order; defaults to every namespace, layers first
            (:data:`DEFAULT_SEARCH_ORDER`).

    Returns:
        The first match, or None.
    """
    for ns in namespaces if namespaces is not None else _BUILTINS.namespaces():
        obj = _BUILTINS.get(ns, name)
        if obj is not None:
            return obj
    return None


def builtin_name(obj: Any) -> Optional[Tuple[str, str]]:
    """The canonical ``(module, name)`` of a kerasave built-in, or None for anything else."""
    try:
        return _BUILTINS.name_of(obj)
    except TypeError:
        return None


def builtin_objects(module: str) -> Dict[str, Any]:
    """A copy of one namespace of the table, e.g. to pass as ``module_objects``.

    Args:
        module: A namespace such as ``"keras.losses"``.

    Returns:
        ``{name: object}``; empty when nothing is registered there.
    """
    return dict(_BUILTINS.by_namespace.get(module, {}))
