"""Exceptions and warnings raised by kerasave.

Every error that comes from the contents of a file derives from :class:`KerasaveError`, and the
ones about bad input also derive from :class:`ValueError`, so code written against Keras or
TensorFlow (which raise ``ValueError``) keeps working. Missing files raise the built-in
:class:`FileNotFoundError`; unknown checkpoint keys raise :class:`KeyError`.
"""

from __future__ import annotations

__all__ = [
    "CorruptFileError",
    "KerasaveError",
    "KerasaveWarning",
    "UnknownObjectError",
    "UnsafeConfigError",
    "UnsupportedFormatError",
]


class KerasaveError(Exception):
    """Base class of every kerasave error."""


class CorruptFileError(KerasaveError, ValueError):
    """A file is malformed, truncated, fails a checksum, or holds sizes that do not add up.

    The message names the file, the key (where there is one) and what was wrong.
    """


class UnsafeConfigError(KerasaveError, ValueError):
    """A config asks for something that safe mode refuses.

    Examples: Lambda bytecode, a module outside the allow-list, a callable that is not Keras'.
    """


class UnknownObjectError(KerasaveError, ValueError):
    """A class or function name that nothing registers; the message says how to register it."""


class UnsupportedFormatError(KerasaveError, ValueError):
    """A valid file of a kind or version that kerasave does not handle (yet)."""


class KerasaveWarning(UserWarning):
    """Something works, but not as well as it could (for example ml_dtypes is missing)."""
