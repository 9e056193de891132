"""Keras 3.15.1 reads what the session-2 write paths produce, with equal values:

* ``ks.save_tensors(..., fsync=False)`` for ``.keras``, ``.weights.h5`` and legacy ``.h5``;
* a ``.keras`` whose weights libhdf5 wrote straight into the archive (an HDF5 userblock), both
  with the JSON members before the weights (small config) and moved behind them (a config
  too large to fit before a power-of-two offset).

The files are rewrites of what Keras itself saved (``ks.open`` -> ``ks.save_tensors`` with the
same config, metadata and attributes); one model per size, shared by the module.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")

import kerasave as ks  # noqa: E402
from kerasave import _core  # noqa: E402

pytestmark = pytest.mark.interop


def build(layers: int, width: int, seed: int):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((width,), name="x")
    x = inp
    for i in range(layers):
        x = keras.layers.Dense(width, name=f"d{i:04d}")(x)
    return keras.Model(inp, x, name=f"m{layers}")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Small (3 layers: config before the weights) and large (300 layers: config ~300 KB,
    moved behind the weights) models saved by Keras in all three formats."""
    root = tmp_path_factory.mktemp("keras_saved")
    out = {}
    for layers in (3, 300):
        model = build(layers, 8, layers)
        paths = {
            "keras": root / f"m{layers}.keras",
            "weights": root / f"m{layers}.weights.h5",
            "legacy": root / f"m{layers}.h5",
        }
        model.save(paths["keras"])
        model.save_weights(paths["weights"])
        model.save(paths["legacy"])
        out[layers] = (model, paths)
    return out


def rewrite(src: Path, dst: Path) -> Path:
    with ks.open(src) as s:
        tensors = {k: s.get(k, copy=True) for k in s.keys()}
        layout = dict(format=s.format, config=s.config, metadata=s.metadata,
                      attrs={g: s.attrs(g) for g in s.groups()})
    return Path(ks.save_tensors(dst, tensors, fsync=False, **layout))


def assert_weights_equal(a, b) -> None:
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("layers", [3, 300])
def test_keras_load_model_of_keras_written_in_place(tmp_path, saved, layers):
    model, paths = saved[layers]
    out = rewrite(paths["keras"], tmp_path / "r.keras")
    info = _core.KerasArchive(os.fspath(out)).member_info("model.weights.h5")
    assert info["data_offset"] % 4096 == 0
    # Large config: the weights member is first in the file, the JSON members after it.
    assert (info["header_offset"] == 0) == (layers == 300)
    with zipfile.ZipFile(out) as z:
        assert z.namelist()[:3] == ["metadata.json", "config.json", "model.weights.h5"]
        assert z.testzip() is None
    loaded = keras.saving.load_model(out)
    assert_weights_equal(loaded, model)
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("layers", [3, 300])
def test_keras_load_weights_and_legacy_written_without_fsync(tmp_path, saved, layers):
    model, paths = saved[layers]
    w = rewrite(paths["weights"], tmp_path / "r.weights.h5")
    fresh = build(layers, 8, layers + 1)
    fresh.load_weights(w)
    assert_weights_equal(fresh, model)
    legacy = rewrite(paths["legacy"], tmp_path / "r.h5")
    assert_weights_equal(keras.saving.load_model(legacy), model)
