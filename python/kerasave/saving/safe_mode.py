"""Safe mode: what a config may ask for, and the one door to Python bytecode (``safe_mode=False``).

Safe mode is on by default. It refuses (with :class:`~kerasave.errors.UnsafeConfigError`) what
Keras 3.15.1 refuses: serialized Python lambdas (``{"class_name": "__lambda__"}``), ``Lambda``
layers whose function or output shape is bytecode (Keras 3 and tf_keras layouts), ``TFSMLayer``
(loads an outside SavedModel), lookup layers whose ``vocabulary`` is a file path, and
``TorchModuleWrapper`` (pickle). ``safe_mode=False`` lifts exactly these.

Independent of safe mode (kerasave is stricter than Keras here, on purpose): a config can only
reach kerasave's own built-ins and what the user registered or passed; no module named by a
config is ever imported or looked up, so ``{"module": "os", "class_name": "function",
"config": "system"}``, Python built-ins such as ``eval`` and Keras's non-modeling APIs
(``keras.models.load_model``, ``keras.utils.get_file``, ...) are refused even with
``safe_mode=False``.

The effective setting follows Keras: the innermost :class:`SafeModeScope` of this thread (or
:func:`enable_unsafe_deserialization`) wins over a ``safe_mode=`` argument.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import marshal
import threading
import types
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from kerasave.errors import UnsafeConfigError

__all__ = [
    "NON_MODELING_APIS",
    "SafeModeScope",
    "check_class_config",
    "enable_unsafe_deserialization",
    "func_dump",
    "func_load",
    "in_safe_mode",
    "is_lambda_config",
    "raise_for_lambda",
]

#: Keras APIs a config may never name (Keras 3.15.1's ``NON_MODELING_APIS``): each loads or
#: writes files, changes global state or downloads.
NON_MODELING_APIS = frozenset(
    {
        "keras.backend.clear_session",
        "keras.config.enable_unsafe_deserialization",
        "keras.models.load_model",
        "keras.models.model_from_json",
        "keras.models.save_model",
        "keras.preprocessing.image_dataset_from_directory",
        "keras.preprocessing.image.load_img",
        "keras.preprocessing.image.save_img",
        "keras.preprocessing.text_dataset_from_directory",
        "keras.saving.deserialize_keras_object",
        "keras.saving.load_model",
        "keras.saving.load_weights",
        "keras.saving.register_keras_serializable",
        "keras.saving.save_model",
        "keras.saving.save_weights",
        "keras.saving.serialize_keras_object",
        "keras.utils.audio_dataset_from_directory",
        "keras.utils.clear_session",
        "keras.utils.deserialize_keras_object",
        "keras.utils.get_file",
        "keras.utils.image_dataset_from_directory",
        "keras.utils.load_img",
        "keras.utils.register_keras_serializable",
        "keras.utils.save_img",
        "keras.utils.serialize_keras_object",
        "keras.utils.text_dataset_from_directory",
    }
)

_HOW_TO_ALLOW = (
    "If you trust the source of the file, pass safe_mode=False to the loading function or call "
    "kerasave.config.enable_unsafe_deserialization()."
)


class _SafeModeState(threading.local):
    def __init__(self) -> None:
        self.value: Optional[bool] = None


_STATE = _SafeModeState()


def in_safe_mode() -> Optional[bool]:
    """The safe-mode setting of the enclosing :class:`SafeModeScope` on this thread.

    Returns:
        True or False inside a scope (or after :func:`enable_unsafe_deserialization`), None when
        nothing set it; callers then use their own ``safe_mode`` argument.
    """
    return _STATE.value


class SafeModeScope:
    """Sets safe mode for every deserialization inside a ``with`` block (per thread).

    Example::

        with ks.saving.SafeModeScope(False):     # trust this file's lambdas
            layer = ks.saving.deserialize_keras_object(config)

    Args:
        safe_mode: True refuses unsafe payloads; False allows them.
    """

    def __init__(self, safe_mode: bool = True) -> None:
        self.safe_mode = bool(safe_mode)
        self._backups: list = []

    def __enter__(self) -> "SafeModeScope":
        self._backups.append(_STATE.value)
        _STATE.value = self.safe_mode
        return self

    def __exit__(self, *exc: Any) -> None:
        _STATE.value = self._backups.pop()


def enable_unsafe_deserialization() -> None:
    """Turns safe mode off for this thread, like ``keras.config.enable_unsafe_deserialization``.

    Afterwards lambdas deserialize even when a caller passes ``safe_mode=True`` (Keras's rule:
    the ambient setting wins). The module allow-list still applies.
    """
    _STATE.value = False


def effective_safe_mode(safe_mode: Optional[bool]) -> bool:
    """The ambient setting if one is set, else ``safe_mode`` (None counts as True)."""
    ambient = _STATE.value
    if ambient is not None:
        return ambient
    return safe_mode is not False


# -- refusals ----------------------------------------------------------------------------------


def raise_for_lambda(what: str = "a Python lambda") -> None:
    """Raises the safe-mode error for bytecode.

    Args:
        what: What was requested, for the message.

    Raises:
        UnsafeConfigError: always.
    """
    raise UnsafeConfigError(
        f"Requested the deserialization of {what}. This carries a potential risk of arbitrary "
        f"code execution and thus is disallowed by default (safe_mode=True). {_HOW_TO_ALLOW}"
    )


def is_lambda_config(value: Any) -> bool:
    """Whether ``value`` is a serialized lambda (``{"class_name": "__lambda__", ...}``)."""
    return isinstance(value, Mapping) and value.get("class_name") == "__lambda__"


_LOOKUP_LAYERS = frozenset({"StringLookup", "IntegerLookup", "IndexLookup", "TextVectorization"})


def check_class_config(class_name: str, config: Any, safe_mode: bool) -> None:
    """Refuses, in safe mode, the Keras layer configs that load code or outside files.

    Called by :func:`deserialize_keras_object` for records that name a Keras built-in (module
    ``keras.*`` or no module) before anything is looked up or built; kerasave's own layer classes
    may call it again from ``from_config``.

    Args:
        class_name: The record's class name (a ``"Pkg>Name"`` prefix is ignored).
        config: The record's ``config``.
        safe_mode: The effective setting.

    Raises:
        UnsafeConfigError: ``safe_mode`` is on and the config is one of those listed in the
            module docstring.
    """
    if not safe_mode:
        return
    name = class_name.rpartition(">")[2]
    if not isinstance(config, Mapping):
        return
    if name == "Lambda":
        for key in ("function", "output_shape", "mask"):
            if is_lambda_config(config.get(key)):
                raise_for_lambda(f"a `Lambda` layer whose `{key}` is a Python lambda")
        # tf_keras layout: {"function": [b64 code, defaults, closure], "function_type": "lambda"}.
        for key in ("function_type", "output_shape_type", "mask_type"):
            if config.get(key) == "lambda":
                raise_for_lambda(f"a `Lambda` layer with `{key}='lambda'` (Python bytecode)")
    elif name == "TFSMLayer":
        raise UnsafeConfigError(
            "Requested the deserialization of a `TFSMLayer`, which loads an external SavedModel "
            f"named by the file. {_HOW_TO_ALLOW}"
        )
    elif name == "TorchModuleWrapper":
        raise UnsafeConfigError(
            "Requested the deserialization of a `TorchModuleWrapper`, whose module is a pickle. "
            f"{_HOW_TO_ALLOW}"
        )
    elif name in _LOOKUP_LAYERS and isinstance(config.get("vocabulary"), str):
        raise UnsafeConfigError(
            f"Requested the loading of a vocabulary file outside of the model archive "
            f"({class_name} vocabulary={config['vocabulary']!r}). {_HOW_TO_ALLOW}"
        )


# -- bytecode (safe_mode=False only) -----------------------------------------------------------


def func_dump(func: types.FunctionType) -> Tuple[str, Any, Any]:
    """Serializes a Python function's code as Keras does (``python_utils.func_dump``).

    Args:
        func: A function, typically a lambda.

    Returns:
        ``(base64 marshal of the code, defaults, closure cell contents or None)``.
    """
    code = base64.encodebytes(marshal.dumps(func.__code__)).decode("ascii")
    closure = tuple(c.cell_contents for c in func.__closure__) if func.__closure__ else None
    return code, func.__defaults__, closure


def func_load(
    code: Any,
    defaults: Optional[Sequence[Any]] = None,
    closure: Optional[Sequence[Any]] = None,
    globs: Optional[Dict[str, Any]] = None,
) -> types.FunctionType:
    """Rebuilds a function serialized by :func:`func_dump` (or by Keras / tf_keras).

    This runs Python bytecode from a file, so it refuses unless safe mode is off (through a
    :class:`SafeModeScope`, :func:`enable_unsafe_deserialization` or a ``safe_mode=False`` load).
    Bytecode only loads on the Python version that wrote it.

    Args:
        code: The base64 string, or a ``[code, defaults, closure]`` triple.
        defaults: Default argument values.
        closure: Values for the closure cells.
        globs: The function's globals; defaults to just Python's built-ins.

    Returns:
        The function.

    Raises:
        UnsafeConfigError: safe mode is on.
        ValueError: the bytecode does not load on this Python.
    """
    if effective_safe_mode(None):
        raise_for_lambda()
    if isinstance(code, (tuple, list)):
        code, defaults, closure = code
    if isinstance(defaults, list):
        defaults = tuple(defaults)
    cells = None
    if closure is not None:
        cells = tuple(_cell(value) for value in closure)
    if not isinstance(code, str):
        raise ValueError(f"expected base64 bytecode, got {type(code).__name__}")
    try:
        raw = base64.decodebytes(code.encode("ascii"))
    except (UnicodeEncodeError, binascii.Error):
        raw = code.encode("raw_unicode_escape")
    try:
        code_obj = marshal.loads(raw)
    except (EOFError, ValueError, TypeError) as e:
        raise ValueError(
            f"cannot load the serialized function's bytecode on this Python: {e}"
        ) from e
    if not isinstance(code_obj, types.CodeType):
        raise ValueError("the serialized function is not Python bytecode")
    if globs is None:
        globs = {"__builtins__": builtins}
    return types.FunctionType(
        code_obj, globs, name=code_obj.co_name, argdefs=defaults, closure=cells
    )


def _cell(value: Any) -> Any:
    if isinstance(value, types.CellType):
        return value
    return types.CellType(value)
