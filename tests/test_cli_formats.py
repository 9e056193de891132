"""The CLI over every format: ``inspect``/``verify`` of Keras files, ``convert`` and ``diff``.

Sources are the real Keras 3 / tf_keras fixtures (``tests/data/keras``), the TF checkpoints
(``tests/data/tf``) and files written here. No TensorFlow needed: the reference readers are in
``tests/interop/``.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasave as ks  # noqa: E402  (a broken build must fail, not skip)
import kerasave._core  # noqa: E402,F401

from conftest import assert_same  # noqa: E402
from kerasave import cli  # noqa: E402
from kerasave._progress import Progress  # noqa: E402
from kerasave._writers import SAFETENSORS_CODES  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
KERAS = DATA / "keras"
TF = DATA / "tf"
ADAM = TF / "tfkeras_adam" / "ckpt"
K3_SEQ = KERAS / "k3_seq"
KERNEL = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def tensors_of(path) -> dict:
    with ks.open(str(path)) as store:
        return {k: store.get(k, copy=True) for k in store.keys()}


def ml_dtype(a: np.ndarray) -> bool:
    return a.dtype.type.__module__.startswith("ml_dtypes")


# Every readable fixture, with the format ks.open must report.
FIXTURES = {
    "k3_seq/k3_seq.keras": "keras_archive",
    "k3_seq/k3_seq.weights.h5": "keras_weights_h5",
    "k3_seq/k3_seq_sharded.weights.json": "keras_weights_sharded",
    "k3_seq/k3_seq_legacy.h5": "legacy_h5_model",
    "k3_func/k3_func.keras": "keras_archive",
    "k3_func/k3_func_legacy.h5": "legacy_h5_model",
    "k3_sub/k3_sub.keras": "keras_archive",
    "k3_bf16/k3_bf16.keras": "keras_archive",
    "k3_bf16/k3_bf16.weights.h5": "keras_weights_h5",
    "k3_f16/k3_f16.weights.h5": "keras_weights_h5",
    "k3_int8/k3_int8.keras": "keras_archive",
    "k3_chunked/k3_chunked.h5": "legacy_h5_model",
    "k3_assets/k3_tv.keras": "keras_archive",
    "tfk_seq/tfk_seq.h5": "legacy_h5_model",
    "tfk_seq/tfk_seq_w.h5": "legacy_h5_weights",
    "tfk_seq/tfk_seq.keras": "keras_archive",
    "tfk_func/tfk_func_w.h5": "legacy_h5_weights",
    "tfk_chunked/tfk_chunked_w.h5": "legacy_h5_weights",
    "derived/k3_seq_deflated.keras": "keras_archive",
    "derived/k3_seq_zip64.keras": "keras_archive",
    "derived/k3_seq_layouts.weights.h5": "keras_weights_h5",
}


def expected_datasets(rel: str) -> dict:
    """``{key: {"dtype", "shape", ...}}`` from expected.json (keys without the leading "/")."""
    case, name = rel.split("/", 1)
    entry = json.loads((KERAS / case / "expected.json").read_text())["files"][name]
    if "weights" in entry and isinstance(entry["weights"], dict):  # a .keras archive
        entry = entry["weights"]
    return {k.lstrip("/"): v for k, v in entry.get("datasets", {}).items()}


# -- inspect / verify on every format -----------------------------------------------------------


@pytest.mark.parametrize("rel", sorted(FIXTURES))
def test_inspect_json_every_format(capsys, rel):
    code, out, err = run(capsys, "inspect", "--json", KERAS / rel)
    assert code == 0, err
    info = json.loads(out)
    assert info["format"] == FIXTURES[rel]
    rows = {t["key"]: t for t in info["tensors"]}
    assert rows and info["totals"]["tensors"] == len(rows)
    assert info["totals"]["bytes"] == sum(t["bytes"] for t in rows.values())
    with ks.open(KERAS / rel) as store:
        assert set(rows) == {cli._key_text(k) for k in store.keys()}
        for key in store.keys():
            row = rows[cli._key_text(key)]
            assert row["shape"] == list(store.shape(key))
            assert row["dtype"] == store.dtype_name(key)
        config = store.config
    if config is None:
        assert info["config"] is None and not info["has_config"]
    else:
        assert info["config"]["class_name"] == config["class_name"]


def test_inspect_text_keras(capsys):
    code, out, _ = run(capsys, "inspect", K3_SEQ / "k3_seq.keras")
    assert code == 0
    assert "format:  keras_archive" in out
    # Sequential 'seq': InputLayer + 2 Dense in config.json.
    assert "config:  Sequential 'seq', 3 layers" in out
    assert "keras_version" in out  # metadata.json
    row = next(line for line in out.splitlines() if line.startswith("layers/dense/vars/0 "))
    assert row.split()[1:] == ["float32", "[4,3]", "48"]


def test_inspect_text_legacy_and_sharded(capsys):
    code, out, _ = run(capsys, "inspect", KERAS / "tfk_func" / "tfk_func.h5")
    assert code == 0
    assert "format:  legacy_h5_model" in out and "config:  Functional" in out
    code, out, _ = run(capsys, "inspect", K3_SEQ / "k3_seq_sharded.weights.json")
    assert code == 0
    assert "format:  keras_weights_sharded" in out
    assert "optimizer/vars/9 " in out


def test_inspect_config_summary_shapes():
    s = cli._config_summary({"class_name": "Sub", "config": {"trainable": True}})
    assert s == {"class_name": "Sub", "name": None, "layers": None}
    assert cli._config_text(s) == "Sub"
    s = cli._config_summary({"class_name": "Sequential", "config": {"name": "m", "layers": [1]}})
    assert cli._config_text(s) == "Sequential 'm', 1 layer"
    assert cli._config_summary(None) is None and cli._config_summary("x") is None


@pytest.mark.parametrize("rel", sorted(FIXTURES))
def test_verify_every_format(capsys, rel):
    code, out, err = run(capsys, "verify", KERAS / rel)
    assert code == 0, out + err
    assert out.startswith("OK: ") and FIXTURES[rel] in out


def test_verify_corrupt_keras_member(capsys, tmp_path):
    """A flipped byte inside the STORED weights: only the CRC-32 knows, and verify must tell."""
    raw = bytearray((K3_SEQ / "k3_seq.keras").read_bytes())
    info = json.loads((K3_SEQ / "expected.json").read_text())["files"]["k3_seq.keras"]
    member = next(m for m in info["members"] if m["name"] == "model.weights.h5")
    kernel = info["weights"]["datasets"]["/layers/dense/vars/0"]
    raw[member["data_offset"] + kernel["offset"] + 1] ^= 0x40
    bad = tmp_path / "bad.keras"
    bad.write_bytes(bytes(raw))
    code, out, _ = run(capsys, "verify", bad)
    assert code == 1 and out.startswith("CORRUPT: ") and str(bad) in out


# -- convert --------------------------------------------------------------------------------------


def test_checkpoint_safetensors_roundtrip_is_byte_identical(capsys, tmp_path):
    """TF's checkpoint -> .safetensors -> checkpoint gives TF's exact bytes back: the data order
    and the object graph travel in the safetensors file."""
    st = tmp_path / "m.safetensors"
    code, out, err = run(capsys, "convert", ADAM, st)
    assert code == 0, err
    assert "safetensors, 14 tensors" in out
    back = tmp_path / "back" / "ckpt"
    code, _, err = run(capsys, "convert", st, back)
    assert code == 0, err
    for suffix in (".index", ".data-00000-of-00001"):
        assert Path(str(back) + suffix).read_bytes() == Path(str(ADAM) + suffix).read_bytes()
    assert run(capsys, "diff", ADAM, back)[0] == 0


def test_convert_checkpoint_to_npz(capsys, tmp_path):
    out_path = tmp_path / "m.npz"
    code, _, err = run(capsys, "convert", ADAM, out_path)
    assert code == 0
    assert "left out 1: _CHECKPOINTABLE_OBJECT_GRAPH" in err
    want = tensors_of(ADAM)
    with np.load(out_path, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(k for k in want if k != GRAPH)
        for key in z.files:
            assert_same(z[key], want[key])
    # Reproducible bytes (fixed zip timestamps).
    again = tmp_path / "again.npz"
    assert run(capsys, "convert", ADAM, again)[0] == 0
    assert again.read_bytes() == out_path.read_bytes()


@pytest.mark.parametrize("suffix", [".safetensors", ".npz", ".weights.h5", "/ckpt"])
@pytest.mark.parametrize("rel", sorted(FIXTURES))
def test_convert_every_fixture(capsys, tmp_path, rel, suffix):
    """Every readable file converts with its native keys and bit-exact values."""
    src = KERAS / rel
    dst = tmp_path / ("out" + suffix)
    code, _, err = run(capsys, "convert", src, dst)
    want = tensors_of(src)
    if suffix == ".safetensors" and any(a.dtype.name not in SAFETENSORS_CODES
                                        for a in want.values()):
        assert code == 2 and "safetensors cannot store dtype" in err
        return
    assert code == 0, err
    got = tensors_of(dst if suffix != "/ckpt" else tmp_path / "out" / "ckpt")
    assert list(got) == list(want) or sorted(got) == sorted(want)
    for key, arr in want.items():
        if suffix == ".npz" and ml_dtype(arr):
            assert got[key].dtype == np.dtype(f"V{arr.dtype.itemsize}")
            assert got[key].tobytes() == arr.tobytes()
        else:
            assert_same(got[key], arr)


def test_convert_keras_to_weights_h5_and_sharded(capsys, tmp_path):
    src = K3_SEQ / "k3_seq.keras"
    flat = tmp_path / "w.weights.h5"
    assert run(capsys, "convert", src, flat)[0] == 0
    with ks.open(flat) as store:
        assert store.format == "keras_weights_h5"
    assert run(capsys, "diff", src, flat)[0] == 0
    sharded = tmp_path / "w.weights.json"
    code, _, err = run(capsys, "convert", src, sharded, "--max-shard-size", "100")
    assert code == 0, err
    with ks.open(sharded) as store:
        assert store.format == "keras_weights_sharded"
    assert len(list(tmp_path.glob("w_*.weights.h5"))) > 1
    assert run(capsys, "diff", flat, sharded)[0] == 0


def test_convert_legacy_keeps_native_keys(capsys, tmp_path):
    dst = tmp_path / "l.safetensors"
    assert run(capsys, "convert", KERAS / "tfk_seq" / "tfk_seq.h5", dst)[0] == 0
    got = tensors_of(dst)
    assert "model_weights/dense/dense/kernel:0" in got
    assert got["model_weights/dense/dense/kernel:0"].shape == (4, 3)


def test_convert_explicit_format(capsys, tmp_path):
    dst = tmp_path / "weights.bin"
    assert run(capsys, "convert", ADAM, dst, "--format", "safetensors")[0] == 0
    with ks.open(str(dst)) as store:  # sniffed from the bytes, not the suffix
        assert store.format == "safetensors"
    assert run(capsys, "convert", ADAM, tmp_path / "x", "--format", "pickle")[0] == 2


def test_convert_refuses_to_overwrite_source(capsys, tmp_path):
    st = tmp_path / "m.safetensors"
    assert run(capsys, "convert", ADAM, st)[0] == 0
    before = st.read_bytes()
    code, _, err = run(capsys, "convert", st, st)
    assert code == 2 and "refusing to overwrite the source" in err
    link = tmp_path / "link.safetensors"
    os.link(st, link)  # the same file under another name
    code, _, err = run(capsys, "convert", st, link)
    assert code == 2 and "refusing to overwrite the source" in err
    assert st.read_bytes() == before
    # A checkpoint, named by prefix, by its index, or by its directory.
    ckpt = tmp_path / "c" / "ckpt"
    assert run(capsys, "convert", st, ckpt)[0] == 0
    for src in (ckpt, Path(str(ckpt) + ".index"), ckpt.parent):
        code, _, err = run(capsys, "convert", src, ckpt)
        assert code == 2 and "refusing to overwrite the source" in err, (src, err)
    flat = tmp_path / "w.weights.h5"
    assert run(capsys, "convert", K3_SEQ / "k3_seq.weights.h5", flat)[0] == 0
    code, _, err = run(capsys, "convert", flat, flat)
    assert code == 2 and "refusing to overwrite the source" in err


def test_convert_refuses_model_formats(capsys, tmp_path):
    for name in ("m.keras", "m.h5", "m.hdf5"):
        code, _, err = run(capsys, "convert", ADAM, tmp_path / name)
        assert code == 2 and "Traceback" not in err
        assert not (tmp_path / name).exists()
    code, _, err = run(capsys, "convert", ADAM, tmp_path)
    assert code == 2 and "is a directory" in err
    code, _, err = run(capsys, "convert", ADAM, tmp_path / "x.npz", "--max-shard-size", "10")
    assert code == 2


def test_convert_is_atomic(capsys, tmp_path):
    """A conversion that fails half-way leaves the old file (or nothing) and no temp files;
    one that succeeds replaces the file by rename (a reader's map of the old one stays valid)."""
    dst = tmp_path / "d.safetensors"
    dst.write_bytes(b"old")
    # tests/data/tf/dtypes holds complex128, int4, ...: safetensors has no names for them.
    code, _, err = run(capsys, "convert", TF / "dtypes" / "ckpt", dst)
    assert code == 2 and "safetensors cannot store dtype" in err
    assert dst.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.safetensors"]
    inode = dst.stat().st_ino
    assert run(capsys, "convert", ADAM, dst)[0] == 0
    assert dst.stat().st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.safetensors"]


def test_convert_dtypes_to_checkpoint_and_npz(capsys, tmp_path):
    """Every dtype TF can save survives checkpoint -> checkpoint bit for bit (strings too)."""
    src = TF / "dtypes" / "ckpt"
    dst = tmp_path / "ckpt"
    assert run(capsys, "convert", src, dst)[0] == 0
    assert run(capsys, "diff", src, dst)[0] == 0
    npz = tmp_path / "d.npz"
    code, _, err = run(capsys, "convert", src, npz)
    assert code == 0, err
    assert "cannot hold string tensors" in err and ".npz has no bfloat16" in err


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_convert_shows_progress_on_a_tty(capsys, tmp_path, monkeypatch):
    tty = FakeTTY()

    class Immediate(Progress):
        def __init__(self, *a, **kw):
            kw.update(stream=tty, delay=0)
            if kw.get("enabled") is None:
                kw.pop("enabled", None)
            super().__init__(*a, **kw)

    monkeypatch.setattr(cli, "Progress", Immediate)
    big = {"w": np.arange(1 << 20, dtype=np.float32)}
    src = tmp_path / "big.safetensors"
    ks.save_tensors(src, big)
    assert run(capsys, "convert", src, tmp_path / "big.npz")[0] == 0
    text = tty.getvalue()
    assert "reading [" in text and "100.0%" in text and "4.0 MiB/4.0 MiB" in text


# -- safetensors / npz readers (ks.open) --------------------------------------------------------------------


def test_safetensors_reader_agrees_with_the_reference(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    import ml_dtypes

    tensors = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b/c": np.array([1, -2], np.int64),
        "bf": np.array([1.5, -0.25], ml_dtypes.bfloat16),
        "s": np.array(3.5, np.float64),
        "e": np.zeros((0, 4), np.float16),
        "bool": np.array([True, False]),
    }
    ref = tmp_path / "ref.safetensors"
    st.save_file(tensors, str(ref), metadata={"k": "v"})
    with ks.open(str(ref)) as store:
        assert store.format == "safetensors" and store.metadata["k"] == "v"
        store.verify()
        for key, arr in tensors.items():
            assert_same(store[key], arr)


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda raw: raw[:4], "too short"),
        (lambda raw: struct.pack("<Q", 1 << 40) + raw[8:], "does not fit"),
        (lambda raw: raw[:8] + b"[" + raw[9:], "not JSON"),
        (lambda raw: raw.replace(b'"F32"', b'"X32"'), "not supported"),
        (lambda raw: raw.replace(b"[0,24]", b"[0,9999]"), "outside the"),
        (lambda raw: raw.replace(b"[0,24]", b"[0,20]"), "needs 24 bytes"),
    ],
)
def test_safetensors_reader_refuses_bad_files(tmp_path, mutate, match):
    good = tmp_path / "g.safetensors"
    ks.save_tensors(good, {"a": np.zeros((2, 3), np.float32)})
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(mutate(good.read_bytes()))
    with pytest.raises(ks.KerasaveError, match=match) as info:
        with ks.open(str(bad)) as store:
            for key in store:
                store[key]
    assert str(bad) in str(info.value)


def test_npz_reader_refuses_pickles_and_lies(tmp_path):
    pickled = tmp_path / "p.npz"
    np.savez(pickled, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ks.UnsupportedFormatError, match="pickle"):
        ks.open(str(pickled))
    ok = tmp_path / "ok.npz"
    np.savez(ok, a=np.arange(4, dtype=np.int32))
    with ks.open(str(ok)) as store:
        assert store.format == "npz" and list(store) == ["a"]
        assert_same(store["a"], np.arange(4, dtype=np.int32))
        assert not store["a"].flags.writeable
    garbage = tmp_path / "g.npz"
    garbage.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ks.CorruptFileError, match=str(garbage)):
        ks.open(str(garbage))


def test_convert_refuses_keys_that_are_unsafe_member_names(capsys, tmp_path):
    """TF escapes a local name "." as "..": such a key must not become an npz member "..".
    The library refuses it; the CLI reports it as a usage error and writes nothing."""
    src = tmp_path / "src" / "ckpt"
    ks.checkpoint.save_checkpoint(src, {"../.ATTRIBUTES/VARIABLE_VALUE": np.zeros(1)},
                                  object_graph=False)
    out = tmp_path / "out"
    code, _, err = run(capsys, "convert", src, out / "x.npz")
    assert code == 2 and "Traceback" not in err and "'..'" in err
    assert not out.exists() or not list(out.iterdir())


# -- diff ------------------------------------------------------------------------------------------


def test_diff_identical_across_formats(capsys, tmp_path):
    flat = K3_SEQ / "k3_seq.weights.h5"
    code, out, _ = run(capsys, "diff", K3_SEQ / "k3_seq.keras", flat)
    assert code == 0, out
    assert out.startswith("identical: 10 same") or "identical:" in out
    st = tmp_path / "a.safetensors"
    assert run(capsys, "convert", ADAM, st)[0] == 0
    code, out, _ = run(capsys, "diff", ADAM, st)
    assert code == 1
    assert f"- {GRAPH}  (only in A)" in out and "14 same" in out


def test_diff_reports_each_kind_of_difference(capsys, tmp_path):
    base = {
        "same": np.arange(4, dtype=np.float32),
        "values": np.arange(12, dtype=np.float32).reshape(3, 4),
        "dtype": np.zeros(3, np.float32),
        "shape": np.zeros((2, 3), np.float32),
        "nan": np.array([np.nan, 1.0], np.float32),
        "only_a": np.zeros(1, np.int8),
    }
    other = dict(base)
    other["values"] = base["values"].copy()
    other["values"][1, 2] += 0.5
    other["values"][2, 3] = -100
    other["dtype"] = np.zeros(3, np.float64)
    other["shape"] = np.zeros((3, 2), np.float32)
    del other["only_a"]
    other["only_b"] = np.ones(2, np.uint8)
    a, b = tmp_path / "a.safetensors", tmp_path / "b.npz"
    ks.save_tensors(a, base)
    ks.save_tensors(b, other)
    code, out, _ = run(capsys, "diff", a, b)
    assert code == 1
    lines = out.splitlines()
    assert "- only_a  (only in A)" in lines and "+ only_b  (only in B)" in lines
    assert "~ values: 2 of 12 elements differ, max |a-b| = 111" in lines
    assert "~ dtype: dtype float32 != float64" in lines
    assert "~ shape: shape [2,3] != [3,2]" in lines
    assert not any(line.startswith(("~ same", "~ nan")) for line in lines)
    assert lines[-1].startswith("different: 2 same, 3 differ, 1 only in A")
    code, out, _ = run(capsys, "diff", "--json", a, b)
    assert code == 1
    r = json.loads(out)
    assert r["only_a"] == ["only_a"] and r["only_b"] == ["only_b"] and r["same"] == 2
    assert set(r["different"]) == {"values", "dtype", "shape"}
    # A NaN with other bits is a difference, whatever IEEE equality says.
    other2 = dict(base)
    other2["nan"] = np.frombuffer(np.array([0x7FC00001, 0x3F800000], np.uint32).tobytes(),
                                  np.float32)
    c = tmp_path / "c.safetensors"
    ks.save_tensors(c, other2)
    code, out, _ = run(capsys, "diff", a, c)
    assert code == 1 and "~ nan: 1 of 2 elements differ" in out


def test_diff_strings_and_errors(capsys, tmp_path):
    src = TF / "dtypes" / "ckpt"
    copy = tmp_path / "ckpt"
    assert run(capsys, "convert", src, copy)[0] == 0
    assert run(capsys, "diff", src, copy)[0] == 0
    code, _, err = run(capsys, "diff", src, tmp_path / "missing")
    assert code == 2 and "missing" in err and "Traceback" not in err


def test_console_entry_point_convert(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "kerasave", "convert", str(ADAM), str(tmp_path / "x.npz")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("wrote ")


def test_diff_by_order_pairs_weights_named_differently(capsys):
    """A Keras 3 .weights.h5 and the legacy .h5 of the same model name every weight differently
    but hold them in the same order (layers, then optimizer)."""
    flat, legacy = K3_SEQ / "k3_seq.weights.h5", K3_SEQ / "k3_seq_legacy.h5"
    code, out, _ = run(capsys, "diff", flat, legacy)
    assert code == 1 and "0 same" in out
    code, out, _ = run(capsys, "diff", "--by-order", flat, legacy)
    assert code == 0 and out.startswith("identical: 14 same"), out
    weights_only = KERAS / "tfk_seq" / "tfk_seq_w.h5"
    code, out, _ = run(capsys, "diff", "--by-order", "--json", weights_only,
                       KERAS / "tfk_seq" / "tfk_seq.h5")
    r = json.loads(out)
    assert code == 1 and r["by_order"] and r["same"] == 4 and not r["different"]
    assert r["only_b"][0] == "optimizer_weights/iteration:0" and len(r["only_b"]) == 9
    # A pair that differs is named by both keys.
    code, out, _ = run(capsys, "diff", "--by-order", flat, weights_only)
    assert code == 1 and "~ #0 layers/dense/vars/0 <-> dense/dense/kernel:0: " in out, out


def test_inspect_keeps_the_keras_order(capsys):
    """Keras files are listed in their own order (vars/9 before vars/10), not bytewise."""
    code, out, _ = run(capsys, "inspect", "--json", KERAS / "k3_sub" / "k3_sub.weights.h5")
    assert code == 0
    keys = [t["key"] for t in json.loads(out)["tensors"]]
    with ks.open(KERAS / "k3_sub" / "k3_sub.weights.h5") as store:
        assert keys == store.keys()
    assert keys.index("optimizer/vars/9") < keys.index("optimizer/vars/10")
