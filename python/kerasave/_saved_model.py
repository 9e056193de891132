"""``ks.open(saved_model_dir)``: a TensorFlow SavedModel directory as a store.

The protos are decoded in Rust (:func:`kerasave._core.read_saved_model`, ``src/saved_model``);
this module is the store around them:

* keys are the native keys of the ``variables/`` tensor bundle, exactly as
  :class:`~kerasave.storage.CheckpointStore` gives them (``_CHECKPOINTABLE_OBJECT_GRAPH``
  included), and arrays are zero-copy views of its memory map;
* :attr:`SavedModelStore.signatures` lists each SignatureDef's inputs and outputs;
* :attr:`SavedModelStore.config` is the tf_keras root model config from ``keras_metadata.pb``;
* :attr:`SavedModelStore.saved_model` is the whole decoded dict, for the model loader.

``format_signatures`` renders the signatures the way ``saved_model_cli show --all`` does.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import numpy as np

from kerasave import _h5layout
from kerasave.errors import CorruptFileError
from kerasave.storage import CheckpointStore, Key, PathLike, Store

__all__ = ["SavedModelStore", "format_signatures", "TF_DTYPE_ENUM"]

#: ``read_saved_model`` dtype names -> TF ``DataType`` enum names (what ``saved_model_cli`` shows).
TF_DTYPE_ENUM = {
    "invalid": "DT_INVALID", "float32": "DT_FLOAT", "float64": "DT_DOUBLE",
    "int32": "DT_INT32", "uint8": "DT_UINT8", "int16": "DT_INT16", "int8": "DT_INT8",
    "string": "DT_STRING", "complex64": "DT_COMPLEX64", "int64": "DT_INT64", "bool": "DT_BOOL",
    "qint8": "DT_QINT8", "quint8": "DT_QUINT8", "qint32": "DT_QINT32",
    "bfloat16": "DT_BFLOAT16", "qint16": "DT_QINT16", "quint16": "DT_QUINT16",
    "uint16": "DT_UINT16", "complex128": "DT_COMPLEX128", "float16": "DT_HALF",
    "resource": "DT_RESOURCE", "variant": "DT_VARIANT", "uint32": "DT_UINT32",
    "uint64": "DT_UINT64",
}

KERAS_METADATA = "keras_metadata.pb"


def _dtype_enum(name: str) -> str:
    return TF_DTYPE_ENUM.get(name, "DT_" + name.upper())


def _shape_text(shape: Optional[list[int]]) -> str:
    if shape is None:
        return "unknown_rank"
    if len(shape) == 1:
        return f"({shape[0]})"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def format_signatures(signatures: dict[str, Any], tags: list[str],
                      ops: Optional[list[str]] = None) -> str:
    """Renders signatures like ``saved_model_cli show --all`` (the part before its concrete
    functions, which need TF to trace). The op set is printed sorted (TF prints a Python set).

    Args:
        signatures: ``store.signatures``.
        tags: The MetaGraphDef's tags.
        ops: ``store.saved_model["ops"]``; None leaves the op line out.

    Returns:
        The text, ending with a newline.
    """
    lines = [f"MetaGraphDef with tag-set: '{', '.join(tags)}' contains the following "
             "SignatureDefs:", ""]
    for name in sorted(signatures):
        sig = signatures[name]
        lines.append(f"signature_def['{name}']:")
        for side, label in (("inputs", "input(s)"), ("outputs", "output(s)")):
            lines.append(f"  The given SavedModel SignatureDef contains the following {label}:")
            for key in sorted(sig[side]):
                spec = sig[side][key]
                lines.append(f"    {side}['{key}'] tensor_info:")
                lines.append(f"        dtype: {_dtype_enum(spec['dtype'])}")
                lines.append(f"        shape: {_shape_text(spec['shape'])}")
                lines.append(f"        name: {spec['name']}")
        lines.append(f"  Method name is: {sig['method_name']}")
        lines.append("")
    text = "\n".join(lines[:-1])
    if ops is not None:
        tag_list = ", ".join(repr(t) for t in tags)
        text += (f"\nThe MetaGraph with tag set [{tag_list}] contains the following ops: "
                 + "{" + ", ".join(repr(o) for o in ops) + "}")
    return text + "\n"


class SavedModelStore(CheckpointStore):
    """A TensorFlow SavedModel directory.

    Keys, arrays, ``shape``/``dtype`` and ``verify`` are those of the ``variables/`` bundle
    (a SavedModel without variables has no keys). The decoded protos are checked at open: node
    ids in range, every variable of the object graph present in the bundle, the keras metadata
    JSON parsable.

    Args:
        path: The SavedModel directory, or the path of its ``saved_model.pb``.
        verify: Check each tensor's CRC32C the first time it is read.

    Raises:
        CorruptFileError: Malformed protos, node ids out of range, variables missing from
            ``variables/``, keras metadata that is not JSON.
        UnsupportedFormatError: ``saved_model.pbtxt``/``.cpb``, several MetaGraphDefs, TF1.
        FileNotFoundError: No ``saved_model.pb``.
    """

    format = "saved_model"

    def __init__(self, path: PathLike, verify: bool = True) -> None:
        from kerasave import _core

        Store.__init__(self, path)
        self._verify = verify
        p = Path(os.fspath(path))
        self.directory = os.fspath(p.parent if p.is_file() else p)
        self._saved = _core.read_saved_model(os.fspath(path))
        self._keras_nodes = self._parse_keras_metadata()
        prefix = os.path.join(self.directory, "variables", "variables")
        if os.path.isfile(prefix + ".index"):
            self._reader = _core.CheckpointReader(prefix)
            self._keys: list[Key] = self._reader.keys()
        else:
            self._reader = None
            self._keys = []

    def _parse_keras_metadata(self) -> Optional[list[dict[str, Any]]]:
        nodes = self._saved["keras_metadata"]
        if nodes is None:
            return None
        where = os.path.join(self.directory, KERAS_METADATA)
        out = []
        for node in nodes:
            try:
                meta = json.loads(node["metadata"])
            except (ValueError, RecursionError) as e:
                raise CorruptFileError(
                    f"{where}: node {node['node_path']!r} (id {node['node_id']}): metadata is "
                    f"not valid JSON: {e}") from None
            if _h5layout.json_depth_exceeds(meta):
                raise CorruptFileError(
                    f"{where}: node {node['node_path']!r} (id {node['node_id']}): metadata is "
                    f"JSON nested too deeply (more than {_h5layout.MAX_JSON_DEPTH} levels)")
            if not isinstance(meta, dict):
                raise CorruptFileError(
                    f"{where}: node {node['node_path']!r} (id {node['node_id']}): metadata is a "
                    f"JSON {type(meta).__name__}, expected an object")
            out.append({**node, "metadata": meta})
        return out

    # -- the bundle (absent when the model has no variables) ---------------------------------

    @property
    def reader(self) -> Any:
        """The ``kerasave._core.CheckpointReader`` of ``variables/`` (None without one)."""
        self._check_open()
        return self._reader

    @property
    def prefix(self) -> str:
        """The prefix of the variables bundle (``DIR/variables/variables``)."""
        return os.path.join(self.directory, "variables", "variables")

    def _bundle(self, key: Key) -> Any:
        reader = self.reader
        if reader is None:
            raise KeyError(key)
        return reader

    def __contains__(self, key: object) -> bool:
        return (isinstance(key, (str, bytes)) and self.reader is not None
                and self.reader.has_key(key))

    def get(self, key: Key, copy: bool = False) -> np.ndarray:
        return self._bundle(key).get(key, verify=self._verify, copy=copy)

    def get_many(self, keys: list[Key], copy: bool = False) -> list[np.ndarray]:
        """Reads several tensors in one call (in parallel where the shards allow)."""
        if not keys:
            return []
        return self._bundle(keys[0]).get_many(keys, verify=self._verify, copy=copy)

    def shape(self, key: Key) -> tuple[int, ...]:
        return self._bundle(key).shape(key)

    def dtype(self, key: Key) -> np.dtype:
        return self._bundle(key).dtype(key)

    def nbytes(self, key: Key) -> int:
        """Returns the tensor's size in bytes (the stored payload size for strings)."""
        return self._bundle(key).nbytes(key)

    def dtype_name(self, key: Key) -> str:
        """Returns the TF dtype name ("float32", "string", ...)."""
        return self._bundle(key).dtype_name(key)

    def verify(self) -> None:
        """Checks every CRC and structural rule of ``variables/``, the protos and the mapping of
        the object graph onto the bundle (again), and decodes the parts of ``saved_model.pb``
        that opening skips (graph nodes, attributes, constants).

        Raises:
            CorruptFileError: Something does not check out.
        """
        from kerasave import _core

        _core.verify_saved_model(self.directory)
        if self.reader is not None:
            self.reader.verify_all()

    def object_graph(self) -> Any:
        """The bundle's ``_CHECKPOINTABLE_OBJECT_GRAPH`` (see :class:`CheckpointStore`)."""
        if self.reader is None:
            return None
        return super().object_graph()

    # -- the SavedModel --------------------------------------------------------------------

    @property
    def saved_model(self) -> dict[str, Any]:
        """The whole decoded SavedModel (:func:`kerasave._core.read_saved_model`)."""
        return self._saved

    @property
    def signatures(self) -> dict[str, Any]:
        """``{name: {"method_name", "inputs", "outputs": {key: {"name", "dtype", "shape"}}}}``;
        dtype names are numpy-style (``"float32"``), shape None is an unknown rank and -1 an
        unknown dimension."""
        return self._saved["signatures"]

    @property
    def keras_metadata(self) -> Optional[list[dict[str, Any]]]:
        """The ``keras_metadata.pb`` nodes with their ``metadata`` JSON parsed, or None."""
        return self._keras_nodes

    @property
    def config(self) -> Optional[dict[str, Any]]:
        """The tf_keras root model config ``{"class_name", "config"}``, or None (no
        ``keras_metadata.pb``: Keras 3 exports, plain ``tf.Module`` saves)."""
        root = self._root_metadata()
        if root is None or "class_name" not in root:
            return None
        return {"class_name": root["class_name"], "config": root.get("config")}

    def _root_metadata(self) -> Optional[dict[str, Any]]:
        for node in self._keras_nodes or ():
            if node["node_id"] == 0:
                return node["metadata"]
        return None

    @property
    def metadata(self) -> dict[str, Any]:
        saved = self._saved
        kinds = Counter(n["kind"] for n in saved["nodes"])
        meta: dict[str, Any] = {
            "format": self.format,
            "tags": list(saved["tags"]),
            "tensorflow_version": saved["tensorflow_version"],
            "tensorflow_git_version": saved["tensorflow_git_version"],
            "schema_version": saved["schema_version"],
            "signatures": sorted(saved["signatures"]),
            "nodes": dict(sorted(kinds.items())),
            "functions": len(saved["function_library"]),
            "concrete_functions": len(saved["concrete_functions"]),
            "asset_files": list(saved["asset_files"]),
            "has_keras_metadata": saved["keras_metadata"] is not None,
            "fingerprint": saved["fingerprint"],
        }
        root = self._root_metadata()
        if root is not None:
            for k in ("keras_version", "backend"):
                if k in root:
                    meta[k] = root[k]
        if self.reader is not None:
            meta["num_shards"] = self.reader.num_shards
            graph = super().object_graph()
            if graph is not None:
                meta["object_graph"] = graph.summary()
        return meta

    def _close(self) -> None:
        self._reader = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._keys)} tensors"
        return f"<SavedModelStore path={self.path!r} ({state})>"
