"""The ``get(identifier)`` rule Keras's constraints, regularizers, losses and metrics share."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional


def resolve_identifier(identifier: Any, *, kind: str, deserialize: Callable[[Any], Any],
                       lookup: Callable[[str], Optional[Any]]) -> Any:
    """An object from ``None``, a config record, a name, a class or a callable, as Keras's
    ``<module>.get``: records go through ``deserialize``, names through ``lookup``; a class
    found either way is instantiated with no arguments; any other callable is returned as is.

    Args:
        identifier: What the user or a config gave.
        kind: The word for the error message ("loss", "metric", ...).
        deserialize: The module's ``deserialize``.
        lookup: Name -> class or function, or None when the name is unknown.

    Raises:
        ValueError: The identifier gives nothing callable (Keras's message).
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = lookup(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret {kind} identifier: {identifier}")
