"""Keras 3 optimizers with their configs and state (``ks.optimizers``); no training.

::

    opt = ks.optimizers.get("adam")            # or Adam(learning_rate=1e-3), a config, ...
    opt.build(model.trainable_variables)      # iteration, learning_rate, then the slots
    [v.path for v in opt.variables]           # ["adam/iteration", "adam/learning_rate",
                                              #  "adam/dense_kernel_momentum", ...]
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from kerasave.optimizers import schedules
from kerasave.optimizers.base_optimizer import Optimizer, OptimizerVariable
from kerasave.optimizers.optimizers import (
    SGD,
    Adadelta,
    Adafactor,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Ftrl,
    Lamb,
    Lion,
    LossScaleOptimizer,
    Muon,
    Nadam,
    RMSprop,
    ScheduleFreeAdamW,
)
from kerasave.saving import registry as _registry

__all__ = ["SGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl",
           "Lamb", "Lion", "LossScaleOptimizer", "Muon", "Nadam", "Optimizer",
           "OptimizerVariable", "RMSprop",
           "ScheduleFreeAdamW", "deserialize", "get", "schedules", "serialize"]

ALL_OBJECTS = (Optimizer, Adam, SGD, RMSprop, Adadelta, AdamW, Adagrad, Adamax, Adafactor,
               Muon, Nadam, Ftrl, Lion, Lamb, ScheduleFreeAdamW, LossScaleOptimizer)
#: Keras's case-insensitive names (``"adam"``, ``"rmsprop"``, ``"sgd"``).
ALL_OBJECTS_DICT: Dict[str, type] = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}

for _cls in ALL_OBJECTS:
    _registry.register_builtin("keras.optimizers", _cls.__name__, _cls)


def serialize(optimizer: Optimizer) -> Dict[str, Any]:
    """The Keras record ``{"module": "keras.optimizers", "class_name", "config",
    "registered_name"}`` of an optimizer."""
    from kerasave.saving.serialization import serialize_keras_object

    return serialize_keras_object(optimizer)


def deserialize(config: Mapping[str, Any],
                custom_objects: Optional[Mapping[str, Any]] = None) -> Optimizer:
    """An optimizer from its record; built-in class names are case-insensitive (Keras), and
    Keras 2 / tf_keras records (``Custom>Adam``, legacy ``decay``) are accepted.

    Raises:
        UnknownObjectError: The class is neither built in nor registered.
    """
    from kerasave.saving.serialization import deserialize_keras_object

    config = dict(config)
    name = config.get("class_name")
    if isinstance(name, str):
        if name.startswith("Custom>") and name[7:].lower() in ALL_OBJECTS_DICT:
            name = name[7:]
        if name.lower() in ALL_OBJECTS_DICT:
            config["class_name"] = name.lower()
    return deserialize_keras_object(config, custom_objects=custom_objects,
                                    module_objects=ALL_OBJECTS_DICT)


def get(identifier: Any) -> Optional[Optimizer]:
    """An optimizer from a name (``"adam"``), a record/config dict or an instance.

    Raises:
        ValueError: The identifier does not give an optimizer.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = deserialize({"class_name": identifier, "config": {}})
    else:
        obj = identifier
    if isinstance(obj, Optimizer):
        return obj
    raise ValueError(f"Could not interpret optimizer identifier: {identifier}")
