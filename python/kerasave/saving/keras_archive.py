"""Keras 3 object paths: load and gather a model's variables as ``<path>/vars/<i>`` tensors
(keras_formats.md §2.2-2.3)."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Tuple

import numpy as np

from kerasave.layers.base import Layer, to_snake_case


def _attr_key(name: str) -> str:
    return name if not name.startswith("_") else "~" + name


def _is_model(obj: Any) -> bool:
    from kerasave.models.model import Functional, Sequential

    return isinstance(obj, (Functional, Sequential)) or \
        getattr(obj, "_functional", None) is not None


def walk(model: Layer) -> Iterator[Tuple[str, Any]]:
    """Yields ``(inner_path, layer)`` in Keras's saving traversal, first path wins; a compiled
    model's optimizer comes at ``"optimizer"`` (an :class:`~kerasave.optimizers.Optimizer`,
    not a layer).

    Args:
        model: The root model or layer.

    Yields:
        Paths such as ``""``, ``"layers/dense"``, ``"block/pair/dense_1"``.
    """
    visited: set = set()
    # Explicit stack of generators: no recursion limit for deep nesting.
    stack: List[Iterator[Tuple[str, Any]]] = [iter([("", model)])]
    while stack:
        try:
            path, obj = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        if id(obj) in visited:
            continue
        visited.add(id(obj))
        yield path, obj
        stack.append(_children(path, obj))


def _join(a: str, b: str) -> str:
    return f"{a}/{b}" if a else b


def _children(path: str, obj: Layer) -> Iterator[Tuple[str, Any]]:
    from kerasave.models.model import Model
    from kerasave.optimizers import Optimizer

    attrs: List[Tuple[str, Any]] = []
    if _is_model(obj):
        yield from _container(_join(path, "layers"), list(obj.layers))
    elif isinstance(obj, Model):
        attrs.append(("layers", list(obj.layers)))
    attrs.extend(getattr(obj, "_tracked", {}).items())
    if isinstance(obj, Model) and isinstance(getattr(obj, "optimizer", None), Optimizer):
        # A compiled model's optimizer is the attribute "optimizer" (optimizer/vars).
        attrs.append(("optimizer", obj.optimizer))
    if isinstance(obj, Optimizer) and hasattr(obj, "_saveable_children"):
        attrs.extend(obj._saveable_children())  # LossScaleOptimizer.inner_optimizer
    for name, value in sorted(attrs, key=lambda kv: _attr_key(kv[0])):
        if name.startswith("__"):
            continue
        if isinstance(value, (Layer, Optimizer)):
            yield _join(path, name), value
        elif isinstance(value, (list, tuple, dict)):
            yield from _container(_join(path, name), value)


def _container(path: str, container: Any) -> Iterator[Tuple[str, Any]]:
    if isinstance(container, dict):
        container = list(container.values())
    used: Dict[str, int] = {}
    for item in container:
        if isinstance(item, Layer):
            name = to_snake_case(type(item).__name__)
        elif isinstance(item, (list, tuple, dict)):
            name = "container"
        else:
            continue
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        if isinstance(item, Layer):
            yield _join(path, name), item
        else:
            yield from _container(_join(path, name), item)


def _is_optimizer(obj: Any) -> bool:
    from kerasave.optimizers import LossScaleOptimizer, Optimizer

    return isinstance(obj, Optimizer) and not isinstance(obj, LossScaleOptimizer)


def _vars_group(path: str) -> str:
    return _join(path, "vars")


def load_from_store(model: Layer, store: Any, skip_mismatch: bool = False,
                    prefix: str = "") -> None:
    """Assigns every layer's own variables from ``<path>/vars/<i>`` tensors of a store.

    Args:
        model: The freshly built model.
        store: A mapping of keys to arrays (``ks.open`` store, or any dict).
        skip_mismatch: Warn and skip a layer whose variable count or shapes differ.
        prefix: A key prefix (e.g. ``"model_weights/"``) if any.

    Raises:
        ValueError: A layer's variable count or a shape differs (without ``skip_mismatch``).
    """
    groups: Dict[str, Dict[str, str]] = {}
    for key in store:
        if prefix and not key.startswith(prefix):
            continue
        group, _, idx = key[len(prefix):].rpartition("/")
        groups.setdefault(group, {})[idx] = key
    assets: set = set()
    if hasattr(store, "read_asset"):
        listed = getattr(store, "assets", ())
        assets = set(listed() if callable(listed) else listed)
    for path, layer in walk(model):
        if assets and hasattr(layer, "load_own_assets"):
            if any(a.startswith(path + "/") for a in assets):
                layer.load_own_assets(
                    lambda name, p=path: store.read_asset(_join(p, name)))
        keys = groups.get(_vars_group(path), {})
        if _is_optimizer(layer) and len(keys) != len(layer.variables):
            # A mixed_float16 model saved by Keras holds a LossScaleOptimizer; when the model
            # reloads unwrapped (a Functional has no dtype in its config), its inner optimizer
            # is at optimizer/inner_optimizer/vars. Keras 3 warns and drops the state here.
            inner = groups.get(_vars_group(_join(path, "inner_optimizer")), {})
            if inner and len(inner) == len(layer.variables):
                keys = inner
        view = _GroupView(store, keys)
        try:
            layer.load_own_variables(view)
        except ValueError as e:
            if not skip_mismatch:
                raise ValueError(f"{e} (object path '{path or '/'}')") from e
            import warnings

            warnings.warn(f"Skipping loading weights for '{path}': {e}", stacklevel=2)


class _GroupView(Mapping[str, np.ndarray]):
    def __init__(self, store: Any, keys: Dict[str, str]) -> None:
        self._store, self._keys = store, keys

    def __getitem__(self, idx: str) -> np.ndarray:
        return self._store[self._keys[idx]]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._keys, key=lambda k: int(k) if k.isdigit() else k))

    def __len__(self) -> int:
        return len(self._keys)


def gather_tensors(model: Layer) -> Tuple[Dict[str, np.ndarray], Dict[str, Dict[str, Any]]]:
    """Collects ``{"<path>/vars/<i>": array}`` and group attributes ``{"<path>/vars": {"name"}}``.

    Args:
        model: The model.

    Returns:
        The tensors and the per-group ``name`` attributes.
    """
    tensors: Dict[str, np.ndarray] = {}
    attrs: Dict[str, Dict[str, Any]] = {}
    for path, layer in walk(model):
        group = _vars_group(path)
        attrs[group] = {"name": layer.name}
        for i, v in enumerate(layer._own_variables()):
            tensors[f"{group}/{i}"] = v.numpy()
    return tensors, attrs


def gather_assets(model: Layer) -> Dict[str, bytes]:
    """Asset files (``{"layers/text_vectorization/vocabulary.txt": bytes}``) of layers with a
    vocabulary, at their object paths."""
    out: Dict[str, bytes] = {}
    for path, layer in walk(model):
        if hasattr(layer, "load_own_assets") and hasattr(layer, "get_vocabulary"):
            out[_join(path, "vocabulary.txt")] = "\n".join(layer.get_vocabulary()).encode()
    return out
