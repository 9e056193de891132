"""``ks.open``: any Keras / TensorFlow artifact as a read-only mapping of tensors.

The format is sniffed from the bytes (magic numbers, directory contents), the suffix only breaks
ties. Each format has one :class:`Store` subclass; other modules add formats with
:func:`register_sniffer` and :func:`register_store`::

    with ks.open("ckpt/") as store:
        for key in store:
            print(key, store.dtype(key), store.shape(key))
        kernel = store["layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"]

Arrays are read-only views of the file's memory map where the bytes allow, and stay valid after
the store is closed: the map lives as long as any array that views it.

Formats and their keys:

=========================  =====================================================================
``tf_checkpoint``          bundle keys (``layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE``)
``keras_weights_h5``       dataset paths (``layers/dense/vars/0``), :func:`natural order
                           <kerasave._h5layout.natural_key>`: ``vars/9`` before ``vars/10``
``keras_weights_sharded``  the same paths, found across the ``<stem>_NNNNN.weights.h5`` shards
``keras_archive``          the same paths inside ``model.weights.h5``, read in place from the zip;
                           also ``zipped=False`` directories (``store.is_directory``)
``legacy_h5_model``        ``model_weights/<layer>/<weight>`` (``model_weights/d/d/kernel:0``)
                           and ``optimizer_weights/<weight>``, in Keras's load order
                           (``layer_names``, then each layer's ``weight_names``)
``legacy_h5_weights``      ``<layer>/<weight>``, in the same order
``safetensors``            the header's tensor names, in data-offset order
``npz``                    the member names without ``.npy``, in zip order
=========================  =====================================================================

HDF5-based stores (:class:`H5Store`) also give :meth:`~H5Store.groups` and
:meth:`~H5Store.attrs`, so ``ks.save_tensors`` can write the same layout back; ``store.config`` is
the parsed ``config.json`` / ``model_config`` (None for weights-only files) and ``store.metadata``
the producer facts (``metadata.json``, root attributes with ``training_config`` parsed, or the
shard index's ``metadata``).
"""

from __future__ import annotations

import abc
import base64
import errno
import json
import io
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np

from kerasave import _h5layout
from kerasave.errors import CorruptFileError, UnsupportedFormatError

__all__ = [
    "CheckpointStore",
    "H5Store",
    "KerasArchiveStore",
    "KerasDirectoryStore",
    "KerasWeightsH5Store",
    "LegacyH5ModelStore",
    "LegacyH5WeightsStore",
    "NpzStore",
    "SafetensorsStore",
    "ShardedWeightsStore",
    "Store",
    "open",
    "register_sniffer",
    "register_store",
    "sniff",
]

Key = Union[str, bytes]
PathLike = Union[str, "os.PathLike[str]"]

#: Footer magic of a LevelDB/TF SSTable (the last 8 bytes of ``P.index``).
SSTABLE_MAGIC = bytes.fromhex("57fb808b247547db")
#: HDF5 superblock signature (at offset 0, or 512, 1024, ... with a user block).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: Local file header of a zip archive (``.keras``).
ZIP_SIGNATURE = b"PK\x03\x04"

#: Human descriptions of sniffed kinds, for error messages.
KIND_DESCRIPTIONS = {
    "tf_checkpoint": "a TensorFlow checkpoint (tensor bundle)",
    "saved_model": "a TensorFlow SavedModel directory",
    "hdf5": "an HDF5 file (Keras .weights.h5 or legacy .h5 model/weights)",
    "keras_archive": "a Keras .keras archive (zip)",
    "keras_weights_sharded": "sharded Keras weights (.weights.json)",
    "keras_directory": "an unzipped Keras model directory (config.json + model.weights.h5)",
    "safetensors": "a safetensors file",
    "npz": "a numpy .npz archive",
}


class Store(abc.ABC):
    """A read-only mapping from the native keys of an artifact to numpy arrays.

    Subclasses implement the abstract methods; iteration, ``len``, ``in``, ``[]``, :meth:`items`
    and the context-manager protocol come from here.

    Attributes:
        format: The sniffed format name, one of ``"keras_archive"``, ``"keras_weights_h5"``,
            ``"keras_weights_sharded"``, ``"legacy_h5_model"``, ``"legacy_h5_weights"``,
            ``"tf_checkpoint"``, ``"saved_model"``, ``"safetensors"`` or ``"npz"``.
        path: The path the store was opened from.
    """

    format: str = ""

    def __init__(self, path: PathLike) -> None:
        self.path = os.fspath(path)
        self._closed = False

    # -- what each format provides ------------------------------------------------------------

    @abc.abstractmethod
    def keys(self) -> list[Key]:
        """Returns the native keys, exactly as the file names them, in the file's order."""

    @abc.abstractmethod
    def get(self, key: Key, copy: bool = False) -> np.ndarray:
        """Reads one tensor.

        Args:
            key: A native key.
            copy: If true, return a private writable copy; otherwise a read-only array that is a
                zero-copy view of the file where the bytes allow.

        Returns:
            The tensor as a numpy array.

        Raises:
            KeyError: The key is not in the store.
            CorruptFileError: The stored bytes are malformed or fail their checksum.
        """

    @abc.abstractmethod
    def shape(self, key: Key) -> tuple[int, ...]:
        """Returns the shape of a tensor without reading it.

        Raises:
            KeyError: The key is not in the store.
        """

    @abc.abstractmethod
    def dtype(self, key: Key) -> np.dtype:
        """Returns the numpy dtype of a tensor without reading it (object for strings).

        Raises:
            KeyError: The key is not in the store.
        """

    @property
    def config(self) -> Optional[dict[str, Any]]:
        """The model config dict, or None when the artifact has none (a bare checkpoint)."""
        return None

    @property
    @abc.abstractmethod
    def metadata(self) -> dict[str, Any]:
        """Producer and version facts that the file records."""

    def dtype_name(self, key: Key) -> str:
        """Returns a short dtype name for display ("float32", "bfloat16", "string", ...)."""
        return self.dtype(key).name

    def nbytes(self, key: Key) -> int:
        """Returns the size of the tensor's elements in bytes (without reading it)."""
        return int(np.prod(self.shape(key), dtype=np.int64)) * self.dtype(key).itemsize

    def get_many(self, keys: list[Key], copy: bool = False) -> list[np.ndarray]:
        """Reads several tensors, in the order of ``keys``.

        Args:
            keys: Native keys.
            copy: Return private writable copies.

        Returns:
            The arrays.
        """
        return [self.get(key, copy=copy) for key in keys]

    def verify(self) -> None:
        """Checks every checksum and structural rule the format has.

        The default reads every tensor with verification on; formats with a cheaper or stricter
        check override it.

        Raises:
            CorruptFileError: Something does not check out.
        """
        for key in self.keys():
            self.get(key)

    def _close(self) -> None:
        """Releases format resources; arrays already handed out stay valid."""

    # -- the mapping protocol -----------------------------------------------------------------

    def __getitem__(self, key: Key) -> np.ndarray:
        return self.get(key)

    def __iter__(self) -> Iterator[Key]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, key: object) -> bool:
        try:
            self.shape(key)  # type: ignore[arg-type]
        except (KeyError, TypeError):
            return False
        return True

    def items(self) -> Iterator[tuple[Key, np.ndarray]]:
        """Yields ``(key, array)`` pairs in :meth:`keys` order."""
        for key in self.keys():
            yield key, self.get(key)

    def values(self) -> Iterator[np.ndarray]:
        """Yields the arrays in :meth:`keys` order."""
        for key in self.keys():
            yield self.get(key)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Closes the store. Arrays already read stay valid. Closing twice is harmless."""
        if not self._closed:
            self._closed = True
            self._close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"I/O operation on a closed store ({self.path})")

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self)} tensors"
        return f"<{type(self).__name__} format={self.format!r} path={self.path!r} ({state})>"


class CheckpointStore(Store):
    """A TF checkpoint (tensor bundle V2): keys are the bundle keys, including
    ``_CHECKPOINTABLE_OBJECT_GRAPH`` when the checkpoint has an object graph.

    Args:
        path: A prefix (``ckpt-3``), its ``.index`` or ``.data-*`` file, or a directory with a
            ``checkpoint`` state file.
        verify: Check each tensor's CRC32C the first time it is read.
    """

    format = "tf_checkpoint"

    def __init__(self, path: PathLike, verify: bool = True) -> None:
        from kerasave import _core

        super().__init__(path)
        self._verify = verify
        self._reader: Optional[_core.CheckpointReader] = _core.CheckpointReader(os.fspath(path))
        self._keys: list[Key] = self._reader.keys()

    @property
    def reader(self) -> Any:
        """The underlying ``kerasave._core.CheckpointReader``."""
        self._check_open()
        return self._reader

    @property
    def prefix(self) -> str:
        """The resolved checkpoint prefix."""
        return self.reader.prefix

    def keys(self) -> list[Key]:
        return list(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, (str, bytes)) and self.reader.has_key(key)

    def get(self, key: Key, copy: bool = False) -> np.ndarray:
        return self.reader.get(key, verify=self._verify, copy=copy)

    def get_many(self, keys: list[Key], copy: bool = False) -> list[np.ndarray]:
        """Reads several tensors in one call (in parallel where the shards allow).

        Args:
            keys: Native keys.
            copy: Return private writable copies.

        Returns:
            The arrays, in the order of ``keys``.
        """
        return self.reader.get_many(keys, verify=self._verify, copy=copy)

    def shape(self, key: Key) -> tuple[int, ...]:
        return self.reader.shape(key)

    def dtype(self, key: Key) -> np.dtype:
        return self.reader.dtype(key)

    def nbytes(self, key: Key) -> int:
        """Returns the tensor's size in bytes (the stored payload size for strings)."""
        return self.reader.nbytes(key)

    def dtype_name(self, key: Key) -> str:
        """Returns the TF dtype name ("float32", "bfloat16", "string", ...)."""
        return self.reader.dtype_name(key)

    def verify(self) -> None:
        """Checks every checksum and structural rule of the checkpoint.

        Raises:
            CorruptFileError: Something does not check out; the message says what and where.
        """
        self.reader.verify_all()

    def object_graph(self) -> Any:
        """Returns the decoded object graph (:class:`kerasave.checkpoint.ObjectGraph`) or None."""
        from kerasave.checkpoint import ObjectGraph

        raw = self.reader.object_graph()
        return None if raw is None else ObjectGraph.from_dict(raw)

    @property
    def metadata(self) -> dict[str, Any]:
        reader = self.reader
        meta: dict[str, Any] = {
            "format": self.format,
            "prefix": reader.prefix,
            "num_shards": reader.num_shards,
            "endianness": "big" if reader.big_endian else "little",
        }
        version = reader.version()
        if version is not None:
            producer, min_consumer, bad_consumers = version
            meta["bundle_version"] = {
                "producer": producer,
                "min_consumer": min_consumer,
                "bad_consumers": list(bad_consumers),
            }
        graph = self.object_graph()
        meta["has_object_graph"] = graph is not None
        if graph is not None:
            meta["object_graph"] = graph.summary()
        return meta

    def _close(self) -> None:
        self._reader = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._keys)} tensors"
        return f"<CheckpointStore path={self.path!r} ({state})>"


# -- Keras HDF5 files and .keras archives --------------------------------------------------------

#: The weights member of a ``.keras`` archive (and file of a ``zipped=False`` directory).
WEIGHTS_MEMBER = "model.weights.h5"
#: Keras's broken npz-weights variant (pickled objects; Keras itself cannot load it).
NPZ_WEIGHTS_MEMBER = "model.weights.npz"
#: Largest JSON file (sharded index, config.json of a directory) read whole.
MAX_JSON_BYTES = 256 << 20


def _key_str(key: Key) -> str:
    if isinstance(key, bytes):
        try:
            return key.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyError(key) from None
    if not isinstance(key, str):
        raise KeyError(key)
    return key


class H5Store(Store):
    """Base of the stores whose tensors are HDF5 datasets (one file, a ``.keras`` member, or the
    shards of a ``.weights.json``).

    Keys are dataset paths without the leading ``/``. Contiguous, unfiltered little-endian
    datasets (everything Keras writes) are read-only views of the memory map, also inside a
    ``.keras`` zip; chunked or compressed ones are read with a copy. bfloat16 (and the other
    ml_dtypes types Keras stores as opaque + ``dtype`` attribute) come back as ml_dtypes arrays.

    Besides the mapping, :meth:`groups` and :meth:`attrs` expose the group tree, so that a writer
    can reproduce the layout (``ks.save_tensors(..., attrs={g: store.attrs(g) for g in
    store.groups()})``).
    """

    def __init__(self, path: PathLike) -> None:
        super().__init__(path)
        self._files: list[Any] = []
        # key -> (H5File, absolute path, dtype name, shape, zero_copy, nbytes)
        self._entries: dict[str, tuple[Any, str, str, tuple[int, ...], bool, int]] = {}
        self._keys: list[str] = []

    def _add_file(self, h5: Any) -> None:
        self._files.append(h5)
        for path, dtype_name, shape, zero_copy, nbytes in h5.datasets():
            key = path.lstrip("/")
            if key not in self._entries:
                self._entries[key] = (h5, path, dtype_name, tuple(shape), zero_copy, nbytes)

    def _entry(self, key: Key) -> tuple[Any, str, str, tuple[int, ...], bool, int]:
        self._check_open()
        k = _key_str(key)
        entry = self._entries.get(k)
        if entry is None:
            entry = self._entries.get(k.lstrip("/"))
        if entry is None:
            raise KeyError(f"{self.path}: key {k!r}: not found")
        return entry

    def _before_read(self) -> None:
        """Hook run before tensor bytes are handed out (an archive checks its CRC once)."""

    # -- the Store interface ----------------------------------------------------------------

    def keys(self) -> list[Key]:
        """The dataset paths (no leading ``/``). Keras 3 layouts in natural order (``vars/9``
        before ``vars/10``, see :func:`kerasave._h5layout.natural_key`); legacy files in the
        order Keras loads them (``layer_names``, then each layer's ``weight_names``)."""
        return list(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, key: Key, copy: bool = False) -> np.ndarray:
        h5, path = self._entry(key)[:2]
        self._before_read()
        return h5.get(path, copy=copy)

    def get_many(self, keys: list[Key], copy: bool = False) -> list[np.ndarray]:
        entries = [self._entry(k) for k in keys]
        self._before_read()
        return [h5.get(path, copy=copy) for h5, path, *_ in entries]

    def shape(self, key: Key) -> tuple[int, ...]:
        return self._entry(key)[3]

    def dtype(self, key: Key) -> np.dtype:
        h5, path = self._entry(key)[:2]
        return h5.dtype(path)

    def dtype_name(self, key: Key) -> str:
        """The dtype name ("float32", "bfloat16", ...)."""
        return self._entry(key)[2]

    def nbytes(self, key: Key) -> int:
        return self._entry(key)[5]

    def is_zero_copy(self, key: Key) -> bool:
        """Whether ``store[key]`` is a view of the file's memory map (no copy)."""
        return self._entry(key)[4]

    def layout(self, key: Key) -> str:
        """The dataset's HDF5 layout: "contiguous", "chunked", "compact" or "unallocated"."""
        h5, path = self._entry(key)[:2]
        return h5.layout(path)

    def location(self, key: Key) -> Optional[tuple[str, int, int]]:
        """``(file, offset, length)`` of a contiguous dataset's bytes, the offset absolute in
        that file (inside a ``.keras``: in the archive); None for other layouts."""
        h5, path = self._entry(key)[:2]
        loc = h5.location(path)
        return None if loc is None else (os.fspath(h5.path), loc[0], loc[1])

    def groups(self) -> list[str]:
        """Every HDF5 group path (``"/"`` first, then natural order; all shards merged)."""
        self._check_open()
        seen: set[str] = set()
        for h5 in self._files:
            seen.update(h5.groups())
        rest = sorted((g for g in seen if g != "/"), key=_h5layout.natural_key)
        return (["/"] if "/" in seen else []) + rest

    def attrs(self, group_path: str = "/") -> dict[str, Any]:
        """Attributes of a group (or dataset), decoded for Keras.

        ``layer_names``/``weight_names`` are whole lists even when the file chunks them
        (``layer_names0``, ``layer_names1``, ...) and ``[]`` when stored as an empty float64 array;
        other strings are ``str``, string arrays ``list[str]``, numbers int64/float64 arrays.
        Shards are merged (the first shard holding an attribute wins).

        Args:
            group_path: ``"/"``, ``"/layers/dense/vars"``, ... (leading ``/`` optional).

        Raises:
            KeyError: No file has such a group or dataset.
        """
        self._check_open()
        out: dict[str, Any] = {}
        found = False
        for h5 in self._files:
            try:
                attrs = _h5layout.decode_attrs(h5, group_path)
            except KeyError:
                continue
            found = True
            for name, value in attrs.items():
                out.setdefault(name, value)
        if not found:
            raise KeyError(f"{self.path}: key {group_path!r}: not found")
        return out

    def verify(self) -> None:
        """Reads every tensor (decompressing what is compressed) and checks the layout's
        bookkeeping. HDF5 files written by Keras carry no checksums.

        Raises:
            CorruptFileError: Something does not check out.
        """
        for key in self.keys():
            self.get(key)

    def _close(self) -> None:
        self._files = []
        self._entries = {}

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._keys)} tensors"
        return f"<{type(self).__name__} format={self.format!r} path={self.path!r} ({state})>"


class KerasWeightsH5Store(H5Store):
    """A Keras 3 ``*.weights.h5`` (``model.save_weights``): ``layers/<name>/vars/<i>``,
    ``optimizer/vars/<i>``, ... (keras_formats.md §2). Any other HDF5 file without legacy
    markers opens as this format too, keyed by its dataset paths.

    Args:
        path: The file.
        h5: An already opened ``_core.H5File`` of it (used by the sniffer).
    """

    format = "keras_weights_h5"

    def __init__(self, path: PathLike, h5: Any = None) -> None:
        from kerasave import _core

        super().__init__(path)
        self._add_file(h5 if h5 is not None else _core.H5File(os.fspath(path)))
        self._keys = _h5layout.sort_keys(self._entries)
        self._metadata = _h5layout.decode_attrs(self._files[0], "/")

    @property
    def metadata(self) -> dict[str, Any]:
        """The root attributes (Keras 3 writes none)."""
        return dict(self._metadata)


class _LegacyH5Store(H5Store):
    """Shared by the legacy full-model and weights-only files (keras_formats.md §3)."""

    weights_root = ""
    has_optimizer = False

    def __init__(self, path: PathLike, h5: Any = None) -> None:
        from kerasave import _core

        super().__init__(path)
        h5 = h5 if h5 is not None else _core.H5File(os.fspath(path))
        self._add_file(h5)
        self._keys, self._dangling = _h5layout.legacy_key_order(
            h5, self.weights_root, list(self._entries), optimizer=self.has_optimizer
        )
        root = _h5layout.decode_attrs(h5, "/")
        self._config: Optional[dict[str, Any]] = None
        if "model_config" in root:
            config = _h5layout.parse_json(
                root.pop("model_config"), self.path, "attribute 'model_config' of /"
            )
            if not isinstance(config, dict):
                raise CorruptFileError(
                    f"{self.path}: attribute 'model_config' of / is JSON but not an object"
                )
            self._config = config
        if "training_config" in root:
            root["training_config"] = _h5layout.parse_json(
                root["training_config"], self.path, "attribute 'training_config' of /"
            )
        if self.weights_root and f"/{self.weights_root}" in h5.groups():
            names = h5.string_list_attr(f"/{self.weights_root}", "layer_names")
            if names is not None:
                root.setdefault("layer_names", names)
        self._metadata = root

    @property
    def config(self) -> Optional[dict[str, Any]]:
        """The parsed ``model_config`` (``{"class_name", "config"}``), None if absent."""
        return self._config

    @property
    def metadata(self) -> dict[str, Any]:
        """Root attributes (``backend``, ``keras_version``, ...) with ``training_config`` parsed;
        ``layer_names`` of the weights root; ``model_config`` is :attr:`config` instead."""
        return dict(self._metadata)

    @property
    def layer_names(self) -> list[str]:
        """``layer_names`` of the weights root (chunks joined)."""
        root = "/" + self.weights_root
        return list(self._files[0].string_list_attr(root, "layer_names") or [])

    def weight_names(self, layer: str) -> list[str]:
        """``weight_names`` of one layer group (``[]`` for a layer without weights)."""
        group = "/" + "/".join(p for p in (self.weights_root, layer) if p)
        return list(self._files[0].string_list_attr(group, "weight_names") or [])

    def verify(self) -> None:
        """Reads every tensor and checks that every ``weight_names`` entry has its dataset.

        Raises:
            CorruptFileError: A listed weight is missing (Keras could not load the file).
        """
        self._check_open()
        if self._dangling:
            shown = ", ".join(repr(k) for k in self._dangling[:5])
            raise CorruptFileError(
                f"{self.path}: weight_names list {len(self._dangling)} weight(s) with no "
                f"dataset: {shown}"
            )
        super().verify()


class LegacyH5ModelStore(_LegacyH5Store):
    """A legacy full-model ``.h5`` (``model.save("x.h5")``, tf_keras or Keras 3).

    Keys: ``model_weights/<layer>/<weight name>`` (``model_weights/dense/dense/kernel:0``) and
    ``optimizer_weights/<weight name>``, in the order Keras loads them.
    """

    format = "legacy_h5_model"
    weights_root = "model_weights"
    has_optimizer = True


class LegacyH5WeightsStore(_LegacyH5Store):
    """A legacy weights-only ``.h5`` (tf_keras ``save_weights("x.h5")``): ``layer_names`` on the
    root; keys ``<layer>/<weight name>`` in the order Keras loads them."""

    format = "legacy_h5_weights"


class _KerasModelStore(H5Store):
    """Shared by ``.keras`` archives and their ``zipped=False`` directories."""

    format = "keras_archive"

    def _init_weights(self, h5: Any) -> None:
        self._add_file(h5)
        self._keys = _h5layout.sort_keys(self._entries)

    def _parse_config(self, raw: bytes, what: str) -> dict[str, Any]:
        config = _h5layout.parse_json(raw, self.path, what)
        if not isinstance(config, dict):
            raise CorruptFileError(f"{self.path}: {what} is JSON but not an object")
        return config

    @property
    def config(self) -> dict[str, Any]:
        """The parsed ``config.json``."""
        return self._config

    @property
    def metadata(self) -> dict[str, Any]:
        """The parsed ``metadata.json`` (``keras_version``, ``date_saved``; ``{}`` if absent)."""
        return dict(self._metadata)

    @property
    def assets(self) -> list[str]:
        """Asset files, relative to ``assets/`` (``layers/text_vectorization/vocabulary.txt``)."""
        return list(self._assets)

    def read_asset(self, name: str) -> bytes:
        """The bytes of an asset (``name`` as in :attr:`assets`, ``assets/`` prefix optional).

        Raises:
            KeyError: No such asset.
        """
        raise NotImplementedError  # pragma: no cover - overridden

    def _asset_name(self, name: str) -> str:
        self._check_open()
        rel = name[len("assets/") :] if name.startswith("assets/") else name
        if rel not in self._assets:
            raise KeyError(f"{self.path}: key {'assets/' + rel!r}: not found")
        return rel


class KerasArchiveStore(_KerasModelStore):
    """A Keras 3 ``.keras`` archive: ``config.json`` (:attr:`config`), ``metadata.json``
    (:attr:`metadata`), assets, and the weights of ``model.weights.h5``.

    A STORED weights member (what Keras writes) is opened where it lies: no extraction, no copy;
    its tensors are views of the archive's memory map. A DEFLATED member is inflated into memory
    once (CRC checked). With ``verify``, the CRC-32 of a STORED weights member is checked the
    first time a tensor is read.

    Args:
        path: The archive.
        verify: Check the weights member's CRC before handing out tensors.
        archive: An already opened ``_core.KerasArchive`` of it.
    """

    def __init__(self, path: PathLike, verify: bool = True, archive: Any = None) -> None:
        from kerasave import _core

        super().__init__(path)
        self.archive = archive if archive is not None else _core.KerasArchive(os.fspath(path))
        names = self.archive.names()
        if "config.json" not in names:
            raise CorruptFileError(
                f"{self.path}: key 'config.json': no such member (not a Keras archive)"
            )
        self._config = self._parse_config(self.archive.read("config.json"), "member 'config.json'")
        self._metadata: dict[str, Any] = {}
        if "metadata.json" in names:
            meta = _h5layout.parse_json(
                self.archive.read("metadata.json"), self.path, "member 'metadata.json'"
            )
            if not isinstance(meta, dict):
                raise CorruptFileError(
                    f"{self.path}: member 'metadata.json' is JSON but not an object"
                )
            self._metadata = meta
        if WEIGHTS_MEMBER not in names:
            if NPZ_WEIGHTS_MEMBER in names:
                raise UnsupportedFormatError(
                    f"{self.path}: key {NPZ_WEIGHTS_MEMBER!r}: npz weights hold pickled Python "
                    "objects, which kerasave never loads (Keras 3 cannot load them either)"
                )
            raise CorruptFileError(
                f"{self.path}: key {WEIGHTS_MEMBER!r}: no such member, the archive has no weights"
            )
        self._assets = [
            n[len("assets/") :]
            for n in names
            if n.startswith("assets/") and not n.endswith("/")
        ]
        self._weights_range = self.archive.stored_range(WEIGHTS_MEMBER)
        self._crc_pending = verify and self._weights_range is not None
        self._init_weights(_core.H5File.open_member(self.archive, WEIGHTS_MEMBER))

    def _before_read(self) -> None:
        if self._crc_pending:
            self.archive.verify(WEIGHTS_MEMBER)
            self._crc_pending = False

    @property
    def members(self) -> list[tuple[str, str, int, int, int]]:
        """``(name, method, data_offset, size, compressed_size)`` of every member, in order."""
        return self.archive.members()

    @property
    def weights_in_place(self) -> bool:
        """Whether the weights are read in place (a STORED member), not from an inflated copy."""
        return self._weights_range is not None

    @property
    def weights_range(self) -> Optional[tuple[int, int]]:
        """``(offset, length)`` of the STORED weights member in the archive, else None."""
        return self._weights_range

    def read_asset(self, name: str) -> bytes:
        rel = self._asset_name(name)
        return self.archive.read("assets/" + rel)

    def verify(self) -> None:
        """Checks every member's CRC-32, then reads every tensor.

        Raises:
            CorruptFileError: Something does not check out.
        """
        self._check_open()
        self.archive.verify_all()
        self._crc_pending = False
        super().verify()


class KerasDirectoryStore(_KerasModelStore):
    """The unzipped form of a ``.keras`` archive (``model.save(path, zipped=False)``): a
    directory with ``config.json``, ``metadata.json``, ``model.weights.h5`` and ``assets/``.
    ``format`` is ``"keras_archive"``; :attr:`is_directory` tells them apart.

    Args:
        path: The directory.
    """

    is_directory = True

    def __init__(self, path: PathLike) -> None:
        from kerasave import _core

        super().__init__(path)
        root = Path(self.path)
        self._config = self._parse_config(self._read(root / "config.json"), "file 'config.json'")
        self._metadata = {}
        if (root / "metadata.json").is_file():
            meta = _h5layout.parse_json(
                self._read(root / "metadata.json"), self.path, "file 'metadata.json'"
            )
            if not isinstance(meta, dict):
                raise CorruptFileError(
                    f"{self.path}: file 'metadata.json' is JSON but not an object"
                )
            self._metadata = meta
        assets_dir = root / "assets"
        self._assets_dir = assets_dir
        self._assets = []
        if assets_dir.is_dir() and not assets_dir.is_symlink():
            for dirpath, dirnames, filenames in os.walk(assets_dir, followlinks=False):
                dirnames.sort()
                for name in sorted(filenames):
                    full = Path(dirpath) / name
                    if full.is_file() and not full.is_symlink():
                        self._assets.append(full.relative_to(assets_dir).as_posix())
            self._assets.sort()
        self._init_weights(_core.H5File(os.fspath(root / WEIGHTS_MEMBER)))

    def _read(self, file: Path) -> bytes:
        size = file.stat().st_size
        if size > MAX_JSON_BYTES:
            raise CorruptFileError(f"{file}: {size} bytes is too large for a JSON file")
        return file.read_bytes()

    def read_asset(self, name: str) -> bytes:
        rel = self._asset_name(name)
        return (self._assets_dir / rel).read_bytes()


class ShardedWeightsStore(H5Store):
    """Sharded Keras weights: a ``*.weights.json`` index plus ``<stem>_NNNNN.weights.h5`` shards
    beside it (``model.save_weights("x.weights.json", max_shard_size=...)``, keras_formats.md
    §2.5).

    Keys are the dataset paths as in a single ``.weights.h5`` (``layers/dense/vars/0``), found in
    whichever shard holds them: first the shards the index lists for the key's group, in order,
    then every shard, like Keras. An object's variables may span several shards.

    Args:
        path: The ``.weights.json`` index.
    """

    format = "keras_weights_sharded"

    def __init__(self, path: PathLike) -> None:
        from kerasave import _core

        super().__init__(path)
        index_path = Path(self.path)
        size = index_path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise CorruptFileError(f"{self.path}: {size} bytes is too large for a shard index")
        index = _h5layout.parse_json(index_path.read_bytes(), self.path, "the shard index")
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict):
            raise CorruptFileError(f"{self.path}: not a Keras shard index (no 'weight_map' object)")
        meta = index.get("metadata", {})
        if not isinstance(meta, dict):
            raise CorruptFileError(f"{self.path}: 'metadata' of the shard index is not an object")
        self._index_metadata = meta
        self._weight_map: dict[str, list[str]] = {}
        names: list[str] = []
        for group, files in weight_map.items():
            listed = [files] if isinstance(files, str) else files
            if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed):
                raise CorruptFileError(
                    f"{self.path}: key {group!r}: weight_map values are file names or lists of them"
                )
            for name in listed:
                _check_shard_name(self.path, group, name)
                if name not in names:
                    names.append(name)
            self._weight_map[group] = list(listed)
        stem = index_path.name
        stem = stem[: -len(".json")] if stem.endswith(".json") else index_path.stem
        base = stem.replace(".weights", "")
        first = f"{base}_{0:05d}.weights.h5"
        if first not in names and (index_path.parent / first).is_file():
            names.append(first)  # Keras opens shard 0 first; it may hold only empty groups
        self._shard_names = sorted(names)
        rows: dict[str, dict[str, tuple[Any, str, str, tuple[int, ...], bool, int]]] = {}
        for name in self._shard_names:
            h5 = _core.H5File(os.fspath(index_path.parent / name))
            self._files.append(h5)
            rows[name] = {
                p.lstrip("/"): (h5, p, dtype_name, tuple(shape), zero_copy, nbytes)
                for p, dtype_name, shape, zero_copy, nbytes in h5.datasets()
            }
        # Keras's lookup: the shards the index lists for the key's group, in order, else any.
        for name in self._shard_names:
            for key, entry in rows[name].items():
                if key in self._entries:
                    continue
                for listed in self._weight_map.get(_h5layout.group_of(key), []):
                    if key in rows[listed]:
                        entry = rows[listed][key]
                        break
                self._entries[key] = entry
        self._keys = _h5layout.sort_keys(self._entries)

    @property
    def metadata(self) -> dict[str, Any]:
        """The index's ``metadata`` object (``{"total_size": <bytes as a float>}``)."""
        return dict(self._index_metadata)

    @property
    def weight_map(self) -> dict[str, list[str]]:
        """The index's ``weight_map``: group path -> shard file names (always lists here)."""
        return {k: list(v) for k, v in self._weight_map.items()}

    @property
    def shards(self) -> list[str]:
        """Paths of the shard files, in index order."""
        parent = Path(self.path).parent
        return [os.fspath(parent / n) for n in self._shard_names]


def _check_shard_name(index: str, group: str, name: str) -> None:
    """A shard must be a plain file name beside the index (an index from the internet must not
    make us open ``../../somewhere``)."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\0" in name
        or os.path.isabs(name)
    ):
        raise CorruptFileError(
            f"{index}: key {group!r}: shard {name!r} is not a plain file name beside the index"
        )


def _open_hdf5(path: str, verify: bool) -> Store:
    """Opens an HDF5 file as the format its root says: ``model_config`` -> legacy model,
    ``layer_names`` -> legacy weights, else Keras 3 weights."""
    from kerasave import _core

    h5 = _core.H5File(path)
    if h5.attr("/", "model_config") is not None:
        return LegacyH5ModelStore(path, h5)
    if h5.string_list_attr("/", "layer_names") is not None:
        return LegacyH5WeightsStore(path, h5)
    if "/model_weights" in h5.groups() and (
        h5.string_list_attr("/model_weights", "layer_names") is not None
    ):
        return LegacyH5ModelStore(path, h5)
    return KerasWeightsH5Store(path, h5)


def _open_zip(path: str, verify: bool) -> Store:
    """A zip: a ``.keras`` archive when it has Keras's members."""
    from kerasave import _core

    archive = _core.KerasArchive(path)
    names = set(archive.names())
    keras_names = {"config.json", "metadata.json", WEIGHTS_MEMBER, NPZ_WEIGHTS_MEMBER}
    if names & keras_names or path.endswith(".keras"):
        return KerasArchiveStore(path, verify=verify, archive=archive)
    raise UnsupportedFormatError(
        f"{path}: a zip archive, but not a Keras .keras archive (no config.json or "
        f"{WEIGHTS_MEMBER})"
    )


# -- tensor files: safetensors and .npz -----------------------------------------------------------

#: safetensors dtype codes -> numpy / ml_dtypes names (https://github.com/huggingface/safetensors);
#: the writer (``ks.save_tensors``) uses the inverse.
SAFETENSORS_DTYPES = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16",
    "U32": "uint32", "I32": "int32", "U64": "uint64", "I64": "int64", "F16": "float16",
    "F32": "float32", "F64": "float64", "C64": "complex64", "BF16": "bfloat16",
    "F8_E5M2": "float8_e5m2", "F8_E4M3": "float8_e4m3fn",
}
#: Largest safetensors JSON header read (the reference implementation's limit).
SAFETENSORS_MAX_HEADER = 100 << 20
#: ``__metadata__`` keys ``kerasave convert`` writes into a .safetensors header (string values):
#: the source format, and base64 of a TF checkpoint's serialized object graph.
ST_SOURCE_FORMAT = "kerasave.source_format"
ST_OBJECT_GRAPH = "kerasave.object_graph"
#: Largest ``.npy`` header dict read (numpy's own default limit); the bytes before it are the
#: 6-byte magic, 2-byte version and a 2- or 4-byte length.
NPY_MAX_HEADER = 10000
_NPY_PREAMBLE = 12


def _np_dtype(name: str) -> np.dtype:
    """numpy dtype by name, ml_dtypes ones included (bfloat16, float8_*)."""
    try:
        return np.dtype(name)
    except TypeError:
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, name))


class _TableStore(Store):
    """A store whose header was read whole at open: ``self._entries[key] = (dtype, shape, ...)``
    in file order."""

    def __init__(self, path: PathLike) -> None:
        super().__init__(path)
        self._entries: dict[str, tuple[Any, ...]] = {}

    def keys(self) -> list[Key]:
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def _entry(self, key: Key) -> tuple[Any, ...]:
        try:
            return self._entries[key]  # type: ignore[index]
        except (KeyError, TypeError):
            raise KeyError(f"{self.path}: key {key!r}: not found") from None

    def shape(self, key: Key) -> tuple[int, ...]:
        return self._entry(key)[1]

    def dtype(self, key: Key) -> np.dtype:
        return self._entry(key)[0]


class SafetensorsStore(_TableStore):
    """A ``.safetensors`` file: 8-byte little-endian header length, JSON header, raw data.

    Everything is checked on open (header size, JSON, dtypes, shapes, offsets inside the data,
    sizes = elements x itemsize, no two tensors overlapping), so reads cannot leave the file.
    Tensors are read-only zero-copy views of the file's memory map (``_core.map_file``: the same
    :class:`~kerasave._core.MappedBuffer` owner as the other formats). :meth:`verify` also insists
    on the reference layout (no gaps). Keys are in file (data offset) order.
    """

    format = "safetensors"

    def __init__(self, path: PathLike) -> None:
        from kerasave import _core

        super().__init__(path)
        path = self.path
        size = os.stat(path).st_size
        if size < 8:
            raise CorruptFileError(f"{path}: {size} bytes is too short for a safetensors file")
        self._bytes: Any = _core.map_file(path)
        n = int.from_bytes(self._bytes[:8].tobytes(), "little")
        if n > SAFETENSORS_MAX_HEADER or 8 + n > size:
            raise CorruptFileError(
                f"{path}: safetensors header of {n} bytes does not fit in the {size}-byte file"
            )
        try:
            header = json.loads(self._bytes[8 : 8 + n].tobytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise CorruptFileError(f"{path}: safetensors header is not JSON: {e}") from None
        if not isinstance(header, dict):
            raise CorruptFileError(f"{path}: safetensors header is not a JSON object")
        self._start = 8 + n
        data_len = size - self._start
        meta = header.pop("__metadata__", None) or {}
        if not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
        ):
            raise CorruptFileError(f"{path}: safetensors __metadata__ is not a str -> str map")
        self._meta: dict[str, str] = meta
        entries = {}
        for key, info in header.items():
            entries[key] = self._check_entry(f"{path}: tensor {key!r}", info, data_len)
        # File order (data offsets): the order the tensors were written in.
        self._entries = dict(sorted(entries.items(), key=lambda kv: (kv[1][2], kv[1][3], kv[0])))
        end, previous = 0, None
        for key, (_, _, begin, stop) in self._entries.items():
            if begin < end:
                raise CorruptFileError(
                    f"{path}: tensor {key!r} at {begin} overlaps tensor {previous!r}"
                )
            if stop > begin:
                end, previous = stop, key

    @staticmethod
    def _check_entry(where: str, info: Any, data_len: int) -> tuple[np.dtype, tuple, int, int]:
        if not isinstance(info, dict):
            raise CorruptFileError(f"{where}: entry is not an object")
        dtype_name = SAFETENSORS_DTYPES.get(info.get("dtype"))  # type: ignore[arg-type]
        if dtype_name is None:
            raise UnsupportedFormatError(f"{where}: dtype {info.get('dtype')!r} not supported")
        shape, offsets = info.get("shape"), info.get("data_offsets")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise CorruptFileError(f"{where}: bad shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_len
        ):
            raise CorruptFileError(
                f"{where}: data_offsets {offsets!r} outside the {data_len}-byte data buffer"
            )
        dtype = _np_dtype(dtype_name)
        want = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if offsets[1] - offsets[0] != want:
            raise CorruptFileError(
                f"{where}: shape {shape} of {dtype_name} needs {want} bytes but "
                f"data_offsets {offsets} hold {offsets[1] - offsets[0]}"
            )
        return dtype, tuple(shape), offsets[0], offsets[1]

    def get(self, key: Key, copy: bool = False) -> np.ndarray:
        self._check_open()
        dtype, shape, begin, end = self._entry(key)
        if begin == end:
            arr = np.zeros(shape, dtype)
            arr.flags.writeable = copy
            return arr
        # A slice of the map viewed as the dtype: still a view, base the MappedBuffer.
        arr = self._bytes[self._start + begin : self._start + end].view(dtype).reshape(shape)
        return arr.copy() if copy else arr

    def verify(self) -> None:
        """Checks the layout the reference writer guarantees: tensors tile the data exactly.

        Raises:
            CorruptFileError: A gap between tensors, or data after the last one.
        """
        self._check_open()
        end = 0
        for key, (_, _, begin, stop) in self._entries.items():
            if begin != end:
                raise CorruptFileError(f"{self.path}: tensor {key!r} at {begin} leaves a gap at {end}")
            end = stop
        data_len = len(self._bytes) - self._start
        if end != data_len:
            raise CorruptFileError(
                f"{self.path}: tensors end at {end} but the data buffer has {data_len} bytes"
            )

    @property
    def metadata(self) -> dict[str, Any]:
        """``{"format": "safetensors"}`` plus the header's ``__metadata__`` strings."""
        return {"format": self.format, **self._meta}

    def object_graph_bytes(self) -> Optional[bytes]:
        """The TF object graph ``kerasave convert`` stored when converting a checkpoint, if any."""
        raw = self._meta.get(ST_OBJECT_GRAPH)
        if raw is None:
            return None
        try:
            return base64.b64decode(raw, validate=True)
        except ValueError:
            raise CorruptFileError(
                f"{self.path}: __metadata__ {ST_OBJECT_GRAPH!r} is not base64"
            ) from None

    def _close(self) -> None:
        # Arrays handed out keep the map alive through their base (the MappedBuffer).
        self._bytes = None


class NpzStore(_TableStore):
    """A numpy ``.npz``: keys are the member names without ``.npy``; pickled members are refused
    (what ``np.load(allow_pickle=False)`` reads).

    The zip goes through the same validated reader as ``.keras`` archives (no ``..`` or absolute
    names, no duplicates, local and central headers agree, zip-bomb caps), and each ``.npy``
    header's shape x itemsize must match its member's size. ``np.savez`` stores members
    uncompressed, so those arrays are zero-copy views of the memory map; DEFLATED members
    (``np.savez_compressed``) are inflated once per read. With ``verify`` a member's CRC-32 is
    checked the first time it is read.
    """

    format = "npz"

    def __init__(self, path: PathLike, verify: bool = True) -> None:
        from kerasave import _core

        super().__init__(path)
        self._verify = verify
        self._verified: set[str] = set()
        try:
            self._zip = _core.KerasArchive(os.fspath(self.path))
        except CorruptFileError as e:
            raise CorruptFileError(f"{self.path}: not a valid .npz (zip): {e}") from None
        for name, method, _offset, _size, _compressed in self._zip.members():
            if not name.endswith("/"):
                self._add_member(name, method)

    def _member_bytes(self, name: str) -> Any:
        """The member's bytes: a read-only view of the map when STORED, else inflated bytes."""
        if self._zip.stored_range(name) is not None:
            if self._verify and name not in self._verified:
                self._zip.verify(name)
                self._verified.add(name)
            return self._zip.view(name)
        return self._zip.read(name, verify=self._verify)

    def _add_member(self, name: str, method: str) -> None:
        where = f"{self.path}: member {name!r}"
        if not name.endswith(".npy"):
            raise UnsupportedFormatError(f"{where} is not a .npy array")
        key = name[: -len(".npy")]
        info = self._zip.member_info(name)
        size = info["size"]
        head_len = _NPY_PREAMBLE + NPY_MAX_HEADER
        if method == "stored":
            head = self._zip.view(name)[:head_len].tobytes()
        else:
            # Inflate only the start of the member: the header, not the whole array.
            with io.open(self.path, "rb") as f:  # `open` here is ks.open
                f.seek(info["data_offset"])
                compressed = f.read(min(info["compressed_size"], 2 * head_len + 1024))
            try:
                head = zlib.decompressobj(-zlib.MAX_WBITS).decompress(compressed, head_len)
            except zlib.error as e:
                raise CorruptFileError(f"{where}: bad DEFLATE data: {e}") from None
        try:
            f = io.BytesIO(head)
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                read_header = np.lib.format.read_array_header_1_0
            elif version == (2, 0):
                read_header = np.lib.format.read_array_header_2_0
            else:
                raise ValueError(f".npy format version {version} is not supported")
            shape, fortran, dtype = read_header(f, max_header_size=NPY_MAX_HEADER)
            header_len = f.tell()
        except (ValueError, EOFError) as e:
            raise CorruptFileError(f"{where}: bad .npy header: {e}") from None
        if dtype.hasobject:
            raise UnsupportedFormatError(f"{where} holds Python objects (pickle); refused")
        want = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if size - header_len != want:
            raise CorruptFileError(
                f"{where}: shape {list(shape)} of {dtype} needs {want} bytes but the member "
                f"holds {size - header_len}"
            )
        self._entries[key] = (dtype, tuple(shape), name, header_len, fortran)

    def get(self, key: Key, copy: bool = False) -> np.ndarray:
        self._check_open()
        dtype, shape, name, header_len, fortran = self._entry(key)
        raw = np.frombuffer(self._member_bytes(name), dtype=np.uint8)[header_len:]
        arr = raw.view(dtype).reshape(shape, order="F" if fortran else "C")
        if copy:
            return arr.copy(order="K")
        arr.flags.writeable = False
        return arr

    @property
    def metadata(self) -> dict[str, Any]:
        """``{"format": "npz", "members": n}``."""
        return {"format": self.format, "members": len(self._entries)}

    def _close(self) -> None:
        # Arrays handed out keep the map alive through their base.
        self._zip = None


def _safetensors_head(path: Path) -> bool:
    """The bytes of a safetensors file: a u64 header length that fits in the file, and a header
    that starts with ``{`` and ends with ``}`` (the reference writer pads it with spaces)."""
    try:
        with path.open("rb") as f:
            head = f.read(9)
            size = f.seek(0, os.SEEK_END)
            if len(head) < 9 or head[8:9] != b"{":
                return False
            n = int.from_bytes(head[:8], "little")
            if not 2 <= n <= min(SAFETENSORS_MAX_HEADER, size - 8):
                return False
            f.seek(8 + n - min(n, 64))
            return f.read(min(n, 64)).rstrip(b" ").endswith(b"}")
    except OSError:
        return False


def _zip_is_npz(path: Path) -> Optional[bool]:
    """Whether a zip holds only ``.npy`` members (an ``.npz``); None when the zip cannot be read
    or is empty (the name decides)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, EOFError, ValueError, OSError):
        return None
    if not names:
        return None
    return all(n.endswith(".npy") for n in names)


# -- sniffing -----------------------------------------------------------------------------------

#: A sniffer looks at a path and returns a kind name (a key of the store registry) or None.
Sniffer = Callable[[Path], Optional[str]]
#: A store factory takes (path, verify) and returns an open Store.
StoreFactory = Callable[[str, bool], Store]

_SNIFFERS: list[Sniffer] = []
_STORES: dict[str, StoreFactory] = {}


def register_sniffer(sniffer: Sniffer, *, first: bool = False) -> Sniffer:
    """Adds a format sniffer (usable as a decorator).

    Args:
        sniffer: Called with the path; returns a kind name or None. It must not raise for files
            of other formats.
        first: Try it before the built-in sniffers.

    Returns:
        The sniffer, unchanged.
    """
    if first:
        _SNIFFERS.insert(0, sniffer)
    else:
        _SNIFFERS.append(sniffer)
    return sniffer


def register_store(kind: str, factory: StoreFactory) -> None:
    """Registers the store that opens a sniffed kind.

    A kind can cover several formats: ``"hdf5"`` is sniffed from the signature and its factory
    decides between ``keras_weights_h5``, ``legacy_h5_model`` and ``legacy_h5_weights``.

    Args:
        kind: A name a sniffer returns.
        factory: ``factory(path, verify) -> Store``.
    """
    _STORES[kind] = factory


def _head_tail(path: Path, n: int = 8) -> tuple[bytes, bytes]:
    with path.open("rb") as f:
        head = f.read(n)
        size = f.seek(0, os.SEEK_END)
        if size <= n:
            return head, head
        f.seek(size - n)
        return head, f.read(n)


def _has_hdf5_signature(path: Path) -> bool:
    # The superblock may follow a user block of 512, 1024, 2048, ... bytes.
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            offset = 0
            while offset + 8 <= size:
                f.seek(offset)
                if f.read(8) == HDF5_SIGNATURE:
                    return True
                offset = 512 if offset == 0 else offset * 2
    except OSError:
        return False
    return False


@register_sniffer
def _sniff_directory(path: Path) -> Optional[str]:
    if not path.is_dir():
        return None
    if (path / "config.json").is_file() and (path / WEIGHTS_MEMBER).is_file():
        return "keras_directory"
    if any((path / n).is_file() for n in ("saved_model.pb", "saved_model.pbtxt", "saved_model.cpb")):
        return "saved_model"
    if (path / "checkpoint").is_file() or any(path.glob("*.index")):
        return "tf_checkpoint"
    return None


@register_sniffer
def _sniff_magic(path: Path) -> Optional[str]:
    if not path.is_file():
        return None
    try:
        head, tail = _head_tail(path)
    except OSError:
        return None
    if head.startswith(ZIP_SIGNATURE):
        # A .keras name is a claim its store checks; other zips are an .npz when they hold only
        # .npy members, by the name when the members cannot be listed.
        npz = None if path.name.endswith(".keras") else _zip_is_npz(path)
        if npz is None:
            npz = path.name.endswith(".npz")
        return "npz" if npz else "keras_archive"
    if _safetensors_head(path):
        return "safetensors"
    if _has_hdf5_signature(path):
        return "hdf5"
    if tail == SSTABLE_MAGIC:
        return "tf_checkpoint"
    if head.lstrip()[:1] == b"{" and _is_shard_index(path):
        return "keras_weights_sharded"
    return None


def _is_shard_index(path: Path) -> bool:
    """A JSON object with a ``weight_map`` (Keras's sharded-weights index), whatever its name;
    a damaged ``*.weights.json`` counts too, so its store can say what is wrong."""
    if path.name.endswith(".weights.json"):
        return True
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            return False
        index = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(index, dict) and isinstance(index.get("weight_map"), dict)


@register_sniffer
def _sniff_checkpoint_names(path: Path) -> Optional[str]:
    # After the magic numbers: a damaged index (truncated, wrong magic) must still reach the
    # checkpoint reader, which says exactly what is wrong with it.
    if path.is_dir():
        return None
    name = path.name
    if path.is_file():
        if name.endswith(".index"):
            return "tf_checkpoint"
        stem, sep, _ = name.rpartition(".data-")
        if sep and path.with_name(stem + ".index").is_file():
            return "tf_checkpoint"
    # A bare prefix "ckpt-3": the prefix itself is usually not a file.
    if path.with_name(name + ".index").is_file():
        return "tf_checkpoint"
    return None


#: The last-resort sniffer's name rules, first match wins.
NAME_KINDS = (
    ((".h5", ".hdf5"), "hdf5"),
    (".keras", "keras_archive"),
    (".weights.json", "keras_weights_sharded"),
    (".safetensors", "safetensors"),
    (".npz", "npz"),
)


@register_sniffer
def _sniff_names(path: Path) -> Optional[str]:
    # Last resort, by name: an empty or damaged file named like a known artifact reaches the
    # store for its format, which says what is wrong with it (instead of "not recognised").
    if not path.is_file():
        return None
    return next((kind for suffix, kind in NAME_KINDS if path.name.endswith(suffix)), None)


def sniff(path: PathLike) -> str:
    """Finds the kind of artifact at ``path`` from its bytes (and directory contents).

    Args:
        path: A file, a directory, or a checkpoint prefix.

    Returns:
        A kind name such as ``"tf_checkpoint"``, ``"saved_model"``, ``"hdf5"``,
        ``"keras_archive"``, ``"keras_directory"``, ``"keras_weights_sharded"``,
        ``"safetensors"`` or ``"npz"``.

    Raises:
        FileNotFoundError: Nothing exists at ``path`` (nor ``path.index``).
        UnsupportedFormatError: The bytes match no known format.
    """
    p = Path(os.fspath(path))
    for sniffer in _SNIFFERS:
        kind = sniffer(p)
        if kind is not None:
            return kind
    if not p.exists():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), os.fspath(path))
    what = "directory" if p.is_dir() else "file"
    raise UnsupportedFormatError(
        f"{os.fspath(path)}: not a recognised Keras or TensorFlow artifact ({what}); expected a "
        ".keras archive, an HDF5 .h5 file, .weights.json, a TF checkpoint, a SavedModel directory, "
        ".safetensors or .npz"
    )


def open(path: PathLike, verify: bool = True) -> Store:  # noqa: A001 - the public name is `ks.open`
    """Opens any supported artifact as a read-only mapping of tensors.

    Args:
        path: A ``.keras`` archive, ``.weights.h5``, ``.weights.json``, legacy ``.h5``/``.hdf5``,
            a TF checkpoint prefix (``ckpt``, ``ckpt-3``) or its directory, a SavedModel
            directory, a ``.safetensors`` or an ``.npz`` file.
        verify: Check every stored checksum the first time a tensor is read; ``False`` skips that
            for pure zero-copy reads.

    Returns:
        A :class:`Store`; use it as a context manager.

    Raises:
        FileNotFoundError: Nothing exists at ``path``.
        UnsupportedFormatError: A recognised format that this version cannot open, or none.
        CorruptFileError: The file is malformed.
    """
    kind = sniff(path)
    factory = _STORES.get(kind)
    if factory is None:
        description = KIND_DESCRIPTIONS.get(kind, repr(kind))
        raise UnsupportedFormatError(
            f"{os.fspath(path)}: recognised {description}, but reading it is not supported yet"
        )
    return factory(os.fspath(path), verify)


register_store("tf_checkpoint", lambda path, verify: CheckpointStore(path, verify=verify))


def _sniff_saved_model_pb(path: Path) -> Optional[str]:
    # The path of a SavedModel's saved_model.pb itself (the bytes have no magic number).
    return "saved_model" if path.name == "saved_model.pb" and path.is_file() else None


def _open_saved_model(path: str, verify: bool) -> Store:
    from kerasave._saved_model import SavedModelStore  # imports this module

    return SavedModelStore(path, verify=verify)


register_sniffer(_sniff_saved_model_pb, first=True)
register_store("saved_model", _open_saved_model)
register_store("hdf5", _open_hdf5)
register_store("keras_archive", _open_zip)
register_store("keras_directory", lambda path, verify: KerasDirectoryStore(path))
register_store("keras_weights_sharded", lambda path, verify: ShardedWeightsStore(path))
register_store("safetensors", lambda path, verify: SafetensorsStore(path))
register_store("npz", lambda path, verify: NpzStore(path, verify))
