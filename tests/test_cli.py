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
    # .keras archives are read now; a SavedModel directory is recognised but not read yet.
    path = tmp_path / "sm"
    path.mkdir()
    (path / "saved_model.pb").write_bytes(b"\x08\x01")
    code, _, err = run(capsys, "inspect", str(path))
    assert code == 2 and "not supported yet" in err


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
    if not (DEMO_DIR / "ckpt.index").is_file():
        pytest.skip("the demo sample is not in the source tree")
    code, out, _ = run(capsys, "demo")
    assert code == 0, out
    for section in ("== 1.", "== 2.", "== 3.", "== 4.", "== 5.", "== 6."):
        assert section in out
    assert "OK in" in out
    assert "read-only views" in out
    n = int(out.split("reopened: ")[1].split("/")[0])
    assert f"reopened: {n}/{n} tensors identical" in out
    assert "byte-identical" in out


def test_demo_missing_sample(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "DEMO_DIR", tmp_path / "nothing")
    code, out, err = run(capsys, "demo")
    assert code == 2
    assert "demo checkpoint is missing" in err and out == ""


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
