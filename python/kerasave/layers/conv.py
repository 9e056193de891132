"""Convolution, pooling, padding and resizing layers (channels-last numpy implementations)."""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from kerasave import activations, initializers
from kerasave import ops as _ops
from kerasave.layers.base import Layer, _register
from kerasave.layers.core import _ser_init


def _to_last(x: np.ndarray, data_format: str) -> np.ndarray:
    return np.moveaxis(x, 1, -1) if data_format == "channels_first" else x


def _from_last(x: np.ndarray, data_format: str) -> np.ndarray:
    return np.moveaxis(x, -1, 1) if data_format == "channels_first" else x


def _windows(x: np.ndarray, kernel: tuple, strides: tuple, dilation: tuple) -> np.ndarray:
    """``(batch, *out_spatial, *kernel, channels)`` view of sliding windows."""
    rank = len(kernel)
    eff = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
    view = np.lib.stride_tricks.sliding_window_view(x, eff, axis=tuple(range(1, rank + 1)))
    # view: (batch, *out_full, channels, *eff)
    sl = (slice(None),) + tuple(slice(None, None, s) for s in strides) + (slice(None),) + \
        tuple(slice(None, None, d) for d in dilation)
    view = view[sl]
    return np.moveaxis(view, rank + 1, -1)


class _Conv(Layer):
    rank = 2

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", data_format: Optional[str] = None,
                 dilation_rate: Any = 1, groups: int = 1, activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None,
                 lora_rank: Any = None, lora_alpha: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _ops.normalize_tuple(kernel_size, self.rank)
        self.strides = _ops.normalize_tuple(strides, self.rank)
        self.padding = padding.lower()
        self.data_format = data_format or "channels_last"
        self.dilation_rate = _ops.normalize_tuple(dilation_rate, self.rank)
        self.groups = groups
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.activity_regularizer = activity_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        self.lora_rank, self.lora_alpha = lora_rank, lora_alpha

    def build(self, input_shape: Any) -> None:
        ch = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        self.kernel = self.add_weight(name="kernel",
                                      shape=self.kernel_size + (int(ch) // self.groups,
                                                                self.filters),
                                      initializer=self.kernel_initializer)
        self.bias = (self.add_weight(name="bias", shape=(self.filters,),
                                     initializer=self.bias_initializer)
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs: Any) -> np.ndarray:
        x = _to_last(np.asarray(inputs), self.data_format)
        dt = x.dtype
        xf = x.astype(np.float32) if dt.itemsize < 4 else x
        if self.padding == "same":
            xf = _ops.pad_same(xf, self.kernel_size, self.strides, self.dilation_rate)
        elif self.padding == "causal":
            pad = (self.kernel_size[0] - 1) * self.dilation_rate[0]
            xf = np.pad(xf, [(0, 0), (pad, 0), (0, 0)])
        win = _windows(xf, self.kernel_size, self.strides, self.dilation_rate)
        k = self.kernel.numpy().astype(xf.dtype)
        if self.groups == 1:
            axes = list(range(self.rank + 1, 2 * self.rank + 2))
            y = np.tensordot(win, k, axes=(axes, list(range(self.rank + 1))))
        else:
            cin = k.shape[-2]
            fout = self.filters // self.groups
            parts = []
            for g in range(self.groups):
                wg = win[..., g * cin:(g + 1) * cin]
                kg = k[..., g * fout:(g + 1) * fout]
                axes = list(range(self.rank + 1, 2 * self.rank + 2))
                parts.append(np.tensordot(wg, kg, axes=(axes, list(range(self.rank + 1)))))
            y = np.concatenate(parts, axis=-1)
        if self.bias is not None:
            y = y + self.bias.numpy().astype(y.dtype)
        y = self.activation(y.astype(dt, copy=False) if dt.itemsize < 4 else y)
        return _from_last(np.asarray(y), self.data_format)

    def get_config(self) -> Dict[str, Any]:
        config = {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _ser_init(self.kernel_initializer),
            "bias_initializer": _ser_init(self.bias_initializer),
            "kernel_regularizer": self.kernel_regularizer,
            "bias_regularizer": self.bias_regularizer,
            "activity_regularizer": self.activity_regularizer,
            "kernel_constraint": self.kernel_constraint,
            "bias_constraint": self.bias_constraint,
        }
        if self.lora_rank:
            config["lora_rank"] = self.lora_rank
            config["lora_alpha"] = self.lora_alpha
        return config


@_register
class Conv1D(_Conv):
    """1D convolution over ``(batch, steps, channels)`` (``padding`` valid/same/causal)."""

    rank = 1


@_register
class Conv2D(_Conv):
    """2D convolution over ``(batch, rows, cols, channels)``."""

    rank = 2


@_register
class Conv3D(_Conv):
    """3D convolution over ``(batch, d1, d2, d3, channels)``."""

    rank = 3


class _Pool(Layer):
    rank = 2
    mode = "max"
    _BUILT_AT_INIT = True

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_size = _ops.normalize_tuple(pool_size, self.rank)
        self.strides = _ops.normalize_tuple(strides, self.rank) if strides is not None \
            else self.pool_size
        self.padding = padding.lower()
        self.data_format = data_format or "channels_last"

    def call(self, inputs: Any) -> np.ndarray:
        x = _to_last(np.asarray(inputs), self.data_format)
        ones = (1,) * self.rank
        if self.padding == "same":
            fill = -np.inf if self.mode == "max" else np.nan
            pads = [(0, 0)]
            for size, k, s in zip(x.shape[1:-1], self.pool_size, self.strides):
                out = -(-size // s)
                total = max((out - 1) * s + k - size, 0)
                pads.append((total // 2, total - total // 2))
            pads.append((0, 0))
            x = np.pad(x.astype(np.float64 if self.mode == "avg" else x.dtype), pads,
                       constant_values=fill)
        win = _windows(x, self.pool_size, self.strides, ones)
        axes = tuple(range(self.rank + 1, 2 * self.rank + 1))
        if self.mode == "max":
            y = np.max(win, axis=axes)
        else:
            y = np.nanmean(win, axis=axes) if self.padding == "same" else np.mean(win, axis=axes)
        return _from_last(y.astype(np.asarray(inputs).dtype), self.data_format)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "padding": self.padding, "strides": list(self.strides),
                "data_format": self.data_format}


@_register
class MaxPooling1D(_Pool):
    """Max pooling over steps."""

    rank, mode = 1, "max"


@_register
class AveragePooling1D(_Pool):
    """Average pooling over steps."""

    rank, mode = 1, "avg"


@_register
class MaxPooling2D(_Pool):
    """Max pooling over rows and columns."""

    rank, mode = 2, "max"


@_register
class AveragePooling2D(_Pool):
    """Average pooling over rows and columns."""

    rank, mode = 2, "avg"


class _GlobalPool(Layer):
    rank = 2
    mode = "avg"
    _BUILT_AT_INIT = True

    def __init__(self, data_format: Optional[str] = None, keepdims: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        self.keepdims = keepdims

    def call(self, inputs: Any, mask: Any = None) -> np.ndarray:
        x = np.asarray(inputs)
        axes = tuple(range(2, 2 + self.rank)) if self.data_format == "channels_first" \
            else tuple(range(1, 1 + self.rank))
        if self.mode == "max":
            return np.max(x, axis=axes, keepdims=self.keepdims)
        if mask is not None and self.rank == 1:
            m = np.asarray(mask, x.dtype)[..., None] if self.data_format != "channels_first" \
                else np.asarray(mask, x.dtype)[:, None, :]
            total = np.sum(x * m, axis=axes, keepdims=self.keepdims)
            # A fully masked row is 0/0 = NaN, as in Keras (and while inferring output specs
            # on all-zero token inputs): no RuntimeWarning for it.
            with np.errstate(invalid="ignore", divide="ignore"):
                return (total / np.sum(m, axis=axes, keepdims=self.keepdims)).astype(x.dtype)
        return np.mean(x, axis=axes, keepdims=self.keepdims).astype(x.dtype)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


@_register
class GlobalAveragePooling1D(_GlobalPool):
    """Mean over steps."""

    rank, mode = 1, "avg"


@_register
class GlobalMaxPooling1D(_GlobalPool):
    """Max over steps."""

    rank, mode = 1, "max"


@_register
class GlobalAveragePooling2D(_GlobalPool):
    """Mean over rows and columns."""

    rank, mode = 2, "avg"


@_register
class GlobalMaxPooling2D(_GlobalPool):
    """Max over rows and columns."""

    rank, mode = 2, "max"


def _pair_pairs(value: Any) -> tuple:
    if isinstance(value, int):
        return ((value, value), (value, value))
    a, b = value
    a = (a, a) if isinstance(a, int) else tuple(a)
    b = (b, b) if isinstance(b, int) else tuple(b)
    return (a, b)


@_register
class ZeroPadding2D(Layer):
    """Pads rows and columns with zeros.

    Args:
        padding: int, ``(rows, cols)`` or ``((top, bottom), (left, right))``.
        data_format: Channel position.
        **kwargs: Base layer arguments.
    """

    def __init__(self, padding: Any = (1, 1), data_format: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = _pair_pairs(padding)
        self.data_format = data_format or "channels_last"

    def call(self, inputs: Any) -> np.ndarray:
        x = _to_last(np.asarray(inputs), self.data_format)
        x = np.pad(x, [(0, 0), self.padding[0], self.padding[1], (0, 0)])
        return _from_last(x, self.data_format)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "padding": [list(p) for p in self.padding],
                "data_format": self.data_format}


@_register
class Cropping2D(Layer):
    """Crops rows and columns.

    Args:
        cropping: int, ``(rows, cols)`` or ``((top, bottom), (left, right))``.
        data_format: Channel position.
        **kwargs: Base layer arguments.
    """

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cropping = _pair_pairs(cropping)
        self.data_format = data_format or "channels_last"

    def call(self, inputs: Any) -> np.ndarray:
        x = _to_last(np.asarray(inputs), self.data_format)
        (t, b), (left, r) = self.cropping
        x = x[:, t:x.shape[1] - b, left:x.shape[2] - r, :]
        return _from_last(x, self.data_format)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping],
                "data_format": self.data_format}


@_register
class UpSampling2D(Layer):
    """Nearest-neighbour or bilinear upsampling.

    Args:
        size: Row and column factors.
        data_format: Channel position.
        interpolation: ``"nearest"`` or ``"bilinear"`` (TF's ``resize_bilinear`` with half-pixel
            centers, as ``tf.image.resize`` calls it for Keras 3 and tf_keras).
        **kwargs: Base layer arguments.
    """

    def __init__(self, size: Any = (2, 2), data_format: Optional[str] = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = _ops.normalize_tuple(size, 2)
        self.data_format = data_format or "channels_last"
        self.interpolation = interpolation

    def call(self, inputs: Any) -> np.ndarray:
        if self.interpolation not in ("nearest", "bilinear"):
            raise NotImplementedError(f"UpSampling2D {self.name!r}: interpolation="
                                      f"{self.interpolation!r} is not implemented (nearest, "
                                      "bilinear are)")
        x = _to_last(np.asarray(inputs), self.data_format)
        if self.interpolation == "bilinear":
            x = _resize_bilinear(x, x.shape[1] * self.size[0], x.shape[2] * self.size[1])
        else:
            x = np.repeat(np.repeat(x, self.size[0], axis=1), self.size[1], axis=2)
        return _from_last(x, self.data_format)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "size": list(self.size),
                "data_format": self.data_format, "interpolation": self.interpolation}


def _bilinear_weights(out_size: int, in_size: int) -> tuple:
    """TF's ``compute_interpolation_weights`` with half-pixel centers (float32 arithmetic)."""
    scale = np.float32(in_size) / np.float32(out_size)
    src = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(src)
    lower = np.maximum(floor.astype(np.int64), 0)
    upper = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    return lower, upper, (src - floor).astype(np.float32)


def _resize_bilinear(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """NHWC bilinear resize, computed like TF's ResizeBilinear kernel: lerp along x on the top
    and bottom rows, then along y."""
    dtype = x.dtype
    xf = x.astype(np.float32)
    y0, y1, yl = _bilinear_weights(height, x.shape[1])
    x0, x1, xl = _bilinear_weights(width, x.shape[2])
    xl = xl[None, None, :, None]
    top_rows, bottom_rows = xf[:, y0], xf[:, y1]
    top = top_rows[:, :, x0] + (top_rows[:, :, x1] - top_rows[:, :, x0]) * xl
    bottom = bottom_rows[:, :, x0] + (bottom_rows[:, :, x1] - bottom_rows[:, :, x0]) * xl
    out = top + (bottom - top) * yl[None, :, None, None]
    return out.astype(dtype)


def _window_conv(x: np.ndarray, strides: tuple, dilation: tuple, padding: str,
                 kernel_size: tuple) -> np.ndarray:
    """Sliding windows ``(batch, *out, *kernel, channels)`` after optional "same" padding."""
    if padding == "same":
        x = _ops.pad_same(x, kernel_size, strides, dilation)
    return _windows(x, kernel_size, strides, dilation)


@_register
class DepthwiseConv2D(Layer):
    """Per-channel 2D convolution (``depth_multiplier`` outputs per input channel).

    Args:
        kernel_size: Window size.
        strides: Strides.
        padding: ``"valid"`` or ``"same"``.
        depth_multiplier: Outputs per input channel.
        data_format: Channel position.
        dilation_rate: Dilation.
        activation: Activation.
        use_bias: Whether to add a bias.
        depthwise_initializer: Initializer.
        bias_initializer: Initializer.
        depthwise_regularizer: Recorded only.
        bias_regularizer: Recorded only.
        activity_regularizer: Recorded only.
        depthwise_constraint: Recorded only.
        bias_constraint: Recorded only.
        **kwargs: Base layer arguments.
    """

    # tf_keras names the kernel "depthwise_kernel" (checkpoint keys).
    _TF_CKPT_NAMES = {"kernel": "depthwise_kernel"}

    def __init__(self, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 depth_multiplier: int = 1, data_format: Optional[str] = None,
                 dilation_rate: Any = (1, 1), activation: Any = None, use_bias: bool = True,
                 depthwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, depthwise_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_size = _ops.normalize_tuple(kernel_size, 2)
        self.strides = _ops.normalize_tuple(strides, 2)
        self.padding = padding.lower()
        self.depth_multiplier = int(depth_multiplier)
        self.data_format = data_format or "channels_last"
        self.dilation_rate = _ops.normalize_tuple(dilation_rate, 2)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer, self.bias_regularizer = depthwise_regularizer, \
            bias_regularizer
        self.activity_regularizer = activity_regularizer
        self.depthwise_constraint, self.bias_constraint = depthwise_constraint, bias_constraint

    def build(self, input_shape: Any) -> None:
        ch = int(input_shape[1] if self.data_format == "channels_first" else input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (
            ch, self.depth_multiplier), initializer=self.depthwise_initializer)
        self.bias = (self.add_weight(name="bias", shape=(ch * self.depth_multiplier,),
                                     initializer=self.bias_initializer)
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs: Any) -> np.ndarray:
        x = _to_last(np.asarray(inputs), self.data_format)
        win = _window_conv(x, self.strides, self.dilation_rate, self.padding,
                           self.kernel_size)
        # win: (b, oh, ow, kh, kw, c); kernel: (kh, kw, c, m)
        y = np.einsum("bijhwc,hwcm->bijcm", win, self.kernel.numpy().astype(x.dtype))
        y = y.reshape(y.shape[:3] + (-1,))
        if self.bias is not None:
            y = y + self.bias.numpy().astype(y.dtype)
        return _from_last(np.asarray(self.activation(y)), self.data_format)

    def get_config(self) -> Dict[str, Any]:
        return {
            **super().get_config(),
            "kernel_size": list(self.kernel_size), "strides": list(self.strides),
            "padding": self.padding, "depth_multiplier": self.depth_multiplier,
            "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "depthwise_initializer": _ser_init(self.depthwise_initializer),
            "bias_initializer": _ser_init(self.bias_initializer),
            "depthwise_regularizer": self.depthwise_regularizer,
            "bias_regularizer": self.bias_regularizer,
            "activity_regularizer": self.activity_regularizer,
            "depthwise_constraint": self.depthwise_constraint,
            "bias_constraint": self.bias_constraint,
        }


@_register
class SeparableConv2D(Layer):
    """Depthwise then pointwise (1x1) 2D convolution.

    Args:
        filters: Output channels.
        kernel_size: Depthwise window.
        strides: Strides.
        padding: ``"valid"`` or ``"same"``.
        data_format: Channel position.
        dilation_rate: Dilation.
        depth_multiplier: Depthwise outputs per input channel.
        activation: Activation.
        use_bias: Whether to add a bias.
        depthwise_initializer: Initializer.
        pointwise_initializer: Initializer.
        bias_initializer: Initializer.
        **kwargs: Base layer arguments (regularizers and constraints are recorded only).
    """

    _RECORDED = ("depthwise_regularizer", "pointwise_regularizer", "bias_regularizer",
                 "activity_regularizer", "depthwise_constraint", "pointwise_constraint",
                 "bias_constraint")

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1),
                 padding: str = "valid", data_format: Optional[str] = None,
                 dilation_rate: Any = (1, 1), depth_multiplier: int = 1, activation: Any = None,
                 use_bias: bool = True, depthwise_initializer: Any = "glorot_uniform",
                 pointwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 **kwargs: Any) -> None:
        recorded = {k: kwargs.pop(k, None) for k in self._RECORDED}
        for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
            kwargs.pop(key, None)  # tf_keras writes these unused base-conv keys
        super().__init__(**kwargs)
        self.recorded = recorded
        self.filters = int(filters)
        self.kernel_size = _ops.normalize_tuple(kernel_size, 2)
        self.strides = _ops.normalize_tuple(strides, 2)
        self.padding = padding.lower()
        self.data_format = data_format or "channels_last"
        self.dilation_rate = _ops.normalize_tuple(dilation_rate, 2)
        self.depth_multiplier = int(depth_multiplier)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape: Any) -> None:
        ch = int(input_shape[1] if self.data_format == "channels_first" else input_shape[-1])
        self.depthwise_kernel = self.add_weight(
            name="depthwise_kernel", shape=self.kernel_size + (ch, self.depth_multiplier),
            initializer=self.depthwise_initializer)
        self.pointwise_kernel = self.add_weight(
            name="pointwise_kernel", shape=(1, 1, ch * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer)
        self.bias = (self.add_weight(name="bias", shape=(self.filters,),
                                     initializer=self.bias_initializer)
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs: Any) -> np.ndarray:
        x = _to_last(np.asarray(inputs), self.data_format)
        win = _window_conv(x, self.strides, self.dilation_rate, self.padding,
                           self.kernel_size)
        d = np.einsum("bijhwc,hwcm->bijcm", win, self.depthwise_kernel.numpy().astype(x.dtype))
        d = d.reshape(d.shape[:3] + (-1,))
        y = d @ self.pointwise_kernel.numpy()[0, 0].astype(x.dtype)
        if self.bias is not None:
            y = y + self.bias.numpy().astype(y.dtype)
        return _from_last(np.asarray(self.activation(y)), self.data_format)

    def get_config(self) -> Dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters, "kernel_size": list(self.kernel_size),
            "strides": list(self.strides), "padding": self.padding,
            "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
            "depth_multiplier": self.depth_multiplier,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "depthwise_initializer": _ser_init(self.depthwise_initializer),
            "pointwise_initializer": _ser_init(self.pointwise_initializer),
            "bias_initializer": _ser_init(self.bias_initializer),
            **self.recorded,
        }


def _deconv_length(n: int, k: int, padding: str, output_padding: Optional[int], stride: int,
                   dilation: int) -> int:
    """Keras's ``deconv_output_length`` (Keras 3 and tf_keras agree)."""
    k = k + (k - 1) * (dilation - 1)
    if output_padding is None:
        return n * stride + max(k - stride, 0) if padding == "valid" else n * stride
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * stride + k - 2 * pad + output_padding


@_register
class Conv2DTranspose(_Conv):
    """Transposed 2D convolution (kernel ``(kh, kw, filters, in_channels)``), with strides,
    dilation and output_padding as ``tf.nn.conv_transpose``.

    Args:
        output_padding: Extra rows/columns on the bottom/right of the output.
        **kwargs: As :class:`Conv2D`.
    """

    rank = 2

    def __init__(self, *args: Any, output_padding: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.output_padding = (None if output_padding is None
                               else _ops.normalize_tuple(output_padding, 2))

    def build(self, input_shape: Any) -> None:
        ch = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        self.kernel = self.add_weight(name="kernel",
                                      shape=self.kernel_size + (self.filters, int(ch)),
                                      initializer=self.kernel_initializer)
        self.bias = (self.add_weight(name="bias", shape=(self.filters,),
                                     initializer=self.bias_initializer)
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs: Any) -> np.ndarray:
        x = _to_last(np.asarray(inputs), self.data_format)
        n, h, w, _ = x.shape
        kh, kw = self.kernel_size
        sh, sw = self.strides
        dh, dw = self.dilation_rate
        k = self.kernel.numpy().astype(x.dtype)
        # The transpose of conv2d (what tf.nn.conv_transpose computes): input pixel a adds
        # kernel tap i at output position a * stride + i * dilation.
        full = np.zeros((n, (h - 1) * sh + (kh - 1) * dh + 1, (w - 1) * sw + (kw - 1) * dw + 1,
                         self.filters), x.dtype)
        contrib = np.einsum("bijc,hwfc->bijhwf", x, k)
        for i in range(kh):
            for j in range(kw):
                full[:, i * dh:i * dh + (h - 1) * sh + 1:sh,
                     j * dw:j * dw + (w - 1) * sw + 1:sw, :] += contrib[:, :, :, i, j, :]
        op = self.output_padding or (None, None)
        out_h = _deconv_length(h, kh, self.padding, op[0], sh, dh)
        out_w = _deconv_length(w, kw, self.padding, op[1], sw, dw)
        if self.padding == "same":
            # conv2d SAME padding of the forward convolution out -> in, top/left half first.
            top = max(full.shape[1] - out_h, 0) // 2
            left = max(full.shape[2] - out_w, 0) // 2
        else:
            top = left = 0
        if full.shape[1] < top + out_h or full.shape[2] < left + out_w:
            full = np.pad(full, [(0, 0), (0, max(0, top + out_h - full.shape[1])),
                                 (0, max(0, left + out_w - full.shape[2])), (0, 0)])
        y = full[:, top:top + out_h, left:left + out_w, :]
        if self.bias is not None:
            y = y + self.bias.numpy().astype(y.dtype)
        return _from_last(np.asarray(self.activation(y)), self.data_format)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.pop("groups", None)
        config["output_padding"] = (None if self.output_padding is None
                                    else list(self.output_padding))
        return config

