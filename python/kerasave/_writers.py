"""``ks.save_tensors``: write a mapping of tensors in any format kerasave reads (and two it does
not need to: safetensors and ``.npz``).

::

    import kerasave as ks

    with ks.open("model.keras") as store:                  # a round trip, layout included
        ks.save_tensors(
            "copy.keras", dict(store.items()), format=store.format, config=store.config,
            attrs={g: store.attrs(g) for g in store.groups()},
        )
    ks.save_tensors("w.weights.h5", {"layers/dense/vars/0": kernel, "layers/dense/vars/1": bias})
    ks.save_tensors("w.weights.json", tensors, max_shard_size=2 << 30)   # Keras's sharding
    ks.save_tensors("m.h5", tensors, config=model_config)                 # legacy full model
    ks.save_tensors("ckpt", tensors, format="tf_checkpoint")

Formats (``format=`` or from the name):

=========================  =================  ===============================================
format                     name               keys
=========================  =================  ===============================================
``keras_weights_h5``       ``*.weights.h5``   ``layers/dense/vars/0``, ``optimizer/vars/3``, ...
``keras_weights_sharded``  ``*.weights.json``  the same; shards ``<stem>_00000.weights.h5``, ...
``keras_archive``          ``*.keras``        the same, in ``model.weights.h5`` (needs ``config``)
``legacy_h5_model``        ``*.h5`` + config  ``model_weights/<layer>/<weight>``,
                                              ``optimizer_weights/<weight>``
``legacy_h5_weights``      ``*.h5``           ``<layer>/<weight>``
``tf_checkpoint``          a prefix, no       checkpoint keys (``ks.checkpoint.save_checkpoint``)
                           suffix
``safetensors``            ``*.safetensors``  any
``npz``                    ``*.npz``          any safe member name
=========================  =================  ===============================================

Every file is written to a temp file beside the target and renamed into place; multi-file
formats rename their files only once all of them are complete. Arrays keep their dtype;
bfloat16 and the other ml_dtypes types are stored as Keras stores them in HDF5 (opaque + a
``dtype`` attribute). ``config``, ``metadata`` and ``attrs`` are ignored by formats that have no
place for them.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np

from kerasave import _h5layout
from kerasave.errors import KerasaveWarning, UnsupportedFormatError
from kerasave.storage import SAFETENSORS_DTYPES

__all__ = ["KERAS_VERSION", "WRITE_FORMATS", "format_for_path", "save_tensors"]

PathLike = Union[str, "os.PathLike[str]"]

#: The Keras release whose file formats these writers reproduce (written as ``keras_version``
#: where the caller gives none).
KERAS_VERSION = "3.15.1"
#: Every ``format=`` value :func:`save_tensors` accepts.
WRITE_FORMATS = (
    "keras_weights_h5",
    "keras_weights_sharded",
    "keras_archive",
    "legacy_h5_model",
    "legacy_h5_weights",
    "tf_checkpoint",
    "safetensors",
    "npz",
)
#: Keras's default ``max_shard_size`` (5 GB, in bytes as everywhere in kerasave).
DEFAULT_MAX_SHARD_SIZE = 5 * 1024**3
#: Alignment of the weights member of a written ``.keras`` (a page: mappable in place).
WEIGHTS_ALIGNMENT = 4096
WEIGHTS_MEMBER = "model.weights.h5"

#: numpy / ml_dtypes dtype name -> safetensors dtype code (the reader's table, inverted).
SAFETENSORS_CODES = {name: code for code, name in SAFETENSORS_DTYPES.items()}


def format_for_path(path: PathLike, config: Optional[Mapping[str, Any]] = None) -> str:
    """The format :func:`save_tensors` writes for a path name.

    Args:
        path: The target.
        config: With a config, a plain ``.h5`` is a legacy full model, else legacy weights.

    Returns:
        One of :data:`WRITE_FORMATS`.

    Raises:
        ValueError: The name has a suffix that says nothing (pass ``format=``).
    """
    name = Path(os.fspath(path)).name
    if name.endswith(".weights.h5"):
        return "keras_weights_h5"
    if name.endswith(".weights.json"):
        return "keras_weights_sharded"
    if name.endswith(".keras"):
        return "keras_archive"
    if name.endswith((".h5", ".hdf5")):
        return "legacy_h5_model" if config is not None else "legacy_h5_weights"
    if name.endswith(".safetensors"):
        return "safetensors"
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(".index") or "." not in name:
        return "tf_checkpoint"  # TF names prefixes without a suffix ("ckpt", "ckpt-3")
    raise ValueError(
        f"{os.fspath(path)}: cannot tell the format from the name; pass format= (one of "
        f"{', '.join(WRITE_FORMATS)})"
    )


def save_tensors(
    path: PathLike,
    tensors: Mapping[str, Any],
    *,
    format: Optional[str] = None,  # noqa: A002 - the natural name, as in ks.open's store.format
    config: Optional[Mapping[str, Any]] = None,
    metadata: Optional[Mapping[str, Any]] = None,
    attrs: Optional[Mapping[str, Mapping[str, Any]]] = None,
    max_shard_size: Optional[float] = None,
    assets: Optional[Mapping[str, Union[bytes, PathLike]]] = None,
    fsync: bool = True,
) -> str:
    """Writes tensors as a Keras / TensorFlow artifact (or safetensors / ``.npz``), atomically.

    Args:
        path: The target file (for ``tf_checkpoint`` the prefix; for ``keras_weights_sharded``
            the ``.weights.json`` index). Its directory is created if missing.
        tensors: Native key -> array (numpy, ml_dtypes or anything ``np.asarray`` takes), in the
            order to write. HDF5 formats take numeric arrays only; keys as ``ks.open`` gives them.
        format: One of :data:`WRITE_FORMATS`; default from the name (:func:`format_for_path`).
        config: The model config: ``config.json`` of a ``.keras`` (required there) or the
            ``model_config`` attribute of a legacy full model.
        metadata: ``metadata.json`` of a ``.keras`` (default ``{"keras_version", "date_saved"}``);
            for legacy files ``backend``, ``keras_version``, ``training_config`` and
            ``layer_names`` are taken from it when ``attrs`` does not give them; extra entries of
            a shard index's ``metadata``; string pairs of a safetensors ``__metadata__``.
        attrs: HDF5 attributes by group path, ``{"/layers/dense/vars": {"name": "dense"}, ...}``,
            as ``store.attrs(g)`` gives them. Groups are created even without datasets (Keras
            writes an empty ``vars`` group with a ``name`` for every layer). ``layer_names`` and
            ``weight_names`` are written with Keras's 64512-byte chunking. For legacy files they
            define the layer and weight order; without them it comes from the key order.
        max_shard_size: ``keras_weights_sharded``: bytes per shard (default 5 GiB, Keras's
            rollover rule: a shard is closed when the next tensor would pass the limit);
            ``tf_checkpoint``: bytes per data shard.
        assets: ``keras_archive``: asset name (relative to ``assets/``) -> bytes or a file path.
        fsync: Sync every file to disk before renaming it into place (the default: a power cut
            cannot leave the name over unwritten blocks). ``False`` keeps the write atomic for
            every process (temp file + rename) but skips the sync, as Keras, h5py, TF and
            safetensors do; several times faster for large files.

    Returns:
        The path written (the index for sharded weights, the prefix for a checkpoint).

    Raises:
        ValueError: Unusable keys, arrays, attributes or options (a tensor larger than
            ``max_shard_size``, a ``.keras`` without config, ...).
        TypeError: A value that is not a numeric array.
        UnsupportedFormatError: A dtype the format cannot hold (int4 in safetensors, ...).
        OSError: The files cannot be written.
    """
    target = os.fspath(path)
    fmt = format if format is not None else format_for_path(target, config)
    if fmt not in WRITE_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(WRITE_FORMATS)}")
    if max_shard_size is not None and max_shard_size <= 0:
        raise ValueError(f"max_shard_size must be positive, got {max_shard_size}")
    parent = os.path.dirname(target)
    if parent:
        os.makedirs(parent, exist_ok=True)
    if fmt == "tf_checkpoint":
        from kerasave.checkpoint import save_checkpoint

        prefix = target[: -len(".index")] if target.endswith(".index") else target
        shard = None if max_shard_size is None else max(1, int(max_shard_size))
        return save_checkpoint(prefix, tensors, max_shard_size=shard, fsync=fsync)
    items = _numeric_items(tensors, fmt)
    group_attrs = _normalize_attrs(attrs)
    if fmt == "keras_weights_h5":
        _write_keras_h5(target, items, group_attrs, fsync)
    elif fmt == "keras_weights_sharded":
        limit = DEFAULT_MAX_SHARD_SIZE if max_shard_size is None else max_shard_size
        _write_sharded(target, items, group_attrs, limit, metadata, fsync)
    elif fmt == "keras_archive":
        _write_archive(target, items, config, metadata, group_attrs, assets, fsync)
    elif fmt in ("legacy_h5_model", "legacy_h5_weights"):
        _write_legacy(
            target, items, config, metadata, group_attrs, fmt == "legacy_h5_model", fsync
        )
    elif fmt == "safetensors":
        _write_safetensors(target, items, metadata, fsync)
    else:
        _write_npz(target, items, fsync)
    return target


# -- arguments ------------------------------------------------------------------------------------


def _numeric_items(tensors: Mapping[str, Any], fmt: str) -> list[tuple[str, np.ndarray]]:
    hdf5 = fmt not in ("safetensors", "npz")
    out: list[tuple[str, np.ndarray]] = []
    seen: set[str] = set()
    for key, value in tensors.items():
        if isinstance(key, bytes):
            try:
                key = key.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(
                    f"key {key!r} is not UTF-8; only a TF checkpoint can hold it"
                ) from None
        if not isinstance(key, str):
            raise TypeError(f"keys are str, got {type(key).__name__}")
        if hdf5 or fmt == "npz":
            key = _check_path_key(key, fmt)
        if key in seen:
            raise ValueError(f"{key!r}: given twice")
        seen.add(key)
        out.append((key, _numeric_array(key, value, fmt)))
    return out


def _check_path_key(key: str, fmt: str) -> str:
    """A key that becomes an HDF5 path or zip member name: no empty, '.', '..' components."""
    stripped = key[1:] if fmt != "npz" and key.startswith("/") else key
    parts = stripped.split("/")
    if (
        not stripped
        or any(p in ("", ".", "..") for p in parts)
        or "\0" in stripped
        or (fmt == "npz" and "\\" in stripped)
    ):
        raise ValueError(
            f"{key!r}: not usable as a {fmt} key (empty, '.' or '..' components, "
            f"{'absolute, backslash, ' if fmt == 'npz' else ''}NUL)"
        )
    return stripped


def _numeric_array(key: str, value: Any, fmt: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.hasobject or arr.dtype.kind in "US":
        raise TypeError(
            f"{key!r}: {fmt} holds numeric tensors only, not {arr.dtype} (strings and objects "
            "go into a TF checkpoint)"
        )
    if arr.dtype.fields is not None or arr.dtype.subdtype is not None:
        raise TypeError(f"{key!r}: structured dtype {arr.dtype} cannot be written")
    if arr.dtype.kind == "V" and not _is_ml_dtype(arr.dtype):
        raise TypeError(f"{key!r}: raw void dtype {arr.dtype} cannot be written")
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    # Not np.ascontiguousarray: it turns 0-d arrays (scalars) into shape (1,).
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _is_ml_dtype(dtype: np.dtype) -> bool:
    """bfloat16, float8_*, int4, ...: registered by ml_dtypes, numpy kind "V"."""
    return dtype.type.__module__.startswith("ml_dtypes")


def _normalize_attrs(
    attrs: Optional[Mapping[str, Mapping[str, Any]]],
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for group, values in (attrs or {}).items():
        if not isinstance(group, str):
            raise TypeError(f"attrs keys are group paths (str), got {type(group).__name__}")
        if not isinstance(values, Mapping):
            raise TypeError(f"attrs[{group!r}] must be a mapping of attribute name -> value")
        path = "/" + group.strip("/")
        out.setdefault(path, {}).update(values)
    return out


def _atomic_write(target: str, write: Callable[[Any], None], fsync: bool = True) -> None:
    """Writes through ``write(fileobj)`` into a temp file beside ``target``, synced (if
    ``fsync``), then renamed over it (never truncating a file someone may have mapped); on error
    nothing is left."""
    directory = os.path.dirname(target) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        _unlink(tmp)
        raise


def _temp_beside(target: str, suffix: str) -> str:
    """A fresh name beside ``target`` for a file that is renamed into place later."""
    directory = os.path.dirname(target) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=suffix, dir=directory)
    os.close(fd)
    os.unlink(tmp)
    return tmp


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# -- HDF5 ---------------------------------------------------------------------------------------


def _put_attr(writer: Any, obj: str, name: str, value: Any, ascii_names: tuple = ()) -> None:
    """One attribute, the way Keras / h5py store it."""
    if value is None:
        return
    if name in _h5layout.STRING_LIST_ATTRS and _is_string_list(value):
        writer.set_string_list_attr(obj, name, _strings(value))
        return
    if isinstance(value, (dict, list)) and name in ("model_config", "training_config"):
        writer.set_attr(obj, name, json.dumps(value), ascii=True)
        return
    writer.set_attr(obj, name, value, ascii=name in ascii_names)


def _is_string_list(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.size == 0 or value.dtype.kind in "USO"
    return isinstance(value, (list, tuple)) and all(isinstance(v, (str, bytes)) for v in value)


def _strings(value: Any) -> list[str]:
    items = value.reshape(-1).tolist() if isinstance(value, np.ndarray) else list(value)
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in items]


def _write_keras_h5(
    target: str,
    items: list[tuple[str, np.ndarray]],
    attrs: dict[str, dict[str, Any]],
    fsync: bool = True,
) -> None:
    from kerasave import _core

    with _core.H5Writer(target, fsync=fsync) as w:
        _fill_keras_h5(w, items, attrs)


def _fill_keras_h5(
    w: Any, items: list[tuple[str, np.ndarray]], attrs: dict[str, dict[str, Any]]
) -> None:
    """The groups, attributes and datasets of a Keras 3 ``.weights.h5`` into H5Writer ``w``."""
    datasets = {"/" + k for k, _ in items}
    # Groups (with their attributes) before datasets, as Keras's H5IOStore.make does.
    for group, values in attrs.items():
        if group in datasets:
            continue
        w.create_group(group)
        for name, value in values.items():
            _put_attr(w, group, name, value)
    for key, arr in items:
        w.write_dataset(key, arr)
    for group, values in attrs.items():
        if group in datasets:
            for name, value in values.items():
                _put_attr(w, group, name, value)


def keras_size(arr: np.ndarray) -> float:
    """Bytes of a tensor as Keras's sharding counts them (``prod(shape) * bits / 8``; bool is one
    bit), a float like Keras's."""
    bits = 1 if arr.dtype == np.bool_ else arr.dtype.itemsize * 8
    return int(np.prod(arr.shape, dtype=np.int64)) * bits / 8


def _write_sharded(
    target: str,
    items: list[tuple[str, np.ndarray]],
    attrs: dict[str, dict[str, Any]],
    max_shard_size: float,
    metadata: Optional[Mapping[str, Any]],
    fsync: bool = True,
) -> None:
    """Keras's ``ShardedH5IOStore`` (keras_formats.md §2.5): shards ``<base>_NNNNN.weights.h5``,
    a ``.weights.json`` index written last."""
    from kerasave import _core

    index = Path(target)
    if index.suffix != ".json":
        raise ValueError(f"{target}: sharded weights need a '.weights.json' index name")
    base = index.stem.replace(".weights", "")
    shard_names: list[str] = []
    temps: list[str] = []

    def new_shard() -> Any:
        name = f"{base}_{len(shard_names):05d}.weights.h5"
        shard_names.append(name)
        temps.append(_temp_beside(os.fspath(index.with_name(name)), ".h5"))
        return _core.H5Writer(temps[-1], fsync=fsync)

    tensor_groups = {_h5layout.group_of(k) for k, _ in items}
    datasets = {"/" + k for k, _ in items}
    weight_map: dict[str, Any] = {}
    total: float = 0
    current = 0.0
    writer = new_shard()
    try:
        # Groups that receive no variable exist only in the shard open when Keras made them:
        # the first one here. A group is made (with its attributes) just before its first tensor,
        # so a rollover leaves it in the old shard and recreates it bare in the new one.
        for group, values in attrs.items():
            if group not in tensor_groups and group not in datasets:
                writer.create_group(group)
                for name, value in values.items():
                    _put_attr(writer, group, name, value)
        made: set[str] = set()
        for key, arr in items:
            group = _h5layout.group_of(key)
            if group not in made:
                made.add(group)
                if attrs.get(group):
                    writer.create_group(group)
                    for name, value in attrs[group].items():
                        _put_attr(writer, group, name, value)
            size = keras_size(arr)
            total += size
            if size > max_shard_size:
                raise ValueError(
                    f"{key!r}: {size:.0f} bytes, more than max_shard_size={max_shard_size}"
                )
            current += size
            if current > max_shard_size:
                writer.finish()
                writer = new_shard()
                current = size
            writer.write_dataset(key, arr)
            shard = shard_names[-1]
            if group not in weight_map:
                weight_map[group] = shard
            else:
                if not isinstance(weight_map[group], list):
                    weight_map[group] = [weight_map[group]]
                if shard not in weight_map[group]:
                    weight_map[group].append(shard)
        writer.finish()
        meta: dict[str, Any] = {k: v for k, v in (metadata or {}).items() if k != "total_size"}
        doc = {"metadata": {"total_size": total, **meta}, "weight_map": weight_map}
        text = json.dumps(doc, indent=4).encode("utf-8")
        for temp, name in zip(temps, shard_names):
            os.replace(temp, index.with_name(name))
        _atomic_write(target, lambda f: f.write(text), fsync)
    except BaseException:
        writer.abort()
        for temp in temps:
            _unlink(temp)
        raise


def _write_archive(
    target: str,
    items: list[tuple[str, np.ndarray]],
    config: Optional[Mapping[str, Any]],
    metadata: Optional[Mapping[str, Any]],
    attrs: dict[str, dict[str, Any]],
    assets: Optional[Mapping[str, Union[bytes, PathLike]]],
    fsync: bool = True,
) -> None:
    """A Keras 3 ``.keras``: ``metadata.json``, ``config.json``, ``model.weights.h5`` (STORED,
    aligned to 4096 bytes), then ``assets/...``, as Keras's ``saving_lib`` orders them.

    The weights are written by libhdf5 straight into the archive's temp file, at a power-of-two
    offset after the JSON members (an HDF5 "userblock"), then the zip headers and CRC are filled
    in; the member's bytes are those of a plain ``.weights.h5``. When the JSON members are too
    large for that (config.json beyond ~64 KiB can be: the gap must fit one zip extra field),
    the weights go to a temp ``.h5`` that is then copied in."""
    from kerasave import _core

    if config is None:
        raise ValueError(f"{target}: a .keras archive needs config= (the model's config.json)")
    if metadata is None:
        metadata = {
            "keras_version": KERAS_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        }
    config_json = json.dumps(config).encode("utf-8")
    metadata_json = json.dumps(dict(metadata)).encode("utf-8")
    weights: Optional[str] = None
    try:
        with _core.ArchiveWriter(target, fsync=fsync) as z:
            z.add_bytes("metadata.json", metadata_json)
            z.add_bytes("config.json", config_json)
            inner = z.begin_hdf5(WEIGHTS_MEMBER, WEIGHTS_ALIGNMENT)
            if inner is not None:
                try:
                    _fill_keras_h5(inner, items, attrs)
                    z.end_hdf5(inner)
                finally:
                    inner.abort()  # harmless once ended; closes libhdf5's handle on errors
            else:
                weights = _temp_beside(target, ".weights.h5")
                # Not synced: the archive that holds its copy is.
                _write_keras_h5(weights, items, attrs, fsync=False)
                z.add_file(WEIGHTS_MEMBER, weights, WEIGHTS_ALIGNMENT)
            for name, data in (assets or {}).items():
                member = name if name.startswith("assets/") else "assets/" + name.lstrip("/")
                if isinstance(data, (bytes, bytearray, memoryview)):
                    z.add_bytes(member, bytes(data))
                else:
                    z.add_file(member, os.fspath(data))
    finally:
        if weights is not None:
            _unlink(weights)


def _write_legacy(
    target: str,
    items: list[tuple[str, np.ndarray]],
    config: Optional[Mapping[str, Any]],
    metadata: Optional[Mapping[str, Any]],
    attrs: dict[str, dict[str, Any]],
    model: bool,
    fsync: bool = True,
) -> None:
    """Keras's ``legacy_h5_format`` (keras_formats.md §3): ``layer_names`` / ``weight_names``
    lists (chunked past 64512 bytes), datasets at ``<layer>/<weight name>``; for a full model
    also ``model_config`` / ``training_config`` JSON and ``optimizer_weights``."""
    from kerasave import _core

    meta = dict(metadata or {})
    root_name = "model_weights" if model else ""
    weights_root = "/" + root_name if model else "/"
    keys = [k for k, _ in items]
    present = set(keys)
    layers, derived, optimizer_names = _h5layout.legacy_names_from_keys(keys, root_name)
    root_attrs = dict(attrs.get("/", {}))
    wr_attrs = dict(attrs.get(weights_root, {})) if model else root_attrs

    def group_path(*parts: str) -> str:
        return "/" + "/".join(p.strip("/") for p in parts if p)

    layer_names = wr_attrs.pop("layer_names", None)
    if layer_names is None:
        layer_names = meta.get("layer_names", layers)
    layer_names = _strings(layer_names)
    weight_names: dict[str, list[str]] = {}
    for layer in [*layer_names, _h5layout.TOP_LEVEL_GROUP]:
        given = attrs.get(group_path(root_name, layer), {}).get("weight_names")
        names = _strings(given) if given is not None else derived.get(layer, [])
        for name in names:
            key = group_path(root_name, layer, name)[1:]
            if key not in present:
                raise ValueError(
                    f"{target}: layer {layer!r} lists weight {name!r}, but no tensor {key!r} "
                    "was given"
                )
        weight_names[layer] = names
    opt_given = attrs.get("/optimizer_weights", {}).get("weight_names")
    opt_names = _strings(opt_given) if opt_given is not None else optimizer_names

    backend = wr_attrs.pop("backend", None) or root_attrs.get("backend") or meta.get("backend")
    version = (
        wr_attrs.pop("keras_version", None)
        or root_attrs.get("keras_version")
        or meta.get("keras_version")
    )
    backend = _text(backend or "tensorflow")
    version = _text(version or KERAS_VERSION)

    with _core.H5Writer(target, fsync=fsync) as w:
        if model:
            # Root: model_metadata() values; str -> UTF-8, JSON (bytes) -> ASCII.
            root_attrs.pop("backend", None)
            root_attrs.pop("keras_version", None)
            w.set_attr("/", "backend", backend)
            w.set_attr("/", "keras_version", version)
            model_config = root_attrs.pop("model_config", None)
            if config is not None:
                model_config = dict(config)
            if model_config is not None:
                _put_attr(w, "/", "model_config", _json_text(model_config), ("model_config",))
            training = root_attrs.pop("training_config", None)
            if meta.get("training_config") is not None:
                training = meta["training_config"]
            if training is not None:
                _put_attr(w, "/", "training_config", _json_text(training), ("training_config",))
            for name, value in root_attrs.items():
                _put_attr(w, "/", name, value)
            w.create_group(weights_root)
        w.set_string_list_attr(weights_root, "layer_names", layer_names)
        w.set_attr(weights_root, "backend", backend, ascii=True)
        w.set_attr(weights_root, "keras_version", version, ascii=True)
        for name, value in wr_attrs.items():
            if not model and name in ("model_config", "training_config"):
                continue
            _put_attr(w, weights_root, name, value)
        # Layer groups in sorted-name order, as Keras creates them.
        for layer in sorted(weight_names):
            group = group_path(root_name, layer)
            w.create_group(group)
            w.set_string_list_attr(group, "weight_names", weight_names[layer])
            for name, value in attrs.get(group, {}).items():
                if name != "weight_names":
                    _put_attr(w, group, name, value)
        for key, arr in items:
            w.write_dataset(key, arr)
        if model and (opt_names or opt_given is not None):
            w.create_group("/optimizer_weights")
            w.set_string_list_attr("/optimizer_weights", "weight_names", opt_names)
        done = {"/", weights_root, "/optimizer_weights"} | {
            group_path(root_name, layer) for layer in weight_names
        }
        datasets = {"/" + k for k in keys}
        for group, values in attrs.items():
            if group in done:
                continue
            if group not in datasets:
                w.create_group(group)
            for name, value in values.items():
                _put_attr(w, group, name, value)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _json_text(value: Any) -> str:
    if isinstance(value, (bytes, str)):
        return _text(value)
    return json.dumps(value)


# -- safetensors and npz -----------------------------------------------------------------------


def _write_safetensors(
    target: str,
    items: list[tuple[str, np.ndarray]],
    metadata: Optional[Mapping[str, Any]],
    fsync: bool = True,
) -> None:
    """8-byte little-endian header length, a JSON header padded with spaces to 8 bytes, then the
    data. Tensors are laid out by decreasing item size (like the reference writer), so each one
    is aligned to its own item size."""
    order = sorted(range(len(items)), key=lambda i: -items[i][1].dtype.itemsize)
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {
            str(k): v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()
        }
    offset = 0
    for i in order:
        key, arr = items[i]
        code = SAFETENSORS_CODES.get(arr.dtype.name)
        if code is None:
            raise UnsupportedFormatError(
                f"{key!r}: safetensors cannot store dtype {arr.dtype.name}"
            )
        header[key] = {
            "dtype": code,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)

    def write(f: Any) -> None:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for i in order:
            arr = items[i][1]
            if arr.nbytes:
                f.write(memoryview(arr.reshape(-1).view(np.uint8)))

    _atomic_write(target, write, fsync)


def _write_npz(target: str, items: list[tuple[str, np.ndarray]], fsync: bool = True) -> None:
    """What ``np.savez`` writes (STORED ``<key>.npy`` members, ZIP64 extras), without pickle and
    with a fixed date so the bytes are reproducible."""
    raw = sorted({a.dtype.name for _, a in items if a.dtype.kind == "V"})
    if raw:
        warnings.warn(
            f".npz has no {', '.join(raw)} dtype: numpy reads these tensors back as raw void "
            "bytes (view them with ml_dtypes to restore the type)",
            KerasaveWarning,
            stacklevel=3,
        )

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for key, arr in items:
                info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o600 << 16
                with zf.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, arr, allow_pickle=False)

    _atomic_write(target, write, fsync)
