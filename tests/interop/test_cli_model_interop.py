"""``kerasave convert`` model conversions checked by real Keras 3.15.1: the Keras 2 -> 3
migrations (tf_keras legacy ``.h5`` and tf_keras TF checkpoints + ``model.to_json()`` ->
``.keras``) load in ``keras.saving.load_model`` with the weights kerasave wrote and the same
predictions; ``.keras`` -> legacy ``.h5`` and ``--model`` weights files load in Keras too."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

keras = pytest.importorskip("keras")

import kerasave as ks  # noqa: E402
from kerasave import cli  # noqa: E402

pytestmark = pytest.mark.interop

DATA = Path(__file__).resolve().parent.parent / "data"
KERAS = DATA / "keras"
TF = DATA / "tf"
SAMPLE = Path(cli.SAMPLE_DIR)


@pytest.fixture(scope="module")
def k3():
    assert keras.__version__ == "3.15.1", keras.__version__
    return keras


def convert(*args: object) -> None:
    code = cli.main([str(a) for a in args])
    assert code == 0, args


def assert_same_model(k3, path: Path, x, atol: float = 1e-5):
    """Keras loads ``path``; its weights equal kerasave's, its predictions too."""
    theirs = k3.saving.load_model(path)
    ours = ks.models.load_model(path)
    got, want = theirs.get_weights(), ours.get_weights()
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    y_keras = theirs.predict(x, verbose=0)
    y_ours = ours.predict(x)
    if isinstance(y_keras, list):
        for a, b in zip(y_keras, y_ours):
            np.testing.assert_allclose(a, b, atol=atol)
    else:
        np.testing.assert_allclose(y_keras, y_ours, atol=atol)
    return y_keras


@pytest.mark.parametrize("src", ["tfk_seq/tfk_seq.h5", "tfk_chunked/tfk_chunked.h5",
                                 "tfk_legacy_adam/tfk_seq_legacy_adam.h5"])
def test_legacy_h5_migrated_to_keras_loads_in_keras3(k3, tmp_path, src):
    case = src.split("/")[0]
    dst = tmp_path / "migrated.keras"
    convert("convert", KERAS / src, dst)
    pred = json.loads((KERAS / case / "expected.json").read_text())["predict"]
    x = np.asarray(pred["input"], np.float32)
    y = assert_same_model(k3, dst, x)
    # ... and what tf_keras predicted when it wrote the .h5.
    np.testing.assert_allclose(y, np.asarray(pred["output"]), atol=1e-5)


@pytest.mark.parametrize("case", ["tfkeras_adam", "tfkeras_legacy_adam", "tfkeras_functional"])
def test_tf_checkpoint_migrated_to_keras_loads_in_keras3(k3, tmp_path, case):
    """Keras 3 cannot read a tf_keras TF checkpoint; the converted .keras it loads."""
    expected = json.loads((TF / case / "expected.json").read_text())
    config = tmp_path / "model.json"
    config.write_text(json.dumps(expected["model_json"]))
    dst = tmp_path / "m.keras"
    convert("convert", TF / case / "ckpt", dst, "--config", config)
    model = ks.models.load_model(dst)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(5,) + tuple(i.shape[1:])).astype(np.float32) for i in model.inputs]
    assert_same_model(k3, dst, xs if len(xs) > 1 else xs[0])


def test_sample_keras_to_h5_and_weights_load_in_keras3(k3, tmp_path):
    with ks.open(SAMPLE / "sample_io.npz") as io:
        x, y = np.array(io["x"]), np.array(io["y"])
    h5 = tmp_path / "sample.h5"
    convert("convert", SAMPLE / "sample.keras", h5)
    np.testing.assert_allclose(assert_same_model(k3, h5, x), y, atol=1e-5)
    back = tmp_path / "back.keras"
    convert("convert", h5, back)
    np.testing.assert_allclose(assert_same_model(k3, back, x), y, atol=1e-5)
    weights = tmp_path / "sample.weights.h5"
    convert("convert", h5, weights, "--model")
    fresh = k3.saving.load_model(SAMPLE / "sample.keras")
    for v in fresh.weights:
        v.assign(np.zeros(v.shape, v.dtype))
    fresh.load_weights(weights)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), y, atol=1e-5)


def test_demo_outputs_load_in_keras3(k3, tmp_path):
    """What ``kerasave demo --out`` writes is Keras's: the model files load, the weights files
    load into the sample's architecture, all predicting what Keras recorded."""
    assert cli.main(["demo", "--out", str(tmp_path)]) == 0
    with ks.open(SAMPLE / "sample_io.npz") as io:
        x, y = np.array(io["x"]), np.array(io["y"])
    for name in ("sample.keras", "sample.h5", "migrated.keras"):
        assert (tmp_path / name).exists(), name
    for name in ("sample.keras", "sample.h5"):
        out = k3.saving.load_model(tmp_path / name).predict(x, verbose=0)
        np.testing.assert_allclose(out, y, atol=1e-5, err_msg=name)
    for name in ("sample.weights.h5", "sample.weights.json"):
        model = k3.saving.load_model(SAMPLE / "sample.keras")
        for v in model.weights:
            v.assign(np.zeros(v.shape, v.dtype))
        model.load_weights(tmp_path / name)
        np.testing.assert_allclose(model.predict(x, verbose=0), y, atol=1e-5, err_msg=name)
    k3.saving.load_model(tmp_path / "migrated.keras")  # the Keras 2 checkpoint, migrated


@pytest.mark.parametrize("case", ["tfk_seq", "tfk_legacy_opt"])
def test_tf_keras_saved_model_migrated_to_keras_loads_in_keras3(k3, tmp_path, case):
    """Keras 3 cannot load a tf_keras SavedModel as a model (only as an inference layer); the
    converted .keras it loads, predicting what tf_keras recorded."""
    src = DATA / "saved_model" / case / "model"
    dst = tmp_path / "m.keras"
    convert("convert", src, dst)
    pred = json.loads((DATA / "saved_model" / case / "expected.json").read_text())["predict"]
    x = np.asarray(pred["x"], np.float32)
    y = assert_same_model(k3, dst, x)
    np.testing.assert_allclose(y, np.asarray(pred["y"]), atol=1e-5)
