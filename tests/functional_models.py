"""Small PyTorch models that mix nn modules with the functions torchvision calls (F.relu, F.avg_pool2d,
F.adaptive_avg_pool2d, F.interpolate, torch.flatten), for ``--convention ptflops|thop``.

ptflops counts a module by its hook (divided by the batch) and a patched function for the whole
batch; thop counts modules only. The specs in tests/fixtures/conventions/f_*.yaml are these
models imported with cnncalc.importers.torch (a function call becomes ``functional: true``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock with F.relu in place of its nn.ReLU (both kinds in one net)."""

    def __init__(self, c_in: int, c: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.down = nn.Sequential(nn.Conv2d(c_in, c, 1, stride, bias=False), nn.BatchNorm2d(c)) \
            if stride != 1 or c_in != c else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        identity = x if self.down is None else self.down(x)
        return F.relu(out + identity)


class FResNet(nn.Module):
    """Stem with nn.ReLU and nn.MaxPool2d, blocks with F.relu, head with F.adaptive_avg_pool2d."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = BasicBlock(16, 16)
        self.layer2 = BasicBlock(16, 32, 2)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.fc(torch.flatten(x, 1))


class DenseLayer(nn.Module):
    def __init__(self, c_in: int, growth: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(c_in)
        self.conv = nn.Conv2d(c_in, growth, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv(F.relu(self.norm(x)))], 1)


class FDense(nn.Module):
    """torchvision's DenseNet idiom: F.relu after the last norm, F.avg_pool2d transition (and an
    nn.AvgPool2d one), F.max_pool2d, then F.adaptive_avg_pool2d and torch.flatten."""

    def __init__(self) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.block1 = nn.Sequential(DenseLayer(8, 4), DenseLayer(12, 4))
        self.trans = nn.Conv2d(16, 8, 1, bias=False)
        self.pool = nn.AvgPool2d(2)
        self.block2 = DenseLayer(8, 4)
        self.norm = nn.BatchNorm2d(12)
        self.classifier = nn.Linear(12, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self.conv0(x), 3, 2, 1)
        x = F.avg_pool2d(self.trans(self.block1(x)), 2)
        x = self.pool(self.block2(x))
        x = F.relu(self.norm(x), inplace=True)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.classifier(torch.flatten(x, 1))


class FDecoder(nn.Module):
    """An FCN-like decoder: nn.Upsample and F.interpolate (by size, bilinear, and by scale factor),
    F.gelu, F.silu and F.softmax over channels, nn.Softmax beside them."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Conv2d(3, 8, 3, 2, 1)
        self.mid = nn.Conv2d(8, 8, 3, 2, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.head = nn.Conv2d(8, 4, 1)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        y = F.gelu(self.enc(x))
        y = F.silu(self.mid(y))
        y = self.up(y)
        y = F.interpolate(y, scale_factor=2.0, mode="nearest")
        y = self.head(y)
        y = F.interpolate(y, size=(size[0] * 2, size[1] * 2), mode="bilinear", align_corners=False)
        return self.softmax(F.softmax(y, dim=1))


def fresnet() -> nn.Module:
    return FResNet()


def fdense() -> nn.Module:
    return FDense()


def fdecoder() -> nn.Module:
    return FDecoder()
