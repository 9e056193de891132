"""Shared fixtures: small checkpoints written by kerasave itself into ``tmp_path`` (no TF needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pytest

try:
    import ml_dtypes
except ImportError:  # pragma: no cover - ml_dtypes is a test dependency
    ml_dtypes = None

# Interop tests (tests/interop/) need real TensorFlow / Keras and skip where those are missing,
# except under tools/test (and so CI), which sets KERASAVE_REQUIRE_INTEROP=1: there a missing or
# broken TensorFlow must fail the run instead of silently skipping the interop suite.
if os.environ.get("KERASAVE_REQUIRE_INTEROP") == "1":
    import tensorflow  # noqa: F401
    import tf_keras  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO / "python" / "kerasave" / "data" / "demo"


def every_dtype_tensors() -> dict[str, np.ndarray]:
    """One small tensor of every dtype numpy/ml_dtypes can express, keyed like TF object paths."""
    rng = np.random.default_rng(0)
    t: dict[str, Any] = {
        "f32": rng.standard_normal((2, 3)).astype(np.float32),
        "f64": rng.standard_normal(4),
        "f16": np.array([1.0, -2.5, 65504.0], np.float16),
        "i8": np.array([-128, 0, 127], np.int8),
        "i16": np.array([-32768, 1, 32767], np.int16),
        "i32": np.arange(-3, 3, dtype=np.int32).reshape(2, 3),
        "i64": np.array([-(2**62), 2**62], np.int64),
        "u8": np.array([0, 255], np.uint8),
        "u16": np.array([0, 65535], np.uint16),
        "u32": np.array([0, 2**32 - 1], np.uint32),
        "u64": np.array([0, 2**64 - 1], np.uint64),
        "bool": np.array([[True, False], [False, True]]),
        "c64": np.array([1 + 2j, -3.5j], np.complex64),
        "c128": np.array([1e300 + 1j], np.complex128),
        "scalar": np.float32(7.25),
        "empty": np.zeros((0, 4), np.float32),
        "strings": np.array([b"hello", b"", b"w\x00rld", b"x" * 300], dtype=object),
        "string_scalar": np.array(b"\x00\xff binary", dtype=object),
    }
    if ml_dtypes is not None:
        for name in (
            "bfloat16",
            "float8_e5m2",
            "float8_e4m3fn",
            "float8_e4m3fnuz",
            "float8_e4m3b11fnuz",
            "float8_e5m2fnuz",
        ):
            if hasattr(ml_dtypes, name):
                t[name] = np.array([1.0, -0.5, 2.0], dtype=getattr(ml_dtypes, name))
        for name, values in (
            ("int4", [-8, -1, 0, 7]),
            ("uint4", [0, 1, 15]),
            ("int2", [-2, -1, 0, 1]),
            ("uint2", [0, 1, 3]),
            ("float4_e2m1fn", [1.0, -1.0, 6.0]),
        ):
            if hasattr(ml_dtypes, name):
                t[name] = np.array(values, dtype=getattr(ml_dtypes, name))
    return {f"{name}/.ATTRIBUTES/VARIABLE_VALUE": np.asarray(v) for name, v in t.items()}


def assert_same(got: np.ndarray, want: Any) -> None:
    """Exact equality, bit for bit (NaNs and ml_dtypes included)."""
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype == object:
        assert got.dtype == object
        assert list(got.reshape(-1)) == list(want.reshape(-1))
        return
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.tobytes() == want.tobytes()


@pytest.fixture
def make_checkpoint(tmp_path: Path) -> Callable[..., str]:
    """Factory: ``make_checkpoint(tensors, name="ckpt", **save_kwargs) -> prefix``."""
    import kerasave as ks

    def make(tensors: Mapping[str, Any], name: str = "ckpt", **kwargs: Any) -> str:
        return ks.checkpoint.save_checkpoint(os.fspath(tmp_path / name), tensors, **kwargs)

    return make


@pytest.fixture
def small_tensors() -> dict[str, np.ndarray]:
    """A tiny model-like checkpoint: two dense layers and a step counter."""
    return {
        "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE": np.arange(12, dtype=np.float32).reshape(3, 4),
        "layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE": np.ones(4, np.float32),
        "layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE": np.full((4, 2), 0.5, np.float32),
        "layer_with_weights-1/bias/.ATTRIBUTES/VARIABLE_VALUE": np.zeros(2, np.float32),
        "save_counter/.ATTRIBUTES/VARIABLE_VALUE": np.int64(3),
    }


@pytest.fixture
def small_checkpoint(make_checkpoint: Callable[..., str], small_tensors: dict[str, np.ndarray]) -> str:
    """The prefix of a checkpoint holding ``small_tensors`` (with an object graph)."""
    return make_checkpoint(small_tensors)


@pytest.fixture
def dtype_checkpoint(make_checkpoint: Callable[..., str]) -> tuple[str, dict[str, np.ndarray]]:
    """``(prefix, tensors)`` of a checkpoint with one tensor of every dtype."""
    tensors = every_dtype_tensors()
    return make_checkpoint(tensors, name="dtypes"), tensors
