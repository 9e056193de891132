"""``keras.config`` settings that kerasave has.

::

    import kerasave as keras
    keras.config.enable_unsafe_deserialization()   # trust lambdas in the files loaded hereafter
"""

from __future__ import annotations

from kerasave.saving.safe_mode import enable_unsafe_deserialization

__all__ = ["enable_unsafe_deserialization"]
