"""Models: ``Model`` (functional and subclassed), ``Sequential``, loading and saving."""

from __future__ import annotations

from kerasave.models.model import Functional, Model, Sequential, clone_model, model_from_json


def load_model(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`kerasave.saving.api.load_model`."""
    from kerasave.saving.api import load_model as _load

    return _load(*args, **kwargs)


def save_model(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`kerasave.saving.api.save_model`."""
    from kerasave.saving.api import save_model as _save

    return _save(*args, **kwargs)


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
