"""The ``kerasave`` command line: output and exit codes (0 ok, 1 corrupt, 2 usage/missing)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasave as ks  # noqa: E402  (a broken build must fail, not skip)
import kerasave._core  # noqa: E402,F401

from conftest import DEMO_DIR  # noqa: E402
from kerasave import cli  # noqa: E402
from kerasave._progress import Progress, human_bytes, run_with_spinner  # noqa: E402

KERNEL = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_text(capsys, small_checkpoint):
    code, out, _ = run(capsys, "inspect", small_checkpoint)
    assert code == 0
    assert "format:  tf_checkpoint" in out
    assert "num_shards: 1" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("key "))
    rows = [line.split()[0] for line in lines[header + 2 : header + 8]]
    assert rows == sorted(rows) and KERNEL in rows and "_CHECKPOINTABLE_OBJECT_GRAPH" in rows
    kernel_row = next(line for line in lines if line.startswith(KERNEL)).split()
    assert kernel_row[1:] == ["float32", "[3,4]", "48"]
    assert "6 tensors" in out
    assert "object graph:" in out and "5 attributes" in out


def test_inspect_json(capsys, small_checkpoint, small_tensors):
    code, out, _ = run(capsys, "inspect", "--json", small_checkpoint)
    assert code == 0
    info = json.loads(out)
    assert info["format"] == "tf_checkpoint"
    assert info["metadata"]["num_shards"] == 1
    by_key = {t["key"]: t for t in info["tensors"]}
    assert by_key[KERNEL] == {"key": KERNEL, "dtype": "float32", "shape": [3, 4], "bytes": 48}
    assert [t["key"] for t in info["tensors"]] == sorted(by_key)
    assert info["totals"]["tensors"] == len(small_tensors) + 1
    assert info["totals"]["bytes"] == sum(t["bytes"] for t in info["tensors"])
    assert info["object_graph"]["attributes"] == len(small_tensors)


def test_verify_ok(capsys, small_checkpoint):
    code, out, _ = run(capsys, "verify", small_checkpoint)
    assert code == 0
    assert out.startswith("OK: ")


def test_verify_corrupt_data(capsys, small_checkpoint):
    data = Path(small_checkpoint + ".data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[1] ^= 0x40
    data.write_bytes(bytes(raw))
    code, out, _ = run(capsys, "verify", small_checkpoint)
    assert code == 1
    assert out.startswith("CORRUPT: ") and str(data) in out


def test_verify_truncated_index(capsys, small_checkpoint):
    index = Path(small_checkpoint + ".index")
    index.write_bytes(index.read_bytes()[:-3])
    code, out, _ = run(capsys, "verify", small_checkpoint)
    assert code == 1
    assert str(index) in out


def test_missing_path_exits_2(capsys, tmp_path):
    for command in ("verify", "inspect"):
        code, _, err = run(capsys, command, str(tmp_path / "nope"))
        assert code == 2
        assert "nope" in err and "Traceback" not in err


def test_unsupported_format_exits_2(capsys, tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"hello world, not a model")
    code, _, err = run(capsys, "inspect", str(path))
    assert code == 2 and "not a recognised" in err and "x.bin" in err


def test_broken_saved_model_exits_1(capsys, tmp_path):
    # A SavedModel directory is recognised by its saved_model.pb, which is then checked.
    path = tmp_path / "sm"
    path.mkdir()
    (path / "saved_model.pb").write_bytes(b"\x08\x01")
    code, _, err = run(capsys, "inspect", str(path))
    assert code in (1, 2) and "saved_model.pb" in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    assert run(capsys)[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "verify")[0] == 2
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "inspect" in out


@pytest.mark.parametrize("args", [("convert", "a", "b"), ("diff", "a", "b")])
def test_missing_inputs_exit_2(capsys, args):
    code, _, err = run(capsys, *args)
    assert code == 2 and "no such file or directory: a" in err


def test_demo(capsys):
    if not (cli.SAMPLE_DIR / "sample.keras").is_file():
        pytest.skip("the demo sample is not in the source tree")
    code, out, _ = run(capsys, "demo")
    assert code == 0, out
    for section in ("== 1.", "== 2.", "== 3.", "== 4.", "== 5."):
        assert section in out
    assert "12 of them read-only views of the memory-mapped file" in out
    assert 'Model: "sample_cnn"' in out and "Total params: 2,298" in out
    assert "MATCH" in out and "MISMATCH" not in out
    table = out.split("== 4.")[1].split("== 5.")[0]
    for label in (".keras", "legacy .h5", ".weights.h5", ".weights.json (sharded)",
                  "TF checkpoint", "safetensors", ".npz"):
        row = next(line for line in table.splitlines() if line.startswith(label + " "))
        assert row.split()[-2:] == ["equal", "equal"], row
    from kerasave._model_convert import saved_model_supported

    assert ("\nSavedModel " in table) == saved_model_supported()
    assert "FAILED" not in out and "DIFFERENT" not in out
    if (DEMO_DIR / "ckpt.index").is_file():
        assert "== 6." in out
        assert out.count("byte-identical to the file TensorFlow wrote") == 2
        assert "migrated.keras --config model.json: Sequential 'demo', 4 weights" in out
    assert "ALL CHECKS PASSED" in out and "temporary files removed" in out


def test_demo_out_keeps_the_files(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--out", str(tmp_path / "tour"))
    assert code == 0, out
    tour = tmp_path / "tour"
    for name in ("sample.keras", "sample.h5", "sample.weights.h5", "sample.weights.json",
                 "ckpt/sample.index", "sample.safetensors", "sample.npz"):
        assert (tour / name).exists(), name
    assert ks.models.load_model(tour / "sample.keras").name == "sample_cnn"
    assert f"files kept in {tour}" in out


def test_demo_fails_when_predictions_do_not_match(capsys, monkeypatch, tmp_path):
    """The exit code means something: a recorded output that kerasave does not reproduce
    fails the tour (1)."""
    sample = tmp_path / "sample"
    sample.mkdir()
    (sample / "sample.keras").write_bytes((cli.SAMPLE_DIR / "sample.keras").read_bytes())
    with ks.open(cli.SAMPLE_DIR / "sample_io.npz") as io:
        x, y = np.array(io["x"]), np.array(io["y"])
    np.savez(sample / "sample_io.npz", x=x, y=y[::-1])
    monkeypatch.setattr(cli, "SAMPLE_DIR", sample)
    code, out, _ = run(capsys, "demo")
    assert code == 1
    assert "MISMATCH" in out and "SOME CHECKS FAILED" in out


def test_demo_missing_sample(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "SAMPLE_DIR", tmp_path / "nothing")
    code, out, err = run(capsys, "demo")
    assert code == 2
    assert "sample model is missing" in err and out == ""


def test_demo_sample_is_packaged():
    """pyproject's include must ship data/ subdirectories (checked: `maturin sdist` lists
    data/demo/* and data/sample/*); the sample is small."""
    tomllib = pytest.importorskip("tomllib")

    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml")
                            .read_text())
    includes = [i["path"] for i in project["tool"]["maturin"].get("include", [])]
    assert any(p.startswith("python/kerasave/data/") for p in includes)
    total = sum(p.stat().st_size for p in cli.SAMPLE_DIR.iterdir())
    assert total < 200_000


def test_console_entry_point(small_checkpoint):
    proc = subprocess.run(
        [sys.executable, "-m", "kerasave", "verify", small_checkpoint],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OK")


# -- the progress bar ---------------------------------------------------------------------------


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_only_on_a_tty_after_the_delay():
    quiet = io.StringIO()
    with Progress(10, "x", stream=quiet, delay=0) as bar:
        bar.update(5)
    assert quiet.getvalue() == ""
    tty = FakeTTY()
    with Progress(10, "reading", stream=tty, delay=0) as bar:
        bar.update(5)
    text = tty.getvalue()
    assert "reading [" in text and "50.0%" in text and "5/10" in text
    assert text.endswith("\r")  # erased at the end
    slow = FakeTTY()
    with Progress(10, "x", stream=slow, delay=60) as bar:
        bar.update(10)
    assert slow.getvalue() == ""


def test_progress_bytes_and_spinner():
    assert human_bytes(512) == "512 B" and human_bytes(1536) == "1.5 KiB"
    assert human_bytes(3 * 1024**3) == "3.0 GiB"
    tty = FakeTTY()
    assert run_with_spinner(lambda: 42, "work", stream=tty, delay=0) == 42
    with pytest.raises(RuntimeError, match="boom"):
        run_with_spinner(lambda: (_ for _ in ()).throw(RuntimeError("boom")), "w", stream=tty, delay=0)
    assert run_with_spinner(lambda: np.zeros(1).sum(), "w", stream=io.StringIO()) == 0.0
