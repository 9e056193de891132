"""Optimizers and schedules: configs and variables equal to Keras 3.15.1's (golden file written by
tools/make_optimizer_golden.py from real Keras), and optimizer state through every format."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kerasave as ks
from kerasave import optimizers
from kerasave.layers.base import clear_session

DATA = Path(__file__).parent / "data"
GOLDEN = json.loads((DATA / "keras" / "optimizers" / "golden.json").read_text())
K3_SEQ = DATA / "keras" / "k3_seq"


def _model() -> ks.Model:
    inp = ks.Input((4,), name="x")
    h = ks.layers.Dense(3, name="d1")(inp)
    out = ks.layers.Dense(2, name="d2")(h)
    return ks.Model(inp, out, name="func")


def _kwargs(case: dict) -> dict:
    kwargs = dict(case["kwargs"])
    lr = kwargs.get("learning_rate")
    if isinstance(lr, dict):
        lr = dict(lr)
        kwargs["learning_rate"] = getattr(optimizers.schedules, lr.pop("schedule"))(**lr)
    return kwargs


@pytest.mark.parametrize("i", range(len(GOLDEN["optimizers"])),
                         ids=[f"{c['class_name']}{i}" for i, c in
                              enumerate(GOLDEN["optimizers"])])
def test_optimizer_config_and_variables_equal_keras(i: int) -> None:
    case = GOLDEN["optimizers"][i]
    m = _model()
    opt = getattr(optimizers, case["class_name"])(name=f"opt_{i}", **_kwargs(case))
    opt.build(m.trainable_variables)
    assert optimizers.serialize(opt) == case["record"]
    got = [[v.path, list(v.shape), v.dtype, float(np.sum(v.numpy()))] for v in opt.variables]
    assert len(got) == len(case["variables"])
    for g, want in zip(got, case["variables"]):
        assert g[:3] == want[:3]
        if case["class_name"] == "ScheduleFreeAdamW" and g[0].endswith("_momentum"):
            continue  # a copy of the (randomly initialized) model variable, checked below
        assert g[3] == pytest.approx(want[3], rel=1e-6, abs=1e-7)
    if case["class_name"] == "ScheduleFreeAdamW":
        for var in m.trainable_variables:
            assert np.array_equal(opt.slot(var, "momentum").numpy(), var.numpy())
    # from_config(get_config()) gives the same record again (learning rate, schedules).
    again = optimizers.deserialize(json.loads(json.dumps(case["record"])))
    assert type(again) is type(opt)
    assert optimizers.serialize(again) == case["record"]


@pytest.mark.parametrize("i", range(len(GOLDEN["schedules"])))
def test_schedule_config_and_values_equal_keras(i: int) -> None:
    case = GOLDEN["schedules"][i]
    s = getattr(optimizers.schedules, case["class_name"])(**case["kwargs"])
    assert optimizers.schedules.serialize(s) == case["record"]
    assert [float(s(step)) for step in (0, 3, 10, 25)] == pytest.approx(case["values"],
                                                                        rel=1e-5)
    assert optimizers.schedules.deserialize(case["record"]).get_config() == s.get_config()


def test_default_names_and_get() -> None:
    clear_session()
    assert optimizers.get("adam").name == "adam"
    assert optimizers.get("Adam").name == "adam_1"
    assert optimizers.get("rmsprop").name == "rm_sprop"
    assert isinstance(optimizers.get({"class_name": "SGD", "config": {}}), optimizers.SGD)
    with pytest.raises(ks.UnknownObjectError):
        optimizers.get("nosuchoptimizer")
    with pytest.raises(ValueError, match="Could not interpret"):
        optimizers.get(3)
    with pytest.raises(ValueError, match="not recognized"):
        optimizers.Adam(foo=1)
    with pytest.raises(ValueError, match="Only one of"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


def test_tf_keras_optimizer_configs_are_read() -> None:
    # tf_keras new optimizer (Custom>Adam, jit_compile, is_legacy_optimizer) and legacy
    # OptimizerV2 (decay, lr) configs, as stored in tf_keras .h5 training_config.
    new = optimizers.deserialize({"class_name": "Custom>Adam", "config": {
        "name": "Adam", "weight_decay": None, "clipnorm": None, "global_clipnorm": None,
        "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
        "ema_overwrite_frequency": None, "jit_compile": False, "is_legacy_optimizer": False,
        "learning_rate": 0.009999999776482582, "beta_1": 0.9, "beta_2": 0.999,
        "epsilon": 1e-07, "amsgrad": False}})
    assert isinstance(new, optimizers.Adam) and "jit_compile" not in new.get_config()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        legacy = optimizers.deserialize({"class_name": "RMSprop", "config": {
            "name": "RMSprop", "lr": 0.01, "decay": 0.0, "rho": 0.9, "momentum": 0.0,
            "epsilon": 1e-07, "centered": False}})
    assert legacy.get_config()["learning_rate"] == pytest.approx(0.01)
    with pytest.warns(UserWarning, match="decay"):
        optimizers.SGD(decay=0.1)


def test_learning_rate_and_iterations() -> None:
    opt = optimizers.Adam(learning_rate=0.1)
    assert int(opt.iterations) == 0 and opt.iterations.dtype == "int64"
    assert float(opt.learning_rate) == pytest.approx(0.1)
    opt.learning_rate = 0.5
    assert opt.get_config()["learning_rate"] == 0.5
    sched = optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    opt2 = optimizers.SGD(learning_rate=sched)
    assert [v.name for v in opt2.variables] == ["iteration"]
    opt2.iterations.assign(10)
    assert float(opt2.learning_rate) == pytest.approx(0.05)
    with pytest.raises(TypeError, match="not settable"):
        opt2.learning_rate = 0.1
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.Adam(learning_rate="fast")


def test_slots_and_set_weights() -> None:
    m = _model()
    opt = optimizers.Adam(name="adam")
    with pytest.raises(ValueError, match="not yet been built"):
        opt.set_weights([])
    opt.build(m.trainable_variables)
    kernel = m.get_layer("d1").kernel
    assert opt.slot(kernel, "momentum").path == "adam/d1_kernel_momentum"
    assert opt.slot(kernel, "nosuchslot") is None
    assert opt.slot_names() == ["momentum", "velocity"]
    weights = [np.full(v.shape, i, dtype=v.numpy().dtype) for i, v in enumerate(opt.variables)]
    opt.set_weights(weights)
    assert [float(np.sum(w)) for w in opt.get_weights()] == \
        [float(np.sum(w)) for w in weights]
    with pytest.raises(ValueError, match="shape"):
        opt.set_weights([np.zeros((7,))])


def _compiled_k3_seq(path: Path) -> ks.Model:
    return ks.saving.load_model(path)


def test_k3_seq_optimizer_state_matches_the_file() -> None:
    m = _compiled_k3_seq(K3_SEQ / "k3_seq.keras")
    assert isinstance(m.optimizer, optimizers.Adam) and m.optimizer.built
    with ks.open(K3_SEQ / "k3_seq.weights.h5") as store:
        stored = [store[f"optimizer/vars/{i}"] for i in range(10)]
    got = [v.numpy() for v in m.optimizer.variables]
    assert len(got) == 10
    for g, s in zip(got, stored):
        assert g.dtype == s.dtype and np.array_equal(g, s)
    assert int(m.optimizer.iterations) == 1
    expected = json.loads((K3_SEQ / "expected.json").read_text())
    cc = expected["files"]["k3_seq.keras"]["config"]["compile_config"]
    assert m.get_compile_config() == cc


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5", ".h5", "_ckpt"])
def test_optimizer_state_round_trips(tmp_path: Path, suffix: str) -> None:
    m = _compiled_k3_seq(K3_SEQ / "k3_seq.keras")
    path = tmp_path / f"m{suffix}"
    if suffix == ".weights.h5" or suffix == "_ckpt":
        m.save_weights(path if suffix != "_ckpt" else tmp_path / "ckpt" / "c")
        m2 = ks.saving.load_model(K3_SEQ / "k3_seq.keras")
        for v in m2.optimizer.variables:
            v.assign(np.zeros_like(v.numpy()))
        m2.load_weights(path if suffix != "_ckpt" else tmp_path / "ckpt" / "c")
    else:
        m.save(path)
        m2 = ks.saving.load_model(path)
        assert m2.get_compile_config() == m.get_compile_config()
    assert len(m2.optimizer.variables) == 10
    for a, b in zip(m.optimizer.variables, m2.optimizer.variables):
        assert a.numpy().dtype == b.numpy().dtype and np.array_equal(a.numpy(), b.numpy())


def test_load_into_unbuilt_optimizer_warns_and_skips(tmp_path: Path) -> None:
    m = _compiled_k3_seq(K3_SEQ / "k3_seq.keras")
    fresh = ks.saving.load_model(K3_SEQ / "k3_seq.keras", compile=False)
    fresh.compile(optimizer="adam", loss="mse")  # unbuilt: iteration + learning_rate only
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        fresh.load_weights(K3_SEQ / "k3_seq.weights.h5")
    assert int(fresh.optimizer.iterations) == 0
    assert [np.array_equal(a.numpy(), b.numpy())
            for a, b in zip(fresh.weights, m.weights)] == [True] * len(m.weights)


@pytest.mark.parametrize("name,layout", [
    ("k3_seq/k3_seq_legacy.h5", "keras3"),
    ("tfk_seq/tfk_seq.h5", "tf_keras new"),
    ("tfk_legacy_adam/tfk_seq_legacy_adam.h5", "tf_keras legacy"),
    ("tfk_seq/tfk_seq.keras", "tf_keras .keras"),
])
def test_legacy_and_tf_keras_optimizer_layouts(name: str, layout: str) -> None:
    path = DATA / "keras" / name
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = ks.saving.load_model(path)
    opt = m.optimizer
    assert isinstance(opt, optimizers.Adam) and int(opt.iterations) == 1
    with ks.open(path) as store:
        if name.endswith(".keras"):
            names = [f"optimizer/vars/{i}" for i in range(9)]
            stored = {n: store[n] for n in names}
            m_k, v_k = stored["optimizer/vars/1"], stored["optimizer/vars/2"]
        else:
            names = list(store.attrs("optimizer_weights")["weight_names"])
            stored = {n: store[f"optimizer_weights/{n}"] for n in names}
            if layout == "keras3":
                m_k, v_k = stored[names[2]], stored[names[3]]
            elif layout == "tf_keras new":
                m_k, v_k = stored["Adam/m/dense/kernel:0"], stored["Adam/v/dense/kernel:0"]
            else:
                m_k, v_k = stored["Adam/dense/kernel/m:0"], stored["Adam/dense/kernel/v:0"]
    kernel = m.layers[0].kernel if not isinstance(m.layers[0], ks.layers.InputLayer) \
        else m.layers[1].kernel
    assert np.array_equal(opt.slot(kernel, "momentum").numpy(), m_k)
    assert np.array_equal(opt.slot(kernel, "velocity").numpy(), v_k)


@pytest.mark.parametrize("ckpt", ["tfkeras_adam", "tfkeras_legacy_adam"])
def test_tf_checkpoint_optimizer_layouts(ckpt: str) -> None:
    prefix = DATA / "tf" / ckpt / "ckpt"
    m = ks.Sequential([ks.Input((4,)), ks.layers.Dense(3), ks.layers.Dense(2)])
    m.compile(optimizer="adam", loss="mse")
    m.load_weights(prefix)
    opt = m.optimizer
    assert int(opt.iterations) == 1
    kernel = m.layers[0].kernel
    with ks.open(prefix) as store:
        if ckpt == "tfkeras_adam":
            want = store["optimizer/_variables/1/.ATTRIBUTES/VARIABLE_VALUE"]
        else:
            want = store["layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/"
                         ".ATTRIBUTES/VARIABLE_VALUE"]
        lr = store["optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE"
                   if ckpt == "tfkeras_adam" else
                   "optimizer/learning_rate/.ATTRIBUTES/VARIABLE_VALUE"]
    assert np.array_equal(opt.slot(kernel, "momentum").numpy(), want)
    assert float(opt.learning_rate) == float(lr)


def test_checkpoint_written_in_tf_keras_layout(tmp_path: Path) -> None:
    m = _compiled_k3_seq(K3_SEQ / "k3_seq.keras")
    m.save_weights(tmp_path / "c")
    with ks.open(tmp_path / "c") as store:
        opt_keys = sorted(k for k in store if k.startswith("optimizer/"))
        assert opt_keys == sorted(
            ["optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE",
             "optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE"]
            + [f"optimizer/_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE" for i in range(1, 9)])
        assert store["optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"].dtype == np.int64


def test_mismatched_legacy_state_warns_and_keeps_fresh(tmp_path: Path) -> None:
    # An SGD-with-momentum model given the Adam file's state: Keras's warning, fresh optimizer.
    src = ks.saving.load_model(K3_SEQ / "k3_seq_legacy.h5")
    src.compile(optimizer=optimizers.SGD(momentum=0.9), loss="mse")
    src.optimizer.build(src.trainable_variables)
    src.save(tmp_path / "sgd.h5")
    m = ks.saving.load_model(K3_SEQ / "k3_seq_legacy.h5", compile=False)
    m.compile(optimizer="adam", loss="mse")
    m.optimizer.build(m.trainable_variables)
    from kerasave.saving import legacy_h5

    with ks.open(tmp_path / "sgd.h5") as store, pytest.warns(UserWarning, match="shape"):
        ok = legacy_h5.load_optimizer_weights(m, store)
    assert not ok and int(m.optimizer.iterations) == 0


def _stored(path: Path, group: str) -> list:
    with ks.open(path) as store:
        keys = sorted((k for k in store if k.rsplit("/", 1)[0] == group),
                      key=lambda k: int(k.rsplit("/", 1)[1]))
        return [np.array(store[k]) for k in keys]


def test_loss_scale_optimizer_sequential_like_keras(tmp_path: Path) -> None:
    # A mixed_float16 Sequential saved by Keras: compile wraps Adam in a LossScaleOptimizer;
    # reload wraps again and restores all 10 variables (own 4 + Adam's 6).
    path = DATA / "keras" / "optimizers" / "k3_lso_seq.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = ks.saving.load_model(path)
    opt = m.optimizer
    assert isinstance(opt, optimizers.LossScaleOptimizer)
    assert isinstance(opt.inner_optimizer, optimizers.Adam)
    assert m.get_compile_config()["optimizer"]["class_name"] == "Adam"
    assert [v.path for v in opt.variables][:6] == [
        "loss_scale_optimizer/iteration", "loss_scale_optimizer/learning_rate",
        "loss_scale_optimizer/step_counter", "loss_scale_optimizer/dynamic_scale",
        f"{opt.inner_optimizer.name}/iteration", f"{opt.inner_optimizer.name}/learning_rate"]
    stored = _stored(path, "optimizer/vars")
    assert len(stored) == 10
    for v, s in zip(opt.variables, stored):
        assert v.numpy().dtype == s.dtype and np.array_equal(v.numpy(), s)
    # Four steps: the inner Adam counts them (LossScaleOptimizer.iterations is the inner one,
    # as in Keras); the wrapper's own iteration stays 0, step_counter counts finite steps.
    assert int(opt.iterations) == 4 and int(opt._iterations) == 0
    assert float(opt.dynamic_scale) == 32768.0 and int(opt.step_counter) == 4
    assert np.any(opt.slot(m.layers[0].kernel, "momentum").numpy() != 0)
    m.save(tmp_path / "again.keras")
    assert _stored(tmp_path / "again.keras", "optimizer/inner_optimizer/vars")[2].shape == (4, 2)
    for a, b in zip(_stored(tmp_path / "again.keras", "optimizer/vars"), stored):
        assert np.array_equal(a, b)


def test_loss_scale_optimizer_functional_inner_state_is_rescued() -> None:
    # A Functional has no dtype in its config, so it reloads float32 with a plain Adam; Keras
    # then drops the state (10 saved vs 6), kerasave reads optimizer/inner_optimizer/vars.
    path = DATA / "keras" / "optimizers" / "k3_lso_func.keras"
    m = ks.saving.load_model(path)
    assert isinstance(m.optimizer, optimizers.Adam)
    stored = _stored(path, "optimizer/inner_optimizer/vars")
    for v, s in zip(m.optimizer.variables, stored):
        assert np.array_equal(v.numpy(), s)
    assert int(m.optimizer.iterations) == 4
    cfg = optimizers.serialize(optimizers.LossScaleOptimizer(optimizers.SGD(name="s"),
                                                             name="l"))
    assert cfg["config"]["inner_optimizer"]["class_name"] == "SGD"
    assert isinstance(optimizers.deserialize(cfg).inner_optimizer, optimizers.SGD)
    with pytest.raises(ValueError, match="does not support `clipnorm`"):
        optimizers.LossScaleOptimizer(optimizers.SGD(), clipnorm=1.0)


def test_loss_scale_optimizer_checkpoint_layout(tmp_path: Path) -> None:
    m = ks.saving.load_model(DATA / "keras" / "optimizers" / "k3_lso_seq.keras")
    m.save_weights(tmp_path / "c")
    with ks.open(tmp_path / "c") as store:
        keys = sorted(k for k in store if k.startswith("optimizer/"))
    assert "optimizer/loss_scale/current_loss_scale/.ATTRIBUTES/VARIABLE_VALUE" in keys
    assert "optimizer/loss_scale/good_steps/.ATTRIBUTES/VARIABLE_VALUE" in keys
    assert "optimizer/_variables/4/.ATTRIBUTES/VARIABLE_VALUE" in keys and len(keys) == 8
    m2 = ks.saving.load_model(DATA / "keras" / "optimizers" / "k3_lso_seq.keras")
    for v in m2.optimizer.variables:
        v.assign(np.zeros_like(v.numpy()))
    m2.load_weights(tmp_path / "c")
    for a, b in zip(m.optimizer.variables, m2.optimizer.variables):
        if "loss_scale_optimizer/iteration" in a.path or "loss_scale_optimizer/learning_rate" \
                in a.path:
            continue  # the wrapper's own (unused) pair is not in tf_keras's layout
        assert np.array_equal(a.numpy(), b.numpy()), a.path


def _rewrite_keras(src: Path, dst: Path, edit: Any) -> None:
    with ks.open(src) as store:
        tensors = {k: np.array(store[k]) for k in store}
        config = store.config
        attrs = {f"/{g}": store.attrs(g) for g in {k.rsplit("/", 1)[0] for k in store}}
    edit(tensors)
    ks.save_tensors(dst, tensors, config=config, attrs=attrs)


def test_bad_optimizer_state_in_keras_file(tmp_path: Path) -> None:
    # A wrong shape is an error naming the optimizer and the variable (as Keras's assign).
    bad = tmp_path / "bad.keras"
    _rewrite_keras(K3_SEQ / "k3_seq.keras", bad,
                   lambda t: t.__setitem__("optimizer/vars/2", np.zeros((7,), np.float32)))
    with pytest.raises(ValueError, match=r"adam/dense_kernel_momentum.*\(object path "
                                         r"'optimizer'\)"):
        ks.saving.load_model(bad)
    # skip_mismatch: warned and skipped; the layers still load.
    m = ks.saving.load_model(K3_SEQ / "k3_seq.keras")
    for v in m.optimizer.variables:
        v.assign(np.zeros_like(v.numpy()))
    with pytest.warns(UserWarning, match="Skipping loading weights for 'optimizer'"):
        m.load_weights(bad, skip_mismatch=True)
    assert int(m.optimizer.iterations) == 0
    # An extra stored value: Keras's count warning, nothing assigned.
    extra = tmp_path / "extra.keras"
    _rewrite_keras(K3_SEQ / "k3_seq.keras", extra,
                   lambda t: t.__setitem__("optimizer/vars/10", np.zeros((), np.float32)))
    with pytest.warns(UserWarning, match="has 10 variables whereas the saved optimizer has 11"):
        m2 = ks.saving.load_model(extra)
    assert int(m2.optimizer.iterations) == 0


def test_bad_legacy_optimizer_weight_names(tmp_path: Path) -> None:
    src = K3_SEQ / "k3_seq_legacy.h5"
    with ks.open(src) as store:
        tensors = {k: np.array(store[k]) for k in store}
        groups = {k.rsplit("/", 1)[0] for k in store} | {"model_weights", "optimizer_weights"}
        attrs = {}
        for g in groups:
            try:
                attrs[f"/{g}"] = store.attrs(g)
            except KeyError:
                pass
        config, metadata = store.config, store.metadata
    names = list(attrs["/optimizer_weights"]["weight_names"])
    attrs["/optimizer_weights"] = {"weight_names": names + ["adam/not_there"]}
    bad = tmp_path / "bad.h5"
    ks.save_tensors(bad, tensors, format="legacy_h5_model", config=config, metadata=metadata,
                    attrs=attrs)
    with pytest.warns(UserWarning, match="names a missing dataset"):
        m = ks.saving.load_model(bad)
    assert int(m.optimizer.iterations) == 0


def test_h5_include_optimizer_false(tmp_path: Path) -> None:
    m = _compiled_k3_seq(K3_SEQ / "k3_seq.keras")
    m.save(tmp_path / "no_opt.h5", include_optimizer=False)
    with ks.open(tmp_path / "no_opt.h5") as store:
        assert not any(k.startswith("optimizer_weights/") for k in store)
        assert "training_config" not in (store.metadata or {})
    again = ks.saving.load_model(tmp_path / "no_opt.h5")
    assert again.optimizer is None and not again.compiled
