"""Keras's layouts inside HDF5 files: key order, chunked name lists, legacy weight bookkeeping.

The Rust core (``kerasave._core.H5File``) knows HDF5: datasets, groups, attributes. This module
knows what Keras puts in them (keras_formats.md §2 and §3):

* Keras 3 weights (``.weights.h5``, the ``model.weights.h5`` of a ``.keras``): one ``vars`` group
  per object, datasets ``"0"``, ``"1"``, ... in variable order. HDF5 lists links bytewise
  (``vars/10`` before ``vars/2``), so keys are put in :func:`natural_key` order.
* Legacy ``.h5`` (``model.save("x.h5")`` / tf_keras ``save_weights("x.h5")``): ``layer_names`` on
  the weights root and ``weight_names`` on each layer group give the order Keras loads in; long
  lists are split into ``layer_names0``, ``layer_names1``, ... (64512-byte attribute limit), and a
  layer without weights has an empty float64 ``weight_names``.

Nothing here touches bytes; every function takes an open ``_core.H5File`` (or plain data).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from kerasave.errors import CorruptFileError

__all__ = [
    "MAX_JSON_DEPTH",
    "STRING_LIST_ATTRS",
    "TOP_LEVEL_GROUP",
    "decode_attrs",
    "group_of",
    "legacy_key_order",
    "legacy_names_from_keys",
    "natural_key",
    "json_depth_exceeds",
    "parse_json",
    "parse_json_attr",
    "sort_keys",
    "split_legacy_key",
]

#: Attributes Keras writes with ``save_attributes_to_hdf5_group`` (chunked when long).
STRING_LIST_ATTRS = ("layer_names", "weight_names")
#: The group of a legacy file that holds the model's own (non-layer) variables.
TOP_LEVEL_GROUP = "top_level_model_weights"

_CHUNK = re.compile(r"^(.*?)(\d+)$")


def natural_key(path: str) -> tuple:
    """Sort key of an HDF5 path: component by component, all-digit components as numbers.

    ``vars/9`` sorts before ``vars/10``; other components compare bytewise as UTF-8, which is
    HDF5's own name order; a numeric component sorts before a non-numeric sibling.

    Args:
        path: A path such as ``"layers/dense/vars/10"`` (a leading ``/`` is ignored).

    Returns:
        A tuple usable as a ``sorted`` key.
    """
    parts = []
    for part in path.strip("/").split("/"):
        if part.isdigit() and part.isascii():
            parts.append((0, int(part), part.encode("utf-8")))
        else:
            parts.append((1, 0, part.encode("utf-8")))
    return tuple(parts)


def sort_keys(keys: Iterable[str]) -> list[str]:
    """Returns ``keys`` in :func:`natural_key` order."""
    return sorted(keys, key=natural_key)


def group_of(path: str) -> str:
    """The absolute group of dataset ``path`` (``"layers/d/vars/0"`` -> ``"/layers/d/vars"``)."""
    head = "/" + path.strip("/")
    parent = head.rsplit("/", 1)[0]
    return parent or "/"


def _is_empty_numeric(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.size == 0 and value.dtype.kind in "fiu"


def decode_attrs(h5: Any, object_path: str) -> dict[str, Any]:
    """Attributes of a group or dataset, with Keras's string lists made whole.

    ``layer_names0``, ``layer_names1``, ... become one ``layer_names`` list (likewise
    ``weight_names``), and an empty numeric ``weight_names`` becomes ``[]``. Other values are as
    ``_core.H5File.attrs`` gives them: ``str``, ``list[str]``, int64/float64 arrays, ``bytes``.

    Args:
        h5: An open ``_core.H5File``.
        object_path: The group or dataset (``"/"`` for the root).

    Returns:
        Attribute name -> value, in name order (chunk attributes replaced by the whole list).
    """
    raw = h5.attrs(object_path)
    out: dict[str, Any] = {}
    chunked: set[str] = set()
    for name in raw:
        m = _CHUNK.match(name)
        if m and m.group(1) in STRING_LIST_ATTRS and m.group(1) not in raw:
            chunked.add(m.group(1))
    for name, value in raw.items():
        m = _CHUNK.match(name)
        if m and m.group(1) in chunked:
            base = m.group(1)
            if base not in out:
                out[base] = h5.string_list_attr(object_path, base) or []
            continue
        if name in STRING_LIST_ATTRS:
            if _is_empty_numeric(value):
                value = []
            elif isinstance(value, str):
                value = [value]
        out[name] = value
    return out


def parse_json_attr(h5: Any, object_path: str, name: str, file: str) -> Any:
    """Parses a JSON attribute (``model_config``, ``training_config``), None if absent.

    Raises:
        CorruptFileError: The attribute is not a string holding valid JSON; the message names
            the file and the attribute.
    """
    value = h5.attr(object_path, name)
    if value is None:
        return None
    return parse_json(value, file, f"attribute {name!r} of {object_path}")


#: Deepest JSON nesting accepted from a file. Real Keras configs stay under ~40 levels (each
#: nested model adds 4); rebuilding a model recurses a few frames per level, so a deeper
#: document that Python's parser still accepts (~1000 levels) would end in RecursionError.
MAX_JSON_DEPTH = 200


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether parsed JSON nests lists/objects more than ``limit`` levels (iterative walk)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(value: Any, file: str, what: str) -> Any:
    """Parses JSON text (``str`` or UTF-8 ``bytes``) from a file, with typed errors.

    Python's ``json`` accepts ``NaN`` and ``Infinity``, which Keras writes for such floats.

    Args:
        value: The text.
        file: The file it came from, for the message.
        what: What it is ("member 'config.json'", "attribute 'model_config' of /"), ditto.

    Raises:
        CorruptFileError: Not text, not UTF-8, or not JSON.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError as e:
            raise CorruptFileError(f"{file}: {what} is not UTF-8 JSON text: {e}") from None
    if not isinstance(value, str):
        raise CorruptFileError(
            f"{file}: {what} should be JSON text, found {type(value).__name__}"
        )
    try:
        parsed = json.loads(value)
    except RecursionError:
        raise CorruptFileError(f"{file}: {what} is JSON nested too deeply") from None
    except ValueError as e:
        raise CorruptFileError(f"{file}: {what} is not valid JSON: {e}") from None
    if json_depth_exceeds(parsed):
        raise CorruptFileError(
            f"{file}: {what} is JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    return parsed


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def legacy_key_order(
    h5: Any, weights_root: str, dataset_keys: Sequence[str], *, optimizer: bool
) -> tuple[list[str], list[str]]:
    """The order Keras loads a legacy file in, as native keys.

    Layers in ``layer_names`` order, each layer's weights in its ``weight_names`` order, then
    ``top_level_model_weights``, then (full models) ``optimizer_weights`` in its
    ``weight_names`` order. Datasets that no list mentions follow in :func:`natural_key` order, so
    every dataset has a key.

    Args:
        h5: An open ``_core.H5File``.
        weights_root: ``"model_weights"`` for a full model, ``""`` for a weights-only file.
        dataset_keys: Every dataset path of the file, without the leading ``/``.
        optimizer: Also order ``optimizer_weights``.

    Returns:
        ``(keys, dangling)``: the ordered keys, and the names that a ``weight_names`` list holds
        but no dataset has (``verify`` reports them; Keras would fail loading).
    """
    present = set(dataset_keys)
    ordered: list[str] = []
    seen: set[str] = set()
    dangling: list[str] = []
    root_path = "/" + weights_root
    groups = set(h5.groups())

    def take(group: str) -> None:
        gpath = "/" + group
        if gpath not in groups:
            return
        names = h5.string_list_attr(gpath, "weight_names") or []
        for name in names:
            key = _join(group, name)
            if key in present:
                if key not in seen:
                    seen.add(key)
                    ordered.append(key)
            else:
                dangling.append(key)

    layer_names = h5.string_list_attr(root_path, "layer_names") or []
    for layer in layer_names:
        take(_join(weights_root, layer))
    take(_join(weights_root, TOP_LEVEL_GROUP))
    if optimizer:
        take("optimizer_weights")
    rest = [k for k in dataset_keys if k not in seen]
    return ordered + sort_keys(rest), dangling


def split_legacy_key(key: str, weights_root: str) -> tuple[str, str]:
    """``"model_weights/dense/dense/kernel:0"`` -> ``("dense", "dense/kernel:0")``.

    Args:
        key: A native key of a legacy file.
        weights_root: ``"model_weights"`` or ``""``.

    Returns:
        ``(layer, weight_name)``; for ``optimizer_weights/<name>`` keys, ``("", name)``.

    Raises:
        ValueError: The key is not inside a layer group.
    """
    parts = key.strip("/").split("/")
    if weights_root:
        if parts[0] == "optimizer_weights" and len(parts) >= 2:
            return "", "/".join(parts[1:])
        if parts[0] != weights_root:
            raise ValueError(
                f"{key!r}: keys of a legacy model file are 'model_weights/<layer>/<weight>' or "
                "'optimizer_weights/<weight>'"
            )
        parts = parts[1:]
    if len(parts) < 2:
        raise ValueError(f"{key!r}: expected '<layer>/<weight name>' under the weights root")
    return parts[0], "/".join(parts[1:])


def legacy_names_from_keys(
    keys: Sequence[str], weights_root: str
) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """Derives ``layer_names`` and per-layer ``weight_names`` from keys in Keras order.

    Args:
        keys: Native keys in the order the lists should have.
        weights_root: ``"model_weights"`` or ``""``.

    Returns:
        ``(layer_names, weight_names_by_layer, optimizer_weight_names)``; ``layer_names`` excludes
        ``top_level_model_weights``, which Keras keeps out of it.
    """
    layers: list[str] = []
    weights: dict[str, list[str]] = {}
    optimizer: list[str] = []
    for key in keys:
        layer, name = split_legacy_key(key, weights_root)
        if not layer:
            optimizer.append(name)
            continue
        if layer not in weights:
            weights[layer] = []
            if layer != TOP_LEVEL_GROUP:
                layers.append(layer)
        weights[layer].append(name)
    return layers, weights, optimizer
