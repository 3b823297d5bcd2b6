"""Small CNNs in plain PyTorch for the import and convention tests (import only where torch is present).

Each covers a family of cases: ``Plain`` grouped / dilated / depthwise convs, pools, dropout,
linear, softmax; ``Branchy`` inception-like concat, residual add, squeeze-excitation multiply;
``Decoder`` transposed (grouped, output-padded) convs and upsampling; ``Acts`` the other
activations and LRN; ``Shuffle`` ShuffleNet v2 units (channel split and shuffle). ``MODELS``
gives each with its input shape (C, H, W); ``resnet50`` is torchvision's layout.
"""

from __future__ import annotations

import torch
from torch import nn


class Plain(nn.Module):
    """A chain: conv+bias, BN, ReLU, max-pool, grouped dilated conv, avg-pool, depthwise, GAP, FC."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=2, dilation=2, groups=4, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.act2 = nn.LeakyReLU(0.1)
        self.pool2 = nn.AvgPool2d(3, stride=2, padding=1)
        self.dw = nn.Conv2d(32, 32, 3, padding=1, groups=32)
        self.act3 = nn.ReLU6()
        self.pw = nn.Conv2d(32, 48, 1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(48, 10)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.act2(self.bn2(self.conv2(x))))
        x = self.pw(self.act3(self.dw(x)))
        x = torch.flatten(self.gap(x), 1)
        return self.softmax(self.fc(self.drop(x)))  # type: ignore[no-any-return]


class Inception(nn.Module):
    """GoogLeNet's module: 1×1 | 1×1→3×3 | 1×1→5×5 | 3×3 max-pool→1×1, concatenated."""

    def __init__(self, cin: int, c1: int, r3: int, c3: int, r5: int, c5: int, pp: int) -> None:
        super().__init__()
        self.branch1 = nn.Sequential(nn.Conv2d(cin, c1, 1), nn.ReLU(inplace=True))
        self.branch2 = nn.Sequential(nn.Conv2d(cin, r3, 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(r3, c3, 3, padding=1), nn.ReLU(inplace=True))
        self.branch3 = nn.Sequential(nn.Conv2d(cin, r5, 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(r5, c5, 5, padding=2), nn.ReLU(inplace=True))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(cin, pp, 1),
                                     nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class SqueezeExcite(nn.Module):
    """x · σ(W₂ ReLU(W₁ GAP(x))), the 1×1 convs as in torchvision's SqueezeExcitation."""

    def __init__(self, c: int, squeeze: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.avgpool(x)))))


class Residual(nn.Module):
    """conv-BN-ReLU-conv-BN-SE, plus the identity, then the same ReLU module again."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.se = SqueezeExcite(c, c // 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.relu(out + x)  # type: ignore[no-any-return]


class Branchy(nn.Module):
    """Stem, two inception modules (different widths), two identical residual SE blocks, head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU(inplace=True))
        self.inception_a = Inception(16, 8, 8, 12, 4, 4, 4)
        self.inception_b = Inception(28, 12, 8, 16, 4, 8, 4)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.blocks = nn.Sequential(Residual(40), Residual(40))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(40, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.inception_b(self.inception_a(self.stem(x))))
        return self.head(self.blocks(x))  # type: ignore[no-any-return]


class Decoder(nn.Module):
    """Down then up: grouped output-padded transposed conv, nearest and bilinear upsampling."""

    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.relu1 = nn.ReLU()
        self.up1 = nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.bn = nn.BatchNorm2d(8)
        self.relu2 = nn.ReLU()
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv = nn.Conv2d(8, 4, 3, padding=1)
        self.tanh = nn.Tanh()
        self.up3 = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1, bias=False)
        self.up4 = nn.Upsample(scale_factor=2, mode="bilinear")
        self.out = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu2(self.bn(self.up1(self.relu1(self.down(x)))))
        x = self.tanh(self.conv(self.up2(x)))
        return self.out(self.up4(self.up3(x)))  # type: ignore[no-any-return]


class Acts(nn.Module):
    """GELU, SiLU, Hardswish, Hardsigmoid, and a linear head on a flat vector."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.gelu = nn.GELU()
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.silu = nn.SiLU()
        self.conv3 = nn.Conv2d(8, 8, 1)
        self.hswish = nn.Hardswish()
        self.conv4 = nn.Conv2d(8, 8, 1)
        self.hsig = nn.Hardsigmoid()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(8 * 8 * 8, 32)
        self.fc2 = nn.Linear(32, 32)
        self.fc3 = nn.Linear(32, 32)
        self.fc4 = nn.Linear(32, 4, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gelu(self.conv1(x))
        x = self.hswish(self.conv3(self.silu(self.conv2(x))))
        x = self.flatten(self.hsig(self.conv4(x)))
        return self.fc4(self.fc3(self.fc2(self.fc1(x))))  # type: ignore[no-any-return]


class Lrn(nn.Module):
    """AlexNet-style local response normalisation (PyTorch exports it to ONNX as a decomposition)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
        self.pool = nn.MaxPool2d(3, 2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.norm2 = nn.LocalResponseNorm(3, k=1.0)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.norm1(self.relu1(self.conv1(x))))
        x = self.norm2(self.relu2(self.conv2(x)))
        return self.fc(torch.flatten(self.gap(x), 1))  # type: ignore[no-any-return]


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """torchvision's shufflenetv2 channel_shuffle: view, transpose, flatten back."""
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(b, -1, h, w)


class ShuffleUnit(nn.Module):
    """ShuffleNet v2's stride-1 unit: split the channels, transform one half, concat, shuffle."""

    def __init__(self, c: int) -> None:
        super().__init__()
        h = c // 2
        self.branch2 = nn.Sequential(
            nn.Conv2d(h, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(inplace=True),
            nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False), nn.BatchNorm2d(h),
            nn.Conv2d(h, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat((x1, self.branch2(x2)), dim=1), 2)


class Shuffle(nn.Module):
    """A stem, three ShuffleNet v2 units, a 3-group shuffle and a head on the spatial mean."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 24, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(24),
                                   nn.ReLU(inplace=True))
        self.stage = nn.Sequential(ShuffleUnit(24), ShuffleUnit(24), ShuffleUnit(24))
        self.fc = nn.Linear(24, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = channel_shuffle(self.stage(self.conv1(x)), 3)
        return self.fc(x.mean([2, 3]))  # type: ignore[no-any-return]


class Bottleneck(nn.Module):
    """torchvision's ResNet bottleneck (v1.5: stride in the 3×3)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)  # type: ignore[no-any-return]


class ResNet(nn.Module):
    """torchvision's ResNet with bottleneck blocks (layers (3, 4, 6, 3): ResNet-50)."""

    def __init__(self, layers: tuple[int, ...] = (3, 4, 6, 3), num_classes: int = 1000, width: int = 64) -> None:
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make(width, layers[0])
        self.layer2 = self._make(2 * width, layers[1], 2)
        self.layer3 = self._make(4 * width, layers[2], 2)
        self.layer4 = self._make(8 * width, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32 * width, num_classes)

    def _make(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        down = None
        if stride != 1 or self.inplanes != planes * 4:
            down = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                                 nn.BatchNorm2d(planes * 4))
        layers: list[nn.Module] = [Bottleneck(self.inplanes, planes, stride, down)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))  # type: ignore[no-any-return]


def plain() -> nn.Module:
    return Plain()


def branchy() -> nn.Module:
    return Branchy()


def decoder() -> nn.Module:
    return Decoder()


def acts() -> nn.Module:
    return Acts()


def lrn() -> nn.Module:
    return Lrn()


def shuffle() -> nn.Module:
    return Shuffle()


def resnet_tiny() -> nn.Module:
    """A ResNet-50-shaped network, narrow and short: layers (2, 2, 2, 2), width 8, 10 classes."""
    return ResNet((2, 2, 2, 2), 10, 8)


def resnet50() -> nn.Module:
    return ResNet()


#: name → (factory, input shape C, H, W) of the small models.
MODELS = {
    "plain": (plain, (3, 32, 32)),
    "branchy": (branchy, (3, 32, 32)),
    "decoder": (decoder, (3, 16, 16)),
    "acts": (acts, (3, 16, 16)),
    "lrn": (lrn, (3, 16, 16)),
    "shuffle": (shuffle, (3, 16, 16)),
    "resnet_tiny": (resnet_tiny, (3, 64, 64)),
}
