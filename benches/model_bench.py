#!/usr/bin/env python3
"""Loading a ~1 GiB Keras 3 model: Keras 3 ``load_model`` vs kerasave ``load_model``.

    python3 benches/model_bench.py                 # full run, writes benches/results_model.md
    python3 benches/model_bench.py --quick         # 1/64 of the bytes, prints only

The model (built and saved by real Keras 3.15.1, TensorFlow backend): a functional
``Input(4096) -> Dense(8192) -> Dense(8192) -> Dense(8192) -> Dense(8192) -> Dense(4096)``, biases
included, float32: 1.0 GiB of weights in 10 tensors. Keras writes ``m.keras``, ``m.h5`` (legacy
``model.save``) and ``m.weights.h5`` (``save_weights``).

Method:
  * Every sample runs in a FRESH Python process (``--worker``), so neither library keeps a model,
    a cache or a memory map from an earlier sample. The imports (TensorFlow + Keras: ~10 s;
    kerasave: ~0.1 s) happen before the clock starts and are not counted; the time is the
    ``load_model`` call alone (``load_weights``: the call alone, on a model built beforehand).
  * Page cache warm for both: the files are read through once (untimed) before sampling, and the
    machine has RAM to spare for them. Cold-cache numbers are disk numbers, not ours.
  * Median (and best) of ``--repeat`` samples per cell; samples alternate between libraries.
  * "Ready model": after the timed call the worker runs ``predict`` on a fixed batch (untimed)
    and reports a checksum; the report checks that kerasave's predictions equal Keras's (within
    float32 matmul tolerance) and that the weights equal the file's.
  * Peak RSS: ``VmHWM`` of the worker after the load (reset through ``/proc/self/clear_refs``
    once the imports are done, so it measures the load, not TensorFlow's import), and
    ``RssAnon`` / ``RssFile`` (kerasave's weights are file-backed views of the page cache).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WIDTHS = [4096, 8192, 8192, 8192, 8192, 4096]


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["CUDA_VISIBLE_DEVICES"] = ""
    env.setdefault("KERAS_BACKEND", "tensorflow")
    return env


def _status() -> Dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out


def _reset_hwm() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:  # pragma: no cover - not Linux / not permitted
        pass


def worker(lib: str, op: str, path: str) -> None:
    """One sample in this fresh process; prints a JSON line."""
    import numpy as np

    if lib == "keras":
        import keras

        load_model = keras.saving.load_model
        tag = f"keras {keras.__version__}"
    else:
        sys.path.insert(0, str(REPO / "python"))
        import kerasave as ks

        load_model = ks.models.load_model
        tag = f"kerasave {ks.__version__}"
    model = None
    if op == "load_weights":
        # The architecture from the config.json of the .keras beside it (building is not
        # timed, and the weights are not read before the clock starts).
        import zipfile

        with zipfile.ZipFile(path.replace(".weights.h5", ".keras")) as zf:
            config = zf.read("config.json").decode()
        if lib == "keras":
            model = keras.models.model_from_json(config)
        else:
            model = ks.models.model_from_json(config)
    if op == "load_model_unverified":
        # kerasave's load_model steps with the CRC-32 check of the zip member skipped: where
        # the time goes (a reference row; load_model itself always verifies).
        from kerasave.layers.base import skip_weight_init
        from kerasave.saving import keras_archive
        from kerasave.saving.serialization import deserialize_keras_object

        def load_model(p):  # noqa: F811
            store = ks.open(p, verify=False)
            with skip_weight_init():
                m = deserialize_keras_object(store.config)
            keras_archive.load_from_store(m, store)
            return m
    x = np.linspace(-1, 1, 2 * WIDTHS[0] // SCALE[0], dtype="float32").reshape(2, -1)
    _reset_hwm()
    c0 = time.process_time()
    t0 = time.perf_counter()
    if op in ("load_model", "load_model_unverified"):
        model = load_model(path)
    else:
        model.load_weights(path)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0  # every thread of this process, user + system
    mem = _status()
    y = np.asarray(model.predict(x, verbose=0) if lib == "keras" else model.predict(x))
    first = model.weights[0]
    w0 = np.asarray(first.numpy() if hasattr(first, "numpy") else first)
    zero_copy = None
    if lib == "kerasave":
        from kerasave._core import MappedBuffer

        zero_copy = all(isinstance(np.asarray(w.numpy()).base, MappedBuffer)
                        for w in model.weights)
    print(json.dumps({"lib": tag, "op": op, "seconds": elapsed, "cpu": cpu, "mem": mem,
                      "y": y.astype("float64").ravel().tolist(),
                      "w0_sum": float(w0.astype("float64").sum()), "zero_copy": zero_copy}))


SCALE = [1]


def build_files(data: Path, quick: bool) -> Dict[str, Path]:
    """Builds the model in a subprocess (Keras imports stay out of this process)."""
    data.mkdir(parents=True, exist_ok=True)
    code = f"""
import os, sys, numpy as np, keras
widths = [w // {SCALE[0]} for w in {WIDTHS}]
keras.utils.set_random_seed(0)
inp = keras.Input(shape=(widths[0],), name="x")
h = inp
for i, w in enumerate(widths[1:]):
    h = keras.layers.Dense(w, activation="relu" if i < len(widths) - 2 else None,
                           name=f"dense_{{i}}")(h)
m = keras.Model(inp, h, name="big")
d = {str(data)!r}
m.save(os.path.join(d, "m.keras"))
m.save(os.path.join(d, "m.h5"))
m.save_weights(os.path.join(d, "m.weights.h5"))
print(sum(int(np.prod(w.shape)) * 4 for w in m.weights))
"""
    out = subprocess.run([sys.executable, "-c", code], env=_env(), check=True,
                         capture_output=True, text=True)
    nbytes = int(out.stdout.strip().splitlines()[-1])
    files = {"keras": data / "m.keras", "h5": data / "m.h5", "weights": data / "m.weights.h5"}
    print(f"model: {nbytes / 2**30:.3f} GiB of float32 weights; "
          + ", ".join(f"{p.name} {p.stat().st_size / 2**30:.3f} GiB" for p in files.values()),
          flush=True)
    files["nbytes"] = nbytes  # type: ignore[assignment]
    return files


def sample(lib: str, op: str, path: Path) -> Dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", lib, op, str(path),
           "--scale", str(SCALE[0])]
    out = subprocess.run(cmd, env=_env(), check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def main() -> int:
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1/64 of the bytes; prints only")
    ap.add_argument("--repeat", type=int, default=7, help="samples per cell (default 7)")
    ap.add_argument("--data-dir", default=str(HERE / "data" / "model"))
    ap.add_argument("--results", default=None, help="markdown report "
                    "(default benches/results_model.md for a full run)")
    ap.add_argument("--no-h5", action="store_true", help="only the .keras load_model rows")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--worker", nargs=3, metavar=("LIB", "OP", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--scale", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    SCALE[0] = args.scale
    if args.worker:
        worker(*args.worker)
        return 0
    SCALE[0] = 8 if args.quick else 1  # widths / 8: bytes / 64
    results = args.results or (None if args.quick else str(HERE / "results_model.md"))
    data = Path(args.data_dir)
    t0 = time.perf_counter()
    files = build_files(data, args.quick)
    nbytes = files.pop("nbytes")  # type: ignore[arg-type]
    cells = [("load_model", "keras", ".keras"),
             ("load_model_unverified", "keras", ".keras")]
    if not args.no_h5:
        cells += [("load_model", "h5", "legacy .h5"),
                  ("load_weights", "weights", ".weights.h5")]
    rows = []
    checks: List[str] = []
    for op, which, label in cells:
        path = files[which]
        warm(path)
        runs: Dict[str, List[Dict[str, Any]]] = {"keras": [], "kerasave": []}
        for i in range(args.repeat):
            for lib in ("keras", "kerasave"):
                if op == "load_model_unverified" and lib == "keras":
                    continue  # compared with the Keras load_model samples of the first row
                runs[lib].append(sample(lib, op, path))
        if op == "load_model_unverified":
            runs["keras"] = rows[0]["keras_runs"]
        k, ks_ = runs["keras"], runs["kerasave"]
        tk = [r["seconds"] for r in k]
        tks = [r["seconds"] for r in ks_]
        yk = np.array(k[0]["y"])
        same_y = all(np.allclose(np.array(r["y"]), yk, rtol=1e-4, atol=1e-4) for r in ks_)
        same_w = all(abs(r["w0_sum"] - k[0]["w0_sum"]) <= 1e-6 * max(1, abs(k[0]["w0_sum"]))
                     for r in ks_)
        zero_copy = all(r["zero_copy"] for r in ks_)
        checks.append(f"{label} {op}: predictions equal Keras's ({same_y}), weights equal "
                      f"({same_w}), every kerasave weight a zero-copy view of the file "
                      f"({zero_copy})")
        ratio = statistics.median(tk) / statistics.median(tks)
        rows.append({
            "file": label, "op": op,
            "keras": (statistics.median(tk), min(tk)),
            "kerasave": (statistics.median(tks), min(tks)),
            "ratio": ratio, "best_ratio": min(tk) / min(tks),
            "cpu": (statistics.median(r.get("cpu", float("nan")) for r in k),
                    statistics.median(r.get("cpu", float("nan")) for r in ks_)),
            "rss_keras": statistics.median(r["mem"].get("VmHWM", 0) for r in k),
            "rss_ks": statistics.median(r["mem"].get("VmHWM", 0) for r in ks_),
            "anon_ks": statistics.median(r["mem"].get("RssAnon", 0) for r in ks_),
            "file_ks": statistics.median(r["mem"].get("RssFile", 0) for r in ks_),
            "libs": (k[0]["lib"], ks_[0]["lib"]),
            "runs": (tk, tks), "ok": same_y and same_w, "keras_runs": k,
        })
        print(f"{label:<12} {op:<12} keras {fmt_time(rows[-1]['keras'][0]):>9}  kerasave "
              f"{fmt_time(rows[-1]['kerasave'][0]):>9}  {ratio:,.0f}x  checks {same_y}/{same_w}/"
              f"{zero_copy}", flush=True)
    total = time.perf_counter() - t0
    if not args.keep:
        for p in files.values():
            Path(p).unlink(missing_ok=True)
    if results:
        write_report(Path(results), rows, checks, nbytes, args, total)
        print(f"wrote {results}")
    ok = all(r["ok"] for r in rows) and rows[0]["ratio"] >= 20
    return 0 if ok else 1


def write_report(path: Path, rows: List[Dict[str, Any]], checks: List[str], nbytes: int,
                 args: argparse.Namespace, total: float) -> None:
    import numpy as np

    cmd = "python3 benches/model_bench.py" + ("" if args.repeat == 7 else f" --repeat {args.repeat}")
    lines = [
        "# Model loading: Keras 3 `load_model` vs kerasave `load_model` (issue 4)",
        "",
        f"Command: `{cmd}` ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{total:.0f} s in all). Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}, {rows[0]['libs'][0]}, "
        f"{rows[0]['libs'][1]}.",
        "",
        f"Model: functional `Input(4096) -> Dense(8192) x4 -> Dense(4096)` with biases, float32, "
        f"{nbytes / 2**30:.3f} GiB of weights in 10 tensors, built and saved by Keras 3.",
        "",
        "Method: each sample in a fresh process, imports excluded, the `load_model` (or "
        "`load_weights`) call alone timed; page cache warm for both (files read through once "
        f"before sampling); {args.repeat} samples per library per row, alternating; cells are "
        "**median (best)**; ratio = Keras median / kerasave median. Peak RSS = `VmHWM` reset "
        "after the imports (median). CPU time = user + system time of every thread of the "
        "worker during the call (median): less sensitive than wall time to the other jobs on a "
        "shared machine, which is why it is shown; the target is judged on wall time.",
        "",
        "| file | operation | Keras 3 | kerasave | ratio | target | CPU time Keras / kerasave "
        "(ratio) | peak RSS Keras | peak RSS kerasave (anon + file-backed) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows):
        target = "≥ 20x" if i == 0 else "reference"
        op = r["op"] if r["op"] != "load_model_unverified" else \
            "load_model steps, zip CRC-32 not checked"
        met = (" **met**" if r["ratio"] >= 20 else " **missed**") if i == 0 else ""
        lines.append(
            f"| {r['file']} | {op} | {fmt_time(r['keras'][0])} ({fmt_time(r['keras'][1])}) "
            f"| {fmt_time(r['kerasave'][0])} ({fmt_time(r['kerasave'][1])}) | "
            f"{r['ratio']:,.0f}x ({r['best_ratio']:,.0f}x best) | {target}{met} | "
            f"{fmt_time(r['cpu'][0])} / {fmt_time(r['cpu'][1])} "
            f"({r['cpu'][0] / r['cpu'][1]:,.0f}x) | "
            f"{fmt_bytes(r['rss_keras'])} | {fmt_bytes(r['rss_ks'])} ({fmt_bytes(r['anon_ks'])} "
            f"+ {fmt_bytes(r['file_ks'])}) |")
    lines += ["", "Samples (seconds):", ""]
    for r in rows:
        lines.append(f"- {r['file']} {r['op']}: Keras "
                     + ", ".join(f"{t:.3f}" for t in r["runs"][0]) + "; kerasave "
                     + ", ".join(f"{t:.4f}" for t in r["runs"][1]))
    lines += ["", "Checks (a model that is not ready would not count):", ""]
    lines += [f"- {c}" for c in checks]
    lines += ["", "Why the gap: Keras reads the whole `model.weights.h5` member out of the zip "
              "(`zipfile`, CRC-checked), then every weight out of HDF5 into numpy and into a "
              "TensorFlow variable (3 GiB peak for 1 GiB of weights); kerasave builds the layers "
              "without sampling initializers and hands each layer a read-only view of the "
              "memory-mapped file (the weights member is STORED, so the tensors sit in the "
              "archive as they are).", "",
              "Where kerasave's `.keras` time goes: the CRC-32 of the 1 GiB weights member, "
              "which `load_model` checks before handing out any tensor (Keras checks it too, "
              "by reading the member whole). Measured apart: ~150 ms of CPU per GiB, two "
              "thirds of it faulting the page-cache pages into the fresh map (a second pass over "
              "the same map costs 42 ms of CPU); `MADV_POPULATE_READ`, `MADV_HUGEPAGE` and "
              "`pread` do not make it cheaper on this VM. Everything else is "
              f"{fmt_time(rows[1]['cpu'][1])} of CPU (the unverified row; the legacy `.h5` row "
              "has no checksum at all). The CRC is hashed in parallel chunks, which helps on an "
              "idle machine and not when every core is busy.", "",
              "Fixed while profiling: building the functional graph ran every `Dense` on a "
              "batch of zeros to infer its output shape, a matmul over the whole (zero) kernel: "
              "~80 ms of the 1 GiB load. `Dense.compute_output_spec` now works from shapes.", "",
              "Peak RSS: kerasave's weights are file-backed pages of the page cache, shared, "
              "not private memory; the `.keras` row touches all of them (the CRC pass), the "
              "others only what was read. The `.weights.h5` row's peak is the freshly "
              "initialised model built (untimed) before the clock started, for both libraries.",
              ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
