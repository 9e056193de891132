"""kerasave: read and write Keras and TensorFlow artifacts without TensorFlow, zero-copy.

::

    import kerasave as ks

    with ks.open("model.keras") as store:          # any artifact as a mapping of tensors
        print(store.format, list(store))

    ks.save_tensors("w.weights.h5", tensors)        # ... and back: every format ks.open reads

    reader = ks.checkpoint.load_checkpoint("ckpt/")  # tf.train-style checkpoints
"""

from __future__ import annotations

from kerasave import checkpoint, config, errors, saving, utils
from kerasave._core import __version__
from kerasave.errors import (
    CorruptFileError,
    KerasaveError,
    KerasaveWarning,
    UnknownObjectError,
    UnsafeConfigError,
    UnsupportedFormatError,
)
from kerasave._writers import save_tensors
from kerasave.storage import Store, open
from kerasave import activations, initializers, layers, models  # noqa: E402
from kerasave import losses, metrics, optimizers  # noqa: E402
from kerasave import constraints, regularizers  # noqa: E402
from kerasave.layers import Input  # noqa: E402
from kerasave.models import Model, Sequential  # noqa: E402

__all__ = [
    "CorruptFileError",
    "KerasaveError",
    "KerasaveWarning",
    "Store",
    "UnknownObjectError",
    "UnsafeConfigError",
    "UnsupportedFormatError",
    "__version__",
    "checkpoint",
    "config",
    "errors",
    "open",
    "save_tensors",
    "saving",
    "utils",
    "Input",
    "Model",
    "Sequential",
    "activations",
    "constraints",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
]
