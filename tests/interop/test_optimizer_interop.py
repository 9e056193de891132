"""Optimizer, loss and metric objects against real Keras 3.15.1 and tf_keras 2.21.

* A Keras-trained model (Adam, SGD with momentum, RMSprop centered with momentum) saved by Keras
  (.keras, .weights.h5, legacy .h5) -> kerasave load -> kerasave save -> Keras load: the same
  optimizer config and bit-identical ``optimizer.variables``.
* A kerasave-compiled model saved as .keras / .h5 loads compiled in Keras with the same compile
  config and optimizer state.
* Default configs of every optimizer, loss and metric class equal live Keras's.
* tf_keras restores the optimizer state of a kerasave-written TF checkpoint.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
tf_keras = pytest.importorskip("tf_keras")

import kerasave as ks  # noqa: E402

pytestmark = pytest.mark.interop

OPTIMIZERS = {
    "adam": lambda: keras.optimizers.Adam(learning_rate=0.01),
    "sgd_momentum": lambda: keras.optimizers.SGD(learning_rate=0.05, momentum=0.9,
                                                 nesterov=True),
    "rmsprop": lambda: keras.optimizers.RMSprop(momentum=0.5, centered=True),
}


def _keras_model(opt: object) -> "keras.Model":
    inp = keras.Input((4,), name="x")
    h = keras.layers.Dense(3, activation="relu", name="d1")(inp)
    h = keras.layers.BatchNormalization(name="bn")(h)
    out = keras.layers.Dense(2, name="d2")(h)
    m = keras.Model(inp, out, name="func")
    m.compile(optimizer=opt, loss="mse",
              metrics=["mae", keras.metrics.RootMeanSquaredError()])
    return m


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Each optimizer: a Keras model trained 3 steps, saved in every Keras format."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.normal(size=(32, 2)).astype("float32")
    out = {}
    for name, make in OPTIMIZERS.items():
        d = tmp_path_factory.mktemp(name)
        m = _keras_model(make())
        m.fit(x, y, batch_size=16, epochs=2, verbose=0)  # 4 steps
        m.save(d / "k.keras")
        m.save_weights(d / "k.weights.h5")
        out[name] = {"dir": d, "model": m, "x": x,
                     "opt_config": m.optimizer.get_config(),
                     "opt_values": [v.numpy() for v in m.optimizer.variables],
                     "compile_config": m.get_compile_config()}
        # legacy .h5 last: Keras 3's h5 save pops the optimizer out of the compile config.
        m.save(d / "k.h5")
    return out


def _assert_same_state(opt: object, values: list) -> None:
    got = [np.asarray(v.numpy()) for v in opt.variables]
    assert len(got) == len(values)
    for g, w in zip(got, values):
        assert g.dtype == w.dtype and g.shape == w.shape and np.array_equal(g, w)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("fmt", [".keras", ".h5"])
def test_keras_saved_optimizer_survives_kerasave(trained: dict, name: str, fmt: str,
                                                 tmp_path: Path) -> None:
    case = trained[name]
    ksm = ks.saving.load_model(case["dir"] / f"k{fmt}")
    assert int(ksm.optimizer.iterations) == 4
    assert ksm.optimizer.get_config() == case["opt_config"]
    _assert_same_state(ksm.optimizer, case["opt_values"])
    if fmt == ".keras":
        assert ksm.get_compile_config() == case["compile_config"]
    out = tmp_path / f"again{fmt}"
    ksm.save(out)
    if fmt == ".h5":
        # Keras 3 cannot compile a legacy .h5 with alias metric names ("mae", spec §3.5); load
        # uncompiled and restore the state the way its legacy loader would.
        back = keras.models.load_model(out, compile=False)
        back.compile(optimizer=keras.optimizers.deserialize(
            {"class_name": type(case["model"].optimizer).__name__,
             "config": ksm.optimizer.get_config()}), loss="mse")
        back.optimizer.build(back.trainable_variables)
        import h5py

        with h5py.File(out, "r") as f:
            names = [n.decode() if isinstance(n, bytes) else n
                     for n in f["optimizer_weights"].attrs["weight_names"]]
            back.optimizer.set_weights([f["optimizer_weights"][n][()] for n in names])
    else:
        back = keras.models.load_model(out)
        assert back.get_compile_config() == case["compile_config"]
    assert back.optimizer.get_config() == case["opt_config"]
    _assert_same_state(back.optimizer, case["opt_values"])
    np.testing.assert_array_equal(back.predict(case["x"], verbose=0),
                                  case["model"].predict(case["x"], verbose=0))


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_weights_h5_optimizer_state(trained: dict, name: str, tmp_path: Path) -> None:
    case = trained[name]
    ksm = ks.saving.load_model(case["dir"] / "k.keras")
    for v in ksm.optimizer.variables:
        v.assign(np.zeros_like(v.numpy()))
    ksm.load_weights(case["dir"] / "k.weights.h5")
    _assert_same_state(ksm.optimizer, case["opt_values"])
    ksm.save_weights(tmp_path / "w.weights.h5")
    fresh = _keras_model(OPTIMIZERS[name]())
    fresh.optimizer.build(fresh.trainable_variables)
    fresh.load_weights(tmp_path / "w.weights.h5")
    _assert_same_state(fresh.optimizer, case["opt_values"])


def test_kerasave_compiled_model_loads_compiled_in_keras(tmp_path: Path) -> None:
    inp = ks.Input((4,), name="x")
    out = ks.layers.Dense(2, name="d")(ks.layers.Dense(3, name="h")(inp))
    m = ks.Model(inp, out, name="m")
    sched = ks.optimizers.schedules.CosineDecay(0.1, decay_steps=100, warmup_target=0.2,
                                                warmup_steps=10)
    m.compile(optimizer=ks.optimizers.AdamW(learning_rate=sched, weight_decay=0.01),
              loss=ks.losses.Huber(), metrics=["mae", ks.metrics.AUC(num_thresholds=50)],
              loss_weights=[0.5])
    m.optimizer.build(m.trainable_variables)
    rng = np.random.default_rng(1)
    for v in m.optimizer.variables:
        v.assign(rng.normal(size=v.shape).astype(v.numpy().dtype) if v.dtype != "int64"
                 else np.int64(7))
    m.save(tmp_path / "m.keras")
    back = keras.models.load_model(tmp_path / "m.keras")
    assert back.compiled
    assert back.get_compile_config() == m.get_compile_config()
    assert isinstance(back.optimizer, keras.optimizers.AdamW)
    _assert_same_state(back.optimizer, [v.numpy() for v in m.optimizer.variables])
    assert int(back.optimizer.iterations.numpy()) == 7


def test_default_configs_equal_live_keras() -> None:
    for name in ks.optimizers.ALL_OBJECTS_DICT:
        cls = getattr(ks.optimizers, [c.__name__ for c in ks.optimizers.ALL_OBJECTS
                                      if c.__name__.lower() == name][0])
        if cls in (ks.optimizers.Optimizer, ks.optimizers.LossScaleOptimizer):
            continue
        ours = cls(name="o").get_config()
        theirs = getattr(keras.optimizers, cls.__name__)(name="o").get_config()
        assert ours == theirs, cls.__name__
    for cls in ks.losses.CLASSES:
        assert cls().get_config() == getattr(keras.losses, cls.__name__)().get_config(), cls
    required = {"IoU": (3, [0]), "MeanIoU": (3,), "OneHotIoU": (3, [0]), "OneHotMeanIoU": (3,),
                "PrecisionAtRecall": (0.5,), "RecallAtPrecision": (0.5,),
                "SensitivityAtSpecificity": (0.5,), "SpecificityAtSensitivity": (0.5,)}
    for cls in ks.metrics.CLASSES:
        if cls is ks.metrics.MeanMetricWrapper:
            continue
        args = required.get(cls.__name__, ())
        ours = cls(*args, name="met")
        theirs = getattr(keras.metrics, cls.__name__)(*args, name="met")
        assert ours.get_config() == theirs.get_config(), cls.__name__
        assert [(v.path, tuple(v.shape), v.dtype) for v in ours.variables] == \
            [(v.path, tuple(v.shape), v.dtype) for v in theirs.variables], cls.__name__


def test_tf_keras_restores_kerasave_checkpoint_optimizer(tmp_path: Path) -> None:
    m = ks.Sequential([ks.Input((4,)), ks.layers.Dense(3), ks.layers.Dense(2)])
    m.compile(optimizer=ks.optimizers.Adam(learning_rate=0.02), loss="mse")
    m.optimizer.build(m.trainable_variables)
    rng = np.random.default_rng(2)
    for v in m.optimizer.variables[2:]:
        v.assign(rng.normal(size=v.shape).astype("float32"))
    m.optimizer.iterations.assign(5)
    m.save_weights(tmp_path / "ckpt" / "c")
    t = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(3),
                             tf_keras.layers.Dense(2)])
    t.compile(optimizer=tf_keras.optimizers.Adam(), loss="mse")
    t.load_weights(str(tmp_path / "ckpt" / "c")).assert_existing_objects_matched()
    t.optimizer.build(t.trainable_variables)
    assert int(t.optimizer.iterations.numpy()) == 5
    assert float(t.optimizer.learning_rate.numpy()) == pytest.approx(0.02)
    want = [v.numpy() for v in m.optimizer.variables[2:]]
    got = [v.numpy() for v in t.optimizer.variables[1:]]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


def test_loss_scale_optimizer_round_trip_in_keras(tmp_path: Path) -> None:
    # Keras 3 reloads its own mixed_float16 Sequential with a float32 policy, a plain Adam and
    # the state dropped (warning); kerasave keeps the policy, the LossScaleOptimizer and every
    # variable, and writes the same optimizer groups back, which Keras reads as its own file.
    import h5py

    src = Path(__file__).resolve().parent.parent / "data" / "keras" / "optimizers" / \
        "k3_lso_seq.keras"
    m = ks.saving.load_model(src)
    assert isinstance(m.optimizer, ks.optimizers.LossScaleOptimizer)
    m.save(tmp_path / "lso.keras")

    def groups(path: Path) -> dict:
        with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5"))) as f:
            out = {}
            f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset)
                         and n.startswith("optimizer/") else None)
            return out

    ours, theirs_file = groups(tmp_path / "lso.keras"), groups(src)
    assert sorted(ours) == sorted(theirs_file)
    for k in ours:
        assert ours[k].dtype == theirs_file[k].dtype and np.array_equal(ours[k], theirs_file[k])
    with pytest.warns(UserWarning, match="Skipping variable loading"):
        theirs = keras.models.load_model(src)
    with pytest.warns(UserWarning, match="Skipping variable loading"):
        back = keras.models.load_model(tmp_path / "lso.keras")
    assert type(back.optimizer) is type(theirs.optimizer)
    assert back.optimizer.get_config() == theirs.optimizer.get_config()
    assert back.get_compile_config() == theirs.get_compile_config()


def test_tf_keras_restores_loss_scale_optimizer_checkpoint(tmp_path: Path) -> None:
    m = ks.saving.load_model(Path(__file__).resolve().parent.parent / "data" / "keras" /
                             "optimizers" / "k3_lso_seq.keras")
    m.optimizer.dynamic_scale.assign(np.float32(1024.0))
    m.optimizer.step_counter.assign(np.int64(3))
    m.save_weights(tmp_path / "ckpt" / "c")
    tf_keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        t = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(2, name="d")])
        t.compile(optimizer=tf_keras.optimizers.Adam(), loss="mse")
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")
    assert type(t.optimizer).__name__ == "LossScaleOptimizerV3"
    t.load_weights(str(tmp_path / "ckpt" / "c"))
    t.optimizer.build(t.trainable_variables)
    assert float(t.optimizer.loss_scale.numpy()) == 1024.0
    assert int(t.optimizer.iterations.numpy()) == 4
    want = [v.numpy() for v in m.optimizer.inner_optimizer.variables[2:]]
    got = [v.numpy() for v in t.optimizer.inner_optimizer.variables[1:]]
    assert len(got) == len(want) and all(np.array_equal(g, w) for g, w in zip(got, want))


TFK_OPTIMIZERS = {
    "SGD": {"momentum": 0.9}, "Adam": {"amsgrad": True}, "RMSprop": {"momentum": 0.5,
                                                                     "centered": True},
    "Adagrad": {}, "Adadelta": {}, "Adamax": {}, "Nadam": {}, "Ftrl": {},
}


@pytest.fixture(scope="module")
def tfk_trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """tf_keras models trained 2 steps with each optimizer, new and legacy, saved as .h5."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    d = tmp_path_factory.mktemp("tfk")
    out = {}
    for name, kwargs in TFK_OPTIMIZERS.items():
        for flavour, ns in (("new", tf_keras.optimizers), ("legacy", tf_keras.optimizers.legacy)):
            t = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(3, name="a"),
                                     tf_keras.layers.Dense(2, name="b")])
            t.compile(optimizer=getattr(ns, name)(learning_rate=0.01, **kwargs), loss="mse")
            t.fit(x, y, batch_size=4, epochs=1, verbose=0)
            path = d / f"{name}_{flavour}.h5"
            t.save(path)
            out[(name, flavour)] = (path, t)
    return out


@pytest.mark.parametrize("flavour", ["new", "legacy"])
@pytest.mark.parametrize("name", list(TFK_OPTIMIZERS))
def test_tf_keras_h5_optimizer_state_read(tfk_trained: dict, name: str, flavour: str) -> None:
    import warnings

    from kerasave.optimizers._compat import LEGACY_SLOT_NAMES

    path, t = tfk_trained[(name, flavour)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Legacy Nadam's config has decay=0.004 (its schedule_decay); Keras 3 warns too.
        warnings.filterwarnings("ignore", "Argument `decay` is no longer supported")
        m = ks.saving.load_model(path)
    opt, topt = m.optimizer, t.optimizer
    assert type(opt).__name__ == name
    assert int(opt.iterations) == int(topt.iterations.numpy()) == 2
    assert float(opt.learning_rate) == pytest.approx(0.01)
    ours = [v for v in opt.variables if v.name not in ("iteration", "learning_rate")]
    if name == "Nadam":
        # tf_keras does not save Nadam's u_product; kerasave recomputes it from the step count
        # with Keras 3's formula: compare with what Keras 3's own Nadam holds after 2 steps.
        k = _keras_model(keras.optimizers.Nadam())
        k.fit(np.ones((8, 4), "float32"), np.ones((8, 2), "float32"), batch_size=4, verbose=0)
        assert float(opt._u_product) == pytest.approx(float(k.optimizer._u_product.numpy()),
                                                      rel=1e-6)
        ours = [v for v in ours if v is not opt._u_product]
    if flavour == "new":
        theirs = [v.numpy() for v in topt.variables[1:]]
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert np.array_equal(a.numpy(), b)
    else:
        mapping = LEGACY_SLOT_NAMES[name]
        checked = 0
        for kv, tv in zip(m.trainable_variables, t.trainable_variables):
            for legacy_name in topt.get_slot_names():
                want = topt.get_slot(tv, legacy_name).numpy()
                assert np.array_equal(opt.slot(kv, mapping[legacy_name]).numpy(), want)
                checked += 1
        assert checked == len(ours)


def test_kerasave_compiled_h5_loads_compiled_in_keras(tmp_path: Path) -> None:
    inp = ks.Input((4,), name="x")
    m = ks.Model(inp, ks.layers.Dense(2, name="d")(ks.layers.Dense(3, name="h")(inp)), name="m")
    m.compile(optimizer=ks.optimizers.RMSprop(learning_rate=0.02, momentum=0.5),
              loss="mean_squared_error", metrics=["mean_absolute_error"])
    m.optimizer.build(m.trainable_variables)
    rng = np.random.default_rng(4)
    for v in m.optimizer.variables[2:]:
        v.assign(rng.normal(size=v.shape).astype("float32"))
    m.optimizer.iterations.assign(3)
    m.save(tmp_path / "m.h5")
    back = keras.models.load_model(tmp_path / "m.h5")
    assert isinstance(back.optimizer, keras.optimizers.RMSprop)
    assert back.optimizer.get_config() == m.optimizer.get_config()
    # Keras 3's legacy loader builds the optimizer on model._trainable_variables (the model's
    # own, none here), so its positional set_weights restores only iteration and learning_rate;
    # the file holds everything, named and ordered as Keras 3 writes it.
    _assert_same_state(back.optimizer, [v.numpy() for v in m.optimizer.variables[:2]])
    import h5py

    with h5py.File(tmp_path / "m.h5", "r") as f:
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in f["optimizer_weights"].attrs["weight_names"]]
        assert names == [v.path for v in m.optimizer.variables]
        for n, v in zip(names, m.optimizer.variables):
            assert np.array_equal(f["optimizer_weights"][n][()], v.numpy())
    # Built on the real trainable variables, a Keras optimizer takes the whole state.
    opt = keras.optimizers.RMSprop.from_config(back.optimizer.get_config())
    opt.build(back.trainable_variables)
    with h5py.File(tmp_path / "m.h5", "r") as f:
        opt.set_weights([f["optimizer_weights"][n][()] for n in names])
    _assert_same_state(opt, [v.numpy() for v in m.optimizer.variables])
