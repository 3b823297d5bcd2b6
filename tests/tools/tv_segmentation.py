"""torchvision's segmentation factories without pretrained backbones, for ``--torch``.

``torchvision.models.segmentation.fcn_resnet50()`` loads ImageNet weights for its backbone by
default (a download); the counts do not depend on weights, so this module's attributes are the
same factories with ``weights=None, weights_backbone=None``:
``cnncalc import --torch tests.tools.tv_segmentation:fcn_resnet50 --input 3,256,256``.
"""

from __future__ import annotations

import functools
from typing import Any


def __getattr__(name: str) -> Any:
    from torchvision.models import segmentation
    if name.startswith("_") or name not in segmentation.__dict__:
        raise AttributeError(name)
    return functools.partial(getattr(segmentation, name), weights=None, weights_backbone=None)
