"""The ``kerasave`` command line.

::

    kerasave inspect PATH [--json]   format, metadata, tensor table, object graph summary
    kerasave verify PATH             every checksum and structural rule; exit 0 = sound
    kerasave demo                    a tour on the bundled sample checkpoint
    kerasave convert SRC DST         (not implemented yet)
    kerasave diff A B                (not implemented yet)

Exit codes: 0 success, 1 the file is corrupt, 2 usage error, missing file or unsupported format.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, Sequence, TextIO

import numpy as np

import kerasave
from kerasave._progress import Progress, human_bytes, run_with_spinner
from kerasave.errors import CorruptFileError, KerasaveError, UnsupportedFormatError

__all__ = ["main"]

EXIT_OK = 0
EXIT_CORRUPT = 1
EXIT_USAGE = 2

#: Where the bundled sample lives (filled by the fixtures script).
DEMO_DIR = Path(__file__).parent / "data" / "demo"


def _key_text(key: Any) -> str:
    """A key for display: str as is, non-UTF-8 bytes escaped."""
    if isinstance(key, bytes):
        return key.decode("ascii", "backslashreplace")
    return str(key)


def _shape_text(shape: Sequence[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _describe(store: "kerasave.Store") -> dict[str, Any]:
    """Everything ``inspect`` shows, as plain data."""
    rows = []
    total = 0
    for key in sorted(store.keys(), key=lambda k: k if isinstance(k, bytes) else k.encode("utf-8")):
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
    return {
        "path": store.path,
        "format": store.format,
        "metadata": metadata,
        "tensors": rows,
        "totals": {"tensors": len(rows), "bytes": total},
        "object_graph": metadata.get("object_graph"),
        "has_config": store.config is not None,
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


def _print_inspect(info: dict[str, Any], out: TextIO) -> None:
    out.write(f"path:    {info['path']}\n")
    out.write(f"format:  {info['format']}\n")
    meta = {k: v for k, v in info["metadata"].items() if k not in ("format", "object_graph")}
    if meta:
        out.write("metadata:\n")
        for k, v in meta.items():
            out.write(f"  {k}: {v}\n")
    out.write("\n")
    _print_table(info, out)
    graph = info["object_graph"]
    if graph:
        out.write(
            "object graph: "
            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in graph.items())
            + "\n"
        )


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
    if args.json:
        json.dump(info, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        _print_inspect(info, sys.stdout)
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


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype == object:
        return list(a.reshape(-1)) == list(b.reshape(-1))
    # Compare bits, so NaNs and every ml_dtypes type compare exactly.
    return a.tobytes() == b.tobytes()


def cmd_demo(args: argparse.Namespace) -> int:
    """``kerasave demo``: a tour on the bundled sample checkpoint."""
    from kerasave import checkpoint as ckpt
    from kerasave._core import MappedBuffer

    demo = _find_demo()
    if demo is None:
        return _fail(
            f"the bundled demo checkpoint is missing (looked in {DEMO_DIR}); this installation "
            "was built without kerasave/data/demo",
            EXIT_USAGE,
        )
    out = sys.stdout
    out.write(f"== 1. ks.open({str(demo)!r})\n")
    t0 = time.perf_counter()
    store = kerasave.open(demo)
    out.write(f"opened as {store.format!r} in {(time.perf_counter() - t0) * 1e3:.2f} ms\n\n")

    out.write("== 2. inspect\n")
    info = _describe(store)
    _print_inspect(info, out)
    out.write("\n")

    out.write("== 3. verify (every CRC32C and structural rule)\n")
    t0 = time.perf_counter()
    store.verify()
    out.write(f"OK in {(time.perf_counter() - t0) * 1e3:.2f} ms\n\n")

    out.write("== 4. read every tensor, zero-copy\n")
    # The order the data was written in (TF: object-graph BFS order, the graph last), so that
    # the copy below can be compared byte for byte.
    reader = store.reader
    keys = sorted(store.keys(), key=lambda k: reader.location(k)[:2])
    arrays: dict[Any, np.ndarray] = {}
    t0 = time.perf_counter()
    with Progress(len(keys), "reading") as bar:
        for key in keys:
            arrays[key] = store[key]
            bar.update()
    elapsed = time.perf_counter() - t0
    views = [a for a in arrays.values() if isinstance(a.base, MappedBuffer)]
    nbytes = sum(a.nbytes for a in views)
    out.write(
        f"{len(arrays)} tensors in {elapsed * 1e3:.2f} ms; {len(views)} are read-only views of the "
        f"memory-mapped data file ({human_bytes(nbytes)}, no copy), the rest are strings\n"
    )
    if views:
        a = views[0]
        out.write(
            f"e.g. dtype={a.dtype} shape={a.shape} writeable={a.flags.writeable} "
            f"aligned={a.flags.aligned} base={a.base!r}\n"
        )
    out.write("\n")

    out.write("== 5. write a copy with ks.checkpoint.save_checkpoint, reopen and compare\n")
    tmp = tempfile.mkdtemp(prefix="kerasave-demo-")
    try:
        prefix = os.path.join(tmp, "copy", "ckpt")
        t0 = time.perf_counter()
        ckpt.save_checkpoint(prefix, arrays)
        out.write(f"wrote {prefix} in {(time.perf_counter() - t0) * 1e3:.2f} ms\n")
        with kerasave.open(prefix) as copy:
            copy.verify()
            same = sum(_same(arrays[k], copy[k]) for k in keys if k in copy)
            out.write(f"reopened: {same}/{len(keys)} tensors identical\n")
        for suffix in (".index", ".data-00000-of-00001"):
            original = Path(store.metadata["prefix"] + suffix)
            if original.is_file():
                same_bytes = original.read_bytes() == Path(prefix + suffix).read_bytes()
                verdict = "byte-identical to" if same_bytes else "different from"
                out.write(f"{original.name}: {verdict} the file TensorFlow wrote\n")
        out.write("\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    out.write("== 6. object graph\n")
    graph = store.object_graph() if hasattr(store, "object_graph") else None
    if graph is None:
        out.write("(no object graph)\n")
    else:
        out.write(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in graph.summary().items()) + "\n")
        for node, attribute in graph.attributes():
            path = "/".join(node.path) if node.path is not None else f"<node {node.id}>"
            out.write(f"  {path:<40} {attribute.full_name:<32} -> {attribute.checkpoint_key}\n")
    store.close()
    return EXIT_OK


def cmd_not_implemented(args: argparse.Namespace) -> int:
    """``convert`` and ``diff`` until they land."""
    return _fail(f"'{args.command}' is not implemented yet", EXIT_USAGE)


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

    p = sub.add_parser("demo", help="a tour on the bundled sample checkpoint")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("convert", help="convert between formats (not implemented yet)")
    p.add_argument("src")
    p.add_argument("dst")
    p.set_defaults(func=cmd_not_implemented)

    p = sub.add_parser("diff", help="tensors that differ between two artifacts (not implemented yet)")
    p.add_argument("a")
    p.add_argument("b")
    p.set_defaults(func=cmd_not_implemented)
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
