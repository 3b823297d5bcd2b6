"""Layer kinds: one class per kind, registered by type name; importing this loads them all."""

from . import activation, attention, channel, conv, dense, merge, misc, norm, pool, sequence, shape  # noqa: F401  (registration)
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
