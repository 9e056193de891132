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
"""

from __future__ import annotations

import abc
import errno
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np

from kerasave.errors import UnsupportedFormatError

__all__ = [
    "CheckpointStore",
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
}


class Store(abc.ABC):
    """A read-only mapping from the native keys of an artifact to numpy arrays.

    Subclasses implement the abstract methods; iteration, ``len``, ``in``, ``[]``, :meth:`items`
    and the context-manager protocol come from here.

    Attributes:
        format: The sniffed format name, one of ``"keras_archive"``, ``"keras_weights_h5"``,
            ``"keras_weights_sharded"``, ``"legacy_h5_model"``, ``"legacy_h5_weights"``,
            ``"tf_checkpoint"`` or ``"saved_model"``.
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
    if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
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
        return "keras_archive"
    if _has_hdf5_signature(path):
        return "hdf5"
    if tail == SSTABLE_MAGIC:
        return "tf_checkpoint"
    if path.name.endswith(".weights.json") and head.lstrip()[:1] == b"{":
        return "keras_weights_sharded"
    return None


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


def sniff(path: PathLike) -> str:
    """Finds the kind of artifact at ``path`` from its bytes (and directory contents).

    Args:
        path: A file, a directory, or a checkpoint prefix.

    Returns:
        A kind name such as ``"tf_checkpoint"``, ``"saved_model"``, ``"hdf5"``,
        ``"keras_archive"`` or ``"keras_weights_sharded"``.

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
        ".keras archive, an HDF5 .h5 file, .weights.json, a TF checkpoint or a SavedModel directory"
    )


def open(path: PathLike, verify: bool = True) -> Store:  # noqa: A001 - the public name is `ks.open`
    """Opens any supported artifact as a read-only mapping of tensors.

    Args:
        path: A ``.keras`` archive, ``.weights.h5``, ``.weights.json``, legacy ``.h5``/``.hdf5``,
            a TF checkpoint prefix (``ckpt``, ``ckpt-3``) or its directory, or a SavedModel
            directory.
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
