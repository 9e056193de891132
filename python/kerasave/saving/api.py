"""``load_model`` / ``save_model`` / ``load_weights`` / ``save_weights`` for ``.keras``, legacy
``.h5`` and ``.weights.h5`` / ``.weights.json`` files."""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional

from kerasave.saving import keras_archive, legacy_h5
from kerasave.saving.serialization import (
    ObjectSharingScope,
    deserialize_keras_object,
    serialize_keras_object,
)

__all__ = ["load_model", "load_weights", "save_model", "save_weights"]


def _open(path: Any) -> Any:
    from kerasave.storage import open as ks_open

    return ks_open(os.fspath(path))


def _strip_compile(config: Any) -> Any:
    if isinstance(config, dict):
        return {k: v for k, v in config.items() if k != "compile_config"}
    return config


def load_model(filepath: Any, custom_objects: Optional[Mapping[str, Any]] = None,
               compile: bool = True, safe_mode: bool = True) -> Any:
    """Loads a model saved by Keras 3, tf_keras or kerasave.

    Args:
        filepath: A ``.keras`` archive (or unzipped directory), a legacy ``.h5``/``.hdf5``
            full-model file or a tf_keras SavedModel directory.
        custom_objects: ``{name: class_or_function}`` for custom layers and functions.
        compile: Keep the recorded compile config (kerasave does not train).
        safe_mode: Refuse lambdas and other code-carrying configs.

    Returns:
        The model, its weights assigned (read-only views of the file's bytes where possible).

    Raises:
        FileNotFoundError: No such file.
        UnsupportedFormatError: The file holds no model config.
        UnknownObjectError: A class or function is not registered.
        CorruptFileError: The config is damaged (for example nested too deeply to rebuild).
    """
    store = _open(filepath)
    try:
        return _load_model(store, filepath, custom_objects, compile, safe_mode)
    except RecursionError:
        # Configs from files are capped at _h5layout.MAX_JSON_DEPTH levels when parsed; this
        # is the backstop should some rebuild path still recurse too deep on one.
        from kerasave.errors import CorruptFileError

        raise CorruptFileError(f"{os.fspath(filepath)}: the model config is nested too deeply "
                               f"to rebuild") from None


def _load_model(store: Any, filepath: Any, custom_objects: Optional[Mapping[str, Any]],
                compile: bool, safe_mode: bool) -> Any:
    """:func:`load_model` on an open store."""
    from kerasave.errors import UnsupportedFormatError

    if store.format == "saved_model":
        from kerasave.activations import keras_version_scope
        from kerasave.saving.saved_model import load_saved_model

        # SavedModel directories are tf_keras's: Keras 2 activation semantics.
        with keras_version_scope("2"):
            return load_saved_model(store, custom_objects=custom_objects, compile=compile,
                                    safe_mode=safe_mode)
    config = store.config
    if config is None:
        raise UnsupportedFormatError(f"{os.fspath(filepath)}: no model config in this file "
                                     f"(format {store.format}); use model.load_weights")
    fmt = store.format
    if not compile:
        config = _strip_compile(config)
    custom = dict(custom_objects or {})
    from kerasave.layers.base import skip_weight_init

    # Every variable is overwritten from the file: skip sampling initializers (zeros are
    # calloc'ed lazily), so loading costs little more than mapping the file.
    from kerasave.activations import keras_version_scope

    # A tf_keras file's "hard_sigmoid" is Keras 2's (see activations.keras_version_scope).
    with skip_weight_init(), keras_version_scope((store.metadata or {}).get("keras_version")):
        model = deserialize_keras_object(config, custom_objects=custom, safe_mode=safe_mode)
    if fmt in ("legacy_h5_model", "legacy_h5_weights"):
        legacy_h5.load_weights_from_legacy_h5(model, store)
        training = (store.metadata or {}).get("training_config")
        if compile and training and hasattr(model, "compile_from_config"):
            from kerasave.saving.registry import CustomObjectScope

            with CustomObjectScope(custom):
                model.compile_from_config(training if isinstance(training, dict) else {})
            legacy_h5.load_optimizer_weights(model, store)
    else:
        keras_archive.load_from_store(model, store)
    return model


def load_weights(model: Any, filepath: Any, skip_mismatch: bool = False,
                 by_name: bool = False) -> None:
    """Loads weights into a built model.

    Args:
        model: The model.
        filepath: ``.weights.h5``, sharded ``.weights.json``, ``.keras`` or legacy ``.h5``.
        skip_mismatch: Warn and skip mismatched weights.
        by_name: Legacy ``.h5`` only: match layers by name.

    Raises:
        ValueError: Mismatched counts or shapes (without ``skip_mismatch``), or ``by_name``
            with a Keras 3 file.
    """
    store = _open(filepath)
    if store.format in ("legacy_h5_model", "legacy_h5_weights"):
        legacy_h5.load_weights_from_legacy_h5(model, store, by_name=by_name,
                                              skip_mismatch=skip_mismatch)
        return
    if store.format == "tf_checkpoint":
        _load_tf_checkpoint(model, store, skip_mismatch=skip_mismatch)
        return
    if by_name:
        raise ValueError("Invalid keyword arguments: by_name=True is only supported for "
                         "legacy '.h5' files.")
    keras_archive.load_from_store(model, store, skip_mismatch=skip_mismatch)


def save_weights(model: Any, filepath: Any, max_shard_size: Optional[float] = None,
                 **kwargs: Any) -> str:
    """Writes the model's variables in the Keras 3 ``.weights.h5`` layout (or sharded
    ``.weights.json``).

    Args:
        model: The model.
        filepath: Ends in ``.weights.h5`` or ``.weights.json``.
        max_shard_size: Shard size in GB for ``.weights.json``.
        **kwargs: Ignored.

    Returns:
        The path written.
    """
    from kerasave import save_tensors

    path = os.fspath(filepath)
    if not path.endswith((".h5", ".hdf5", ".json", ".keras")):
        from kerasave.checkpoint import save_checkpoint

        tensors = {key: v.numpy() for key, v in tf_checkpoint_keys(model).items()}
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            # tf_keras's layout for its (new) optimizers: optimizer/_iterations,
            # optimizer/_learning_rate, optimizer/_variables/<1..N> (the slots).
            from kerasave.optimizers._compat import checkpoint_tensors

            tensors.update({k: v.numpy() for k, v in checkpoint_tensors(optimizer).items()})
        return save_checkpoint(path, tensors, update_state=True)
    if path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5"):
        # tf_keras's save_weights("x.h5"): the legacy layout at the file root (§3.2).
        tensors, layer_attrs = _legacy_weight_tensors(model, "")
        return save_tensors(path, tensors, format="legacy_h5_weights", attrs=layer_attrs)
    tensors, attrs = keras_archive.gather_tensors(model)
    attrs = {f"/{k}": v for k, v in attrs.items()}
    size = None if max_shard_size is None else float(max_shard_size) * (1 << 30)
    return save_tensors(os.fspath(filepath), tensors, attrs=attrs, max_shard_size=size)


def save_model(model: Any, filepath: Any, overwrite: bool = True, **kwargs: Any) -> str:
    """Saves a model as a ``.keras`` archive (config + Keras 3 weights layout), a legacy
    ``.h5`` file or a tf_keras SavedModel directory.

    Args:
        model: The model.
        filepath: Target path ending in ``.keras`` or ``.h5``; a SavedModel directory with
            ``save_format="tf"`` or a path without a suffix.
        overwrite: Replace an existing file.
        **kwargs: ``save_format`` (``"tf"``); ``include_optimizer`` (legacy ``.h5``: False
            leaves out ``training_config`` and ``optimizer_weights``, as Keras does); others are
            ignored.

    Returns:
        The path written.

    Raises:
        FileExistsError: The file exists and ``overwrite`` is False.
        ValueError: An unsupported suffix.
    """
    from kerasave import save_tensors

    path = os.fspath(filepath)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(path)
    save_format = kwargs.get("save_format")
    if save_format in ("tf", "saved_model") or (
            save_format is None and not os.path.splitext(path.rstrip("/\\"))[1]):
        # A tf_keras SavedModel directory (see kerasave.saving.saved_model).
        from kerasave.saving.saved_model import save_saved_model

        return save_saved_model(model, path, overwrite=overwrite)
    if path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5"):
        return _save_legacy_h5(model, path,
                               include_optimizer=bool(kwargs.get("include_optimizer", True)))
    if not path.endswith(".keras"):
        raise ValueError(f"kerasave.save_model writes '.keras' archives or legacy '.h5' files; "
                         f"got {path!r}")
    with ObjectSharingScope():
        config: Dict[str, Any] = serialize_keras_object(model)
    tensors, attrs = keras_archive.gather_tensors(model)
    attrs = {f"/{k}": v for k, v in attrs.items()}
    return save_tensors(path, tensors, config=config, attrs=attrs,
                        assets=keras_archive.gather_assets(model) or None)


def _legacy_records(config: Any) -> Any:
    """Keras 3's legacy H5 flavour: layer records as ``{"class_name", "config"}`` (custom
    classes under their registered name), nested models recursively."""
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        layers = []
        for record in config["layers"]:
            record = dict(record)
            registered = record.pop("registered_name", None)
            if registered and not record.get("module", "keras").startswith("keras"):
                record["class_name"] = registered
            elif registered and record.get("module") is None:
                record["class_name"] = registered
            for key in ("module", "build_config", "compile_config"):
                record.pop(key, None)
            record["config"] = _legacy_records(record.get("config"))
            layers.append(record)
        config = {**config, "layers": layers}
    return config


def _legacy_object(x: Any) -> Any:
    """Keras 3 records ``{"module", "class_name", "config", "registered_name"}`` -> the legacy
    ``{"class_name", "config"}`` (custom objects under their registered name, functions as
    their name), recursively."""
    if isinstance(x, dict):
        if "class_name" in x and "config" in x and "module" in x:
            if x["class_name"] == "function":
                return x["config"]
            custom = not str(x.get("module") or "").startswith("keras")
            name = x.get("registered_name") if custom and x.get("registered_name") \
                else x["class_name"]
            return {"class_name": name, "config": _legacy_object(x["config"])}
        return {k: _legacy_object(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_legacy_object(v) for v in x]
    return x


def _training_config(compile_config: Dict[str, Any]) -> Dict[str, Any]:
    """The legacy H5 ``training_config`` Keras 3 writes (legacy_h5_format.model_metadata): the
    compile config without ``optimizer``, legacy-serialized, plus ``optimizer_config``
    ``{"class_name", "config"}``; Keras's legacy loader reads ``optimizer_config``."""
    config = {k: _legacy_object(v) for k, v in compile_config.items() if k != "optimizer"}
    optimizer = compile_config.get("optimizer")
    if isinstance(optimizer, dict):
        config["optimizer_config"] = _legacy_object(optimizer)
    elif isinstance(optimizer, str):
        config["optimizer_config"] = {"class_name": optimizer, "config": {}}
    return config


def _legacy_weight_tensors(model: Any, root: str) -> Any:
    """Tensors and ``layer_names``/``weight_names`` attributes of the legacy H5 layout under
    ``root`` ("model_weights" in a full-model file, "" for ``save_weights("x.h5")``)."""
    base = f"{root}/" if root else ""
    tensors: Dict[str, Any] = {}
    attrs: Dict[str, Dict[str, Any]] = {
        f"/{root}": {"layer_names": [layer.name for layer in model.layers]}}
    for layer in model.layers:
        names = []
        for w in legacy_h5.legacy_weights(layer):
            names.append(w.path)
            tensors[f"{base}{layer.name}/{w.path}"] = w.numpy()
        attrs[f"/{base}{layer.name}"] = {"weight_names": names}
    return tensors, attrs


def _save_legacy_h5(model: Any, path: str, include_optimizer: bool = True) -> str:
    from kerasave import save_tensors

    with ObjectSharingScope():
        record = serialize_keras_object(model)
    model_config = {"class_name": record.get("registered_name") or record["class_name"]
                    if record.get("module") is None else record["class_name"],
                    "config": _legacy_records(record["config"])}
    tensors, attrs = _legacy_weight_tensors(model, "model_weights")
    metadata: Dict[str, Any] = {}
    compile_config = model.get_compile_config() if hasattr(model, "get_compile_config") \
        else None
    if compile_config and include_optimizer:
        # Keras writes training_config and optimizer_weights only with include_optimizer.
        metadata["training_config"] = _training_config(compile_config)
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            # Keras 3: the optimizer's variables under optimizer_weights, named by path.
            opt_tensors, opt_attrs = legacy_h5.optimizer_weight_tensors(optimizer)
            tensors.update(opt_tensors)
            attrs.update(opt_attrs)
    return save_tensors(path, tensors, format="legacy_h5_model", config=model_config,
                        attrs=attrs, metadata=metadata)


def _escape(name: str) -> str:
    return name.replace(".", "..").replace("/", ".S")


def tf_checkpoint_keys(model: Any) -> Dict[str, Any]:
    """tf_keras checkpoint keys of a model's variables (keras_formats.md §5.3).

    Functional/Sequential children are ``layer_with_weights-<j>`` (layers with weights, in
    ``model.layers`` order); other layers name their variables by weight name and their
    sublayers by attribute (lists by index); the first path to a variable wins. The tree is
    :func:`kerasave.saving.saved_model.tf_keras_children`, shared with the SavedModel writer.

    Args:
        model: The model.

    Returns:
        ``{"layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE": variable, ...}``.
    """
    from kerasave.layers.base import Variable
    from kerasave.saving.saved_model import walk_tree

    out: Dict[str, Any] = {}
    for path, obj in walk_tree(model):
        if isinstance(obj, Variable):
            out["/".join(_escape(p) for p in path) + "/.ATTRIBUTES/VARIABLE_VALUE"] = obj
    return out


def _load_tf_checkpoint(model: Any, store: Any, skip_mismatch: bool = False) -> None:
    import warnings

    import numpy as np

    keys = set(store)
    missing = []
    for key, var in tf_checkpoint_keys(model).items():
        if key not in keys:
            # tf_keras restores checkpoints object by object: a variable the checkpoint lacks
            # keeps its value without error (the saving guide's transfer-learning example
            # loads a checkpoint of the model's first layers this way).
            missing.append(f"{var.path} (key {key!r})")
            continue
        value = store[key]
        if tuple(np.shape(value)) != var.shape:
            msg = (f"shape mismatch for {var.path}: model {var.shape}, checkpoint "
                   f"{tuple(np.shape(value))} (key {key!r})")
            if skip_mismatch:
                warnings.warn(msg, stacklevel=3)
                continue
            raise ValueError(msg)
        var.assign(value)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        # tf_keras restores optimizer state deferred, once the optimizer builds: build it now.
        from kerasave.optimizers._compat import assign_from_checkpoint

        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        var_keys = {id(v): k for k, v in tf_checkpoint_keys(model).items()}
        assign_from_checkpoint(optimizer, store, var_keys, str(store.path))
    if missing:
        warnings.warn(f"{store.path}: no value for "
                      f"{len(missing)} variable(s), left as they were: {', '.join(missing)}",
                      stacklevel=3)
