"""Saving and loading: Keras's config serialization, the custom-object registry, safe mode.

::

    import kerasave as keras

    @keras.saving.register_keras_serializable(package="MyPkg")
    def my_act(x): ...

    config = keras.saving.serialize_keras_object(obj)
    obj = keras.saving.deserialize_keras_object(config, custom_objects={"MyPkg>Scaler": Scaler})

Loading never imports a module a file names; see :mod:`kerasave.saving.safe_mode`.
"""

from __future__ import annotations

from kerasave.saving import registry, safe_mode, serialization
from kerasave.saving.registry import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from kerasave.saving.safe_mode import SafeModeScope, in_safe_mode
from kerasave.saving.serialization import (
    ObjectSharingScope,
    deserialize_keras_object,
    serialize_keras_object,
)

__all__ = [
    "CustomObjectScope",
    "ObjectSharingScope",
    "SafeModeScope",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "in_safe_mode",
    "register_keras_serializable",
    "registry",
    "safe_mode",
    "serialization",
    "serialize_keras_object",
    "load_model",
    "save_model",
]

from kerasave.saving.api import load_model, save_model  # noqa: E402
