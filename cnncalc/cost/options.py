"""The choices a cost question is asked with (mode, optimizer, autocast, memory format), apart from
the cost machinery: the CLI's option types import this small module, not cnncalc.cost.base."""

from __future__ import annotations

from ..compat import StrEnum


class Mode(StrEnum):
    """What one batch does: a forward pass, or a whole training step."""

    INFER = "infer"
    TRAIN = "train"


class Optimizer(StrEnum):
    """Training optimizers (PyTorch defaults: foreach implementations, no weight decay for SGD/Adam).

    ``sgd`` is plain SGD (no state); ``momentum`` SGD with one momentum buffer per parameter;
    ``adam`` / ``adamw`` keep two moments per parameter.
    """

    SGD = "sgd"
    MOMENTUM = "momentum"
    ADAM = "adam"
    ADAMW = "adamw"

    @property
    def state_copies(self) -> int:
        """Parameter-sized state tensors kept between steps: 0, 1 (momentum) or 2 (Adam's moments)."""
        return {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}[self.value]


class Amp(StrEnum):
    """torch.autocast precision for mixed-precision training or inference (fp32 weights)."""

    BF16 = "bf16"
    FP16 = "fp16"


class MemoryFormat(StrEnum):
    """PyTorch's memory format of 4-d activations: NCHW (``contiguous``) or NHWC (``channels_last``)."""

    CONTIGUOUS = "contiguous"
    CHANNELS_LAST = "channels_last"
