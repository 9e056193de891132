"""TF checkpoints (tensor bundles) without TensorFlow; names follow ``tf.train``.

::

    import kerasave as ks

    reader = ks.checkpoint.load_checkpoint("training/")        # a directory, prefix or .index
    kernel = reader.get_tensor("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE")
    ks.checkpoint.list_variables("training/")                 # [(key, shape), ...] sorted
    ks.checkpoint.save_checkpoint("out/ckpt", {"w/.ATTRIBUTES/VARIABLE_VALUE": kernel})

Files written by :func:`save_checkpoint` are readable by ``tf.train.load_checkpoint`` and, when
the keys follow the object-path layout, restorable by ``tf.train.Checkpoint.restore``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterator, Mapping, Optional, Union

import numpy as np

from kerasave import _core

__all__ = [
    "OBJECT_GRAPH_PROTO_KEY",
    "Attribute",
    "CheckpointReader",
    "ObjectGraph",
    "ObjectNode",
    "ObjectReference",
    "SlotVariable",
    "checkpoint_key",
    "CheckpointState",
    "escape_local_name",
    "get_checkpoint_state",
    "latest_checkpoint",
    "list_variables",
    "load_checkpoint",
    "save_checkpoint",
    "unescape_local_name",
    "update_checkpoint_state",
]

Key = Union[str, bytes]
PathLike = Union[str, "os.PathLike[str]"]

#: The bundle key holding the serialized ``TrackableObjectGraph``.
OBJECT_GRAPH_PROTO_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_ATTRIBUTES = "/.ATTRIBUTES/"


# -- object graph -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Attribute:
    """A tensor saved for a node (``SerializedTensor``).

    Attributes:
        name: The attribute name, such as ``"VARIABLE_VALUE"``.
        full_name: The variable's name in the saving program (``"dense/kernel"``).
        checkpoint_key: The bundle key (for legacy multi-tensor saveables only a key prefix).
    """

    name: str
    full_name: str
    checkpoint_key: str


@dataclasses.dataclass(frozen=True)
class ObjectReference:
    """A child edge (``ObjectReference``).

    Attributes:
        node_id: The child's node id.
        local_name: The edge name, unescaped (as the parent calls the child).
    """

    node_id: int
    local_name: str


@dataclasses.dataclass(frozen=True)
class SlotVariable:
    """An optimizer slot (legacy optimizers): stored on the optimizer's node.

    Attributes:
        original_variable_node_id: The node of the variable the slot belongs to.
        slot_name: The slot name, such as ``"m"``.
        slot_variable_node_id: The node holding the slot's value.
    """

    original_variable_node_id: int
    slot_name: str
    slot_variable_node_id: int


@dataclasses.dataclass(frozen=True)
class ObjectNode:
    """One ``TrackableObject``.

    Attributes:
        id: The node id (index in the graph); 0 is the root.
        path: Unescaped local names from the root along the first BFS path, ``()`` for the root,
            None for nodes no child edge reaches (slot variables).
        children: Child edges in stored order.
        attributes: The tensors saved for this node.
        slot_variables: Slot variables recorded on this (optimizer) node.
        registered_saver: ``(saver name, object name)`` for nodes saved by a registered saver.
        object_path: The escaped ``/``-joined path TF derives keys from (for slot variables
            ``<variable>/.OPTIMIZER_SLOT/<optimizer>/<slot>``); None for unreachable nodes.
    """

    id: int
    path: Optional[tuple[str, ...]]
    children: tuple[ObjectReference, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    slot_variables: tuple[SlotVariable, ...] = ()
    registered_saver: Optional[tuple[str, str]] = None
    object_path: Optional[str] = None

    @property
    def path_str(self) -> Optional[str]:
        """The object path as TF builds checkpoint keys from it (escaped, ``/``-joined)."""
        if self.object_path is not None:
            return self.object_path
        if self.path is None:
            return None
        return "/".join(_core.escape_local_name(p) for p in self.path)


@dataclasses.dataclass(frozen=True)
class ObjectGraph:
    """A decoded ``TrackableObjectGraph``.

    Attributes:
        nodes: Every node, indexed by id.
    """

    nodes: tuple[ObjectNode, ...]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "ObjectGraph":
        """Builds the tree from the dict that ``_core`` returns.

        Args:
            raw: ``{"nodes": [{"id", "path", "object_path", "children", "attributes",
                "slot_variables", "registered_saver"}]}``.

        Returns:
            The graph.
        """
        nodes = []
        for n in raw["nodes"]:
            path = n.get("path")
            nodes.append(
                ObjectNode(
                    id=int(n["id"]),
                    path=None if path is None else tuple(path),
                    children=tuple(
                        ObjectReference(local_name=str(c[0]), node_id=int(c[1]))
                        for c in n.get("children", ())
                    ),
                    attributes=tuple(Attribute(*a) for a in n.get("attributes", ())),
                    slot_variables=tuple(SlotVariable(*s) for s in n.get("slot_variables", ())),
                    registered_saver=(
                        None if n.get("registered_saver") is None else tuple(n["registered_saver"])
                    ),
                    object_path=n.get("object_path"),
                )
            )
        return cls(nodes=tuple(nodes))

    @classmethod
    def from_bytes(cls, serialized: bytes) -> "ObjectGraph":
        """Decodes a serialized ``TrackableObjectGraph``.

        Args:
            serialized: The proto bytes (the ``_CHECKPOINTABLE_OBJECT_GRAPH`` string).

        Returns:
            The graph.

        Raises:
            CorruptFileError: The bytes are not a valid graph.
        """
        return cls.from_dict(_core.describe_object_graph(bytes(serialized)))

    @property
    def root(self) -> ObjectNode:
        """Node 0."""
        return self.nodes[0]

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[ObjectNode]:
        return iter(self.nodes)

    def __getitem__(self, node_id: int) -> ObjectNode:
        return self.nodes[node_id]

    def child(self, node: Union[int, ObjectNode], local_name: str) -> Optional[ObjectNode]:
        """Returns the first child of ``node`` named ``local_name``, or None."""
        parent = self.nodes[node] if isinstance(node, int) else node
        for ref in parent.children:
            if ref.local_name == local_name:
                return self.nodes[ref.node_id]
        return None

    def attributes(self) -> Iterator[tuple[ObjectNode, Attribute]]:
        """Yields every ``(node, attribute)`` pair in node order."""
        for node in self.nodes:
            for attribute in node.attributes:
                yield node, attribute

    def slot_variables(self) -> Iterator[tuple[ObjectNode, SlotVariable]]:
        """Yields every ``(optimizer node, slot variable)`` pair."""
        for node in self.nodes:
            for slot in node.slot_variables:
                yield node, slot

    def summary(self) -> dict[str, int]:
        """Counts: nodes, edges (children), attributes, slot variables."""
        return {
            "nodes": len(self.nodes),
            "children": sum(len(n.children) for n in self.nodes),
            "attributes": sum(len(n.attributes) for n in self.nodes),
            "slot_variables": sum(len(n.slot_variables) for n in self.nodes),
        }


# -- reading ------------------------------------------------------------------------------------


class CheckpointReader:
    """Reads a checkpoint, like ``tf.train.load_checkpoint``'s result.

    Tensors come back as read-only numpy arrays that view the data files' memory maps where the
    bytes allow (little-endian, unsliced, fixed-size); they stay valid after the reader is gone.

    Args:
        path: A prefix, its ``.index`` / ``.data-*`` file, or a directory with a ``checkpoint``
            state file.
        verify: Check each tensor's CRC32C the first time it is read.

    Raises:
        FileNotFoundError: No checkpoint at ``path``.
        CorruptFileError: The index is malformed.
    """

    def __init__(self, path: PathLike, verify: bool = True) -> None:
        self._reader = _core.CheckpointReader(os.fspath(path))
        self._verify = verify

    @property
    def prefix(self) -> str:
        """The resolved checkpoint prefix."""
        return self._reader.prefix

    @property
    def num_shards(self) -> int:
        """The number of ``.data-*`` files."""
        return self._reader.num_shards

    def keys(self) -> list[Key]:
        """Every tensor key, sorted bytewise (slice keys of partitioned tensors are hidden)."""
        return self._reader.keys()

    def has_tensor(self, key: Key) -> bool:
        """Whether the checkpoint holds a tensor under ``key``."""
        return self._reader.has_key(key)

    def get_tensor(self, key: Key, copy: bool = False) -> np.ndarray:
        """Reads one tensor.

        Args:
            key: A checkpoint key.
            copy: Return a private writable copy instead of a read-only view.

        Returns:
            The tensor; strings come back as an object array of ``bytes``.

        Raises:
            KeyError: ``key`` is not in the checkpoint.
            CorruptFileError: The bytes fail their checksum or do not add up.
        """
        return self._reader.get(key, verify=self._verify, copy=copy)

    def get_tensors(self, keys: list[Key], copy: bool = False) -> list[np.ndarray]:
        """Reads several tensors in one parallel call, in the order of ``keys``."""
        return self._reader.get_many(keys, verify=self._verify, copy=copy)

    def get_variable_to_shape_map(self) -> dict[Key, list[int]]:
        """Maps every key to its shape as a list of ints (``[]`` for scalars)."""
        r = self._reader
        return {k: list(r.shape(k)) for k in r.keys()}

    def get_variable_to_dtype_map(self) -> dict[Key, np.dtype]:
        """Maps every key to its numpy dtype (``object`` for strings)."""
        r = self._reader
        return {k: r.dtype(k) for k in r.keys()}

    def object_graph(self) -> Optional[ObjectGraph]:
        """Decodes ``_CHECKPOINTABLE_OBJECT_GRAPH``; None for checkpoints without one.

        Raises:
            CorruptFileError: The graph is malformed (bad proto, node ids out of range).
        """
        raw = self._reader.object_graph()
        return None if raw is None else ObjectGraph.from_dict(raw)

    def verify(self) -> None:
        """Checks every checksum and structural rule.

        Raises:
            CorruptFileError: Something does not check out.
        """
        self._reader.verify_all()

    def __contains__(self, key: object) -> bool:
        return isinstance(key, (str, bytes)) and self._reader.has_key(key)

    def __len__(self) -> int:
        return len(self._reader)

    def __repr__(self) -> str:
        return f"<CheckpointReader prefix={self.prefix!r} tensors={len(self)}>"


def load_checkpoint(ckpt_dir_or_file: PathLike, verify: bool = True) -> CheckpointReader:
    """Opens a checkpoint for reading, like ``tf.train.load_checkpoint``.

    Args:
        ckpt_dir_or_file: A directory (its latest checkpoint is used), a prefix, or one of the
            prefix's files.
        verify: Check each tensor's CRC32C the first time it is read.

    Returns:
        A :class:`CheckpointReader`.

    Raises:
        FileNotFoundError: Nothing to read at that path.
        CorruptFileError: The index is malformed.
    """
    return CheckpointReader(ckpt_dir_or_file, verify=verify)


def list_variables(ckpt_dir_or_file: PathLike) -> list[tuple[Key, list[int]]]:
    """Lists ``(key, shape)`` pairs sorted by key, like ``tf.train.list_variables``.

    As in TF, ``_CHECKPOINTABLE_OBJECT_GRAPH`` is listed (shape ``[]``) when present.

    Args:
        ckpt_dir_or_file: A directory, a prefix, or one of the prefix's files.

    Returns:
        The sorted list.
    """
    reader = load_checkpoint(ckpt_dir_or_file, verify=False)
    shapes = reader.get_variable_to_shape_map()
    return [(k, shapes[k]) for k in sorted(shapes, key=_sort_key)]


def _sort_key(key: Key) -> bytes:
    return key if isinstance(key, bytes) else key.encode("utf-8")


def latest_checkpoint(checkpoint_dir: PathLike) -> Optional[str]:
    """Finds the latest checkpoint prefix named by ``checkpoint_dir/checkpoint``.

    Follows ``tf.train.latest_checkpoint``: None when the state file is missing or unparsable,
    or when the named checkpoint's ``.index`` does not exist.

    Args:
        checkpoint_dir: The directory holding the ``checkpoint`` state file.

    Returns:
        The prefix, or None.
    """
    return _core.latest_checkpoint(os.fspath(checkpoint_dir))


@dataclasses.dataclass(frozen=True)
class CheckpointState:
    """The ``checkpoint`` state file of a directory (``tensorflow.CheckpointState``).

    Attributes:
        model_checkpoint_path: The latest checkpoint prefix.
        all_model_checkpoint_paths: Every checkpoint still kept, oldest first.
        all_model_checkpoint_timestamps: Seconds since the epoch, parallel to the paths
            (written by ``tf.train.CheckpointManager``; often empty).
        last_preserved_timestamp: Time of the last checkpoint kept for good (0 if unset).
    """

    model_checkpoint_path: str
    all_model_checkpoint_paths: tuple[str, ...] = ()
    all_model_checkpoint_timestamps: tuple[float, ...] = ()
    last_preserved_timestamp: float = 0.0


def get_checkpoint_state(checkpoint_dir: PathLike) -> Optional[CheckpointState]:
    """Reads ``checkpoint_dir/checkpoint`` (``tf.train.get_checkpoint_state``).

    Relative paths are joined to ``checkpoint_dir``, as TF does.

    Args:
        checkpoint_dir: The directory holding the state file.

    Returns:
        The state, or None when the file is missing or does not parse.
    """
    directory = os.fspath(checkpoint_dir)
    raw = _core.read_checkpoint_state(directory)
    if raw is None:
        return None

    def absolute(path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(directory, path)

    return CheckpointState(
        model_checkpoint_path=absolute(raw["model_checkpoint_path"]),
        all_model_checkpoint_paths=tuple(absolute(p) for p in raw["all_model_checkpoint_paths"]),
        all_model_checkpoint_timestamps=tuple(raw["all_model_checkpoint_timestamps"]),
        last_preserved_timestamp=raw["last_preserved_timestamp"],
    )


def update_checkpoint_state(
    save_dir: PathLike,
    model_checkpoint_path: PathLike,
    all_model_checkpoint_paths: Optional[list[PathLike]] = None,
    all_model_checkpoint_timestamps: Optional[list[float]] = None,
    last_preserved_timestamp: Optional[float] = None,
) -> None:
    """Writes ``save_dir/checkpoint`` atomically, so ``tf.train.latest_checkpoint`` finds a prefix.

    Like ``tf.compat.v1.train.update_checkpoint_state``: the latest path is appended to the list
    when missing. Paths inside ``save_dir`` are stored relative to it (as ``Checkpoint.save`` and
    ``CheckpointManager`` do), so the directory can be moved.

    Args:
        save_dir: Directory of the state file.
        model_checkpoint_path: The latest checkpoint prefix.
        all_model_checkpoint_paths: Every prefix kept, oldest first; default: just the latest.
        all_model_checkpoint_timestamps: Optional timestamps parallel to the paths.
        last_preserved_timestamp: Optional, see :class:`CheckpointState`.

    Raises:
        ValueError: Timestamps and paths differ in number.
        OSError: The file cannot be written.
    """
    directory = os.fspath(save_dir)

    def stored(path: PathLike) -> str:
        text = os.fspath(path)
        if not os.path.isabs(text):
            return text
        relative = os.path.relpath(text, directory)
        return text if relative.startswith(os.pardir) else relative

    latest = stored(model_checkpoint_path)
    paths = [stored(p) for p in (all_model_checkpoint_paths or [])]
    if not paths or paths[-1] != latest:
        paths = [p for p in paths if p != latest] + [latest]
    timestamps = list(all_model_checkpoint_timestamps or [])
    if timestamps and len(timestamps) != len(paths):
        raise ValueError(
            f"{len(timestamps)} timestamps for {len(paths)} checkpoint paths; they must match"
        )
    _core.write_checkpoint_state(
        directory, latest, paths, [float(t) for t in timestamps], float(last_preserved_timestamp or 0.0)
    )


escape_local_name = _core.escape_local_name
unescape_local_name = _core.unescape_local_name
checkpoint_key = _core.checkpoint_key


# -- writing ------------------------------------------------------------------------------------


def _to_writable(key: Key, value: Any) -> np.ndarray:
    """Converts a value into what ``_core.save_checkpoint`` takes: a C-contiguous little-endian
    fixed-size array, or an object array of ``bytes`` for strings."""
    if isinstance(value, (bytes, str)):
        value = np.array(value, dtype=object)
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind in "US" or (kind == "O"):
        flat = arr.reshape(-1)
        out = np.empty(flat.shape, dtype=object)
        for i, item in enumerate(flat):
            if isinstance(item, (bytes, np.bytes_)):
                out[i] = bytes(item)
            elif isinstance(item, (str, np.str_)):
                out[i] = str(item).encode("utf-8")
            else:
                raise TypeError(
                    f"{key!r}: an object array can only hold bytes or str (for DT_STRING), "
                    f"found {type(item).__name__}"
                )
        return out.reshape(arr.shape)
    if arr.dtype.hasobject or arr.dtype.fields is not None or arr.dtype.subdtype is not None:
        raise TypeError(f"{key!r}: structured dtype {arr.dtype} cannot be stored in a checkpoint")
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    # Not np.ascontiguousarray: it turns 0-d arrays (scalars) into shape (1,).
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def save_checkpoint(
    prefix: PathLike,
    tensors: Mapping[Key, Any],
    *,
    object_graph: Union[None, bool, bytes] = None,
    max_shard_size: Optional[int] = None,
    update_state: bool = False,
    fsync: bool = True,
) -> str:
    """Writes a checkpoint that ``tf.train.load_checkpoint`` reads.

    Data is written in the mapping's order (the object graph last, as TF does); the index is
    sorted. Files appear atomically: the shards first, ``.index`` last. Parent directories are
    created, as ``tf.train.Checkpoint.write`` does. The ``checkpoint`` state file is only
    written with ``update_state=True``.

    Args:
        prefix: The checkpoint prefix, such as ``"out/ckpt-1"``.
        tensors: Key -> array. Numeric arrays of any numpy or ml_dtypes dtype (bfloat16,
            float8_*, int4, ...), bool and complex; object/``str``/``bytes`` arrays become
            DT_STRING (``str`` is UTF-8 encoded).
        object_graph: None: build a ``TrackableObjectGraph`` from the keys when every key holds
            ``"/.ATTRIBUTES/"`` (so ``tf.train.Checkpoint.restore`` works), else write none.
            False: write none. Bytes: write this serialized graph.
        max_shard_size: Pack whole tensors greedily into ``.data`` shards of at most this many
            bytes (a larger tensor gets a shard of its own). None: one shard.
        fsync: Sync every file to disk before renaming it into place, so even a power cut
            leaves either the old checkpoint or the new one. False still writes atomically for
            every process (TF's own writer never syncs) and is faster for many small tensors.
        update_state: Also record the prefix in the directory's ``checkpoint`` state file (as
            ``tf.train.Checkpoint.save`` does), so ``latest_checkpoint`` finds it.

    Returns:
        The prefix, as a string.

    Raises:
        ValueError: An unusable key or value, or a conflicting object graph.
        TypeError: A value that is not a tensor.
        OSError: The files cannot be written.
    """
    prefix_str = os.fspath(prefix)
    if max_shard_size is not None and max_shard_size <= 0:
        raise ValueError(f"max_shard_size must be positive, got {max_shard_size}")
    keys: list[Key] = []
    arrays: list[np.ndarray] = []
    graph_value: Any = None
    for key, value in tensors.items():
        if not isinstance(key, (str, bytes)):
            raise TypeError(f"checkpoint keys are str or bytes, got {type(key).__name__}")
        if key in (OBJECT_GRAPH_PROTO_KEY, OBJECT_GRAPH_PROTO_KEY.encode()):
            graph_value = value
            continue
        keys.append(key)
        arrays.append(_to_writable(key, value))

    if graph_value is not None and object_graph not in (None, False):
        raise ValueError(
            f"both tensors[{OBJECT_GRAPH_PROTO_KEY!r}] and object_graph= were given; pass one"
        )
    graph: Optional[bytes]
    if object_graph is False:
        if graph_value is not None:
            raise ValueError(
                f"tensors[{OBJECT_GRAPH_PROTO_KEY!r}] was given with object_graph=False; "
                "drop one of them"
            )
        graph = None
    elif isinstance(object_graph, (bytes, bytearray, memoryview)):
        graph = bytes(object_graph)
    elif object_graph is None or object_graph is True:
        if graph_value is not None:
            graph = _graph_bytes(graph_value)
        elif keys and all(isinstance(k, str) and _ATTRIBUTES in k for k in keys):
            graph = _core.build_object_graph([str(k) for k in keys])
        elif object_graph is True:
            raise ValueError(
                f"object_graph=True needs every key to contain {_ATTRIBUTES!r} (object-path keys)"
            )
        else:
            graph = None
    else:
        raise TypeError(f"object_graph must be None, False or bytes, got {type(object_graph).__name__}")
    if graph is not None:
        keys.append(OBJECT_GRAPH_PROTO_KEY)
        arrays.append(np.array(graph, dtype=object))

    parent = os.path.dirname(prefix_str)
    if parent:
        os.makedirs(parent, exist_ok=True)
    _core.save_checkpoint(prefix_str, keys, arrays, max_shard_size, fsync)
    if update_state:
        directory = parent or os.curdir
        previous = get_checkpoint_state(directory)
        kept = list(previous.all_model_checkpoint_paths) if previous else []
        update_checkpoint_state(directory, os.path.abspath(prefix_str), [os.path.abspath(p) for p in kept])
    return prefix_str


def _graph_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    arr = np.asarray(value)
    if arr.shape == () and isinstance(arr.item(), bytes):
        return arr.item()
    raise ValueError(f"{OBJECT_GRAPH_PROTO_KEY} must be a scalar bytes value")

