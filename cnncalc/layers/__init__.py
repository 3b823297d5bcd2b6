"""Layer kinds: one class per kind, registered by type name. A module of kinds is imported when one
of its kinds is first looked up (``LAYER_TYPES``, ``layer_class``); listing the kinds imports all."""

from .base import (
    ALIASES,
    LAYER_TYPES,
    RF,
    Family,
    Formula,
    Hyper,
    Layer,
    Num,
    Params,
    RegistrationError,
    Shape,
    fmt_shape,
    layer_class,
    numel,
    register_layer,
)

__all__ = [
    "ALIASES", "LAYER_TYPES", "RF", "Family", "Formula", "Hyper", "Layer", "Num", "Params",
    "RegistrationError", "Shape", "fmt_shape", "layer_class", "numel", "register_layer",
]
