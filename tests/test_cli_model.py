"""``kerasave convert`` at model level (kerasave/_model_convert.py): Keras 2 -> 3 migrations from
real tf_keras files (legacy ``.h5`` models, TF checkpoints + their ``model.to_json()``), ``.keras``
-> ``.h5`` and back, weights destinations through the model, and the errors. Keras itself is not
needed here; tests/interop/test_cli_model_interop.py loads the results in real Keras 3."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import kerasave as ks
from kerasave import cli
from kerasave.saving.api import tf_checkpoint_keys

DATA = Path(__file__).resolve().parent / "data"
KERAS = DATA / "keras"
TF = DATA / "tf"
SAVED = DATA / "saved_model"
SAMPLE = Path(cli.SAMPLE_DIR)


def run(capsys, *args: object) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def keras_expected(case: str) -> dict:
    return json.loads((KERAS / case / "expected.json").read_text())


def model_json(case: str, tmp_path: Path) -> Path:
    """The fixture's ``model.to_json()`` (recorded in expected.json) as a file."""
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(json.loads((TF / case / "expected.json").read_text())
                               ["model_json"]))
    return path


def assert_predicts(model, case: str) -> None:
    pred = keras_expected(case)["predict"]
    x = np.asarray(pred["input"], dtype=np.float32)
    np.testing.assert_allclose(np.asarray(model.predict(x), np.float64),
                               np.asarray(pred["output"]), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("src", ["tfk_seq/tfk_seq.h5", "tfk_chunked/tfk_chunked.h5",
                                 "tfk_legacy_adam/tfk_seq_legacy_adam.h5"])
def test_legacy_h5_model_to_keras(capsys, tmp_path, src):
    case = src.split("/")[0]
    dst = tmp_path / "migrated.keras"
    code, out, err = run(capsys, "convert", KERAS / src, dst)
    assert code == 0, err
    assert out.startswith(f"wrote {dst}: keras_archive") and "read back and checked" in out
    assert "from legacy_h5_model via config + weights by position" in out
    with ks.open(dst) as store:
        assert store.format == "keras_archive"
        assert store.config["class_name"] in ("Sequential", "Functional")
        assert all(k.startswith("layers/") for k in store)  # Keras 3 object paths
    model = ks.models.load_model(dst)
    assert [sha(w) for w in model.get_weights()] == keras_expected(case)["keras_get_weights"]
    assert_predicts(model, case)


@pytest.mark.parametrize("case", ["tfkeras_adam", "tfkeras_legacy_adam", "tfkeras_functional"])
def test_tf_checkpoint_plus_config_to_keras(capsys, tmp_path, case):
    """The Keras 2 -> 3 migration Keras cannot do: a tf_keras checkpoint becomes a .keras."""
    config = model_json(case, tmp_path)
    dst = tmp_path / "m.keras"
    code, out, err = run(capsys, "convert", TF / case / "ckpt", dst, "--config", config)
    assert code == 0, err
    assert "from tf_checkpoint via config + load_weights" in out
    tensors = json.loads((TF / case / "expected.json").read_text())["checkpoints"]["ckpt"][
        "tensors"]
    model = ks.models.load_model(dst)
    keys = tf_checkpoint_keys(model)
    assert len(keys) == len(model.weights)
    for key, var in keys.items():
        assert sha(var.numpy()) == tensors[key]["sha256"], key
    # Keras 3's legacy fixes are applied: tf_keras's BatchNormalization(axis=[1]) -> axis=1.
    axes = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("config"), dict) and "axis" in node["config"]:
                axes.append(node["config"]["axis"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    with ks.open(dst) as store:
        walk(store.config)
    assert all(isinstance(a, int) for a in axes), axes
    if case == "tfkeras_functional":
        assert axes  # the nested BatchNormalization
    # The checkpoint's directory works as SRC too, and the optimizer state is left behind.
    code, _, err = run(capsys, "convert", TF / case, tmp_path / "again.keras", "--config", config)
    assert code == 0, err
    with ks.open(tmp_path / "again.keras") as a, ks.open(dst) as b:
        assert list(a) == list(b) and not any("optimizer" in k for k in a)


def test_config_from_a_model_file(capsys, tmp_path):
    """--config takes the architecture from a .h5 / .keras; the weights from a weights file."""
    dst = tmp_path / "m.keras"
    code, _, err = run(capsys, "convert", KERAS / "tfk_seq" / "tfk_seq_w.h5", dst,
                       "--config", KERAS / "tfk_seq" / "tfk_seq.h5")
    assert code == 0, err
    assert_predicts(ks.models.load_model(dst), "tfk_seq")
    code, _, err = run(capsys, "convert", dst, tmp_path / "m.weights.h5", "--model")
    assert code == 0, err
    code, _, err = run(capsys, "convert", tmp_path / "m.weights.h5", tmp_path / "n.keras",
                       "--config", dst)
    assert code == 0, err
    assert_predicts(ks.models.load_model(tmp_path / "n.keras"), "tfk_seq")


@pytest.mark.parametrize("src", [KERAS / "k3_seq" / "k3_seq.keras", SAMPLE / "sample.keras"],
                         ids=["k3_seq", "sample"])
def test_keras_to_h5_and_back(capsys, tmp_path, src):
    h5 = tmp_path / "m.h5"
    code, out, err = run(capsys, "convert", src, h5)
    assert code == 0, err
    assert "legacy_h5_model" in out
    with ks.open(h5) as store:
        assert store.format == "legacy_h5_model"
        assert all(k.startswith(("model_weights/", "optimizer_weights/")) for k in store)
        # A compiled source's optimizer state travels as Keras 3 writes it (optimizer_weights).
        with ks.open(src) as a:
            assert len([k for k in store if k.startswith("optimizer_weights/")]) == \
                len([k for k in a if k.startswith("optimizer/")])
    back = tmp_path / "back.keras"
    assert run(capsys, "convert", h5, back)[0] == 0
    original = ks.models.load_model(src)
    for path in (h5, back):
        again = ks.models.load_model(path)
        assert [sha(w) for w in again.get_weights()] == [sha(w) for w in original.get_weights()]
    with ks.open(src) as a, ks.open(back) as b:
        # The same Keras 3 object paths after the round trip; optimizer state (k3_seq was saved
        # compiled and trained) is not carried: kerasave models do not train.
        assert [k for k in a if not k.startswith("optimizer/")] == list(b)


def test_sample_predictions_survive_every_model_destination(capsys, tmp_path):
    with ks.open(SAMPLE / "sample_io.npz") as io:
        x, y = np.array(io["x"]), np.array(io["y"])
    for name in ("s.keras", "s.h5", "s.hdf5"):
        assert run(capsys, "convert", SAMPLE / "sample.keras", tmp_path / name)[0] == 0
        out = ks.models.load_model(tmp_path / name).predict(x)
        np.testing.assert_allclose(out, y, atol=1e-5)
    # Weights destinations through the model: Keras 3 layout, tf_keras checkpoint layout.
    for name, extra in (("w.weights.h5", ()), ("w.weights.json", ("--max-shard-size", 8192)),
                        ("ckpt/w", ())):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        code, _, err = run(capsys, "convert", SAMPLE / "sample.keras", tmp_path / name,
                           "--model", *extra)
        assert code == 0, (name, err)
        model = ks.models.load_model(SAMPLE / "sample.keras")
        fresh = ks.models.model_from_json(model.to_json())
        fresh.load_weights(tmp_path / name)
        np.testing.assert_allclose(fresh.predict(x), y, atol=1e-5)
    assert len(list(tmp_path.glob("w_*.weights.h5"))) > 1  # really sharded


def test_explicit_model_formats(capsys, tmp_path):
    dst = tmp_path / "model.hdf5"
    code, _, err = run(capsys, "convert", SAMPLE / "sample.keras", dst, "--format",
                       "legacy_h5_model")
    assert code == 0, err
    code, _, err = run(capsys, "convert", dst, tmp_path / "x.bin", "--format", "keras_archive")
    assert code == 2 and "must end in .keras" in err
    from kerasave._model_convert import saved_model_supported

    code, out, err = run(capsys, "convert", dst, tmp_path / "sm", "--format", "saved_model")
    if saved_model_supported():
        assert code == 0, err
        assert "saved_model" in out and (tmp_path / "sm" / "saved_model.pb").is_file()
    else:
        assert code == 2 and "SavedModel" in err


def test_errors(capsys, tmp_path):
    # A checkpoint has no architecture.
    code, _, err = run(capsys, "convert", TF / "tfkeras_adam" / "ckpt", tmp_path / "m.keras")
    assert code == 2 and "--config" in err and "Traceback" not in err
    assert not (tmp_path / "m.keras").exists()
    # A config that does not parse, one that is no model, a missing one.
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run(capsys, "convert", TF / "tfkeras_adam" / "ckpt", tmp_path / "m.keras",
                       "--config", bad)
    assert code == 1 and "bad.json" in err
    bad.write_text('{"layers": []}')
    code, _, err = run(capsys, "convert", TF / "tfkeras_adam" / "ckpt", tmp_path / "m.keras",
                       "--config", bad)
    assert code == 2 and "no model config" in err
    code, _, err = run(capsys, "convert", TF / "tfkeras_adam" / "ckpt", tmp_path / "m.keras",
                       "--config", tmp_path / "nope.json")
    assert code == 2 and "nope.json" in err
    # A config that does not fit the weights.
    code, _, err = run(capsys, "convert", TF / "tfkeras_adam" / "ckpt", tmp_path / "m.keras",
                       "--config", model_json("tfkeras_functional", tmp_path))
    assert code == 2 and "Traceback" not in err
    assert not (tmp_path / "m.keras").exists()
    # Model conversions do not write tensor-only formats.
    code, _, err = run(capsys, "convert", SAMPLE / "sample.keras", tmp_path / "m.safetensors",
                       "--model")
    assert code == 2 and "safetensors" in err
    # Never the source.
    copy = tmp_path / "copy.keras"
    copy.write_bytes((SAMPLE / "sample.keras").read_bytes())
    code, _, err = run(capsys, "convert", copy, copy)
    assert code == 2 and "refusing to overwrite the source" in err
    assert copy.read_bytes() == (SAMPLE / "sample.keras").read_bytes()


def test_unregistered_custom_layer_is_refused_with_its_name(capsys, tmp_path):
    code, _, err = run(capsys, "convert", KERAS / "tfk_func" / "tfk_func.h5",
                       tmp_path / "m.keras")
    assert code == 2 and "Scaler" in err and "Traceback" not in err
    assert not (tmp_path / "m.keras").exists()


def test_registered_custom_layer_converts(capsys, tmp_path):
    """A custom layer registered with kerasave (never imported from the config) converts."""
    import test_load_model_fixtures as fixtures

    # Registered under the fixture's name to read tfk_func.h5, and under the class name that
    # kerasave records for an unregistered class, to read the written .keras back.
    with ks.utils.custom_object_scope({**fixtures.CUSTOM, "ScaleLayer": fixtures.ScaleLayer}):
        code, _, err = run(capsys, "convert", KERAS / "tfk_func" / "tfk_func.h5",
                           tmp_path / "m.keras")
        assert code == 0, err
        model = ks.models.load_model(tmp_path / "m.keras")
    exp = keras_expected("tfk_func")
    assert [sha(w) for w in model.get_weights()] == exp["keras_get_weights"]
    x = [np.asarray(v, np.float32) for v in exp["predict"]["input"]]
    np.testing.assert_allclose(np.asarray(model.predict(x), np.float64),
                               np.asarray(exp["predict"]["output"]), atol=1e-5)


def test_lambda_config_needs_unsafe(capsys, tmp_path):
    """Safe mode stays on: a Lambda layer's bytecode is refused unless --unsafe is given."""
    config = {"class_name": "Sequential", "config": {"name": "lam", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 2], "name": "in"}},
        {"class_name": "Lambda", "config": {"name": "lam", "function": {
            "class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA", "defaults": None,
                                                   "closure": None}}}}]}}
    path = tmp_path / "lam.json"
    path.write_text(json.dumps(config))
    code, _, err = run(capsys, "convert", SAMPLE / "sample.keras", tmp_path / "m.keras",
                       "--config", path)
    assert code == 2 and "Traceback" not in err
    assert "unsafe" in err.lower() or "lambda" in err.lower()


@pytest.mark.parametrize("case", ["tfk_seq", "tfk_legacy_opt"])
def test_tf_keras_saved_model_to_keras(capsys, tmp_path, case):
    """A tf_keras SavedModel migrates like a legacy .h5: config from keras_metadata.pb (Keras 2
    encodings undone, Keras 3 fixes applied), weights from its variables/ checkpoint."""
    src = SAVED / case / "model"
    if not (src / "saved_model.pb").is_file():
        pytest.skip("SavedModel fixtures not committed")
    dst = tmp_path / "m.keras"
    code, out, err = run(capsys, "convert", src, dst)
    assert code == 0, err
    assert "from saved_model via config + variables/ checkpoint" in out
    expected = json.loads((SAVED / case / "expected.json").read_text())
    model = ks.models.load_model(dst)
    pred = expected["predict"]
    np.testing.assert_allclose(model.predict(np.asarray(pred["x"], np.float32)),
                               np.asarray(pred["y"]), atol=1e-5)


def test_weights_missing_from_the_source_are_an_error(capsys, tmp_path):
    """load_weights leaves variables a checkpoint lacks as they are (tf_keras partial restore);
    a conversion refuses instead of writing zeros."""
    config = json.loads((TF / "tfkeras_adam" / "expected.json").read_text())["model_json"]
    config["config"]["layers"].append({"class_name": "Dense", "module": "keras.layers",
                                       "registered_name": None,
                                       "config": {"name": "extra", "units": 2}})
    path = tmp_path / "extra.json"
    path.write_text(json.dumps(config))
    code, _, err = run(capsys, "convert", TF / "tfkeras_adam" / "ckpt", tmp_path / "m.keras",
                       "--config", path)
    assert code == 2 and "does not hold every weight" in err and "extra/kernel" in err
    assert not (tmp_path / "m.keras").exists()
