"""Keras-style layers computing with numpy (inference only).

::

    import kerasave as keras

    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, activation="relu")(inputs)
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from kerasave.layers.base import (
    DTypePolicy,
    Input,
    InputLayer,
    KerasTensor,
    Layer,
    QuantizedDTypePolicy,
    Variable,
    clear_session,
)
from kerasave.layers.core import (
    ELU,
    Activation,
    Add,
    AlphaDropout,
    Average,
    BatchNormalization,
    Concatenate,
    Dense,
    Dot,
    Dropout,
    Embedding,
    Flatten,
    GaussianDropout,
    GaussianNoise,
    Identity,
    LayerNormalization,
    LeakyReLU,
    Maximum,
    Minimum,
    Multiply,
    Normalization,
    Permute,
    PReLU,
    ReLU,
    RepeatVector,
    Rescaling,
    Reshape,
    Softmax,
    SpatialDropout1D,
    SpatialDropout2D,
    Subtract,
    UnitNormalization,
)
from kerasave.layers.conv import (  # noqa: F401
    AveragePooling1D,
    AveragePooling2D,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Cropping2D,
    DepthwiseConv2D,
    SeparableConv2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
    UpSampling2D,
    ZeroPadding2D,
)

from kerasave.layers import ops_layers  # noqa: F401  (registers keras.src.ops.* nodes)
from kerasave.layers.preprocessing import StringLookup, TextVectorization  # noqa: F401
from kerasave.layers.attention import EinsumDense, MultiHeadAttention  # noqa: F401
from kerasave.layers.rnn import (  # noqa: F401
    GRU,
    LSTM,
    Bidirectional,
    GRUCell,
    Lambda,
    LSTMCell,
    Masking,
    SimpleRNN,
    SimpleRNNCell,
    TimeDistributed,
)


def serialize(layer: Layer) -> Dict[str, Any]:
    """``serialize_keras_object(layer)``."""
    from kerasave.saving.serialization import serialize_keras_object

    return serialize_keras_object(layer)


def deserialize(config: Dict[str, Any], custom_objects: Optional[Dict[str, Any]] = None) -> Any:
    """Rebuilds a layer from :func:`serialize` output."""
    from kerasave.saving.serialization import deserialize_keras_object

    return deserialize_keras_object(config, custom_objects=custom_objects)
