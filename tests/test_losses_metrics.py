"""Losses and metrics: configs (and metric variables) equal to Keras 3.15.1's (golden file from
tools/make_optimizer_golden.py), get/serialize/deserialize, numpy values, compile configs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kerasave as ks
from kerasave import losses, metrics

DATA = Path(__file__).parent / "data"
GOLDEN = json.loads((DATA / "keras" / "optimizers" / "golden.json").read_text())


@pytest.mark.parametrize("i", range(len(GOLDEN["losses"])),
                         ids=[c["class_name"] for c in GOLDEN["losses"]])
def test_loss_config_equals_keras(i: int) -> None:
    case = GOLDEN["losses"][i]
    obj = getattr(losses, case["class_name"])(**case["kwargs"])
    assert losses.serialize(obj) == case["record"]
    again = losses.deserialize(json.loads(json.dumps(case["record"])))
    assert type(again) is type(obj) and losses.serialize(again) == case["record"]


@pytest.mark.parametrize("i", range(len(GOLDEN["metrics"])),
                         ids=[c["class_name"] for c in GOLDEN["metrics"]])
def test_metric_config_and_variables_equal_keras(i: int) -> None:
    case = GOLDEN["metrics"][i]
    obj = getattr(metrics, case["class_name"])(**case["kwargs"])
    assert metrics.serialize(obj) == case["record"]
    got = [[v.path, list(v.shape), v.dtype, float(np.sum(v.numpy()))] for v in obj.variables]
    assert got == case["variables"]
    again = metrics.deserialize(json.loads(json.dumps(case["record"])))
    assert type(again) is type(obj) and metrics.serialize(again) == case["record"]


def test_default_names() -> None:
    ks.layers.base.clear_session()
    assert losses.Huber().name == "huber_loss"
    assert metrics.LogCoshError().name == "logcosh"
    assert metrics.AUC().name == "auc" and metrics.AUC().name == "auc_1"
    assert metrics.IoU(2, [0]).name == "io_u"
    assert metrics.Mean().name == "mean" and metrics.Mean().name == "mean"


def test_get_names_aliases_and_functions() -> None:
    assert losses.get("mse") is losses.mean_squared_error
    assert isinstance(losses.get("MeanSquaredError"), losses.MeanSquaredError)
    assert isinstance(metrics.get("mae"), metrics.MeanAbsoluteError)
    assert isinstance(metrics.get("root_mean_squared_error"), metrics.RootMeanSquaredError)
    assert metrics.get("binary_accuracy") is not None
    fn_record = {"module": "builtins", "class_name": "function",
                 "config": "mean_squared_error", "registered_name": "function"}
    assert losses.serialize(losses.mean_squared_error) == fn_record
    assert losses.deserialize(fn_record) is losses.mean_squared_error
    with pytest.raises(ValueError, match="Could not interpret"):
        losses.get(3)
    with pytest.raises(ks.UnknownObjectError):
        losses.deserialize({"module": "keras.losses", "class_name": "NoSuch", "config": {},
                            "registered_name": None})


def test_tf_keras_mean_metric_wrapper() -> None:
    m = metrics.deserialize({"class_name": "MeanMetricWrapper", "config": {
        "name": "mae", "dtype": "float32", "fn": "mean_absolute_error"}})
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "mae"
    assert metrics.serialize(m)["config"]["fn"]["config"] == "mean_absolute_error"
    m.update_state(np.ones((2, 3)), np.zeros((2, 3)))
    assert float(m.result()) == 1.0


def test_numpy_values() -> None:
    y = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    p = np.array([[0.2, 0.8], [0.6, 0.4]], np.float32)
    assert float(losses.MeanSquaredError()(y, p)) == pytest.approx(np.mean((y - p) ** 2))
    assert float(losses.MeanAbsoluteError(reduction="sum")(y, p)) == \
        pytest.approx(np.sum(np.mean(np.abs(y - p), -1)))
    cce = losses.CategoricalCrossentropy()(y, p)
    assert float(cce) == pytest.approx(-np.mean(np.log([0.8, 0.6])), rel=1e-6)
    scce = losses.SparseCategoricalCrossentropy()(np.array([1, 0]), p)
    assert float(scce) == pytest.approx(float(cce), rel=1e-6)
    with pytest.raises(NotImplementedError, match="config"):
        losses.Dice()(y, p)
    acc = metrics.CategoricalAccuracy()
    acc.update_state(y, p)
    assert float(acc.result()) == 1.0
    mean = metrics.Mean()
    mean.update_state([1.0, 3.0], sample_weight=[1.0, 0.0])
    assert float(mean.result()) == 1.0 and float(mean.count.numpy()) == 1.0
    mean.reset_state()
    assert float(mean.total.numpy()) == 0.0
    rmse = metrics.RootMeanSquaredError()
    rmse.update_state(y, p)
    assert float(rmse.result()) == pytest.approx(np.sqrt(np.mean((y - p) ** 2)), rel=1e-6)
    with pytest.raises(NotImplementedError):
        metrics.AUC().update_state(y, p)


def test_compile_config_like_keras() -> None:
    inp = ks.Input((4,))
    out = ks.layers.Dense(2)(inp)
    m = ks.Model(inp, out)
    m.compile(optimizer=ks.optimizers.Adam(name="adam"), loss=losses.MeanSquaredError(),
              metrics=[metrics.MeanAbsoluteError()], loss_weights=[1.0])
    # What Keras 3.15.1 gives for the same compile call (dumped from real Keras).
    assert m.get_compile_config() == {
        "optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": {
            "name": "adam", "learning_rate": 0.0010000000474974513, "weight_decay": None,
            "clipnorm": None, "global_clipnorm": None, "clipvalue": None, "use_ema": False,
            "ema_momentum": 0.99, "ema_overwrite_frequency": None, "loss_scale_factor": None,
            "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999,
            "epsilon": 1e-07, "amsgrad": False}, "registered_name": None},
        "loss": {"module": "keras.losses", "class_name": "MeanSquaredError",
                 "config": {"name": "mean_squared_error", "reduction": "sum_over_batch_size"},
                 "registered_name": None},
        "loss_weights": [1.0],
        "metrics": [{"module": "keras.metrics", "class_name": "MeanAbsoluteError",
                     "config": {"name": "mean_absolute_error", "dtype": "float32"},
                     "registered_name": None}],
        "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
        "jit_compile": False}
    assert isinstance(m.loss, losses.MeanSquaredError)
    assert not m.optimizer.built and len(m.optimizer.variables) == 2
    # compile_from_config rebuilds the objects and builds the optimizer (model is built).
    m2 = ks.Model(inp, out)
    m2.compile_from_config(m.get_compile_config())
    assert m2.get_compile_config() == m.get_compile_config()
    assert m2.optimizer.built and len(m2.optimizer.variables) == 6


def test_unregistered_custom_loss_is_kept_as_config(tmp_path: Path) -> None:
    inp = ks.Input((4,))
    m = ks.Model(inp, ks.layers.Dense(2)(inp))
    record = {"module": "builtins", "class_name": "function", "config": "MyPkg>my_loss",
              "registered_name": "function"}
    with pytest.warns(UserWarning, match="keeping the loss"):
        m.compile_from_config({"optimizer": "sgd", "loss": record, "metrics": ["mae"]})
    assert m.get_compile_config()["loss"] == record
    m.save(tmp_path / "m.keras")
    with pytest.warns(UserWarning, match="keeping the loss"):
        again = ks.saving.load_model(tmp_path / "m.keras")
    assert again.get_compile_config() == m.get_compile_config()
