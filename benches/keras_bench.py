#!/usr/bin/env python3
"""kerasave vs Keras 3 and h5py on Keras files (.keras, .weights.h5, legacy .h5), one process.

Every peer is measured in the same run on the same model and files, and the table reports ratios
(``peer time / kerasave time``: above 1 means kerasave is faster).

Workloads: a functional Keras model of Dense layers without bias, so every tensor is a kernel
  A: 1 GiB in 16 float32 tensors (16 Dense(4096) on a 4096-wide input: 4096x4096 each)
  B: 256 MiB in 1024 float32 tensors (1024 Dense(256): 256x256 each)
The shapes are those of checkpoint_bench.py. ``--quick`` divides the bytes by 256 (same tensor
counts). Functional, not Sequential: Keras 3 rebuilds a Sequential after every layer it adds
while loading, so ``load_model`` of a 1024-layer Sequential takes minutes (217 s measured).

Method:
  * Each measurement runs ``--repeat`` times after one untimed warm-up run; best and median
    are reported, ratios use the best (median ratio shown too).
  * Writes: Keras ``model.save("m.keras")``, ``model.save_weights("m.weights.h5")`` and
    ``model.save("m.h5")`` (legacy HDF5) from the model's variables; kerasave
    ``ks.save_tensors`` of the same tensors (numpy arrays in memory) with the config, metadata
    and group attributes taken from ``ks.open`` of Keras's file, so its output is a real Keras
    file (checked: Keras loads it with equal values). The previous output is deleted and
    ``os.sync()`` called before every run (untimed). kerasave fsyncs what it writes (temp file +
    fsync + rename); Keras and h5py do not fsync. ``np.tofile`` of the same bytes with and
    without fsync, and h5py ``create_dataset`` of every tensor, are shown for reference.
  * Reads: page cache warm for everyone (files just written, then read through once before
    timing); times include opening the file. kerasave: ``ks.open(p, verify=False)`` and every
    tensor as a zero-copy view, per key and through ``get_many``; h5py: ``f[k][()]`` for every
    dataset (a copy into numpy); Keras: ``keras.saving.load_model(p)`` alone (the weights end up
    in backend variables; ``get_weights()`` is not called). A ``.keras`` is read by h5py the way
    Keras reads it (``zipfile`` member opened as a file object), as a reference.
  * Peak RSS: each read also runs once in a fresh subprocess that resets VmHWM
    (``/proc/self/clear_refs``) after its imports, in two modes: "views" (the arrays only) and
    "touch" (a sum over every tensor, so every byte is read and every mapped page counts).

Run ``python3 benches/keras_bench.py --help``; see benches/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from checkpoint_bench import (  # noqa: E402 - shared timing and formatting helpers
    GIB,
    MIB,
    QUICK_DIVISOR,
    Stat,
    _status,
    fmt_bytes,
    fmt_ratio,
    fmt_time,
    loadavg,
    log,
    machine_facts,
    measure,
    read_through,
)

#: name -> (tensor count, total bytes); the same as checkpoint_bench.py.
WORKLOADS = {"A": (16, 1 * GIB), "B": (1024, 256 * MIB)}

#: Targets (from issue 3), as a minimum of peer_time / kerasave_time.
TARGET_READ_VS_H5PY = 100.0
TARGET_READ_VS_LOAD_MODEL = 20.0
TARGET_WRITE_VS_KERAS = 3.0
#: Peak RSS of reading (and touching) all weights of a .keras, as a multiple of the weights.
TARGET_RSS = 1.2

#: h5py through a zipfile member (how Keras reads a .keras) is timed up to this many tensors:
#: zipfile re-reads the member from its start on every backward seek, 40-45 s a run for B.
H5PY_ZIP_MAX_TENSORS = 64

#: file kind -> (file name, kerasave format)
FILES = {
    "keras": ("m.keras", "keras_archive"),
    "weights": ("m.weights.h5", "keras_weights_h5"),
    "legacy": ("m.h5", "legacy_h5_model"),
}
FILE_LABELS = {"keras": ".keras", "weights": ".weights.h5", "legacy": "legacy .h5"}


def quiet_keras():
    """Imports Keras with its deprecation chatter (legacy .h5) silenced."""
    import logging

    warnings.filterwarnings("ignore")
    logging.getLogger("absl").setLevel(logging.ERROR)
    import keras

    return keras


def build_model(count: int, total: int):
    """A functional model of ``count`` Dense layers without bias, kernels ``side x side``."""
    keras = quiet_keras()
    side = int(round((total // count // 4) ** 0.5))
    inp = keras.Input((side,), name="x")
    x = inp
    for i in range(count):
        x = keras.layers.Dense(side, use_bias=False, name=f"dense_{i:04d}")(x)
    return keras.Model(inp, x, name="bench")


def model_tensors_by_key(model, keys: list[str], kind: str) -> dict[str, np.ndarray]:
    """The model's weights keyed as kerasave keys them in ``kind`` (for the equality check)."""
    out = {}
    seen: dict[str, int] = {}
    for layer in model.layers:
        # Keras 3 files name a model's layers by class (dense, dense_1, ...), not layer.name.
        base = "dense" if type(layer).__name__ == "Dense" else type(layer).__name__.lower()
        n = seen.get(base, 0)
        seen[base] = n + 1
        for i, w in enumerate(layer.weights):
            if kind == "legacy":
                k = f"model_weights/{layer.name}/{w.path}"
            else:
                k = f"layers/{base if n == 0 else f'{base}_{n}'}/vars/{i}"
            out[k] = np.asarray(w.numpy())
    missing = set(keys) ^ set(out)
    assert not missing, f"{kind}: key mismatch, e.g. {sorted(missing)[:3]}"
    return out


# -- peak RSS in a subprocess -------------------------------------------------------------------


def child_main(op: str, path: str, mode: str) -> None:
    """One read operation, once, reporting memory as JSON on stdout. ``mode`` "views" keeps the
    arrays; "touch" also sums every tensor, so every byte is read."""
    touch = mode == "touch"
    if op == "keras_load":
        keras = quiet_keras()
        import tensorflow  # noqa: F401 - the backend, imported before the VmHWM reset

        def run():
            model = keras.saving.load_model(path)
            if touch:
                for w in model.weights:
                    float(keras.ops.sum(w))
            return model.weights

    elif op == "h5py":
        import h5py

        def run():
            with h5py.File(path, "r") as f:
                keys = []
                f.visititems(lambda k, o: keys.append(k) if isinstance(o, h5py.Dataset) else None)
                arrays = [f[k][()] for k in keys]
            if touch:
                for a in arrays:
                    float(np.add.reduce(a, axis=None))
            return arrays

    else:
        import kerasave as ks

        verify = op.endswith("_v")

        def run():
            with ks.open(path, verify=verify) as s:
                arrays = s.get_many(s.keys())
            if touch:
                for a in arrays:
                    float(np.add.reduce(a, axis=None))
            return arrays

    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS (Linux >= 4.0)
        reset = True
    except OSError:
        reset = False
    before = _status()
    result = run()
    after = _status()
    print(json.dumps({"op": op, "mode": mode, "reset": reset, "before": before, "after": after,
                      "n": len(result)}))


def rss_of(op: str, path: Path, mode: str) -> Optional[dict]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", op, str(path), mode]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=1200).stdout
        return json.loads(out.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as e:
        log(f"  rss {op} {mode}: failed: {e}")
        return None


# -- the benchmark ------------------------------------------------------------------------------


@dataclass
class Row:
    workload: str
    file: str
    operation: str
    ks: Stat
    peer_name: str
    peer: Stat
    target: Optional[float] = None  # minimum ratio
    target_text: str = "reference"

    @property
    def ratio(self) -> float:
        return self.peer.best / self.ks.best

    @property
    def ratio_median(self) -> float:
        return self.peer.median / self.ks.median

    @property
    def met(self) -> str:
        if self.target is None:
            return "—"
        return "**met**" if self.ratio >= self.target else "**MISSED**"


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    raw: list[tuple[str, str, Stat, int]] = field(default_factory=list)  # workload, op, stat, bytes
    rss: list[tuple[str, str, str, dict, int]] = field(default_factory=list)  # w, op, mode, info, nb
    loads: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


def run_workload(name: str, args: argparse.Namespace, data_dir: Path, res: Results) -> None:
    import h5py

    import kerasave as ks

    keras = quiet_keras()

    count, total = WORKLOADS[name]
    if args.quick:
        total //= QUICK_DIVISOR
    repeat = args.repeat
    log(f"== workload {name}: {count} x float32, {fmt_bytes(total)} total; load {loadavg()}")
    res.loads.append(f"workload {name} start: {loadavg()}")
    model = build_model(count, total)
    nbytes = sum(int(np.prod(w.shape)) * 4 for w in model.weights)

    wdir = data_dir / f"keras_{name}"
    shutil.rmtree(wdir, ignore_errors=True)
    (wdir / "keras").mkdir(parents=True)
    (wdir / "ks").mkdir()
    kpath = {k: wdir / "keras" / f for k, (f, _) in FILES.items()}
    kspath = {k: wdir / "ks" / f for k, (f, _) in FILES.items()}
    raw_path = wdir / "raw.bin"
    h5py_path = wdir / "h5py.h5"

    def record(op: str, stat: Stat) -> Stat:
        res.raw.append((name, op, stat, nbytes))
        gbps = nbytes / stat.best / 1e9
        log(f"  {op:<52} best {fmt_time(stat.best):>9}  median {fmt_time(stat.median):>9}"
            f"  {gbps:7.2f} GB/s")
        return stat

    def clean(path: Path) -> Callable[[], None]:
        def setup() -> None:
            gc.collect()
            if path.exists():
                path.unlink()
            os.sync()

        return setup

    # -- writes: Keras first (its files give kerasave the layout) ------------------------------
    keras_writers = {
        "keras": ("Keras model.save(.keras)", lambda: model.save(kpath["keras"])),
        "weights": ("Keras model.save_weights", lambda: model.save_weights(kpath["weights"])),
        "legacy": ("Keras model.save(.h5)", lambda: model.save(kpath["legacy"])),
    }
    keras_w = {}
    for kind, (label, fn) in keras_writers.items():
        keras_w[kind] = record(f"write {FILE_LABELS[kind]}: {label}",
                               measure(fn, repeat, clean(kpath[kind])))

    # The tensors kerasave writes: numpy arrays in memory, keyed and laid out as in Keras's file.
    layouts = {}
    tensors_by_kind = {}
    for kind, (_, fmt) in FILES.items():
        with ks.open(kpath[kind], verify=True) as s:
            assert s.format == fmt, (kind, s.format)
            keys = list(s.keys())
            expected = model_tensors_by_key(model, keys, kind)
            tensors = {}
            for k in keys:
                a = s.get(k, copy=True)
                assert np.array_equal(a, expected[k]), f"{kind}: {k} differs from the model"
                tensors[k] = a
            layouts[kind] = dict(
                format=fmt,
                config=s.config,
                metadata=s.metadata,
                attrs={g: s.attrs(g) for g in s.groups()},
            )
            tensors_by_kind[kind] = tensors
        del expected
    gc.collect()

    ks_w = {}
    for kind in FILES:
        tensors, layout = tensors_by_kind[kind], layouts[kind]

        def write(kind=kind, tensors=tensors, layout=layout):
            ks.save_tensors(kspath[kind], tensors, **layout)

        ks_w[kind] = record(f"write {FILE_LABELS[kind]}: ks.save_tensors",
                            measure(write, repeat, clean(kspath[kind])))

        def write_nosync(kind=kind, tensors=tensors, layout=layout):
            ks.save_tensors(kspath[kind], tensors, fsync=False, **layout)

        ks_w[kind, "nosync"] = record(f"write {FILE_LABELS[kind]}: ks.save_tensors(fsync=False)",
                                      measure(write_nosync, repeat, clean(kspath[kind])))

    arrays = list(tensors_by_kind["weights"].values())

    def tofile(fsync: bool) -> Callable[[], None]:
        def run() -> None:
            with open(raw_path, "wb") as f:
                for a in arrays:
                    a.tofile(f)
                if fsync:
                    f.flush()
                    os.fsync(f.fileno())

        return run

    def h5py_write() -> None:
        with h5py.File(h5py_path, "w") as f:
            for k, a in tensors_by_kind["weights"].items():
                f.create_dataset(k, data=a)

    tofile_sync = record("write: np.tofile + os.fsync",
                         measure(tofile(True), repeat, clean(raw_path)))
    tofile_nosync = record("write: np.tofile (no fsync)",
                           measure(tofile(False), repeat, clean(raw_path)))
    h5py_w = record("write: h5py create_dataset (no fsync)",
                    measure(h5py_write, repeat, clean(h5py_path)))
    raw_path.unlink()
    h5py_path.unlink()

    for kind in FILES:
        res.rows.append(Row(name, FILE_LABELS[kind], "write", ks_w[kind],
                            keras_writers[kind][0], keras_w[kind], TARGET_WRITE_VS_KERAS, "≥ 3x"))
        res.rows.append(Row(name, FILE_LABELS[kind], "write, fsync=False", ks_w[kind, "nosync"],
                            keras_writers[kind][0], keras_w[kind], TARGET_WRITE_VS_KERAS, "≥ 3x"))
    res.rows += [
        Row(name, ".weights.h5", "write, fsync=False", ks_w["weights", "nosync"],
            "np.tofile, no fsync", tofile_nosync),
        Row(name, ".weights.h5", "write, fsync=False", ks_w["weights", "nosync"],
            "h5py create_dataset", h5py_w),
        Row(name, ".weights.h5", "write", ks_w["weights"], "np.tofile + fsync", tofile_sync),
        Row(name, ".weights.h5", "write", ks_w["weights"], "np.tofile, no fsync", tofile_nosync),
        Row(name, ".weights.h5", "write", ks_w["weights"], "h5py create_dataset", h5py_w),
    ]

    # -- correctness (untimed): Keras loads kerasave's files with equal values -----------------
    def equal_weights(m, kind: str) -> bool:
        tensors = tensors_by_kind[kind]
        got = model_tensors_by_key(m, list(tensors), kind)
        return all(np.array_equal(got[k], a) for k, a in tensors.items())

    ok_keras = equal_weights(keras.saving.load_model(kspath["keras"]), "keras")
    ok_legacy = equal_weights(keras.saving.load_model(kspath["legacy"]), "legacy")
    fresh = build_model(count, total)
    fresh.load_weights(kspath["weights"])
    ok_weights = equal_weights(fresh, "weights")
    del fresh
    with ks.open(kspath["keras"], verify=False) as s:
        aligned = s.weights_in_place and s.weights_range[0] % 4096 == 0
    assert ok_keras and ok_legacy and ok_weights, (ok_keras, ok_legacy, ok_weights)
    res.checks.append(
        f"{name}: Keras {keras.__version__} loads kerasave's .keras and legacy .h5 "
        f"(load_model) and .weights.h5 (load_weights) with weights equal to the model's; "
        f"kerasave's .keras weights member is STORED at a 4096-aligned offset: {aligned}"
    )
    del model, tensors_by_kind, arrays, tensors
    keras.backend.clear_session()
    gc.collect()
    if args.writes_only:
        if not args.keep:
            shutil.rmtree(wdir, ignore_errors=True)
        return

    # -- reads (page cache warm) --------------------------------------------------------------
    read_through(list(kpath.values()))
    read_keys = {}
    for kind in FILES:
        with ks.open(kpath[kind], verify=False) as s:
            read_keys[kind] = list(s.keys())
            zero_copy = all(s.is_zero_copy(k) for k in read_keys[kind])
        res.checks.append(f"{name} {FILE_LABELS[kind]}: every tensor a zero-copy view: {zero_copy}")

    def ks_read(kind: str, verify: bool, many: bool):
        p, keys = str(kpath[kind]), read_keys[kind]

        def run():
            with ks.open(p, verify=verify) as s:
                return s.get_many(keys) if many else [s[k] for k in keys]

        return run

    def h5py_read(kind: str):
        p, keys = str(kpath[kind]), read_keys[kind]

        def run():
            with h5py.File(p, "r") as f:
                return [f[k][()] for k in keys]

        return run

    def h5py_open_only(p: str, keys: list[str]) -> int:
        with h5py.File(p, "r") as f:
            return sum(f[k].id.id > 0 for k in keys)

    def h5py_zip_read():
        p, keys = str(kpath["keras"]), read_keys["keras"]

        def run():
            with zipfile.ZipFile(p) as zf, zf.open("model.weights.h5") as member, \
                    h5py.File(member, "r") as f:
                return [f[k][()] for k in keys]

        return run

    def load_model():
        return keras.saving.load_model(kpath["keras"])

    def fresh_session() -> None:
        gc.collect()
        keras.backend.clear_session()  # as in a new process (untimed)

    reads = {}
    for kind in ("weights", "legacy", "keras"):
        lab = FILE_LABELS[kind]
        reads[kind, "ks"] = record(f"read {lab}: ks.open(verify=False) [k] per key",
                                   measure(ks_read(kind, False, False), repeat))
        reads[kind, "ks_many"] = record(f"read {lab}: ks.open(verify=False).get_many",
                                        measure(ks_read(kind, False, True), repeat))
        if kind != "keras":
            reads[kind, "h5py"] = record(f"read {lab}: h5py f[k][()] every dataset",
                                         measure(h5py_read(kind), repeat))
    reads["keras", "ks_v"] = record("read .keras: ks.open(verify=True).get_many (CRC-32)",
                                    measure(ks_read("keras", True, True), repeat))
    if count <= H5PY_ZIP_MAX_TENSORS:
        reads["keras", "h5py"] = record("read .keras: h5py via zipfile member f[k][()]",
                                        measure(h5py_zip_read(), repeat))
    else:
        res.checks.append(
            f"{name}: h5py through a zipfile member not timed for {count} tensors (a run took "
            "40-45 s: zipfile serves every backward seek by re-reading the member from its start)"
        )
    reads["keras", "load"] = record("read .keras: keras.saving.load_model",
                                    measure(load_model, repeat, fresh_session))
    # Fixed costs, for the analysis: opening alone (metadata of every dataset), no tensor read.
    wp = str(kpath["weights"])
    record("open only .weights.h5: ks.open(verify=False)",
           measure(lambda: ks.open(wp, verify=False).close(), repeat))
    record("open only .weights.h5: h5py.File + every f[k] (no read)",
           measure(lambda: h5py_open_only(wp, read_keys["weights"]), repeat))
    keras.backend.clear_session()
    gc.collect()
    for kind in ("weights", "legacy"):
        lab = FILE_LABELS[kind]
        for op, label in (("ks", "per key"), ("ks_many", "get_many")):
            res.rows.append(Row(name, lab, f"read zero-copy, verify=False, {label}",
                                reads[kind, op], "h5py f[k][()]", reads[kind, "h5py"],
                                TARGET_READ_VS_H5PY, "≥ 100x"))
    for op, label, target in (("ks", "verify=False, per key", True),
                              ("ks_many", "verify=False, get_many", True),
                              ("ks_v", "verify=True (CRC-32), get_many", False)):
        res.rows.append(Row(name, ".keras", f"read in place, {label}", reads["keras", op],
                            "Keras load_model", reads["keras", "load"],
                            TARGET_READ_VS_LOAD_MODEL if target else None,
                            "≥ 20x" if target else "reference"))
    if ("keras", "h5py") in reads:
        res.rows.append(Row(name, ".keras", "read in place, verify=False, get_many",
                            reads["keras", "ks_many"], "h5py via zipfile",
                            reads["keras", "h5py"]))

    # -- peak RSS per read operation, one subprocess each -------------------------------------
    if not args.no_rss:
        ops = [("ks_nv", "keras"), ("ks_v", "keras"), ("keras_load", "keras"),
               ("ks_nv", "weights"), ("h5py", "weights"), ("ks_nv", "legacy")]
        for op, kind in ops:
            for mode in ("views", "touch"):
                info = rss_of(op, kpath[kind], mode)
                if info:
                    res.rss.append((name, f"{op}:{kind}", mode, info, nbytes))
                    a, b = info["after"], info["before"]
                    log(f"  rss {op:<10} {kind:<8} {mode:<5} peak "
                        f"+{fmt_bytes(a['VmHWM'] - b['VmRSS'])}"
                        f"  anon +{fmt_bytes(a['RssAnon'] - b['RssAnon'])}"
                        f"  file +{fmt_bytes(a['RssFile'] - b['RssFile'])}")

    res.loads.append(f"workload {name} end: {loadavg()}")
    if not args.keep:
        shutil.rmtree(wdir, ignore_errors=True)


# -- report -------------------------------------------------------------------------------------

RSS_NAMES = {
    "ks_nv:keras": ".keras: ks.open(verify=False).get_many",
    "ks_v:keras": ".keras: ks.open(verify=True).get_many (CRC-32)",
    "keras_load:keras": ".keras: Keras load_model",
    "ks_nv:weights": ".weights.h5: ks.open(verify=False).get_many",
    "h5py:weights": ".weights.h5: h5py f[k][()]",
    "ks_nv:legacy": "legacy .h5: ks.open(verify=False).get_many",
}


def versions() -> str:
    def version(mod: str) -> str:
        try:
            return __import__(mod).__version__
        except Exception:  # noqa: BLE001 - report whatever is there
            return "n/a"

    try:
        import kerasave._core as core

        built = datetime.datetime.fromtimestamp(os.path.getmtime(core.__file__),
                                                datetime.timezone.utc)
        wheel = f"; kerasave native module installed {built:%Y-%m-%d %H:%M} UTC"
    except Exception:  # noqa: BLE001
        wheel = ""
    return (f"keras {version('keras')} (backend {os.environ.get('KERAS_BACKEND')}), "
            f"h5py {version('h5py')} (libhdf5 "
            f"{__import__('h5py').version.hdf5_version}){wheel}")


def render(res: Results, args: argparse.Namespace, data_dir: Path, command: str) -> str:
    out = []
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    out.append(f"# Keras file benchmarks ({'quick smoke run' if args.quick else 'full run'})\n")
    out.append(f"Run {when}: `{command}`\n")
    for f in machine_facts(data_dir):
        out.append(f"- {f}")
    out.append(f"- {versions()}")
    out.append(f"- Load average (1/5/15 min): {'; '.join(res.loads)}")
    out.append(f"- {args.repeat} timed runs per cell after 1 untimed warm-up; cells are "
               "**best (median)**; ratio = peer time / kerasave time on the best runs (above 1 "
               "= kerasave faster), median ratio in brackets.")
    out.append("- Model: functional Keras model of Dense layers without bias (A: 16 x "
               "4096x4096 float32 = 1 GiB; B: 1024 x 256x256 = 256 MiB), saved by Keras; "
               "kerasave writes the same tensors (numpy, in memory) with the config, metadata and "
               "group attributes `ks.open` reads from Keras's file.")
    out.append("- Writes: output deleted and `os.sync()` before each run (untimed). kerasave "
               "fsyncs what it writes by default (temp + fsync + rename); `fsync=False` keeps "
               "the temp + rename and skips the sync. A `.keras`'s weights are written by "
               "libhdf5 straight into the archive's temp file (HDF5 userblock), no temp `.h5`. "
               "Keras and h5py do not fsync.")
    out.append("- Reads: page cache warm for everyone (files just written and read through once "
               "before timing); times include opening the file; kerasave gives zero-copy views "
               "of the memory map, h5py copies (`f[k][()]`), Keras `load_model` alone is the "
               "peer for `.keras` (weights land in TF variables; no `get_weights()`).")
    out.append("")
    out.append("| workload | file | operation | kerasave | peer | peer time | ratio | target | |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in res.rows:
        out.append(
            f"| {r.workload} | {r.file} | {r.operation} | {r.ks.cell()} | {r.peer_name} "
            f"| {r.peer.cell()} | {fmt_ratio(r.ratio)} ({fmt_ratio(r.ratio_median)}) "
            f"| {r.target_text} | {r.met} |"
        )
    if res.rss:
        out.append("")
        out.append("Memory of one read, each in a fresh subprocess: peak = VmHWM after the read "
                   "minus RSS before it (VmHWM reset after imports); anon/file = growth of "
                   "RssAnon/RssFile while the arrays are alive (file pages are the shared page "
                   "cache mapped in). \"views\": the arrays only; \"touch\": plus a sum over "
                   "every tensor (every byte read). Target: reading all weights of a `.keras` "
                   f"≤ {TARGET_RSS}x the weights.\n")
        out.append("| workload | operation | mode | peak RSS | x weights | anon | file-backed "
                   "| target | |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for w, op, mode, info, nb in res.rss:
            a, b = info["after"], info["before"]
            peak = a["VmHWM"] - b["VmRSS"]
            is_target = op.startswith("ks_") and op.endswith(":keras")
            met = ("**met**" if peak <= TARGET_RSS * nb else "**MISSED**") if is_target else "—"
            out.append(f"| {w} | {RSS_NAMES.get(op, op)} | {mode} | {fmt_bytes(peak)} "
                       f"| {peak / nb:.3f} | {fmt_bytes(a['RssAnon'] - b['RssAnon'])} "
                       f"| {fmt_bytes(a['RssFile'] - b['RssFile'])} "
                       f"| {f'≤ {TARGET_RSS}x' if is_target else 'reference'} | {met} |")
    out.append("")
    out.append("All timings (throughput on the best run, bytes of tensor data):\n")
    out.append("| workload | operation | best | median | GB/s | runs |")
    out.append("|---|---|---|---|---|---|")
    for w, op, st, nb in res.raw:
        runs = ", ".join(fmt_time(t) for t in st.times)
        out.append(f"| {w} | {op} | {fmt_time(st.best)} | {fmt_time(st.median)} "
                   f"| {nb / st.best / 1e9:.2f} | {runs} |")
    if res.checks:
        out.append("")
        out.append("Checks: " + "; ".join(res.checks) + ".")
    return "\n".join(out) + "\n"


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"sizes / {QUICK_DIVISOR} (A: 4 MiB, B: 1 MiB), for smoke tests")
    p.add_argument("--workload", choices=["A", "B", "all"], default="all")
    p.add_argument("--repeat", type=int, default=5, help="timed runs after the warm-up run")
    p.add_argument("--data-dir", type=Path, default=HERE / "data",
                   help="where files are written (default benches/data, git-ignored)")
    p.add_argument("--results", type=Path, default=None,
                   help="markdown report path (default: benches/results_keras.md for a full run, "
                        "none for --quick)")
    p.add_argument("--no-rss", action="store_true", help="skip the per-operation RSS subprocesses")
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    p.add_argument("--writes-only", action="store_true",
                   help="time the writes only (then check that Keras loads kerasave's files)")
    args = p.parse_args()
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    command = " ".join(["python3 benches/keras_bench.py"]
                       + [shlex.quote(a) for a in sys.argv[1:]])
    results_path = args.results
    if results_path is None and not args.quick:
        results_path = HERE / "results_keras.md"

    args.data_dir.mkdir(parents=True, exist_ok=True)
    res = Results()
    res.loads.append(f"start: {loadavg()}")
    for name in (["A", "B"] if args.workload == "all" else [args.workload]):
        run_workload(name, args, args.data_dir, res)
    res.loads.append(f"end: {loadavg()}")
    report = render(res, args, args.data_dir, command)
    print(report)
    if results_path is not None:
        results_path.write_text(report)
        log(f"wrote {results_path}")


if __name__ == "__main__":
    main()
