"""Rebuild a model from its JSON config alone (checkpoints never unpickle).

``@register`` records the keyword arguments a model was built with in
``model.hparams``; ``build({"name": ..., "hparams": ...})`` makes it again.
"""

from __future__ import annotations

import functools
import inspect

from torch import nn

REGISTRY: dict[str, type[nn.Module]] = {}


def register(cls):
    """Class decorator: remember ``cls`` by name and capture its init arguments."""
    init = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def init_and_record(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        init(self, *args, **kwargs)
        self.hparams = {k: _jsonable(v) for k, v in list(bound.arguments.items())[1:]}

    cls.__init__ = init_and_record
    REGISTRY[cls.__name__] = cls
    return cls


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def model_config(model: nn.Module) -> dict:
    """The JSON-able description that :func:`build` turns back into ``model``."""
    if not hasattr(model, "hparams"):
        raise TypeError(f"{type(model).__name__} is not a registered gan_lab model (decorate it with @register).")
    return {"name": type(model).__name__, "hparams": dict(model.hparams)}


def build(config: dict) -> nn.Module:
    """Build a fresh model from :func:`model_config`'s output."""
    name = config.get("name")
    if name not in REGISTRY:
        raise ValueError(f"Unknown model {name!r} in checkpoint; known models: {sorted(REGISTRY)}.")
    return REGISTRY[name](**config.get("hparams", {}))
