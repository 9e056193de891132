"""Small numpy helpers shared by kerasave's layers (no autodiff, inference only)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def erf(x: np.ndarray) -> np.ndarray:
    """Elementwise error function (Abramowitz-Stegun 7.1.26 refined by math.erf per element).

    Args:
        x: Input array.

    Returns:
        ``erf(x)`` with the dtype of ``x``.
    """
    import math

    arr = np.asarray(x)
    return np.vectorize(math.erf, otypes=[np.float64])(arr).astype(arr.dtype, copy=False)


def softmax(x: np.ndarray, axis: Any = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis``.

    Args:
        x: Input array.
        axis: Axis or axes to normalise over.

    Returns:
        The softmax of ``x``.
    """
    x = np.asarray(x)
    if isinstance(axis, list):
        axis = tuple(axis)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: Any = -1) -> np.ndarray:
    """Numerically stable log-softmax along ``axis``.

    Args:
        x: Input array.
        axis: Axis to normalise over.

    Returns:
        ``log(softmax(x))``.
    """
    x = np.asarray(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic sigmoid.

    Args:
        x: Input array.

    Returns:
        ``1 / (1 + exp(-x))``.
    """
    x = np.asarray(x)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def normalize_tuple(value: Any, n: int) -> tuple:
    """Turns an int or a sequence into an ``n``-tuple of ints.

    Args:
        value: An int or a sequence of ``n`` ints.
        n: The length.

    Returns:
        A tuple of ``n`` ints.
    """
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"expected {n} values, got {value}")
    return value


def as_list(x: Any) -> list:
    """Wraps a non-list in a list.

    Args:
        x: Anything.

    Returns:
        ``x`` as a list.
    """
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def pad_same(x: np.ndarray, kernel: Sequence[int], strides: Sequence[int],
             dilation: Sequence[int] = None) -> np.ndarray:
    """Pads the spatial axes of a channels-last batch as TensorFlow's "same" padding does.

    Args:
        x: ``(batch, *spatial, channels)``.
        kernel: Kernel size per spatial axis.
        strides: Stride per spatial axis.
        dilation: Dilation per spatial axis.

    Returns:
        The padded array.
    """
    dilation = dilation or (1,) * len(kernel)
    pads = [(0, 0)]
    for size, k, s, d in zip(x.shape[1:-1], kernel, strides, dilation):
        eff = (k - 1) * d + 1
        out = -(-size // s)
        total = max((out - 1) * s + eff - size, 0)
        pads.append((total // 2, total - total // 2))
    pads.append((0, 0))
    return np.pad(x, pads)
