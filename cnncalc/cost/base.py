"""The cost-model interface: what a model is asked (Workload) and what it answers (CostReport)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from ..analysis import DType
from ..errors import UsageError
from .options import Amp as Amp
from .options import MemoryFormat as MemoryFormat
from .options import Mode as Mode
from .options import Optimizer as Optimizer

if TYPE_CHECKING:
    from ..graph import Graph
    from .devices import Device


#: Activation dtypes a cost model accepts.
COST_DTYPES = (DType.FP32, DType.FP16, DType.BF16)


@dataclass(frozen=True)
class Workload:
    """What runs: mode, batch, parameter dtype, autocast, optimizer, memory format, TF32.

    ``dtype`` is the dtype the model is converted to (``model.half()`` for fp16); with ``amp``
    the weights stay fp32 and convs / GEMMs run in the autocast dtype. ``memory_format`` is
    PyTorch's (``model.to(memory_format=torch.channels_last)`` and the input likewise: NHWC, no
    layout transforms around cuDNN); ``channels_last`` is the same as a bool, kept equal to it
    (either may be given). ``tf32`` is PyTorch's default (``torch.backends.cudnn.allow_tf32``
    True: fp32 convolutions may run on TF32 tensor cores; matmuls stay strict fp32, as
    ``torch.backends.cuda.matmul.allow_tf32`` is False); ``tf32=False`` is strict fp32 everywhere.
    ``fresh_process``: the process runs only this workload, so it holds only the library
    workspaces this workload creates (an inference-only process has no backward thread's cuBLAS
    workspace); by default the process is warm, as after a training step (forward and backward
    GEMMs have run), which is how the reference measurements were taken.
    """

    mode: Mode = Mode.INFER
    batch: int = 1
    dtype: DType = DType.FP32
    amp: Amp | None = None
    optimizer: Optimizer = Optimizer.SGD
    channels_last: bool = False
    memory_format: MemoryFormat = MemoryFormat.CONTIGUOUS
    tf32: bool = True
    fresh_process: bool = False

    def __post_init__(self) -> None:
        fmt = MemoryFormat(self.memory_format)
        if self.channels_last:
            fmt = MemoryFormat.CHANNELS_LAST
        object.__setattr__(self, "memory_format", fmt)
        object.__setattr__(self, "channels_last", fmt is MemoryFormat.CHANNELS_LAST)
        if self.batch < 1:
            raise UsageError(f"batch must be at least 1, got {self.batch}")
        if self.dtype not in COST_DTYPES:
            raise UsageError(f"cost models take --dtype fp32, fp16 or bf16, not {self.dtype.value}")
        if self.amp is not None and self.dtype is not DType.FP32:
            raise UsageError("--amp keeps fp32 weights; use it with --dtype fp32")

    @property
    def param_dtype(self) -> DType:
        """Element type of the weights, gradients and optimizer state."""
        return self.dtype

    @property
    def compute_dtype(self) -> DType:
        """Element type the activations are computed and stored in."""
        return DType(self.amp.value) if self.amp is not None else self.dtype

    def describe(self) -> str:
        """One line, e.g. ``train · batch 64 · fp32 weights · bf16 autocast · momentum``."""
        parts = [self.mode.value, f"batch {self.batch}", f"{self.dtype.value}"]
        if self.amp is not None:
            parts.append(f"{self.amp.value} autocast")
        if self.channels_last:
            parts.append("channels_last")
        if not self.tf32:
            parts.append("no TF32")
        if self.fresh_process:
            parts.append("fresh process")
        if self.mode is Mode.TRAIN:
            parts.append(self.optimizer.value)
        return " · ".join(parts)


Bound = Literal["compute", "memory", "overhead", "none"]


@dataclass(frozen=True)
class LayerCost:
    """Predicted time of one layer (milliseconds per batch) and what bounds it."""

    name: str
    type: str
    forward_ms: float
    backward_ms: float
    bound: Bound
    flops: int
    bytes: int

    @property
    def total_ms(self) -> float:
        """Forward plus backward milliseconds."""
        return self.forward_ms + self.backward_ms


@dataclass(frozen=True)
class MemoryBreakdown:
    """Bytes alive at the memory peak, by what holds them; ``peak`` is their sum.

    - ``weights``: parameters and buffers (plus autocast's low-precision copies alive then).
    - ``gradients``: parameter gradients.
    - ``optimizer_state``: momentum buffers / Adam moments, and the optimizer's temporaries.
    - ``activations``: the input and the activations kept (for backward, or still to be used).
    - ``transient``: tensors being computed at the peak (an output, activation gradients).
    - ``workspace``: cuDNN / cuBLAS workspaces and other framework allocations.
    """

    weights: int = 0
    gradients: int = 0
    optimizer_state: int = 0
    activations: int = 0
    transient: int = 0
    workspace: int = 0

    @property
    def peak(self) -> int:
        """The sum of the parts: bytes allocated at the peak."""
        return (self.weights + self.gradients + self.optimizer_state + self.activations + self.transient
                + self.workspace)


@dataclass(frozen=True)
class CostReport:
    """A cost model's prediction for one network, device and workload."""

    model: str
    cost_model: str
    device: str
    workload: Workload
    memory: MemoryBreakdown
    peak_at: str
    time_ms: float
    layers: tuple[LayerCost, ...] = ()
    optimizer_ms: float = 0.0
    device_memory_bytes: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def peak_memory_bytes(self) -> int:
        """Predicted torch.cuda.max_memory_allocated() of the batch."""
        return self.memory.peak

    @property
    def throughput(self) -> float:
        """Images (samples) per second."""
        return self.workload.batch / (self.time_ms / 1e3) if self.time_ms > 0 else float("inf")

    @property
    def fits(self) -> bool:
        """Whether the peak fits in the device memory (unknown size: assumed to fit)."""
        return not self.device_memory_bytes or self.peak_memory_bytes <= self.device_memory_bytes

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: peak_memory_bytes, time_ms, throughput, breakdown and layers."""
        w = self.workload
        return {
            "model": self.model,
            "cost_model": self.cost_model,
            "device": self.device,
            "mode": w.mode.value,
            "batch": w.batch,
            "dtype": w.dtype.value,
            "amp": w.amp.value if w.amp else None,
            "optimizer": w.optimizer.value if w.mode is Mode.TRAIN else None,
            "channels_last": w.channels_last,
            "memory_format": w.memory_format.value,
            "tf32": w.tf32,
            "fresh_process": w.fresh_process,
            "peak_memory_bytes": self.peak_memory_bytes,
            "memory": {**asdict(self.memory), "peak": self.peak_memory_bytes},
            "peak_at": self.peak_at,
            "device_memory_bytes": self.device_memory_bytes,
            "fits": self.fits,
            "time_ms": self.time_ms,
            "throughput": self.throughput,
            "optimizer_ms": self.optimizer_ms,
            "layers": [{**asdict(lc), "total_ms": lc.total_ms} for lc in self.layers],
            "notes": list(self.notes),
        }


@runtime_checkable
class CostModel(Protocol):
    """What a cost-model plug-in implements (entry-point group ``cnncalc.cost_models``).

    A plug-in is a class (or factory) named by an entry point, e.g. in its pyproject.toml::

        [project.entry-points."cnncalc.cost_models"]
        mymodel = "mypkg.cost:MyModel"

    cnncalc calls it with no arguments and then ``predict`` for each question. ``predict`` gets
    the network as a built graph (``cnncalc.build_graph``: layers in execution order, each with
    its inputs; ``cnncalc.analyse`` gives shapes and counts), a device description and the
    workload, and returns a CostReport. It raises ``cnncalc.UsageError`` for what it cannot
    model. It must not print.
    """

    #: One line saying what the model is, for ``cnncalc cost --list-models``.
    description: ClassVar[str]

    def predict(self, graph: Graph, device: Device, workload: Workload) -> CostReport:
        """Peak memory (with its breakdown) and time per batch of ``graph`` on ``device``."""
        ...
