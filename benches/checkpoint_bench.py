#!/usr/bin/env python3
"""kerasave vs TensorFlow (and np.tofile, safetensors) on TF checkpoints, one process.

Every peer is measured in the same run on the same arrays, and the table reports ratios
(``peer time / kerasave time``: above 1 means kerasave is faster).

Workloads (float32):
  A: 1 GiB in 16 tensors (4096x4096 each)
  B: 256 MiB in 1024 tensors (256x256 each)
``--quick`` divides the bytes by 256 (same tensor counts) for smoke tests.

Method:
  * Each measurement runs ``--repeat`` times after one untimed warm-up run; best and median
    are reported, ratios use the best (median ratio shown too).
  * Writes: the previous output is deleted and ``os.sync()`` is called before every run (both
    untimed), so each write starts with no dirty pages of its own queued. kerasave's writer fsyncs
    every file by default (temp file + fsync + rename); TF's ``Checkpoint.write`` and safetensors'
    ``save_file`` do not fsync; ``np.tofile`` is measured both with and without ``os.fsync``, and
    the target ratio uses the fsync'd one (same durability as kerasave). The targets are checked
    on the default (fsync=True); ``save_checkpoint(..., fsync=False)`` (still atomic, no
    durability sync, like TF) is reported alongside against TF.
  * Reads: every reader reads the same TF-written checkpoint; the page cache is warm (the files
    were just written and are read once in full before timing). Times include opening the
    reader. The object graph key is not read; every variable is.
  * Peak RSS: each read operation also runs once in a fresh subprocess that resets VmHWM
    (``/proc/self/clear_refs``) after its imports, so numbers are separable per operation.

Run ``python3 benches/checkpoint_bench.py --help``; see benches/README.md.
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
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GIB = 1 << 30
MIB = 1 << 20
QUICK_DIVISOR = 256

#: name -> (tensor count, total bytes)
WORKLOADS = {"A": (16, 1 * GIB), "B": (1024, 256 * MIB)}

#: Targets (from the issue), as a minimum of peer_time / kerasave_time.
TARGET_READ_ZERO_COPY = 500.0
TARGET_READ_VERIFY = 4.0
TARGET_WRITE_VS_TF = 3.0
TARGET_WRITE_VS_TOFILE = 1 / 1.5


# -- small helpers ------------------------------------------------------------------------------


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"
    return f"{s:.2f} s"


def fmt_bytes(n: float) -> str:
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def fmt_ratio(r: float) -> str:
    if r >= 100:
        return f"{r:,.0f}x"
    if r >= 10:
        return f"{r:.1f}x"
    return f"{r:.2f}x"


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Stat:
    times: list[float]

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def cell(self) -> str:
        return f"{fmt_time(self.best)} ({fmt_time(self.median)})"


def measure(
    fn: Callable[[], object],
    repeat: int,
    setup: Optional[Callable[[], None]] = None,
) -> Stat:
    """Runs ``fn`` once untimed (warm-up), then ``repeat`` timed runs. ``setup`` runs untimed
    before every run; results are dropped (and collected) outside the timed region."""
    times = []
    for i in range(repeat + 1):
        if setup is not None:
            setup()
        # Like timeit: no collector pauses inside the timed call. No gc.collect() right before
        # it either: walking every object (TF imports a lot) evicts the CPU caches and adds
        # hundreds of µs to sub-millisecond reads. Reads make no cycles; their arrays are freed
        # by `del result`.
        gc.disable()
        try:
            t0 = time.perf_counter()
            result = fn()
            t1 = time.perf_counter()
        finally:
            gc.enable()
        del result
        if i > 0:
            times.append(t1 - t0)
    gc.collect()
    return Stat(times)


def remove_prefix(prefix: Path) -> None:
    parent = prefix.parent
    if not parent.exists():
        return
    for p in parent.iterdir():
        if p.name.startswith(prefix.name + ".") or p.name.startswith(prefix.name + "_temp"):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()


def read_through(paths: list[Path]) -> None:
    """Reads files fully so they are in the page cache."""
    buf = bytearray(8 * MIB)
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


def prefix_files(prefix: Path) -> list[Path]:
    return sorted(p for p in prefix.parent.iterdir() if p.name.startswith(prefix.name + "."))


def var_names(count: int) -> list[str]:
    return [f"v{i:04d}" for i in range(count)]


def ckpt_key(name: str) -> str:
    return f"{name}/.ATTRIBUTES/VARIABLE_VALUE"


def make_arrays(count: int, total: int) -> list[np.ndarray]:
    n = total // count // 4
    rows = 1 << (int(np.log2(n)) // 2)
    shape = (rows, n // rows)
    rng = np.random.default_rng(0)
    return [rng.random(shape, dtype=np.float32) for _ in range(count)]


# -- peak RSS in a subprocess -------------------------------------------------------------------


def _status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[k] = int(v.split()[0]) * 1024
    return out


def child_main(op: str, path: str, count: int) -> None:
    """One read operation, once, reporting memory as JSON on stdout."""
    keys = [ckpt_key(n) for n in var_names(count)]
    if op == "tf_read":
        import tensorflow as tf

        def run():
            r = tf.train.load_checkpoint(path)
            return [r.get_tensor(k) for k in keys]

    elif op == "st_read":
        from safetensors import safe_open

        def run():
            with safe_open(path, framework="np") as f:
                return [f.get_tensor(k) for k in f.keys()]

    else:
        import kerasave as ks

        verify = op.endswith("_v")
        many = op.startswith("ks_many")

        def run():
            with ks.open(path, verify=verify) as s:
                return s.get_many(keys) if many else [s[k] for k in keys]

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
    print(json.dumps({"op": op, "reset": reset, "before": before, "after": after,
                      "n": len(result)}))


def rss_of(op: str, path: Path, count: int) -> Optional[dict]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", op, str(path), str(count)]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
        return json.loads(out.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as e:
        log(f"  rss {op}: failed: {e}")
        return None


# -- the benchmark ------------------------------------------------------------------------------


@dataclass
class Row:
    workload: str
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
    rss: list[tuple[str, str, dict]] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


def run_workload(name: str, args: argparse.Namespace, data_dir: Path, res: Results) -> None:
    import tensorflow as tf
    from safetensors import safe_open
    from safetensors.numpy import save_file

    import kerasave as ks

    count, total = WORKLOADS[name]
    if args.quick:
        total //= QUICK_DIVISOR
    repeat = args.repeat
    log(f"== workload {name}: {count} x float32, {fmt_bytes(total)} total; load {loadavg()}")
    res.loads.append(f"workload {name} start: {loadavg()}")
    arrays = make_arrays(count, total)
    nbytes = sum(a.nbytes for a in arrays)
    names = var_names(count)
    keys = [ckpt_key(n) for n in names]
    tensors = dict(zip(keys, arrays))

    wdir = data_dir / name
    shutil.rmtree(wdir, ignore_errors=True)
    wdir.mkdir(parents=True)
    tf_prefix = wdir / "tf" / "ckpt"
    ks_prefix = wdir / "ks" / "ckpt"
    raw_path = wdir / "raw.bin"
    st_path = wdir / "tensors.safetensors"

    def record(op: str, stat: Stat) -> Stat:
        res.raw.append((name, op, stat, nbytes))
        gbps = nbytes / stat.best / 1e9
        log(f"  {op:<48} best {fmt_time(stat.best):>9}  median {fmt_time(stat.median):>9}"
            f"  {gbps:7.2f} GB/s")
        return stat

    # -- writes -------------------------------------------------------------------------------
    variables = {n: tf.Variable(a, name=n) for n, a in zip(names, arrays)}
    checkpoint = tf.train.Checkpoint(**variables)

    def clean(path: Path, is_prefix: bool = True) -> Callable[[], None]:
        def setup() -> None:
            gc.collect()
            if is_prefix:
                remove_prefix(path)
            elif path.exists():
                path.unlink()
            os.sync()

        return setup

    tf_write = record(
        "write: TF Checkpoint.write",
        measure(lambda: checkpoint.write(str(tf_prefix)), repeat, clean(tf_prefix)),
    )
    ks_write = record(
        "write: ks.checkpoint.save_checkpoint",
        measure(lambda: ks.checkpoint.save_checkpoint(ks_prefix, tensors), repeat,
                clean(ks_prefix)),
    )
    # Atomic (temp + rename) but no durability sync: what TF's own writer does.
    ks_write_nosync = record(
        "write: ks.checkpoint.save_checkpoint(fsync=False)",
        measure(lambda: ks.checkpoint.save_checkpoint(ks_prefix, tensors, fsync=False), repeat,
                clean(ks_prefix)),
    )

    def tofile(fsync: bool) -> Callable[[], None]:
        def run() -> None:
            with open(raw_path, "wb") as f:
                for a in arrays:
                    a.tofile(f)
                if fsync:
                    f.flush()
                    os.fsync(f.fileno())

        return run

    tofile_sync = record("write: np.tofile + os.fsync",
                         measure(tofile(True), repeat, clean(raw_path, False)))
    tofile_nosync = record("write: np.tofile (no fsync)",
                           measure(tofile(False), repeat, clean(raw_path, False)))
    st_write = record("write: safetensors save_file",
                      measure(lambda: save_file(tensors, str(st_path)), repeat,
                              clean(st_path, False)))
    del variables, checkpoint
    gc.collect()
    raw_path.unlink()

    res.rows += [
        Row(name, "write", ks_write, "TF Checkpoint.write", tf_write, TARGET_WRITE_VS_TF, "≥ 3x"),
        Row(name, "write, fsync=False", ks_write_nosync, "TF Checkpoint.write", tf_write),
        Row(name, "write", ks_write, "np.tofile + fsync", tofile_sync, TARGET_WRITE_VS_TOFILE,
            "≥ 0.67x (within 1.5x)"),
        Row(name, "write", ks_write, "np.tofile, no fsync", tofile_nosync),
        Row(name, "write", ks_write, "safetensors save_file", st_write),
    ]

    # -- correctness (untimed) ----------------------------------------------------------------
    with ks.open(tf_prefix, verify=True) as s:
        got = [s[k] for k in keys]
        assert all(np.array_equal(g, a) for g, a in zip(got, arrays)), "ks read of TF ckpt"
        zero_copy = all(not g.flags.owndata and not g.flags.writeable for g in got)
    del got
    reader = tf.train.load_checkpoint(str(ks_prefix))
    assert all(np.array_equal(reader.get_tensor(k), a) for k, a in zip(keys, arrays)), \
        "TF read of ks ckpt"
    del reader
    res.checks.append(
        f"{name}: kerasave reads TF's checkpoint bit-exact (zero-copy views: {zero_copy}); "
        f"TF reads kerasave's checkpoint bit-exact"
    )
    del arrays, tensors
    gc.collect()

    # -- reads (page cache warm) --------------------------------------------------------------
    read_through(prefix_files(tf_prefix) + [st_path])
    tf_path = str(tf_prefix)

    def tf_read():
        r = tf.train.load_checkpoint(tf_path)
        return [r.get_tensor(k) for k in keys]

    def ks_read(verify: bool, many: bool):
        def run():
            with ks.open(tf_path, verify=verify) as s:
                return s.get_many(keys) if many else [s[k] for k in keys]

        return run

    def st_read():
        with safe_open(str(st_path), framework="np") as f:
            return [f.get_tensor(k) for k in f.keys()]

    tf_r = record("read: TF load_checkpoint + get_tensor", measure(tf_read, repeat))
    ks_nv = record("read: ks.open(verify=False) [k] per key", measure(ks_read(False, False), repeat))
    ks_nv_many = record("read: ks.open(verify=False).get_many", measure(ks_read(False, True), repeat))
    ks_v = record("read: ks.open(verify=True) [k] per key", measure(ks_read(True, False), repeat))
    ks_v_many = record("read: ks.open(verify=True).get_many", measure(ks_read(True, True), repeat))
    st_r = record("read: safetensors safe_open(np) get_tensor", measure(st_read, repeat))
    # Fixed costs, for the analysis: opening alone (index parse), no tensor read.
    record("open only: TF load_checkpoint", measure(lambda: tf.train.load_checkpoint(tf_path),
                                                    repeat))
    record("open only: ks.open(verify=False)",
           measure(lambda: ks.open(tf_path, verify=False).close(), repeat))

    res.rows += [
        Row(name, "read zero-copy, verify=False, per key", ks_nv, "TF load_checkpoint+get_tensor",
            tf_r, TARGET_READ_ZERO_COPY, "≥ 500x"),
        Row(name, "read zero-copy, verify=False, get_many", ks_nv_many,
            "TF load_checkpoint+get_tensor", tf_r, TARGET_READ_ZERO_COPY, "≥ 500x"),
        Row(name, "read verify=True (CRC32C), per key", ks_v, "TF load_checkpoint+get_tensor",
            tf_r, TARGET_READ_VERIFY, "≥ 4x"),
        Row(name, "read verify=True (CRC32C), get_many", ks_v_many,
            "TF load_checkpoint+get_tensor", tf_r, TARGET_READ_VERIFY, "≥ 4x"),
        Row(name, "read zero-copy, verify=False, per key", ks_nv, "safetensors safe_open(np)", st_r),
    ]

    # -- peak RSS per read operation, one subprocess each -------------------------------------
    if not args.no_rss:
        for op, path in (("tf_read", tf_path), ("ks_read_nv", tf_path), ("ks_many_nv", tf_path),
                         ("ks_read_v", tf_path), ("ks_many_v", tf_path),
                         ("st_read", str(st_path))):
            info = rss_of(op, Path(path), count)
            if info:
                res.rss.append((name, op, info))
                a, b = info["after"], info["before"]
                log(f"  rss {op:<12} peak +{fmt_bytes(a['VmHWM'] - b['VmRSS'])}"
                    f"  anon +{fmt_bytes(a['RssAnon'] - b['RssAnon'])}"
                    f"  file +{fmt_bytes(a['RssFile'] - b['RssFile'])}")

    res.loads.append(f"workload {name} end: {loadavg()}")
    if not args.keep:
        shutil.rmtree(wdir, ignore_errors=True)


# -- report -------------------------------------------------------------------------------------

RSS_NAMES = {
    "tf_read": "TF load_checkpoint + get_tensor",
    "ks_read_nv": "ks.open(verify=False) [k] per key",
    "ks_many_nv": "ks.open(verify=False).get_many",
    "ks_read_v": "ks.open(verify=True) [k] per key",
    "ks_many_v": "ks.open(verify=True).get_many",
    "st_read": "safetensors safe_open(np) get_tensor",
}


def machine_facts(data_dir: Path) -> list[str]:
    facts = []
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor() or "?"
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = fmt_bytes(int(line.split()[1]) * 1024)
    except OSError:
        pass
    fs = "?"
    try:
        out = subprocess.run(["df", "-T", str(data_dir)], capture_output=True, text=True).stdout
        fs = out.splitlines()[-1].split()[1]
    except (OSError, IndexError):
        pass
    facts.append(f"CPU: {cpu}, nproc {os.cpu_count()} "
                 f"(usable {len(os.sched_getaffinity(0))}); RAM {mem}; "
                 f"kernel {platform.release()}; data on {fs}")

    def version(mod: str) -> str:
        try:
            return __import__(mod).__version__
        except Exception:  # noqa: BLE001 - report whatever is there
            return "n/a"

    built = os.environ.get("KERASAVE_BENCH_BUILD")
    if built:  # the wheel under test was built elsewhere (e.g. from `git archive` of a commit)
        rev = f"{built} (installed at {Path(__import__('kerasave').__file__).parent.parent})"
    else:
        try:
            rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                                    "src", "python"], capture_output=True, text=True).stdout
            rev += " (+ uncommitted changes in src/ or python/)" if dirty.strip() else ""
        except OSError:
            rev = "?"
    facts.append(
        f"Python {platform.python_version()}, numpy {version('numpy')}, "
        f"tensorflow {version('tensorflow')}, safetensors {version('safetensors')}, "
        f"kerasave {version('kerasave')} at commit {rev}"
    )
    return facts


def render(res: Results, args: argparse.Namespace, data_dir: Path, command: str) -> str:
    out = []
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    out.append(f"# Checkpoint benchmarks ({'quick smoke run' if args.quick else 'full run'})\n")
    out.append(f"Run {when}: `{command}`\n")
    for f in machine_facts(data_dir):
        out.append(f"- {f}")
    out.append(f"- Load average (1/5/15 min): {'; '.join(res.loads)}")
    out.append(f"- {args.repeat} timed runs per cell after 1 untimed warm-up; cells are "
               "**best (median)**; ratio = peer time / kerasave time on the best runs (above 1 "
               "= kerasave faster), median ratio in brackets.")
    out.append("- Writes: output deleted and `os.sync()` before each run (untimed). kerasave "
               "fsyncs every file it writes by default (temp + fsync + rename); TF "
               "`Checkpoint.write` and safetensors `save_file` do not fsync (TF: temp + rename, "
               "checked with strace); the tofile target uses `np.tofile` + `os.fsync` (same "
               "durability as kerasave). Targets are checked on the default (fsync=True); the "
               "`write, fsync=False` row (atomic, no durability sync, as TF) is shown alongside.")
    out.append("- Reads: page cache warm for everyone (files just written and read through once "
               "before timing); all readers read the same TF-written checkpoint; times include "
               "opening the reader; every variable is read, the object graph key is not.")
    out.append("")
    out.append("| workload | operation | kerasave | peer | peer time | ratio | target | |")
    out.append("|---|---|---|---|---|---|---|---|")
    for r in res.rows:
        out.append(
            f"| {r.workload} | {r.operation} | {r.ks.cell()} | {r.peer_name} | {r.peer.cell()} "
            f"| {fmt_ratio(r.ratio)} ({fmt_ratio(r.ratio_median)}) | {r.target_text} | {r.met} |"
        )
    out.append("")
    out.append("All timings (throughput on the best run, bytes of tensor data):\n")
    out.append("| workload | operation | best | median | GB/s | runs |")
    out.append("|---|---|---|---|---|---|")
    for w, op, st, nb in res.raw:
        runs = ", ".join(fmt_time(t) for t in st.times)
        out.append(f"| {w} | {op} | {fmt_time(st.best)} | {fmt_time(st.median)} "
                   f"| {nb / st.best / 1e9:.2f} | {runs} |")
    if res.rss:
        out.append("")
        out.append("Memory of one read, each in a fresh subprocess (peak = VmHWM after the read "
                   "minus RSS before it, with VmHWM reset after imports; anon/file = growth of "
                   "RssAnon/RssFile while the arrays are alive; file pages are the shared page "
                   "cache mapped in, not private memory):\n")
        out.append("| workload | operation | peak RSS | anon | file-backed |")
        out.append("|---|---|---|---|---|")
        for w, op, info in res.rss:
            a, b = info["after"], info["before"]
            peak = a["VmHWM"] - b["VmRSS"]
            out.append(f"| {w} | {RSS_NAMES.get(op, op)} | {fmt_bytes(peak)} "
                       f"| {fmt_bytes(a['RssAnon'] - b['RssAnon'])} "
                       f"| {fmt_bytes(a['RssFile'] - b['RssFile'])} |")
    if res.checks:
        out.append("")
        out.append("Checks: " + "; ".join(res.checks) + ".")
    return "\n".join(out) + "\n"


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"sizes / {QUICK_DIVISOR} (A: 4 MiB, B: 1 MiB), for smoke tests")
    p.add_argument("--workload", choices=["A", "B", "all"], default="all")
    p.add_argument("--repeat", type=int, default=5, help="timed runs after the warm-up run")
    p.add_argument("--data-dir", type=Path, default=HERE / "data",
                   help="where checkpoints are written (default benches/data, git-ignored)")
    p.add_argument("--results", type=Path, default=None,
                   help="markdown report path (default: benches/results.md for a full run, "
                        "none for --quick)")
    p.add_argument("--no-rss", action="store_true", help="skip the per-operation RSS subprocesses")
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    args = p.parse_args()
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    command = " ".join(["python3 benches/checkpoint_bench.py"]
                       + [shlex.quote(a) for a in sys.argv[1:]])
    results_path = args.results
    if results_path is None and not args.quick:
        results_path = HERE / "results.md"

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
