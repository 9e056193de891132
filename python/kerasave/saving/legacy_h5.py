"""Legacy Keras H5 weights (keras_formats.md §3.2, §3.4): positional, per-layer loading."""

from __future__ import annotations

import warnings
from typing import Any, Dict, List

import numpy as np

from kerasave.layers.base import Layer


def legacy_weights(layer: Layer) -> List[Any]:
    """``layer.trainable_weights + layer.non_trainable_weights`` (the legacy H5 order)."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _root(store: Any) -> str:
    if getattr(store, "format", "") == "legacy_h5_model":
        return "model_weights"
    return ""


def _file_layers(store: Any) -> List[tuple]:
    root = _root(store)
    attrs = store.attrs(root or "/")
    names = list(attrs.get("layer_names", []))
    out = []
    for name in names:
        group = f"{root}/{name}" if root else name
        try:
            wn = list(store.attrs(group).get("weight_names", []))
        except KeyError:
            wn = []
        out.append((name, [f"{group}/{w}" for w in wn]))
    return out


def load_weights_from_legacy_h5(model: Any, store: Any, by_name: bool = False,
                                skip_mismatch: bool = False) -> None:
    """Loads a legacy ``.h5`` (full model or ``save_weights``) into ``model``.

    Args:
        model: A built model.
        store: ``ks.open`` of the file.
        by_name: Match top-level layers by name instead of position.
        skip_mismatch: Warn and skip mismatched weights instead of raising.

    Raises:
        ValueError: Layer or weight counts, or shapes, differ.
    """
    file_layers = _file_layers(store)
    if by_name:
        index: Dict[str, List[Layer]] = {}
        for layer in model.layers:
            index.setdefault(layer.name, []).append(layer)
        for name, keys in file_layers:
            for layer in index.get(name, []):
                _assign(layer, keys, store, skip_mismatch, count_skip=skip_mismatch)
        return
    layers = [layer for layer in model.layers if legacy_weights(layer)]
    file_layers = [(n, k) for n, k in file_layers if k]
    if len(layers) != len(file_layers):
        raise ValueError(
            f"Layer count mismatch when loading weights from file. Model expected "
            f"{len(layers)} layers, found {len(file_layers)} saved layers.")
    for layer, (_, keys) in zip(layers, file_layers):
        _assign(layer, keys, store, skip_mismatch, count_skip=False)


def _assign(layer: Layer, keys: List[str], store: Any, skip_mismatch: bool,
            count_skip: bool) -> None:
    weights = legacy_weights(layer)
    if len(weights) != len(keys):
        msg = (f"Layer '{layer.name}' expected {len(weights)} weight(s), but the saved weights "
               f"have {len(keys)} element(s).")
        if count_skip:
            warnings.warn(f"Skipping loading weights for layer '{layer.name}': {msg}",
                          stacklevel=3)
            return
        raise ValueError(msg)
    for var, key in zip(weights, keys):
        value = store[key]
        if tuple(np.shape(value)) != var.shape:
            msg = (f"Shape mismatch in layer '{layer.name}' for weight {var.path}: weight "
                   f"expects shape {var.shape}; received saved weight with shape "
                   f"{tuple(np.shape(value))}")
            if skip_mismatch:
                warnings.warn(msg, stacklevel=3)
                continue
            raise ValueError(msg)
        var.assign(value)


def optimizer_weight_tensors(optimizer: Any) -> tuple:
    """Keras 3's ``optimizer_weights`` group: datasets named by variable path
    (``adam/iteration``, ``adam/dense_kernel_momentum``, ...) and the ``weight_names``
    attribute; nothing for an optimizer without variables."""
    tensors: Dict[str, Any] = {}
    names: List[str] = []
    for var in optimizer.variables:
        names.append(var.path)
        tensors[f"optimizer_weights/{var.path}"] = var.numpy()
    if not names:
        return {}, {}
    return tensors, {"/optimizer_weights": {"weight_names": names}}


def load_optimizer_weights(model: Any, store: Any) -> bool:
    """Restores ``model.optimizer`` from a legacy ``.h5`` ``optimizer_weights`` group: Keras 3
    names (positional), tf_keras new optimizers (``iteration:0`` then slots) or tf_keras legacy
    optimizers (``Adam/iter:0``, slots grouped by name). A mismatch warns and leaves the
    optimizer fresh, as Keras does.

    Returns:
        Whether the state was restored.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return False
    try:
        names = list(store.attrs("optimizer_weights").get("weight_names", []))
    except KeyError:
        return False
    if not names:
        return False
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    from kerasave.optimizers._compat import assign_from_h5

    where = str(getattr(store, "path", "file"))
    try:
        values = [store[f"optimizer_weights/{n}"] for n in names]
    except KeyError as e:
        warnings.warn(f"{where}: optimizer_weights@weight_names names a missing dataset ({e}); "
                      "the optimizer starts fresh", stacklevel=2)
        return False
    return assign_from_h5(optimizer, names, values, where)
