"""The ``kerasave`` command line.

::

    kerasave inspect PATH [--json]   format, config summary, metadata, tensor table, object graph
    kerasave verify PATH             every checksum and structural rule; exit 0 = sound
    kerasave convert SRC DST [--format F] [--max-shard-size BYTES]
                                     tensors from any readable artifact into a TF checkpoint,
                                     .weights.h5, sharded .weights.json, .safetensors or .npz
    kerasave convert SRC DST.keras|DST.h5 [--config MODEL] [--model] [--unsafe]
                                     a model: legacy .h5 / tf_keras SavedModel / checkpoint +
                                     --config -> .keras (Keras 2 -> 3), .keras -> .h5, ...
    kerasave diff A B [--by-order]   tensors that differ, by key (or by position in the model's
                                     weight order); exit 0 = equal, 1 = different
    kerasave demo [--out DIR]        a tour on a bundled sample model written by Keras 3: load,
                                     summary, predict, every format written and reloaded,
                                     timings; then a Keras 2 checkpoint migrated to .keras

PATH / SRC / A / B: anything ``ks.open`` reads (``.keras``, ``.weights.h5``, ``.weights.json``,
legacy ``.h5``, TF checkpoints, SavedModels, ``.safetensors``, ``.npz``). Reading is ``ks.open``,
writing ``ks.save_tensors``; this module only drives them.

Exit codes: 0 success (diff: equal), 1 the file is corrupt (diff: the tensors differ), 2 usage
error, missing file or unsupported format.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Optional, Sequence, TextIO

import numpy as np

import kerasave
from kerasave._progress import Progress, human_bytes, run_with_spinner
from kerasave._writers import format_for_path
from kerasave.checkpoint import OBJECT_GRAPH_PROTO_KEY as OBJECT_GRAPH_KEY
from kerasave.errors import CorruptFileError, KerasaveError, UnsupportedFormatError
from kerasave.storage import ST_OBJECT_GRAPH, ST_SOURCE_FORMAT, SafetensorsStore, Store

__all__ = ["main"]

EXIT_OK = 0
EXIT_CORRUPT = 1
EXIT_USAGE = 2
#: ``diff``: the artifacts differ (1, like ``diff(1)`` and ``cmp``).
EXIT_DIFFERENT = 1

#: The bundled tf_keras checkpoint (tests/data/make_tf_fixtures.py writes it).
DEMO_DIR = Path(__file__).parent / "data" / "demo"
#: The bundled sample model written by Keras 3 (tools/make_demo_model.py writes it).
SAMPLE_DIR = Path(__file__).parent / "data" / "sample"


def _key_text(key: Any) -> str:
    """A key for display: str as is, non-UTF-8 bytes escaped."""
    if isinstance(key, bytes):
        return key.decode("ascii", "backslashreplace")
    return str(key)


def _shape_text(shape: Sequence[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _ordered_keys(store: Store) -> list[Any]:
    """The store's keys in file order where known (TF: data offsets), else as listed."""
    keys = store.keys()
    reader = getattr(store, "reader", None)
    if store.format == "tf_checkpoint" and reader is not None and hasattr(reader, "location"):
        return sorted(keys, key=lambda k: reader.location(k)[:2])
    return keys


# -- config summary --------------------------------------------------------------------------


def _config_summary(config: Any) -> Optional[dict[str, Any]]:
    """``{"class_name", "name", "layers"}`` of a model config (``layers`` None when the config
    does not list them, as for subclassed models)."""
    if not isinstance(config, dict):
        return None
    inner = config.get("config")
    inner = inner if isinstance(inner, dict) else {}
    layers = inner.get("layers")
    return {
        "class_name": config.get("class_name"),
        "name": inner.get("name"),
        "layers": len(layers) if isinstance(layers, list) else None,
    }


def _config_text(summary: dict[str, Any]) -> str:
    text = str(summary["class_name"])
    if summary.get("name"):
        text += f" {summary['name']!r}"
    if summary.get("layers") is not None:
        n = summary["layers"]
        text += f", {n} layer{'s' if n != 1 else ''}"
    return text


# -- convert ---------------------------------------------------------------------------------

#: What ``convert`` writes. ``.keras`` archives, legacy ``.h5`` files and SavedModels hold a model
#: and are only read: a tensor-level conversion has no model to put in them.
WRITE_FORMATS = ("tf_checkpoint", "keras_weights_h5", "keras_weights_sharded", "safetensors",
                 "npz")


#: Formats only a model-level conversion writes (``--format``).
MODEL_ONLY_FORMATS = ("keras_archive", "legacy_h5_model", "saved_model")

#: Keras 3 weight layouts (``layers/<name>/vars/<i>``): their group attributes carry over.
_KERAS3_WEIGHTS = ("keras_weights_h5", "keras_weights_sharded")
_KERAS3_MODELS = ("keras_archive",)


class UsageError(Exception):
    """A command line that cannot be carried out as given (exit code 2)."""


def _dest_format(dst: str, explicit: Optional[str]) -> str:
    if explicit is not None:
        return explicit
    try:
        fmt = format_for_path(dst)
    except ValueError:
        return "tf_checkpoint"  # a prefix may have dots ("model.v2/ckpt-1.5")
    if fmt == "keras_archive":
        raise UsageError(
            f"{dst}: convert writes tensors, and a .keras archive needs a model; write "
            ".weights.h5, .weights.json, .safetensors, .npz or a checkpoint prefix instead"
        )
    if fmt in ("legacy_h5_model", "legacy_h5_weights"):
        raise UsageError(
            f"{dst}: legacy .h5 files are only read by convert; name the output *.weights.h5 "
            "for Keras's weights format"
        )
    return fmt


def _identity(path: Path) -> Optional[tuple[int, int]]:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _files_of(path: Path) -> set[tuple[int, int]]:
    """Identities of the files at ``path``: the file, or everything under a directory."""
    if path.is_dir():
        found = (p for p in path.rglob("*") if p.is_file())
    else:
        found = iter([path])
    return {i for i in map(_identity, found) if i is not None}


def _source_files(store: Store, src: str) -> set[tuple[int, int]]:
    ids = _files_of(Path(src))
    prefix = getattr(store, "prefix", None) if store.format == "tf_checkpoint" else None
    if prefix:
        p = Path(prefix)
        ids |= _files_of(p.with_name(p.name + ".index"))
        for data in p.parent.glob(p.name + ".data-*"):
            ids |= _files_of(data)
    for shard in getattr(store, "shards", None) or []:  # sharded .weights.json
        ids |= _files_of(Path(shard))
    return ids


def _dest_files(fmt: str, dst: str) -> list[Path]:
    """Every file the writer may replace (existing ones matter)."""
    p = Path(dst)
    if fmt == "tf_checkpoint":
        return [p.with_name(p.name + ".index"), *p.parent.glob(p.name + ".data-*")]
    if fmt == "keras_weights_sharded":
        stem = p.name[: -len(".weights.json")] if p.name.endswith(".weights.json") else p.stem
        return [p, *p.parent.glob(stem + "_*.weights.h5")]
    return [p]


def _raw_bytes(arr: np.ndarray) -> np.ndarray:
    """The array's elements as a flat little-endian C-order uint8 array (no copy when possible)."""
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8)


def _note(message: str) -> None:
    sys.stderr.write(f"kerasave: note: {message}\n")


def _graph_order(keys: list[Any], graph: bytes) -> list[Any]:
    """``keys`` in the order TF writes a checkpoint's data: the object graph's attributes in node
    order (so a converted checkpoint can come back byte for byte); keys the graph does not list
    (or only lists by prefix, as multi-tensor saveables) keep their order after their prefix."""
    from kerasave.checkpoint import ObjectGraph

    rank: dict[str, int] = {}
    for _, attribute in ObjectGraph.from_bytes(graph).attributes():
        rank.setdefault(attribute.checkpoint_key, len(rank))

    def position(key: Any) -> int:
        text = _key_text(key)
        if text in rank:
            return rank[text]
        prefixes = [rank[k] for k in rank if text.startswith(k)]
        return min(prefixes) if prefixes else len(rank)

    return sorted(keys, key=position)


def convert(src: str, dst: str, fmt: Optional[str] = None, *,
            max_shard_size: Optional[int] = None, progress: bool = True) -> dict[str, Any]:
    """Copies every tensor of ``src`` into a new file ``dst``, keeping the native keys.

    TF checkpoint -> safetensors keeps the object graph (base64 in ``__metadata__``), and
    safetensors -> TF checkpoint puts it back and writes the data in the graph's order, so the
    round trip gives TensorFlow's bytes back. String tensors only fit in a TF checkpoint; other
    formats leave them out with a note.

    Args:
        src: Anything ``ks.open`` reads.
        dst: The output path (a prefix for a TF checkpoint).
        fmt: One of :data:`WRITE_FORMATS`; default from ``dst``'s name (anything without a known
            suffix is a checkpoint prefix).
        max_shard_size: Bytes per shard (TF checkpoints, sharded ``.weights.json``).
        progress: Show progress on a terminal.

    Returns:
        ``{"source_format", "format", "path", "tensors", "bytes", "skipped"}``.

    Raises:
        UsageError: ``dst`` would overwrite ``src``, or cannot be written in this format.
        UnsupportedFormatError: A key or dtype the output format cannot hold.
    """
    fmt = _dest_format(dst, fmt)
    if fmt not in WRITE_FORMATS:
        raise UsageError(f"cannot write format {fmt!r}; choose one of {', '.join(WRITE_FORMATS)}")
    if fmt == "tf_checkpoint" and dst.endswith(".index"):
        dst = dst[: -len(".index")]
    if Path(dst).is_dir():
        raise UsageError(f"{dst} is a directory; give a file name (a prefix such as {dst}/ckpt "
                         "for a checkpoint)")
    if max_shard_size is not None and fmt not in ("tf_checkpoint", "keras_weights_sharded"):
        raise UsageError(f"--max-shard-size applies to tf_checkpoint and keras_weights_sharded, "
                         f"not {fmt}")
    if max_shard_size is not None and max_shard_size <= 0:
        raise UsageError(f"--max-shard-size must be positive, got {max_shard_size}")
    enabled = None if progress else False
    with kerasave.open(src, verify=True) as store:
        # A conversion is also a check: a source whose config or metadata is damaged is refused
        # even though only its tensors are copied.
        store.config
        store.metadata
        ours = _source_files(store, src)
        for out in _dest_files(fmt, dst):
            if _identity(out) in ours:
                raise UsageError(f"refusing to overwrite the source: {out} is part of {src}")
        keys = _ordered_keys(store)
        total = sum(store.nbytes(k) for k in keys)
        tensors: dict[Any, np.ndarray] = {}
        skipped: list[str] = []
        graph: Optional[bytes] = None
        with Progress(total, "reading", unit="B", enabled=enabled) as bar:
            for key in keys:
                arr = store[key]
                bar.update(store.nbytes(key))
                if _key_text(key) == OBJECT_GRAPH_KEY and arr.dtype == object and arr.ndim == 0:
                    graph = bytes(arr[()])
                elif fmt != "tf_checkpoint" and arr.dtype == object:
                    skipped.append(_key_text(key))
                else:
                    tensors[key] = arr
        if graph is None and isinstance(store, SafetensorsStore):
            graph = store.object_graph_bytes()
        source_format = store.format
        kwargs: dict[str, Any] = {"format": fmt}
        if max_shard_size is not None:
            kwargs["max_shard_size"] = max_shard_size
        if fmt == "tf_checkpoint":
            if graph is not None:
                # TF's data order, and the graph itself (save_checkpoint writes it last).
                tensors = {k: tensors[k] for k in _graph_order(list(tensors), graph)}
                tensors[OBJECT_GRAPH_KEY] = np.array(graph, dtype=object)
        elif fmt == "safetensors":
            meta = {ST_SOURCE_FORMAT: source_format}
            if graph is not None:
                meta[ST_OBJECT_GRAPH] = base64.b64encode(graph).decode("ascii")
            kwargs["metadata"] = meta
        elif graph is not None:
            skipped.append(OBJECT_GRAPH_KEY)
        if fmt in _KERAS3_WEIGHTS and source_format in _KERAS3_WEIGHTS + _KERAS3_MODELS:
            # Same layout: keep the groups and their attributes (the empty `vars` groups with
            # `@name` Keras writes), so the file is Keras's own.
            kwargs["attrs"] = {g: store.attrs(g) for g in store.groups()}
        written = sum(a.nbytes for a in tensors.values() if a.dtype != object)
        label = f"writing {len(tensors)} tensors ({human_bytes(written)})"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                run_with_spinner(lambda: kerasave.save_tensors(dst, tensors, **kwargs), label,
                                 enabled=enabled)
            except (TypeError, ValueError) as e:
                if isinstance(e, KerasaveError):
                    raise
                raise UsageError(f"cannot write {dst} as {fmt}: {e}") from None
        for w in caught:
            _note(str(w.message))
    if skipped:
        shown = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        _note(f"{fmt} cannot hold string tensors; left out {len(skipped)}: {shown}")
    return {"source_format": source_format, "format": fmt, "path": dst,
            "tensors": len(tensors), "bytes": written, "skipped": skipped}


def _refuse_source_overwrite(src: str, dst: str, fmt: str) -> None:
    """Raises UsageError when writing ``dst`` would replace a file of ``src``."""
    with kerasave.open(src, verify=False) as store:
        ours = _source_files(store, src)
    for out in _dest_files(fmt, dst) + [Path(dst)]:
        if _identity(out) in ours:
            raise UsageError(f"refusing to overwrite the source: {out} is part of {src}")


def convert_model(src: str, dst: str, fmt: Optional[str] = None, *,
                  config: Optional[str] = None, unsafe: bool = False,
                  max_shard_size: Optional[int] = None, progress: bool = True) -> dict[str, Any]:
    """Model-level conversion (see :mod:`kerasave._model_convert`): rebuilds the model of
    ``src`` (or ``config`` + the weights of ``src``), saves it as ``dst`` and reads it back.

    Raises:
        UsageError: No architecture, an impossible destination, or ``dst`` is ``src``.
    """
    from kerasave import _model_convert as mc

    try:
        out_fmt = mc.dest_format(dst, fmt)
        if Path(dst).is_dir() and out_fmt != "saved_model":
            raise UsageError(f"{dst} is a directory; give a file name")
        _refuse_source_overwrite(src, dst, out_fmt)
        if config is not None and Path(config).exists() and _identity(Path(dst)) is not None \
                and _identity(Path(dst)) == _identity(Path(config)):
            raise UsageError(f"refusing to overwrite the --config file {config}")
        return mc.convert_model(src, dst, fmt, config=config, unsafe=unsafe,
                                max_shard_size=max_shard_size, progress=progress)
    except mc.ModelConvertError as e:
        raise UsageError(str(e)) from None
    except (ValueError, TypeError) as e:
        if isinstance(e, KerasaveError):  # corrupt files, unknown/unsafe objects: typed exits
            raise
        # Weights that do not fit the architecture, and the like.
        raise UsageError(f"cannot convert {src} to {dst}: {e}") from None


def _wants_model(args: argparse.Namespace) -> bool:
    from kerasave._model_convert import is_model_destination

    return bool(args.config or args.model or args.unsafe
                or is_model_destination(args.dst, args.format))


def cmd_convert(args: argparse.Namespace) -> int:
    """``kerasave convert SRC DST [--format F] [--max-shard-size BYTES] [--config C] [--model]
    [--unsafe]``: tensor-level by default, model-level for model destinations or with
    ``--config`` / ``--model``."""
    start = time.perf_counter()
    try:
        if _wants_model(args):
            model_result = convert_model(args.src, args.dst, args.format, config=args.config,
                                         unsafe=args.unsafe,
                                         max_shard_size=args.max_shard_size)
        else:
            result = convert(args.src, args.dst, args.format, max_shard_size=args.max_shard_size)
    except UsageError as e:
        return _fail(str(e), EXIT_USAGE)
    if _wants_model(args):
        r = model_result
        elapsed = time.perf_counter() - start
        s = r["seconds"]
        checked = f", read back and checked in {s['check']:.3f}s" if "check" in s else ""
        print(
            f"wrote {r['path']}: {r['format']}, {r['model']}, {r['weights']} weights, "
            f"{human_bytes(r['bytes'])} (from {r['source_format']} via {r['how']}); loaded in "
            f"{s['load']:.3f}s, saved in {s['save']:.3f}s{checked}; {elapsed:.3f}s in all"
        )
        return EXIT_OK
    elapsed = time.perf_counter() - start
    print(
        f"wrote {result['path']}: {result['format']}, {result['tensors']} tensors, "
        f"{human_bytes(result['bytes'])} (from {result['source_format']}) in {elapsed:.3f}s"
    )
    return EXIT_OK


# -- diff ------------------------------------------------------------------------------------


def _count_differences(a: np.ndarray, b: np.ndarray) -> tuple[int, Optional[float]]:
    """``(elements whose bits differ, max |a - b| over them or None if not numeric)``."""
    if a.dtype == object:
        fa, fb = a.reshape(-1), b.reshape(-1)
        return sum(1 for x, y in zip(fa, fb) if x != y), None
    size = a.dtype.itemsize
    ra = _raw_bytes(a).reshape(-1, size) if size else np.zeros((a.size, 0), np.uint8)
    rb = _raw_bytes(b).reshape(-1, size) if size else np.zeros((b.size, 0), np.uint8)
    neq = np.flatnonzero((ra != rb).any(axis=1))
    if neq.size == 0:
        return 0, None
    try:
        da = a.reshape(-1)[neq].astype(np.complex128 if a.dtype.kind == "c" else np.float64)
        db = b.reshape(-1)[neq].astype(da.dtype)
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(da - db)
        finite = diff[np.isfinite(diff)]
        worst = float(finite.max()) if finite.size else float("nan")
    except (TypeError, ValueError):
        worst = None
    return int(neq.size), worst


def _difference(a: np.ndarray, b: np.ndarray) -> Optional[str]:
    """None if identical (dtype, shape and bits; NaNs compare by bits), else what differs."""
    if a.dtype != b.dtype:
        return f"dtype {a.dtype.name} != {b.dtype.name}"
    if a.shape != b.shape:
        return f"shape {_shape_text(a.shape)} != {_shape_text(b.shape)}"
    n, worst = _count_differences(a, b)
    if n == 0:
        return None
    text = f"{n} of {a.size} elements differ"
    if worst is not None:
        text += f", max |a-b| = {worst:.6g}"
    return text


def diff(a: str, b: str, by_order: bool = False) -> dict[str, Any]:
    """Compares two artifacts tensor by tensor.

    Args:
        a: Anything ``ks.open`` reads.
        b: The same.
        by_order: Pair the tensors by position in each store's key order instead of by key (the
            model's weight order for Keras files: Keras's load order for legacy ``.h5``, ``vars``
            in numeric order for ``.weights.h5``), so that files naming the same weights
            differently (a legacy ``.h5`` and a ``.weights.h5``) can be compared.

    Returns:
        ``{"only_a": [...], "only_b": [...], "different": {name: reason}, "same": n}``; by order
        a pair whose keys differ is named ``"#i A-key <-> B-key"``.
    """
    with kerasave.open(a) as sa, kerasave.open(b) as sb:
        keys_a, keys_b = sa.keys(), sb.keys()
        result: dict[str, Any] = {
            "a": a, "b": b, "format_a": sa.format, "format_b": sb.format, "by_order": by_order,
            "only_a": [], "only_b": [], "different": {}, "same": 0,
        }
        pairs: list[tuple[str, Any, Any]] = []
        if by_order:
            n = min(len(keys_a), len(keys_b))
            for i, (ka, kb) in enumerate(zip(keys_a, keys_b)):
                ta, tb = _key_text(ka), _key_text(kb)
                pairs.append((ta if ta == tb else f"#{i} {ta} <-> {tb}", ka, kb))
            result["only_a"] = [_key_text(k) for k in keys_a[n:]]
            result["only_b"] = [_key_text(k) for k in keys_b[n:]]
        else:
            set_a, set_b = set(keys_a), set(keys_b)
            result["only_a"] = [_key_text(k) for k in keys_a if k not in set_b]
            result["only_b"] = [_key_text(k) for k in keys_b if k not in set_a]
            pairs = [(_key_text(k), k, k) for k in keys_a if k in set_b]
        for name, ka, kb in pairs:
            reason = _difference(sa[ka], sb[kb])
            if reason is None:
                result["same"] += 1
            else:
                result["different"][name] = reason
    return result


def cmd_diff(args: argparse.Namespace) -> int:
    """``kerasave diff A B [--by-order]``: exit 0 when every tensor is identical, 1 when not."""
    r = diff(args.a, args.b, by_order=args.by_order)
    if args.json:
        _print_json(r)
    else:
        for key in r["only_a"]:
            print(f"- {key}  (only in A)")
        for key in r["only_b"]:
            print(f"+ {key}  (only in B)")
        for key, reason in r["different"].items():
            print(f"~ {key}: {reason}")
        n_diff = len(r["only_a"]) + len(r["only_b"]) + len(r["different"])
        verdict = "identical" if n_diff == 0 else "different"
        print(
            f"{verdict}: {r['same']} same, {len(r['different'])} differ, "
            f"{len(r['only_a'])} only in A ({r['a']}), {len(r['only_b'])} only in B ({r['b']})"
        )
    equal = not (r["only_a"] or r["only_b"] or r["different"])
    return EXIT_OK if equal else EXIT_DIFFERENT


def _describe(store: "kerasave.Store") -> dict[str, Any]:
    """Everything ``inspect`` shows, as plain data."""
    rows = []
    total = 0
    keys = store.keys()
    if store.format in ("tf_checkpoint", "saved_model"):
        # Bundle keys are bytes in index order; Keras files keep their own order (vars/9 before
        # vars/10, legacy files in load order).
        keys = sorted(keys, key=lambda k: k if isinstance(k, bytes) else k.encode("utf-8"))
    for key in keys:
        nbytes = store.nbytes(key)
        total += nbytes
        rows.append(
            {
                "key": _key_text(key),
                "dtype": store.dtype_name(key),
                "shape": list(store.shape(key)),
                "bytes": nbytes,
            }
        )
    metadata = dict(store.metadata)
    config = store.config
    return {
        "path": store.path,
        "format": store.format,
        "metadata": metadata,
        "tensors": rows,
        "totals": {"tensors": len(rows), "bytes": total},
        "object_graph": metadata.get("object_graph"),
        "has_config": config is not None,
        "config": _config_summary(config),
    }


def _print_table(info: dict[str, Any], out: TextIO) -> None:
    rows = info["tensors"]
    headers = ("key", "dtype", "shape", "bytes")
    cells = [(r["key"], r["dtype"], _shape_text(r["shape"]), str(r["bytes"])) for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    widths[0] = min(widths[0], 100)

    def line(values: Sequence[str]) -> str:
        key, dtype, shape, nbytes = values
        return f"{key:<{widths[0]}}  {dtype:<{widths[1]}}  {shape:<{widths[2]}}  {nbytes:>{widths[3]}}"

    out.write(line(headers) + "\n")
    out.write(line(tuple("-" * w for w in widths)) + "\n")
    for c in cells:
        out.write(line(c) + "\n")
    totals = info["totals"]
    out.write(f"{totals['tensors']} tensors, {totals['bytes']} bytes ({human_bytes(totals['bytes'])})\n")


def _graph_text(summary: dict[str, int]) -> str:
    """An object graph summary as "3 nodes, 2 variables, ..."."""
    return ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in summary.items())


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _print_inspect(info: dict[str, Any], out: TextIO) -> None:
    out.write(f"path:    {info['path']}\n")
    out.write(f"format:  {info['format']}\n")
    if info.get("config"):
        out.write(f"config:  {_config_text(info['config'])}\n")
    meta = {k: v for k, v in info["metadata"].items() if k not in ("format", "object_graph")}
    if meta:
        out.write("metadata:\n")
        for k, v in meta.items():
            out.write(f"  {k}: {v}\n")
    out.write("\n")
    _print_table(info, out)
    graph = info["object_graph"]
    if graph:
        out.write(f"object graph: {_graph_text(graph)}\n")


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"kerasave: error: {message}\n")
    return code


def _error_code(error: BaseException) -> int:
    if isinstance(error, CorruptFileError):
        return EXIT_CORRUPT
    return EXIT_USAGE


def cmd_inspect(args: argparse.Namespace) -> int:
    """``kerasave inspect PATH [--json]``."""
    with kerasave.open(args.path, verify=False) as store:
        info = _describe(store)
        if store.format == "saved_model":
            info["signatures"] = store.signatures
            info["tags"] = store.saved_model["tags"]
            info["ops"] = store.saved_model["ops"]
    if args.json:
        _print_json(info)
    else:
        _print_inspect(info, sys.stdout)
        if "signatures" in info:
            from kerasave._saved_model import format_signatures

            sys.stdout.write("\n" + format_signatures(info["signatures"], info["tags"], info["ops"]))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    """``kerasave verify PATH``: exit 0 when sound, 1 when corrupt."""
    start = time.perf_counter()
    try:
        with kerasave.open(args.path, verify=True) as store:
            n = len(store)
            total = sum(store.nbytes(k) for k in store.keys())
            run_with_spinner(store.verify, f"verifying {n} tensors ({human_bytes(total)})")
    except CorruptFileError as e:
        print(f"CORRUPT: {e}")
        return EXIT_CORRUPT
    elapsed = time.perf_counter() - start
    print(f"OK: {args.path}: {store.format}, {n} tensors, {human_bytes(total)}, verified in {elapsed:.3f}s")
    return EXIT_OK


def _find_demo() -> Optional[Path]:
    if (DEMO_DIR / "checkpoint").is_file() or any(DEMO_DIR.glob("*.index")):
        return DEMO_DIR
    return None


def _find_sample() -> Optional[Path]:
    if (SAMPLE_DIR / "sample.keras").is_file() and (SAMPLE_DIR / "sample_io.npz").is_file():
        return SAMPLE_DIR
    return None


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def _disk_size(path: Path) -> int:
    """Bytes of a file, a directory, a sharded ``.weights.json`` or a checkpoint prefix."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    if path.is_file() and not path.name.endswith(".weights.json"):
        return path.stat().st_size
    if path.name.endswith(".weights.json"):
        stem = path.name[: -len(".weights.json")]
        return path.stat().st_size + sum(p.stat().st_size
                                         for p in path.parent.glob(stem + "_*.weights.h5"))
    return sum(p.stat().st_size for p in path.parent.glob(path.name + ".*"))


def _same_weights(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """Same count, and every weight equal in dtype, shape and bits."""
    if len(a) != len(b):
        return False
    from kerasave._model_convert import same_bits

    return all(same_bits(wa, wb) for wa, wb in zip(a, b))


def _is_file_view(arr: Any) -> bool:
    """Whether ``arr`` is (a view of) a memory-mapped file's bytes."""
    from kerasave._core import MappedBuffer

    base = np.asarray(arr).base
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, MappedBuffer)


def _zero_copy_count(model: Any) -> int:
    return sum(_is_file_view(w.numpy()) for w in model.weights)


def _saved_model_supported() -> bool:
    from kerasave._model_convert import saved_model_supported

    return saved_model_supported()


def _demo_tour(sample: Path, work: Path, out: TextIO) -> bool:
    """The sample-model part of ``kerasave demo``; True when every check passed."""
    from kerasave._model_convert import _build
    from kerasave.saving.api import load_model
    from kerasave.saving.keras_archive import load_from_store

    ok = True
    src = sample / "sample.keras"
    out.write(f"== 1. ks.models.load_model({str(src)!r})\n")
    out.write("   (a functional CNN saved by Keras 3.15.1; regenerate with tools/make_demo_model.py)\n")
    t0 = time.perf_counter()
    model = load_model(src)
    t_load = time.perf_counter() - t0
    weights = [np.asarray(w.numpy()) for w in model.weights]
    nbytes = sum(w.nbytes for w in weights)
    views = _zero_copy_count(model)
    out.write(f"loaded in {_ms(t_load)}: {len(weights)} weights ({human_bytes(nbytes)}), "
              f"{views} of them read-only views of the memory-mapped file (no copy)\n\n")

    out.write("== 2. model.summary()\n")
    model.summary(print_fn=lambda line: out.write(line + "\n"))
    out.write("\n")

    out.write("== 3. predict, against the output Keras recorded for the same input\n")
    with kerasave.open(sample / "sample_io.npz") as io:
        x = np.array(io["x"])
        expected = np.array(io["y"])
    t0 = time.perf_counter()
    y = np.asarray(model.predict(x))
    t_predict = time.perf_counter() - t0
    worst = float(np.max(np.abs(y - expected))) if y.shape == expected.shape else float("inf")
    match = y.shape == expected.shape and worst <= 1e-5 and \
        (y.argmax(axis=-1) == expected.argmax(axis=-1)).all()
    ok &= bool(match)
    out.write(f"input {list(x.shape)} -> output {list(y.shape)} in {_ms(t_predict)}; "
              f"max |kerasave - Keras| = {worst:.2e} (tolerance 1e-5): "
              f"{'MATCH' if match else 'MISMATCH'}\n")
    out.write(f"classes: kerasave {y.argmax(axis=-1).tolist()}, Keras "
              f"{expected.argmax(axis=-1).tolist()}\n\n")

    out.write("== 4. convert to every format, reload, compare\n")
    config = json.loads(model.to_json())

    def fresh() -> Any:
        return _build(config, safe_mode=True)

    def via_weights(path: Path) -> Any:
        m = fresh()
        m.load_weights(path)
        return m

    def via_tensors(path: Path) -> Any:
        m = fresh()
        with kerasave.open(path) as store:
            load_from_store(m, store)
        return m

    def tensors_of(path: Path) -> Any:
        return lambda: convert(str(src), str(path), progress=False)

    rows: list[tuple[str, str, Any, Any]] = [
        (".keras", "sample.keras", lambda p: model.save(p), load_model),
        ("legacy .h5", "sample.h5", lambda p: model.save(p), load_model),
        (".weights.h5", "sample.weights.h5", lambda p: model.save_weights(p), via_weights),
        (".weights.json (sharded)", "sample.weights.json",
         lambda p: model.save_weights(p, max_shard_size=8192 / (1 << 30)), via_weights),
        ("TF checkpoint", "ckpt/sample", lambda p: model.save_weights(p), via_weights),
        ("safetensors", "sample.safetensors", lambda p: tensors_of(p)(), via_tensors),
        (".npz", "sample.npz", lambda p: tensors_of(p)(), via_tensors),
    ]
    if _saved_model_supported():
        from kerasave._model_convert import saved_model_loadable

        if saved_model_loadable():
            reload_sm = load_model
        else:  # the variables bundle uses tf_keras checkpoint keys: load_weights reads it
            out.write("(SavedModel: load_model cannot read SavedModels in this build yet; "
                      "reloaded with load_weights(<dir>/variables/variables))\n")

            def reload_sm(p: Path) -> Any:
                return via_weights(p / "variables" / "variables")
        rows.append(("SavedModel", "saved_model",
                     lambda p: model.save(p, save_format="tf"), reload_sm))
    else:
        out.write("(SavedModel: this build cannot write SavedModels yet; left out)\n")
    table = []
    totals = [0.0, 0.0]
    for label, name, write, reload in rows:
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            t0 = time.perf_counter()
            write(path)
            t_write = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = reload(path)
            t_reload = time.perf_counter() - t0
            totals[0] += t_write
            totals[1] += t_reload
            same = _same_weights(weights, [w.numpy() for w in again.weights])
            same_y = np.array_equal(np.asarray(again.predict(x)), y)
            table.append((label, str(path.relative_to(work)), human_bytes(_disk_size(path)),
                          _ms(t_write), _ms(t_reload),
                          f"{_zero_copy_count(again)}/{len(again.weights)}",
                          "equal" if same else "DIFFERENT", "equal" if same_y else "DIFFERENT"))
            ok &= same and same_y
        except Exception as e:  # a failing format is reported, and the tour goes on
            ok = False
            table.append((label, name, "-", "-", "-", "-", f"FAILED: {type(e).__name__}: {e}",
                          "-"))
    headers = ("format", "file", "size", "write", "reload", "zero-copy", "weights", "predict")
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]
    widths[6] = max(len(headers[6]), 9)
    for cells in [headers, tuple("-" * w for w in widths), *table]:
        out.write("  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)).rstrip() + "\n")
    out.write("weights: every reloaded weight bit-identical to the loaded model's; predict: "
              "identical outputs; zero-copy: weights that are views of the file\n\n")

    out.write("== 5. timings\n")
    out.write(f"load_model {_ms(t_load)}; predict {_ms(t_predict)} ({x.shape[0]} images); "
              f"{len(rows)} formats written in {_ms(totals[0])} and reloaded in "
              f"{_ms(totals[1])} in all\n\n")
    return ok


def _demo_checkpoint(demo: Path, work: Path, out: TextIO) -> bool:
    """The Keras 2 part of ``kerasave demo``: a tf_keras checkpoint migrated to ``.keras`` and
    rewritten byte for byte. True when every check passed."""
    from kerasave import checkpoint as ckpt
    from kerasave._model_convert import convert_model as model_convert

    ok = True
    out.write(f"== 6. Keras 2 -> 3: the tf_keras checkpoint in {demo}\n")
    with kerasave.open(demo) as store:
        t0 = time.perf_counter()
        store.verify()
        out.write(f"{store.format}: {len(store)} tensors, every CRC32C verified in "
                  f"{_ms(time.perf_counter() - t0)}\n")
        keys = _ordered_keys(store)
        arrays = {k: store[k] for k in keys}
        prefix = str(work / "rewritten" / "ckpt")
        ckpt.save_checkpoint(prefix, arrays)
        for suffix in (".index", ".data-00000-of-00001"):
            original = Path(store.metadata["prefix"] + suffix)
            same_bytes = original.read_bytes() == Path(prefix + suffix).read_bytes()
            ok &= same_bytes
            verdict = "byte-identical to" if same_bytes else "DIFFERENT from"
            out.write(f"rewritten with ks.checkpoint.save_checkpoint: {original.name} "
                      f"{verdict} the file TensorFlow wrote\n")
    config = demo / "model.json"
    if config.is_file():
        dst = work / "migrated.keras"
        r = model_convert(str(demo), str(dst), config=str(config), progress=False)
        out.write(f"kerasave convert {demo.name}/ migrated.keras --config model.json: "
                  f"{r['model']}, {r['weights']} weights, read back equal "
                  f"({_ms(sum(r['seconds'].values()))}); Keras 3 cannot read this checkpoint "
                  "itself\n")
    return ok


def cmd_demo(args: argparse.Namespace) -> int:
    """``kerasave demo [--out DIR]``: the tour of a sample model written by real Keras (load,
    summary, predict against Keras's output, every format written and reloaded, timings) and of
    a Keras 2 checkpoint. Exit 0 only if every check matched."""
    sample = _find_sample()
    demo = _find_demo()
    if sample is None:
        return _fail(
            f"the bundled sample model is missing (looked in {SAMPLE_DIR}); this installation "
            "was built without kerasave/data/sample",
            EXIT_USAGE,
        )
    out = sys.stdout
    if args.out is not None:
        work = Path(args.out)
        work.mkdir(parents=True, exist_ok=True)
        cleanup = False
    else:
        work = Path(tempfile.mkdtemp(prefix="kerasave-demo-"))
        cleanup = True
    try:
        start = time.perf_counter()
        ok = _demo_tour(sample, work, out)
        if demo is not None:
            ok &= _demo_checkpoint(demo, work, out)
        where = f"files kept in {work}" if not cleanup else "temporary files removed"
        out.write(f"\n{'ALL CHECKS PASSED' if ok else 'SOME CHECKS FAILED'} in "
                  f"{time.perf_counter() - start:.2f} s ({where})\n")
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)
    return EXIT_OK if ok else EXIT_CORRUPT


def build_parser() -> argparse.ArgumentParser:
    """Builds the argument parser (exposed for documentation tools and tests)."""
    parser = argparse.ArgumentParser(
        prog="kerasave",
        description="Read, check and convert Keras and TensorFlow artifacts without TensorFlow.",
    )
    parser.add_argument("--version", action="version", version=f"kerasave {kerasave.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("inspect", help="format, metadata and tensor table of an artifact")
    p.add_argument("path", help="file, directory or checkpoint prefix")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("verify", help="check every checksum and structural rule (exit 0 = sound)")
    p.add_argument("path", help="file, directory or checkpoint prefix")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("demo", help="a tour on a bundled sample model written by Keras: load, "
                       "predict, convert to every format, reload, timings (exit 0 = all matched)")
    p.add_argument("--out", metavar="DIR", help="keep the converted files in DIR (default: a "
                   "temporary directory, removed afterwards)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "convert",
        help="copy every tensor into a TF checkpoint, .weights.h5, .weights.json, .safetensors "
        "or .npz (native keys kept), or convert a model (.h5 or checkpoint + --config -> "
        ".keras, .keras -> .h5, ...)",
    )
    p.add_argument("src", help="any readable artifact (also .safetensors and .npz)")
    p.add_argument("dst", help="output file, or a prefix for a TF checkpoint; never SRC")
    p.add_argument("--format", choices=WRITE_FORMATS + MODEL_ONLY_FORMATS,
                   help="output format (default: from DST's suffix; none = tf_checkpoint)")
    p.add_argument("--max-shard-size", type=int, metavar="BYTES",
                   help="shard size for tf_checkpoint and keras_weights_sharded")
    p.add_argument("--config", metavar="MODEL",
                   help="architecture for a source that has none (a TF checkpoint, weights "
                   "file): a model.to_json() file, a config.json, or a .keras/.h5 model; "
                   "implies a model conversion")
    p.add_argument("--model", action="store_true",
                   help="convert through the model (load_model + save) even when DST is a "
                   "weights format; automatic for .keras, .h5 and SavedModel destinations")
    p.add_argument("--unsafe", action="store_true",
                   help="safe_mode=False: allow what Keras's safe mode refuses (Lambda "
                   "bytecode, ...); only for files you trust. Modules named by a config are "
                   "never imported either way")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("diff", help="tensors that differ between two artifacts, by key "
                                    "(exit 0 = identical, 1 = different)")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--by-order", action="store_true",
                   help="pair tensors by position (model weight order) instead of by key")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_diff)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the CLI.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 success, 1 corrupt file, 2 usage error / missing file / unsupported.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return int(e.code or 0)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # pragma: no cover - `kerasave inspect x | head`
        return EXIT_OK
    except FileNotFoundError as e:
        name = e.filename if e.filename is not None else str(e)
        return _fail(f"no such file or directory: {name}", EXIT_USAGE)
    except UnsupportedFormatError as e:
        return _fail(str(e), EXIT_USAGE)
    except (CorruptFileError, KerasaveError, KeyError, OSError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        return _fail(f"{type(e).__name__}: {message}", _error_code(e))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
