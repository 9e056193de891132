"""Core, activation, reshaping, normalization and merging layers (numpy forward passes)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from kerasave import activations, initializers
from kerasave import ops as _ops
from kerasave.layers.base import Layer, _np_dtype, _register
from kerasave.saving.serialization import serialize_keras_object


def _ser_init(init: Any) -> Any:
    return serialize_keras_object(initializers.get(init))


def _matmul(x: np.ndarray, w: np.ndarray, dtype: str) -> np.ndarray:
    target = _np_dtype(dtype)
    if target.name == "bfloat16":
        # float32 accumulation, one rounding (numpy has no native bfloat16 matmul).
        return np.matmul(x.astype(np.float32), w.astype(np.float32)).astype(target)
    # float16 matmul natively in float16 (matches TensorFlow's CPU kernels bit for bit).
    return np.matmul(x.astype(target, copy=False), w.astype(target, copy=False))


@_register
class Dense(Layer):
    """``activation(x @ kernel + bias)``.

    Args:
        units: Output size.
        activation: Activation name, function or config.
        use_bias: Whether to add a bias.
        kernel_initializer: Initializer of the kernel.
        bias_initializer: Initializer of the bias.
        kernel_regularizer: Recorded only (no training).
        bias_regularizer: Recorded only.
        activity_regularizer: Recorded only.
        kernel_constraint: Recorded only.
        bias_constraint: Recorded only.
        lora_rank: Recorded only.
        **kwargs: Base layer arguments.
    """

    _SUPPORTS_MASKING = True

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: Optional[int] = None,
                 lora_alpha: Optional[float] = None, quantization_config: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.quantization_config = quantization_config
        self.kernel_scale = None

    def build(self, input_shape: Any) -> None:
        in_dim = int(input_shape[-1])
        mode = self.dtype_policy.quantization_mode
        if mode == "int8":
            self.kernel = self.add_weight(name="kernel", shape=(in_dim, self.units),
                                          initializer="zeros", dtype="int8", trainable=False)
        else:
            self.kernel = self.add_weight(name="kernel", shape=(in_dim, self.units),
                                          initializer=self.kernel_initializer)
        self.bias = (self.add_weight(name="bias", shape=(self.units,),
                                     initializer=self.bias_initializer)
                     if self.use_bias else None)
        if mode == "int8":
            self.kernel_scale = self.add_weight(name="kernel_scale", shape=(self.units,),
                                                initializer="ones", trainable=False)
        self.built = True

    def _own_variables(self) -> List[Any]:
        out = [self.kernel]
        if self.bias is not None:
            out.append(self.bias)
        if self.kernel_scale is not None:
            out.append(self.kernel_scale)
        return out

    def compute_output_spec(self, *args: Any, **kwargs: Any) -> Any:
        """The output KerasTensor from shapes alone: the generic spec runs ``call`` on a batch
        of zeros, a matmul over the whole kernel (~80 ms while loading a model with 1 GiB of
        Dense kernels, for a shape that is ``inputs.shape[:-1] + (units,)``)."""
        from kerasave.layers.base import KerasTensor, dtype_name

        inputs = args[0] if len(args) == 1 and not kwargs else None
        if not isinstance(inputs, KerasTensor) or not inputs.shape or \
                self.kernel_scale is not None:
            return super().compute_output_spec(*args, **kwargs)
        # The same shape and dtype the generic spec derives from the zeros run.
        shape = tuple(1 if d is None else d for d in inputs.shape[:-1]) + (self.units,)
        if inputs.shape[0] is None:
            shape = (None,) + shape[1:]
        probe = np.zeros((1, self.units), dtype=_np_dtype(self.compute_dtype))
        if self.bias is not None:
            probe = probe + np.zeros(1, self.bias.numpy().dtype).astype(probe.dtype, copy=False)
        return KerasTensor(shape, dtype=dtype_name(np.asarray(self.activation(probe)).dtype))

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs)
        if self.kernel_scale is not None:
            # int8: inputs are quantized per row with abs-max scaling, as Keras does.
            xf = x.astype(np.float32)
            # Keras AbsMaxQuantizer: scale = 127 / (max|x| + 1e-7), round half to even, clip.
            amax = np.max(np.abs(xf), axis=-1, keepdims=True)
            x_scale = (np.float32(127.0) / (amax + np.float32(1e-7))).astype(np.float32)
            xq = np.clip(np.round(xf * x_scale), -127, 127).astype(np.int32)
            y = np.matmul(xq, self.kernel.numpy().astype(np.int32)).astype(np.float32)
            with np.errstate(divide="ignore", invalid="ignore"):
                y = y / (x_scale * self.kernel_scale.numpy().astype(np.float32))
        else:
            y = _matmul(x, self.kernel.numpy(), self.compute_dtype)
        if self.bias is not None:
            y = y + self.bias.numpy().astype(y.dtype, copy=False)
        return self.activation(y)

    def get_config(self) -> Dict[str, Any]:
        config = {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _ser_init(self.kernel_initializer),
            "bias_initializer": _ser_init(self.bias_initializer),
            "kernel_regularizer": self.kernel_regularizer,
            "bias_regularizer": self.bias_regularizer,
            "kernel_constraint": self.kernel_constraint,
            "bias_constraint": self.bias_constraint,
            "quantization_config": self.quantization_config,
        }
        if self.lora_rank:
            config["lora_rank"] = self.lora_rank
            config["lora_alpha"] = self.lora_alpha
        return config


@_register
class Activation(Layer):
    """Applies an activation function.

    Args:
        activation: Name, function or config.
        **kwargs: Base layer arguments.
    """

    _SUPPORTS_MASKING = True

    _BUILT_AT_INIT = True

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: Any) -> np.ndarray:
        return self.activation(inputs)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


@_register
class Identity(Layer):
    """Returns its input unchanged."""

    _SUPPORTS_MASKING = True

    _BUILT_AT_INIT = True

    def call(self, inputs: Any) -> Any:
        return inputs


@_register
class Dropout(Layer):
    """Dropout: the identity at inference.

    Args:
        rate: Fraction dropped during training.
        noise_shape: Recorded only.
        seed: Recorded only.
        **kwargs: Base layer arguments.
    """

    _SUPPORTS_MASKING = True

    _BUILT_AT_INIT = True

    def __init__(self, rate: float, noise_shape: Any = None, seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate, self.noise_shape, self.seed = rate, noise_shape, seed

    def call(self, inputs: Any, training: bool = False) -> Any:
        return inputs

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class _NoiseLike(Layer):
    _BUILT_AT_INIT = True
    _SUPPORTS_MASKING = True
    _HAS_NOISE_SHAPE = False

    def __init__(self, rate: float = 0.0, seed: Optional[int] = None, noise_shape: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate, self.seed, self.noise_shape = rate, seed, noise_shape

    def call(self, inputs: Any, training: bool = False) -> Any:
        return inputs

    def get_config(self) -> Dict[str, Any]:
        config = {**super().get_config(), "rate": self.rate, "seed": self.seed}
        if self._HAS_NOISE_SHAPE:
            config["noise_shape"] = self.noise_shape
        return config


@_register
class SpatialDropout1D(_NoiseLike):
    """Identity at inference (Keras writes no ``trainable`` key for it)."""

    def get_config(self) -> Dict[str, Any]:
        # Keras 3.15 writes neither ``trainable`` nor a policy record here: a dtype string.
        config = super().get_config()
        config.pop("trainable", None)
        config["dtype"] = self.dtype_policy.name
        return config


@_register
class SpatialDropout2D(SpatialDropout1D):
    """Identity at inference."""

    def __init__(self, rate: float = 0.0, data_format: Optional[str] = None,
                 seed: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(rate=rate, seed=seed, **kwargs)
        self.data_format = data_format or "channels_last"

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


@_register
class GaussianDropout(_NoiseLike):
    """Identity at inference."""


@_register
class AlphaDropout(_NoiseLike):
    """Identity at inference."""

    _HAS_NOISE_SHAPE = True


@_register
class GaussianNoise(Layer):
    """Identity at inference.

    Args:
        stddev: Noise standard deviation during training.
        seed: Recorded only.
        **kwargs: Base layer arguments.
    """

    _SUPPORTS_MASKING = True

    _BUILT_AT_INIT = True

    def __init__(self, stddev: float, seed: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stddev, self.seed = stddev, seed

    def call(self, inputs: Any, training: bool = False) -> Any:
        return inputs

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


@_register
class Flatten(Layer):
    """Flattens all but the batch axis.

    Args:
        data_format: ``"channels_last"`` or ``"channels_first"``.
        **kwargs: Base layer arguments.
    """

    def __init__(self, data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs)
        if self.data_format == "channels_first" and x.ndim > 2:
            x = np.moveaxis(x, 1, -1)
        return x.reshape(x.shape[0], -1)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


@_register
class Reshape(Layer):
    """Reshapes to ``(batch,) + target_shape``.

    Args:
        target_shape: The target shape without batch; may contain one -1.
        **kwargs: Base layer arguments.
    """

    _BUILT_AT_INIT = True

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs)
        return x.reshape((x.shape[0],) + self.target_shape)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@_register
class Permute(Layer):
    """Permutes the non-batch axes (1-based ``dims``).

    Args:
        dims: The permutation, e.g. ``(2, 1)``.
        **kwargs: Base layer arguments.
    """

    def __init__(self, dims: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dims = tuple(dims)

    def call(self, inputs: Any) -> np.ndarray:
        return np.transpose(np.asarray(inputs), (0,) + self.dims)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}


@_register
class RepeatVector(Layer):
    """Repeats a ``(batch, features)`` input ``n`` times: ``(batch, n, features)``.

    Args:
        n: Repetitions.
        **kwargs: Base layer arguments.
    """

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = n

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs)
        return np.repeat(x[:, None, :], self.n, axis=1)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "n": self.n}


@_register
class Embedding(Layer):
    """Looks up rows of an ``(input_dim, output_dim)`` table.

    Args:
        input_dim: Vocabulary size.
        output_dim: Embedding size.
        embeddings_initializer: Initializer.
        embeddings_regularizer: Recorded only.
        embeddings_constraint: Recorded only.
        mask_zero: Recorded (masks are not propagated).
        weights: Optional initial table.
        lora_rank: Recorded only.
        **kwargs: Base layer arguments.
    """

    def __init__(self, input_dim: int, output_dim: int,
                 embeddings_initializer: Any = "uniform", embeddings_regularizer: Any = None,
                 embeddings_constraint: Any = None, mask_zero: bool = False,
                 weights: Any = None, lora_rank: Optional[int] = None,
                 lora_alpha: Optional[float] = None, quantization_config: Any = None,
                 activity_regularizer: Any = None, **kwargs: Any) -> None:
        kwargs.pop("input_length", None)
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        if embeddings_initializer == "uniform":
            embeddings_initializer = initializers.RandomUniform()
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = embeddings_regularizer
        self.embeddings_constraint = embeddings_constraint
        self.activity_regularizer = activity_regularizer
        self.mask_zero = mask_zero
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha
        self.quantization_config = quantization_config
        self._initial = weights
        self.embeddings = None
        if weights is not None:
            self.build()

    def build(self, input_shape: Any = None) -> None:
        if getattr(self, "embeddings", None) is not None:
            self.built = True
            return
        self.embeddings = self.add_weight(name="embeddings",
                                          shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer)
        if self._initial is not None:
            self.embeddings.assign(np.asarray(self._initial[0]))
        self.built = True

    def _cast_input(self, x: Any) -> Any:
        return np.asarray(x)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """``inputs != 0`` when ``mask_zero``."""
        return np.asarray(inputs) != 0 if self.mask_zero else None

    def call(self, inputs: Any) -> np.ndarray:
        idx = np.asarray(inputs).astype(np.int64)
        return np.take(self.embeddings.numpy(), idx, axis=0).astype(
            _np_dtype(self.compute_dtype), copy=False)

    def get_config(self) -> Dict[str, Any]:
        config = {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": _ser_init(self.embeddings_initializer),
            "embeddings_regularizer": self.embeddings_regularizer,
            "activity_regularizer": self.activity_regularizer,
            "embeddings_constraint": self.embeddings_constraint,
            "mask_zero": self.mask_zero,
            "quantization_config": self.quantization_config,
        }
        if self.lora_rank:
            config["lora_rank"] = self.lora_rank
            config["lora_alpha"] = self.lora_alpha
        return config


def _axes(axis: Any) -> List[int]:
    return [int(a) for a in axis] if isinstance(axis, (list, tuple)) else [int(axis)]


@_register
class BatchNormalization(Layer):
    """Inference-mode batch normalization with moving statistics.

    Args:
        axis: Feature axis (or axes).
        momentum: Recorded only.
        epsilon: Variance epsilon.
        center: Whether ``beta`` exists.
        scale: Whether ``gamma`` exists.
        beta_initializer: Initializer.
        gamma_initializer: Initializer.
        moving_mean_initializer: Initializer.
        moving_variance_initializer: Initializer.
        beta_regularizer: Recorded only.
        gamma_regularizer: Recorded only.
        beta_constraint: Recorded only.
        gamma_constraint: Recorded only.
        synchronized: Recorded only.
        **kwargs: Base layer arguments (Keras 2 keys such as ``renorm`` are accepted).
    """

    _SUPPORTS_MASKING = True

    def __init__(self, axis: Any = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, synchronized: bool = False,
                 renorm: bool = False, renorm_clipping: Any = None,
                 renorm_momentum: float = 0.99, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # tf_keras writes the axis as a list ([3]); Keras 3 takes only an int (int(axis)), so a
        # one-element list becomes the int and a .keras written from a tf_keras model loads.
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = int(axis[0])
        self.axis = axis
        self.momentum, self.epsilon = momentum, epsilon
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.beta_constraint, self.gamma_constraint = beta_constraint, gamma_constraint
        self.synchronized = synchronized
        self.renorm, self.renorm_clipping = renorm, renorm_clipping
        self.renorm_momentum = renorm_momentum
        self.gamma = self.beta = None

    def build(self, input_shape: Any) -> None:
        ndim = len(input_shape)
        axes = [a % ndim for a in _axes(self.axis)]
        self._norm_axes = axes
        shape = tuple(int(input_shape[a]) for a in axes)
        if self.scale:
            self.gamma = self.add_weight(name="gamma", shape=shape,
                                         initializer=self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight(name="beta", shape=shape,
                                        initializer=self.beta_initializer)
        self.moving_mean = self.add_weight(name="moving_mean", shape=shape,
                                           initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(name="moving_variance", shape=shape,
                                               initializer=self.moving_variance_initializer,
                                               trainable=False)
        self.built = True

    def _bshape(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        shape = [1] * x.ndim
        for a, n in zip(self._norm_axes, v.shape):
            shape[a] = n
        return v.reshape(shape)

    def call(self, inputs: Any, training: bool = False) -> np.ndarray:
        x = np.asarray(inputs)
        dt = x.dtype
        xf = x.astype(np.float32) if dt.itemsize < 4 else x
        mean = self._bshape(xf, self.moving_mean.numpy().astype(xf.dtype))
        var = self._bshape(xf, self.moving_variance.numpy().astype(xf.dtype))
        inv = 1.0 / np.sqrt(var + np.asarray(self.epsilon, xf.dtype))
        if self.gamma is not None:
            inv = inv * self._bshape(xf, self.gamma.numpy().astype(xf.dtype))
        out = xf * inv + (-mean * inv)
        if self.beta is not None:
            out = out + self._bshape(xf, self.beta.numpy().astype(xf.dtype))
        return out.astype(dt, copy=False)

    def get_config(self) -> Dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": _ser_init(self.beta_initializer),
            "gamma_initializer": _ser_init(self.gamma_initializer),
            "moving_mean_initializer": _ser_init(self.moving_mean_initializer),
            "moving_variance_initializer": _ser_init(self.moving_variance_initializer),
            "beta_regularizer": self.beta_regularizer,
            "gamma_regularizer": self.gamma_regularizer,
            "beta_constraint": self.beta_constraint,
            "gamma_constraint": self.gamma_constraint,
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }


@_register
class LayerNormalization(Layer):
    """Normalizes over ``axis`` per sample.

    Args:
        axis: Axis or axes to normalize.
        epsilon: Variance epsilon.
        center: Whether ``beta`` exists.
        scale: Whether ``gamma`` exists.
        rms_scaling: RMS normalization (no centering).
        beta_initializer: Initializer.
        gamma_initializer: Initializer.
        beta_regularizer: Recorded only.
        gamma_regularizer: Recorded only.
        beta_constraint: Recorded only.
        gamma_constraint: Recorded only.
        **kwargs: Base layer arguments.
    """

    _SUPPORTS_MASKING = True

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, rms_scaling: bool = False, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis
        self.epsilon, self.center, self.scale = epsilon, center, scale
        self.rms_scaling = rms_scaling
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.beta_constraint, self.gamma_constraint = beta_constraint, gamma_constraint
        self.gamma = self.beta = None

    def build(self, input_shape: Any) -> None:
        ndim = len(input_shape)
        self._norm_axes = sorted(a % ndim for a in _axes(self.axis))
        shape = tuple(int(input_shape[a]) for a in self._norm_axes)
        if self.scale:
            self.gamma = self.add_weight(name="gamma", shape=shape,
                                         initializer=self.gamma_initializer)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(name="beta", shape=shape,
                                        initializer=self.beta_initializer)
        self.built = True

    def _bshape(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        shape = [1] * x.ndim
        for a, n in zip(self._norm_axes, v.shape):
            shape[a] = n
        return v.reshape(shape)

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs)
        dt = x.dtype
        xf = x.astype(np.float32) if dt.itemsize < 4 else x
        axes = tuple(self._norm_axes)
        eps = np.asarray(self.epsilon, xf.dtype)
        if self.rms_scaling:
            # Keras 3.15's rms_scaling divides by sqrt(var(x) + eps), the *centered* variance
            # (ops.nn._layer_normalization), not the root mean square; it does not subtract the
            # mean from x. Follow Keras.
            var = np.var(xf, axis=axes, keepdims=True)
            out = xf / np.sqrt(var + eps)
        else:
            mean = np.mean(xf, axis=axes, keepdims=True)
            var = np.mean(np.square(xf - mean), axis=axes, keepdims=True)
            out = (xf - mean) / np.sqrt(var + eps)
        if self.gamma is not None:
            out = out * self._bshape(xf, self.gamma.numpy().astype(xf.dtype))
        if self.beta is not None:
            out = out + self._bshape(xf, self.beta.numpy().astype(xf.dtype))
        return out.astype(dt, copy=False)

    def get_config(self) -> Dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": _ser_init(self.beta_initializer),
            "gamma_initializer": _ser_init(self.gamma_initializer),
            "beta_regularizer": self.beta_regularizer,
            "gamma_regularizer": self.gamma_regularizer,
            "beta_constraint": self.beta_constraint,
            "gamma_constraint": self.gamma_constraint,
        }


@_register
class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm along ``axis``.

    Args:
        axis: Axis or axes.
        **kwargs: Base layer arguments.
    """

    _BUILT_AT_INIT = True

    def __init__(self, axis: Any = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs)
        axes = tuple(_axes(self.axis))
        sq = np.sum(np.square(x), axis=axes, keepdims=True)
        return x / np.sqrt(np.maximum(sq, np.asarray(1e-12, x.dtype)))

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


# -- merging --------------------------------------------------------------------------------


class _Merge(Layer):
    _SUPPORTS_MASKING = True

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras: the logical AND of the input masks (None if all are None)."""
        if mask is None or not isinstance(mask, list) or all(m is None for m in mask):
            return None
        masks = [np.asarray(m, bool) for m in mask if m is not None]
        out = masks[0]
        for m in masks[1:]:
            out = out & m
        return out

    def call(self, inputs: Any) -> np.ndarray:
        xs = [np.asarray(x) for x in inputs]
        return self._merge(xs)


@_register
class Add(_Merge):
    """Elementwise sum of a list of inputs."""

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


@_register
class Subtract(_Merge):
    """``inputs[0] - inputs[1]``."""

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        return xs[0] - xs[1]


@_register
class Multiply(_Merge):
    """Elementwise product."""

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


@_register
class Average(_Merge):
    """Elementwise mean."""

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        return Add._merge(self, xs) / np.asarray(len(xs), xs[0].dtype)


@_register
class Maximum(_Merge):
    """Elementwise maximum."""

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        out = xs[0]
        for x in xs[1:]:
            out = np.maximum(out, x)
        return out


@_register
class Minimum(_Merge):
    """Elementwise minimum."""

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        out = xs[0]
        for x in xs[1:]:
            out = np.minimum(out, x)
        return out


@_register
class Concatenate(_Merge):
    """Concatenates a list of inputs along ``axis``.

    Args:
        axis: The axis.
        **kwargs: Base layer arguments.
    """

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        return np.concatenate(xs, axis=self.axis)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


@_register
class Dot(_Merge):
    """Dot product of two inputs along ``axes``.

    Args:
        axes: Axis or pair of axes.
        normalize: L2-normalise before the product.
        **kwargs: Base layer arguments.
    """

    def __init__(self, axes: Any, normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axes, self.normalize = axes, normalize

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        a, b = xs
        axes = self.axes if isinstance(self.axes, (list, tuple)) else [self.axes, self.axes]
        axes = [ax % x.ndim for ax, x in zip(axes, (a, b))]
        if self.normalize:
            a = a / np.sqrt(np.maximum(np.sum(a * a, axis=axes[0], keepdims=True), 1e-12))
            b = b / np.sqrt(np.maximum(np.sum(b * b, axis=axes[1], keepdims=True), 1e-12))
        out = np.stack([np.tensordot(a[i], b[i], axes=(axes[0] - 1, axes[1] - 1))
                        for i in range(a.shape[0])])
        if out.ndim == 1:
            out = out[:, None]
        return out

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


# -- activation layers ----------------------------------------------------------------------


@_register
class Softmax(Layer):
    """Softmax over ``axis``.

    Args:
        axis: Axis or axes.
        **kwargs: Base layer arguments.
    """

    _SUPPORTS_MASKING = True

    _BUILT_AT_INIT = True

    def __init__(self, axis: Any = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs: Any, mask: Any = None) -> np.ndarray:
        x = np.asarray(inputs)
        if mask is not None:
            x = x + (1.0 - np.asarray(mask, x.dtype)) * np.asarray(-1e9, x.dtype)
        return _ops.softmax(x, axis=tuple(self.axis) if isinstance(self.axis, list)
                            else self.axis)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


@_register
class ReLU(Layer):
    """ReLU with optional cap, slope and threshold.

    Args:
        max_value: Cap.
        negative_slope: Slope below threshold.
        threshold: Threshold.
        **kwargs: Base layer arguments.
    """

    _SUPPORTS_MASKING = True

    _BUILT_AT_INIT = True

    def __init__(self, max_value: Optional[float] = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_value = max_value
        self.negative_slope, self.threshold = negative_slope, threshold

    def call(self, inputs: Any) -> np.ndarray:
        return activations.relu(inputs, self.negative_slope, self.max_value, self.threshold)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


@_register
class LeakyReLU(Layer):
    """Leaky ReLU.

    Args:
        negative_slope: Slope for negative inputs (Keras 2's ``alpha`` is accepted).
        **kwargs: Base layer arguments.
    """

    _SUPPORTS_MASKING = True

    _BUILT_AT_INIT = True

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = negative_slope

    def call(self, inputs: Any) -> np.ndarray:
        return activations.leaky_relu(inputs, self.negative_slope)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


@_register
class ELU(Layer):
    """ELU.

    Args:
        alpha: Scale for negative inputs.
        **kwargs: Base layer arguments.
    """

    _SUPPORTS_MASKING = True

    _BUILT_AT_INIT = True

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, inputs: Any) -> np.ndarray:
        return activations.elu(inputs, self.alpha)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


@_register
class PReLU(Layer):
    """Parametric ReLU with a learned ``alpha``.

    Args:
        alpha_initializer: Initializer.
        alpha_regularizer: Recorded only.
        alpha_constraint: Recorded only.
        shared_axes: Axes sharing one alpha.
        **kwargs: Base layer arguments.
    """

    _SUPPORTS_MASKING = True

    def __init__(self, alpha_initializer: Any = "zeros", alpha_regularizer: Any = None,
                 alpha_constraint: Any = None, shared_axes: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer, self.alpha_constraint = alpha_regularizer, alpha_constraint
        self.shared_axes = (None if shared_axes is None else
                            list(shared_axes) if isinstance(shared_axes, (list, tuple))
                            else [shared_axes])

    def build(self, input_shape: Any) -> None:
        shape = list(input_shape[1:])
        for a in self.shared_axes or []:
            shape[a - 1] = 1
        self.alpha = self.add_weight(name="alpha", shape=tuple(shape),
                                     initializer=self.alpha_initializer)
        self.built = True

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs)
        return np.where(x >= 0, x, self.alpha.numpy().astype(x.dtype) * x).astype(x.dtype)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(),
                "alpha_initializer": _ser_init(self.alpha_initializer),
                "alpha_regularizer": self.alpha_regularizer,
                "alpha_constraint": self.alpha_constraint, "shared_axes": self.shared_axes}


# -- preprocessing --------------------------------------------------------------------------


@_register
class Rescaling(Layer):
    """``x * scale + offset``.

    Args:
        scale: Scale (scalar or array).
        offset: Offset.
        **kwargs: Base layer arguments.
    """

    _SUPPORTS_MASKING = True

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs)
        if x.dtype.kind != "f":
            x = x.astype(_np_dtype(self.compute_dtype))
        return (x * np.asarray(self.scale, x.dtype) + np.asarray(self.offset, x.dtype))

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "scale": serialize_keras_object(self.scale),
                "offset": serialize_keras_object(self.offset)}


@_register
class Normalization(Layer):
    """``(x - mean) / sqrt(variance)`` with adapted or given statistics.

    Args:
        axis: Feature axis or axes kept.
        mean: Optional fixed mean.
        variance: Optional fixed variance.
        invert: Undo the normalization instead.
        **kwargs: Base layer arguments.
    """

    def __init__(self, axis: Any = -1, mean: Any = None, variance: Any = None,
                 invert: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis
        self.input_mean, self.input_variance = mean, variance
        self.invert = invert
        self.mean = self.variance = self.count = None

    def build(self, input_shape: Any) -> None:
        ndim = len(input_shape)
        axes = [] if self.axis is None else [a % ndim for a in _axes(self.axis)]
        self._keep_axes = axes
        self._bshape = tuple(int(input_shape[d]) if d in axes else 1 for d in range(ndim))
        shape = tuple(int(input_shape[d]) for d in axes)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=shape, initializer="zeros",
                                              trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=shape,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int64",
                                         initializer="zeros", trainable=False)
        self.built = True

    def adapt(self, data: Any) -> None:
        """Computes mean and variance from ``data`` (numpy)."""
        x = np.asarray(data, dtype=np.float32)
        if not self.built:
            self.build(x.shape)
        reduce = tuple(d for d in range(x.ndim) if d not in self._keep_axes)
        self.adapt_mean.assign(np.mean(x, axis=reduce))
        self.adapt_variance.assign(np.var(x, axis=reduce))

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs).astype(_np_dtype(self.compute_dtype), copy=False)
        if self.input_mean is not None:
            mean = np.broadcast_to(np.asarray(self.input_mean, x.dtype), self._bshape) \
                if np.ndim(self.input_mean) else np.asarray(self.input_mean, x.dtype)
            var = np.broadcast_to(np.asarray(self.input_variance, x.dtype), self._bshape) \
                if np.ndim(self.input_variance) else np.asarray(self.input_variance, x.dtype)
        else:
            mean = self.adapt_mean.numpy().astype(x.dtype).reshape(self._bshape)
            var = self.adapt_variance.numpy().astype(x.dtype).reshape(self._bshape)
        eps = np.asarray(1e-7, x.dtype)
        if self.invert:
            return mean + x * np.maximum(np.sqrt(var), eps)
        return (x - mean) / np.maximum(np.sqrt(var), eps)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": serialize_keras_object(np.asarray(self.input_mean).tolist()
                                               if self.input_mean is not None else None),
                "variance": serialize_keras_object(np.asarray(self.input_variance).tolist()
                                                   if self.input_variance is not None
                                                   else None)}
