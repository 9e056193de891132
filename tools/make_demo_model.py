#!/usr/bin/env python3
"""Regenerate the sample model that ``kerasave demo`` tours: python/kerasave/data/sample/.

    python3 tools/make_demo_model.py

Written by REAL Keras 3.15.1 (TensorFlow backend), seeds fixed:

* ``sample.keras``: a functional CNN classifier named ``sample_cnn`` (Conv2D, BatchNormalization,
  MaxPooling2D, Conv2D, GlobalAveragePooling2D, Dense, Dropout, Dense softmax) on 16x16x3 images,
  trained eight epochs on a toy problem (class = decile of the mean red level) (so the BatchNormalization moving statistics are not their
  initial values), then copied into an uncompiled clone and saved without optimizer state.
* ``sample_io.npz``: ``x`` (a fixed float32 batch of 4 images) and ``y`` (Keras 3's
  ``model.predict(x)`` for it), written with ``np.savez`` (no pickle; ``ks.open`` reads it).

The whole directory stays well under 200 KB. The zip timestamps and ``metadata.json`` change per
run; tensors do not.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "python" / "kerasave" / "data" / "sample"


def build(keras):
    inputs = keras.Input(shape=(16, 16, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Activation("relu", name="relu1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(32, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(0.2, name="dropout")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="sample_cnn")


def main() -> int:
    import keras

    if keras.__version__ != "3.15.1":
        sys.exit(f"needs Keras 3.15.1, found {keras.__version__}")
    keras.utils.set_random_seed(1234)
    rng = np.random.default_rng(1234)
    # Toy task: the class is the decile of an image's mean red level.
    def images(n):
        shift = rng.normal(size=(n, 1, 1, 3))
        return (rng.normal(size=(n, 16, 16, 3)) * 0.5 + shift).astype("float32")

    x_train = images(1024)
    level = x_train[..., 0].mean(axis=(1, 2))
    y_train = np.digitize(level, np.quantile(level, np.linspace(0.1, 0.9, 9))).astype("int64")
    model = build(keras)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)

    # A clean, uncompiled copy: the sample is about the architecture and its weights.
    keras.backend.clear_session()
    clean = build(keras)
    clean.set_weights(model.get_weights())

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "sample.keras"
    clean.save(path)
    x = images(4)
    y = np.asarray(clean.predict(x, verbose=0), dtype="float32")
    np.savez(OUT / "sample_io.npz", x=x, y=y)

    # Check what we wrote: Keras reloads it and gives the same predictions.
    again = keras.saving.load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), y)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    assert total < 200_000, total
    print(f"keras {keras.__version__}: wrote {OUT} ({total} bytes); "
          f"{clean.count_params()} parameters; argmax {y.argmax(axis=1).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
