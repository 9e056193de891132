"""Writes tests/data/keras/optimizers/golden.json from the real Keras 3 installed here: the
serialized config of every optimizer, schedule, loss and metric kerasave implements (defaults and
non-default arguments), and each optimizer's/metric's variables (path, shape, dtype, sum) after
``build`` on a small Functional model. tests/test_optimizers.py and tests/test_losses_metrics.py
compare kerasave against it without TensorFlow; tests/interop/ compares against live Keras.

Run: TF_CPP_MIN_LOG_LEVEL=3 python3 tools/make_optimizer_golden.py
"""

from __future__ import annotations

import json
import os
import sys

import keras
import numpy as np

# (class name, kwargs) cases, shared with the tests through the JSON.
OPTIMIZERS = [
    ("SGD", {}), ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {}), ("Adam", {"amsgrad": True, "beta_1": 0.8, "clipnorm": 1.0}),
    ("Adam", {"use_ema": True, "gradient_accumulation_steps": 2}),
    ("AdamW", {}), ("AdamW", {"weight_decay": 0.1, "amsgrad": True}),
    ("Adamax", {}), ("Adagrad", {}), ("Adagrad", {"initial_accumulator_value": 0.5}),
    ("Adadelta", {}), ("RMSprop", {}), ("RMSprop", {"momentum": 0.5, "centered": True}),
    ("Nadam", {}), ("Ftrl", {}), ("Ftrl", {"initial_accumulator_value": 0.3, "beta": 0.1}),
    ("Lion", {}), ("Lamb", {}), ("Muon", {}), ("Muon", {"exclude_layers": ["d2"]}),
    ("Adafactor", {}), ("ScheduleFreeAdamW", {}),
    ("Adam", {"learning_rate": {"schedule": "ExponentialDecay", "initial_learning_rate": 0.1,
                                "decay_steps": 10, "decay_rate": 0.9}}),
]
SCHEDULES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9}),
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9,
                          "staircase": True, "name": "ed"}),
    ("PiecewiseConstantDecay", {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001]}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 10}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "power": 2.0,
                         "cycle": True}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 10}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 0.1,
                     "warmup_target": 0.2, "warmup_steps": 5}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 10}),
]
LOSSES = [(n, {}) for n in (
    "BinaryCrossentropy", "BinaryFocalCrossentropy", "CTC", "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy", "CategoricalGeneralizedCrossEntropy", "CategoricalHinge",
    "Circle", "CosineSimilarity", "Dice", "Hinge", "Huber", "KLDivergence", "LogCosh",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredError",
    "MeanSquaredLogarithmicError", "Poisson", "SparseCategoricalCrossentropy", "SquaredHinge",
    "Tversky")] + [
    ("Huber", {"delta": 2.0, "reduction": "sum", "name": "h"}),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1, "axis": 1}),
    ("SparseCategoricalCrossentropy", {"ignore_class": 3, "axis": 1}),
    ("CosineSimilarity", {"axis": 1, "reduction": None}),
    ("Tversky", {"alpha": 0.3, "beta": 0.7, "axis": [1, 2]}),
]
METRICS = [(n, {}) for n in (
    "AUC", "Accuracy", "BinaryAccuracy", "BinaryCrossentropy", "BinaryIoU",
    "CategoricalAccuracy", "CategoricalCrossentropy", "CategoricalHinge",
    "ConcordanceCorrelation", "CosineSimilarity", "F1Score", "FBetaScore", "FalseNegatives",
    "FalsePositives", "Hinge", "KLDivergence", "LogCoshError", "Mean", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredError", "MeanSquaredLogarithmicError",
    "PearsonCorrelation", "Poisson", "Precision", "R2Score", "Recall", "RootMeanSquaredError",
    "SparseCategoricalAccuracy", "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy", "SquaredHinge", "Sum", "TopKCategoricalAccuracy",
    "TrueNegatives", "TruePositives")] + [
    ("IoU", {"num_classes": 3, "target_class_ids": [0, 1]}), ("MeanIoU", {"num_classes": 3}),
    ("OneHotIoU", {"num_classes": 3, "target_class_ids": [0]}),
    ("OneHotMeanIoU", {"num_classes": 4}),
    ("PrecisionAtRecall", {"recall": 0.5}), ("RecallAtPrecision", {"precision": 0.5}),
    ("SensitivityAtSpecificity", {"specificity": 0.4}),
    ("SpecificityAtSensitivity", {"sensitivity": 0.4, "num_thresholds": 50}),
    ("AUC", {"multi_label": True, "num_labels": 3, "curve": "PR"}),
    ("AUC", {"thresholds": [0.2, 0.5], "name": "auc_t"}),
    ("Precision", {"thresholds": [0.3, 0.6], "top_k": 2}), ("Recall", {"class_id": 1}),
    ("TruePositives", {"thresholds": [0.1, 0.5, 0.9]}),
    ("BinaryAccuracy", {"threshold": 0.7, "name": "ba"}),
    ("TopKCategoricalAccuracy", {"k": 3}),
    ("FBetaScore", {"average": "macro", "beta": 2.0, "threshold": 0.5}),
]


def model() -> keras.Model:
    inp = keras.Input((4,), name="x")
    h = keras.layers.Dense(3, name="d1")(inp)
    out = keras.layers.Dense(2, name="d2")(h)
    return keras.Model(inp, out, name="func")


def variables(obj) -> list:
    return [[v.path, list(v.shape), str(v.dtype), float(np.sum(keras.ops.convert_to_numpy(v)))]
            for v in obj.variables]


def write_mixed_precision_models(here: str) -> None:
    """k3_lso_func.keras / k3_lso_seq.keras: mixed_float16 models compiled with Adam (Keras wraps
    it in a LossScaleOptimizer: optimizer/vars plus optimizer/inner_optimizer/vars), trained four
    steps. The Functional has no dtype in its config, so it reloads unwrapped."""
    rng = np.random.default_rng(0)
    x = (0.01 * rng.normal(size=(8, 4))).astype("float32")  # small: no float16 overflow at
    y = (0.01 * rng.normal(size=(8, 2))).astype("float32")  # the initial loss scale 2**15
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inp = keras.Input((4,), name="x")
        func = keras.Model(inp, keras.layers.Dense(2, name="d")(inp), name="lso_func")
        seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")],
                               name="lso_seq")
    finally:
        keras.config.set_dtype_policy("float32")
    for m, name in ((func, "k3_lso_func.keras"), (seq, "k3_lso_seq.keras")):
        m.compile(optimizer="adam", loss="mse")
        m.fit(x, y, batch_size=4, epochs=2, verbose=0)  # 4 steps
        m.save(os.path.join(here, name))


def main() -> None:
    out = {"keras": keras.__version__, "optimizers": [], "schedules": [], "losses": [],
           "metrics": []}
    m = model()
    for name, kwargs in OPTIMIZERS:
        args = dict(kwargs)
        lr = args.get("learning_rate")
        if isinstance(lr, dict):
            lr = dict(lr)
            args["learning_rate"] = getattr(keras.optimizers.schedules, lr.pop("schedule"))(**lr)
        opt = getattr(keras.optimizers, name)(name=f"opt_{len(out['optimizers'])}", **args)
        opt.build(m.trainable_variables)
        out["optimizers"].append({"class_name": name, "kwargs": kwargs,
                                  "record": keras.saving.serialize_keras_object(opt),
                                  "variables": variables(opt)})
    for name, kwargs in SCHEDULES:
        s = getattr(keras.optimizers.schedules, name)(**kwargs)
        out["schedules"].append({"class_name": name, "kwargs": kwargs,
                                 "record": keras.saving.serialize_keras_object(s),
                                 "values": [float(s(step)) for step in (0, 3, 10, 25)]})
    for name, kwargs in LOSSES:
        obj = getattr(keras.losses, name)(**kwargs)
        out["losses"].append({"class_name": name, "kwargs": kwargs,
                              "record": keras.saving.serialize_keras_object(obj)})
    for name, kwargs in METRICS:
        kw = dict(kwargs)
        kw.setdefault("name", f"m_{len(out['metrics'])}")
        obj = getattr(keras.metrics, name)(**kw)
        out["metrics"].append({"class_name": name, "kwargs": kw,
                               "record": keras.saving.serialize_keras_object(obj),
                               "variables": variables(obj)})
    here = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "keras", "optimizers")
    write_mixed_precision_models(here)
    path = os.path.join(here, "golden.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
