"""torchinfo's own 2-D CNN / MLP test models, rebuilt (same layers, same calls), with the input and
batch each of torchinfo's tests gives them; for tests/test_torchinfo_models.py (import only with torch).

``CASES`` maps a test name to a :class:`Case`: the factory (``tests.torchinfo_models:NAME`` for
``cnncalc import --torch``), the per-sample input shapes, the batch, the forward arguments bound
by name, and whether torchinfo ran the model in train mode. ``REFUSED`` names the cases cnncalc
declines, with the words its one-line error must contain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class SingleInputNet(nn.Module):
    """The MNIST example: two 5×5 convs with max-pool and ReLU, two linears, log-softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(0.3)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.view(-1, 320)))
        return F.log_softmax(self.fc2(x), dim=1)


class MultipleInputNetDifferentDtypes(nn.Module):
    """Two 300-feature inputs (the second given as integers), two MLP towers, joined over the batch."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1a = nn.Linear(300, 50)
        self.fc1b = nn.Linear(50, 10)
        self.fc2a = nn.Linear(300, 50)
        self.fc2b = nn.Linear(50, 10)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        a = self.fc1b(F.relu(self.fc1a(x1)))
        b = self.fc2b(F.relu(self.fc2a(x2.type(torch.float))))
        return F.log_softmax(torch.cat((a, b), 0), dim=1)


class RecursiveNet(nn.Module):
    """One 3×3 conv applied six times; two optional arguments that default to None."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(64, 64, 3, 1, 1)

    def forward(self, x: torch.Tensor, args1: Any = None, args2: Any = None) -> torch.Tensor:
        for _ in range(6):
            x = self.conv1(x)
        return x


class SiameseNets(nn.Module):
    """Two 88×88 images through the same conv tower and linear; |a − b| → linear → sigmoid."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 10)
        self.conv2 = nn.Conv2d(64, 128, 7)
        self.conv3 = nn.Conv2d(128, 128, 4)
        self.conv4 = nn.Conv2d(128, 256, 4)
        self.pooling = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(256, 4096)
        self.fc2 = nn.Linear(4096, 1)
        self.dropout = nn.Dropout(0.5)

    def tower(self, x: torch.Tensor) -> torch.Tensor:
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = self.pooling(F.relu(conv(x)))
        return self.fc1(x.view(x.size(0), -1))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        a, b = self.tower(x1), self.tower(x2)
        return torch.sigmoid(self.fc2(self.dropout(torch.abs(a - b))))


class FunctionalNet(nn.Module):
    """Convs and linears as modules, everything else functional; one Dropout2d on a vector."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, 1)
        self.conv2 = nn.Conv2d(32, 64, 5, 1)
        self.dropout1 = nn.Dropout2d(0.4)
        self.dropout2 = nn.Dropout2d(0.5)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = self.dropout1(F.relu(self.fc1(x.view(-1, 2048))))
        return F.log_softmax(self.fc2(x), dim=1)


class ReturnDictLayer(nn.Module):
    """SingleInputNet's layers, returning every activation in a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"conv1": self.conv1(x)}
        x = F.relu(F.max_pool2d(out["conv1"], 2))
        out["conv2"] = self.conv2(x)
        x = F.relu(F.max_pool2d(out["conv2"], 2))
        out["fc1"] = F.relu(self.fc1(x.view(-1, 320)))
        out["fc2"] = self.fc2(out["fc1"])
        out["output"] = F.log_softmax(out["fc2"], dim=1)
        return out


class ReturnDict(nn.Module):
    """ReturnDictLayer inside a module whose forward takes a second, unused input."""

    def __init__(self) -> None:
        super().__init__()
        self.return_dict = ReturnDictLayer()

    def forward(self, x: torch.Tensor, y: Any) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = self.return_dict(x)
        return out


class ModuleDictModel(nn.Module):
    """A layer and an activation picked by name from ModuleDicts (the others never run)."""

    def __init__(self) -> None:
        super().__init__()
        self.choices = nn.ModuleDict({"conv": nn.Conv2d(10, 10, 3), "pool": nn.MaxPool2d(3)})
        self.activations = nn.ModuleDict({"lrelu": nn.LeakyReLU(), "prelu": nn.PReLU()})

    def forward(self, x: torch.Tensor, layer_type: str, activation_type: str) -> torch.Tensor:
        return self.activations[activation_type](self.choices[layer_type](x))  # type: ignore[no-any-return]


class ContainerChildModule(nn.Module):
    """A Sequential of two linears called whole and looped over, twice, with a linear between."""

    def __init__(self) -> None:
        super().__init__()
        self._sequential = nn.Sequential(nn.Linear(5, 5), nn.Linear(5, 5))
        self._between = nn.Linear(5, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._between(self._sequential(x))
        for layer in self._sequential:
            out = layer(out)
        out = self._sequential(x)
        for layer in self._sequential:
            out = layer(out)
        return out


class ContainerModule(nn.Module):
    """A ModuleList: linear, ContainerChildModule, linear (and a None that is skipped)."""

    def __init__(self) -> None:
        super().__init__()
        self._layers = nn.ModuleList([nn.Linear(5, 5), ContainerChildModule(), nn.Linear(5, 5)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self._layers:
            x = layer(x)
        return x


class EmptyModule(nn.Module):
    """No layers and no input; a plain tensor attribute (not a Parameter)."""

    def __init__(self) -> None:
        super().__init__()
        self.parameter = torch.rand(3, 3, requires_grad=True)

    def forward(self) -> dict[str, Any]:
        return {"loss": self.parameter.sum()}


class AutoEncoder(nn.Module):
    """conv → ReLU → max-pool with indices → max-unpool → conv → ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.decode = nn.Sequential(nn.Conv2d(16, 3, 3, padding=1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.encoder(x)
        size = x.size()
        x, indices = self.pool(x)
        return self.decode(self.unpool(x, indices=indices, output_size=size))  # type: ignore[no-any-return]


class PartialJITModel(nn.Module):
    """SingleInputNet with its two linears scripted by torch.jit."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(0.3)
        self.fc1 = torch.jit.script(nn.Linear(320, 50))
        self.fc2 = torch.jit.script(nn.Linear(50, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.view(-1, 320)))
        return F.log_softmax(self.fc2(x), dim=1)


class ReuseLinear(nn.Module):
    """One Linear(10, 10) and a ReLU, four times in a Sequential (the same instance)."""

    def __init__(self) -> None:
        super().__init__()
        linear = nn.Linear(10, 10)
        self.model = nn.Sequential(*[m for _ in range(4) for m in (linear, nn.ReLU(True))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # type: ignore[no-any-return]


class ReuseLinearExtended(nn.Module):
    """ReuseLinear with the Linear also an attribute of the model itself."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(10, 10)
        self.model = nn.Sequential(*[m for _ in range(4) for m in (self.linear, nn.ReLU(True))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # type: ignore[no-any-return]


class ReuseReLU(nn.Module):
    """Reflection pad, 1×1 convs with BN, one ReLU instance used after each."""

    def __init__(self) -> None:
        super().__init__()
        act = nn.ReLU(True)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(4, 1, 1), nn.BatchNorm2d(1), act]
        for i in range(3):
            c = 2 ** i
            layers += [nn.Conv2d(c, 2 * c, 1, stride=2, padding=1), nn.BatchNorm2d(2 * c), act]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # type: ignore[no-any-return]


class LinearModel(nn.Module):
    """Three linears of 128 with ReLUs (torchinfo's jit test, unscripted)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                                    nn.Linear(128, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)  # type: ignore[no-any-return]


class ParameterFCNet(nn.Module):
    """x @ a + b with free parameters, then (optionally) a Linear."""

    def __init__(self, input_dim: int = 128, hidden_dim: int = 64, output_dim: int | None = None) -> None:
        super().__init__()
        self.output_dim = output_dim
        self.a = nn.Parameter(torch.randn(input_dim, hidden_dim))
        self.b = nn.Parameter(torch.randn(hidden_dim))
        if output_dim is not None:
            self.fc2 = nn.Linear(hidden_dim, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.mm(x, self.a) + self.b
        return h if self.output_dim is None else self.fc2(h)


class InsideModel(nn.Module):
    """Linears scaled by parameters held by their parent modules (broadcasting 1 → 2 features)."""

    class Inside(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.l_1 = nn.Linear(1, 1)
            self.param_1 = nn.Parameter(torch.ones(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.l_1(x) * self.param_1  # type: ignore[no-any-return]

    def __init__(self) -> None:
        super().__init__()
        self.l_0 = nn.Linear(2, 1)
        self.param_0 = nn.Parameter(torch.ones(2))
        self.inside = InsideModel.Inside()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inside(self.l_0(x)) * self.param_0  # type: ignore[no-any-return]


class RecursiveWithMissingLayers(nn.Module):
    """Dilated 'same' convs with BN held in ModuleDicts and indexed by name in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.out_conv0 = nn.Conv2d(3, 8, 5, padding="same")
        self.out_bn0 = nn.BatchNorm2d(8)
        self.block0 = nn.ModuleDict()
        for i in range(1, 4):
            self.block0.add_module(f"in_conv{i}", nn.Conv2d(8, 8, 3, padding="same", dilation=2 ** i))
            self.block0.add_module(f"in_bn{i}", nn.BatchNorm2d(8))
        self.block1 = nn.ModuleDict()
        for i in range(4, 7):
            self.block1.add_module(f"in_conv{i}", nn.Conv2d(8, 8, 3, padding="same", dilation=2 ** (7 - i)))
            self.block1.add_module(f"in_bn{i}", nn.BatchNorm2d(8))
        self.out_conv7 = nn.Conv2d(8, 1, 1, padding="same")
        self.out_bn7 = nn.BatchNorm2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.out_bn0(self.out_conv0(x)))
        for i in range(1, 4):
            x = torch.relu(self.block0[f"in_bn{i}"](self.block0[f"in_conv{i}"](x)))
        for i in range(4, 7):
            x = torch.relu(self.block1[f"in_bn{i}"](self.block1[f"in_conv{i}"](x)))
        return torch.relu(self.out_bn7(self.out_conv7(x)))


class CustomParameter(nn.Module):
    """forward ignores its input and returns a parameter of attention_size × input_size."""

    def __init__(self, input_size: int = 8, attention_size: int = 4) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(attention_size, input_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight


class ParameterListModel(nn.Module):
    """A ParameterList of two matrices (100 × 100 and 100 × 200) that forward never reads."""

    def __init__(self) -> None:
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(torch.zeros(100, 100)), nn.Parameter(torch.zeros(100, 200))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class ReLUConvBN(nn.Module):
    """DARTS' ReLU → 1×1 conv (no bias) → BN."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)  # type: ignore[no-any-return]


class IdentityModel(nn.Module):
    """An nn.Identity in a module."""

    def __init__(self) -> None:
        super().__init__()
        self.identity = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.identity(x)  # type: ignore[no-any-return]


class Cell(nn.Module):
    """A DARTS normal cell of two skip connections: preprocess both states, add, concatenate state 0."""

    def __init__(self, c_pp: int, c_p: int, c: int) -> None:
        super().__init__()
        self.preprocess0 = ReLUConvBN(c_pp, c)
        self.preprocess1 = ReLUConvBN(c_p, c)
        self._ops = nn.ModuleList([IdentityModel(), IdentityModel()])

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        states.append(self._ops[0](states[1]) + self._ops[1](states[0]))
        return torch.cat([states[0]], dim=1)


class GenotypeNetwork(nn.Module):
    """torchinfo's genotype fixture with one cell: stem conv + BN (48 channels), a cell of 32; forward
    returns nothing, so everything it runs is a dead end."""

    def __init__(self) -> None:
        super().__init__()
        self.drop_path_prob = 0.0
        self.stem = nn.Sequential(nn.Conv2d(3, 48, 3, padding=1, bias=False), nn.BatchNorm2d(48))
        self.cells = nn.ModuleList([Cell(48, 48, 32)])

    def forward(self, x: torch.Tensor) -> None:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)


def single_linear() -> nn.Module:
    return nn.Linear(2, 5)


def grouped_conv() -> nn.Module:
    return nn.Conv2d(16, 32, 3, groups=4)


def linear_on_tokens() -> nn.Module:
    return nn.Linear(8, 64)


def parameter_fc_32() -> nn.Module:
    return ParameterFCNet(128, 64, 32)


def parameter_fc() -> nn.Module:
    return ParameterFCNet(128, 64)


def scripted_linear_model() -> nn.Module:
    return torch.jit.script(LinearModel())  # type: ignore[no-any-return]


def scripted_partial_jit() -> nn.Module:
    return torch.jit.script(PartialJITModel())  # type: ignore[no-any-return]


def pruned_single_input() -> nn.Module:
    from torch.nn.utils import prune
    model = SingleInputNet()
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            prune.l1_unstructured(m, "weight", 0.5)
    return model


def _tv(name: str) -> Any:
    import torchvision  # only the torchvision cases need it
    return getattr(torchvision.models, name)


def resnet18() -> nn.Module:
    return _tv("resnet18")()  # type: ignore[no-any-return]


def resnet18_frozen() -> nn.Module:
    """torchinfo's test_frozen_layers: the first 30 parameter tensors frozen."""
    model = _tv("resnet18")()
    for i, p in enumerate(model.parameters()):
        if i < 30:
            p.requires_grad = False
    return model  # type: ignore[no-any-return]


def resnet50() -> nn.Module:
    return _tv("resnet50")()  # type: ignore[no-any-return]


def resnet152() -> nn.Module:
    return _tv("resnet152")()  # type: ignore[no-any-return]


def googlenet() -> nn.Module:
    return _tv("googlenet")(init_weights=False)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Case:
    """One torchinfo test: factory name here, per-sample input shapes, batch, bound args, mode."""

    factory: str
    inputs: tuple[tuple[int, ...], ...]
    batch: int = 1
    args: dict[str, Any] = field(default_factory=dict)
    train: bool = False
    torchvision: bool = False


CASES: dict[str, Case] = {
    # tests/torchinfo_test.py
    "string_result": Case("SingleInputNet", ((1, 28, 28),), 16),
    "single_input": Case("SingleInputNet", ((1, 28, 28),), 2),
    "input_tensor": Case("SingleInputNet", ((1, 28, 28),), 5),
    "batch_size_optimization": Case("SingleInputNet", ((1, 28, 28),), 1),
    "single_input_all_cols": Case("SingleInputNet", ((1, 28, 28),), 7),
    "single_input_batch_dim": Case("SingleInputNet", ((1, 28, 28),), 1),
    "device": Case("SingleInputNet", ((1, 28, 28),), 5),
    "single_linear_layer": Case("single_linear", ((2,),), 1),
    "training_mode": Case("single_linear", ((2,),), 1, train=True),
    "multiple_input_types": Case("MultipleInputNetDifferentDtypes", ((300,), (300,)), 1),
    "multiple_input_tensor_args": Case("MultipleInputNetDifferentDtypes", ((300,), (300,)), 1),
    "groups": Case("grouped_conv", ((16, 28, 28),), 7),
    "linear": Case("linear_on_tokens", ((16, 8),), 32),
    "pruning": Case("pruned_single_input", ((1, 28, 28),), 16),
    "jit": Case("LinearModel", ((128,),), 64),
    "jit_scripted": Case("scripted_linear_model", ((128,),), 64),
    "partial_jit_scripted": Case("scripted_partial_jit", ((1, 28, 28),), 2),
    "partial_jit": Case("PartialJITModel", ((1, 28, 28),), 2),
    "recursive": Case("RecursiveNet", ((64, 28, 28),), 1),
    "model_with_args": Case("RecursiveNet", ((64, 28, 28),), 1),
    "siamese_net": Case("SiameseNets", ((1, 88, 88), (1, 88, 88)), 1),
    "functional_net": Case("FunctionalNet", ((1, 28, 28),), 2),
    "container": Case("ContainerModule", ((5,),), 1),
    "empty_module": Case("EmptyModule", (), 1),
    "module_dict_conv_lrelu": Case("ModuleDictModel", ((10, 3, 3),), 1,
                                   {"layer_type": "conv", "activation_type": "lrelu"}),
    "module_dict_pool_prelu": Case("ModuleDictModel", ((10, 3, 3),), 1,
                                   {"layer_type": "pool", "activation_type": "prelu"}),
    "return_dict": Case("ReturnDict", ((1, 28, 28), (12,)), 1),
    "autoencoder": Case("AutoEncoder", ((3, 64, 64),), 1),
    "too_many_linear": Case("ReuseLinear", ((10,),), 2),
    "too_many_linear_plus_existing_hooks": Case("ReuseLinearExtended", ((10,),), 2),
    "too_many_relus": Case("ReuseReLU", ((4, 64, 64),), 4),
    "parameters_with_other_layers": Case("parameter_fc_32", ((128,),), 3),
    "parameters_without_other_layers": Case("parameter_fc", ((128,),), 3),
    "nested_leftover_params": Case("InsideModel", ((2,),), 100),
    "recursive_with_missing_layers": Case("RecursiveWithMissingLayers", ((3, 128, 128),), 2),
    "parameter_list": Case("ParameterListModel", ((100,),), 100),
        # tests/torchinfo_xl_test.py
    "genotype": Case("GenotypeNetwork", ((3, 32, 32),), 2),
    "ascii_only": Case("resnet18", ((3, 64, 64),), 1, torchvision=True),
    "frozen_layers": Case("resnet18_frozen", ((3, 64, 64),), 1, torchvision=True),
    "eval_order_doesnt_matter": Case("resnet18", ((3, 224, 224),), 1, torchvision=True),
    "resnet50": Case("resnet50", ((3, 224, 224),), 2, torchvision=True),
    "resnet152": Case("resnet152", ((3, 224, 224),), 1, torchvision=True),
    "google": Case("googlenet", ((3, 112, 112),), 1, torchvision=True),
    "google_train": Case("googlenet", ((3, 112, 112),), 1, train=True, torchvision=True),
}

#: Cases cnncalc refuses, with words its one-line message has.
REFUSED: dict[str, str] = {
    "empty_module": "takes no input",
    "functional_net": "invalid for input of size 1024",  # x.view(-1, 2048) joins two samples of 1,024
    "jit_scripted": "torch.jit.script",
    "partial_jit_scripted": "torch.jit.script",
    "pruning": "pruned",
    "linear": "16,8",  # a Linear over [tokens, features]: the sequence inputs of issue 15
}
#: Refused only until [L, features] inputs exist; then they must reproduce torchinfo.
SEQUENCES = {"linear"}
