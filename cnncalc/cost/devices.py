"""Device descriptions (peak FLOP/s, memory, calibrated efficiencies) read from YAML files."""

from __future__ import annotations

import difflib
import functools
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import Diagnostic, SpecError, UsageError
from ..layers.base import KernelClass
from ..limits import read_text_limited
from ..source import load_yaml
from ..spec import validation_diagnostics

Precision = Literal["fp32", "tf32", "fp16", "bf16"]

_Frac = float  # documented (0, 1] by Field constraints below


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Peaks(_Strict):
    """Peak dense FLOP/s per math precision (2 FLOPs per multiply-add); None where the device has
    no such unit (then FP32 is used). fp16 / bf16 are tensor-core rates with fp32 accumulation
    where the device has tensor cores."""

    fp32: float = Field(gt=0)
    tf32: float | None = Field(default=None, gt=0)
    fp16: float | None = Field(default=None, gt=0)
    bf16: float | None = Field(default=None, gt=0)


class Efficiency(_Strict):
    """Fractions of the peaks that one class of kernels reaches; ``*_half`` for fp16 / bf16 data
    (default: the fp32 figure; channels_last moves 16-bit data at least as fast as 32-bit).
    ``backward``: backward time / forward time of a memory-bound class, and of depthwise convs
    (conv / GEMM backward are their data- and weight-gradient kernels, the latter at ``wgrad`` ×
    the forward's compute efficiency); ``host`` the CPU time PyTorch spends issuing one such kernel."""

    compute: _Frac = Field(default=0.5, gt=0, le=1)
    #: Host (CPU) seconds per forward kernel of the class in PyTorch eager; None: overheads.host_op_s.
    host: float | None = Field(default=None, ge=0)
    memory: _Frac = Field(default=0.7, gt=0, le=1)
    compute_half: _Frac | None = Field(default=None, gt=0, le=1)
    memory_half: _Frac | None = Field(default=None, gt=0, le=1)
    backward: float = Field(default=2.0, gt=0)
    #: Weight-gradient kernels of convs / GEMMs: this × the forward's compute efficiency.
    wgrad: float = Field(default=1.0, gt=0, le=4)

    def compute_for(self, half: bool) -> float:
        """Compute efficiency for fp32 (False) or 16-bit (True) data."""
        return self.compute_half if half and self.compute_half is not None else self.compute

    def memory_for(self, half: bool) -> float:
        """Memory efficiency for fp32 (False) or 16-bit (True) data."""
        return self.memory_half if half and self.memory_half is not None else self.memory


class Overheads(_Strict):
    """Fixed costs: GPU time per kernel, host (CPU) time per eager operator, optimizer step."""

    kernel_s: float = Field(default=3e-6, ge=0)
    host_op_s: float = Field(default=2e-5, ge=0)
    #: Host seconds of one more kernel launch inside an operator already issued (cudaLaunchKernel).
    host_launch_s: float = Field(default=4e-6, ge=0)
    host_backward_op_s: float = Field(default=3e-5, ge=0)
    host_step_s: float = Field(default=2e-4, ge=0)


class MemoryRules(_Strict):
    """Allocator and library behaviour that decides the peak besides the tensors themselves.

    - ``alloc_rounding``: every allocation is rounded up to a multiple of this (PyTorch's CUDA
      caching allocator: 512 bytes).
    - ``cublas_workspace_bytes``: the cuBLAS workspace PyTorch allocates (through the caching
      allocator, so max_memory_allocated counts it) for each (cuBLAS handle, stream) on its first
      GEMM and keeps; handles are per thread, so the forward (the Python thread) and the backward
      (autograd's device thread) have one each. Default CUBLAS_WORKSPACE_CONFIG: ``:4096:8`` =
      32 MiB on sm90 (Hopper), ``:4096:2:16:8`` = 8 MiB + 128 KiB elsewhere.
    - ``cublaslt_workspace_bytes``: the cuBLASLt workspace of the same handle, made by the first
      GEMM with a bias epilogue (addmm, i.e. nn.Linear at batch > 1): CUBLASLT_WORKSPACE_SIZE,
      1024 KiB by default.
    - ``framework_bytes``: other allocations that live all along (a device file may also give
      the workspaces as one figure here).
    - ``conv_workspace_input`` / ``conv_workspace_output``: a cuDNN convolution in NCHW layout
      takes a workspace of this many times its input (windows larger than 1×1 only) and output
      bytes (layout transforms); ``conv_workspace_backward`` scales it for the backward passes.
    """

    alloc_rounding: int = Field(default=512, ge=1)
    framework_bytes: int = Field(default=0, ge=0)
    cublas_workspace_bytes: int = Field(default=0, ge=0)
    cublaslt_workspace_bytes: int = Field(default=0, ge=0)
    conv_workspace_input: float = Field(default=1.0, ge=0)
    conv_workspace_output: float = Field(default=1.0, ge=0)
    conv_workspace_backward: float = Field(default=1.0, ge=0)


@functools.cache
def _default_efficiency() -> Efficiency:
    """What a device file that does not rate a kernel class gets (one frozen value)."""
    return Efficiency()


class Device(_Strict):
    """One device preset or user file (``cnncalc cost --device path.yaml``)."""

    name: str = Field(min_length=1)
    title: str = ""
    kind: Literal["gpu", "cpu", "soc"] = "gpu"
    memory_bytes: int = Field(gt=0)
    memory_bandwidth: float = Field(gt=0, description="bytes per second")
    peak_flops: Peaks
    #: Tensor cores consume the reduction dimension (C_in per tap) in chunks of this many bytes;
    #: a 3-channel first conv fills 3 of 32 fp32 lanes. 0: no such units.
    tensor_chunk_bytes: float = Field(default=0, ge=0)
    #: The same for channels_last (NHWC) data, where cuDNN pads small channel counts far less
    #: (first-layer kernels for C = 3 or 4); None: as tensor_chunk_bytes.
    tensor_chunk_bytes_nhwc: float | None = Field(default=None, ge=0)
    #: NCHW cuDNN convolutions move their output (and, with a window larger than 1×1, their
    #: input) this many extra times for layout transforms (kernels of their own, at the
    #: elementwise memory efficiency); channels_last avoids it.
    layout_passes: float = Field(default=0.0, ge=0)
    #: A dense convolution's fixed work per output element, in multiply-accumulates at its rate
    #: (implicit-GEMM address arithmetic and epilogue): shallow reductions (C_in·K² small) pay it.
    conv_output_macs: float = Field(default=0.0, ge=0)
    #: GEMMs compute their output rows (batch × positions) in tiles of this many rows: a batch-64
    #: fc fills half a 128-row tile. 0: no such quantisation (the H100 file: cuBLAS picks smaller
    #: tiles or GEMV kernels for small batches, and a 128-row tile put batch-1 fc 128× too slow).
    gemm_tile_rows: int = Field(default=0, ge=0)
    efficiency: dict[KernelClass, Efficiency] = Field(default_factory=dict)
    overheads: Overheads = Overheads()
    memory_rules: MemoryRules = MemoryRules()
    calibrated: str = Field(default="", description="how and from what the efficiencies were fitted")

    def peak(self, precision: Precision) -> float:
        """Peak FLOP/s for a math precision, falling back to the next wider one the device has."""
        p = self.peak_flops
        if precision == "tf32":
            return p.tf32 or p.fp32
        if precision == "fp16":
            return p.fp16 or p.fp32
        if precision == "bf16":
            return p.bf16 or p.fp32
        return p.fp32

    def eff(self, cls: KernelClass) -> Efficiency:
        """The efficiencies of a kernel class (defaults where the file is silent; a copy the file
        does not rate moves memory as an element-wise pass does)."""
        if cls not in self.efficiency and cls is KernelClass.COPY:
            cls = KernelClass.ELEMENTWISE
        found = self.efficiency.get(cls)
        return _default_efficiency() if found is None else found

    def host_s(self, cls: KernelClass) -> float:
        """Host seconds to issue one forward kernel of a class."""
        h = self.eff(cls).host
        return self.overheads.host_op_s if h is None else h


def preset_dir() -> Path:
    """Folder of the built-in device files."""
    return Path(str(resources.files("cnncalc.cost") / "devices"))


def preset_names() -> list[str]:
    """Names of the built-in devices."""
    return sorted(p.stem for p in preset_dir().glob("*.yaml"))


def parse_device(text: str, file: str) -> Device:
    """Validate a device file; problems come back as positioned SpecErrors."""
    doc = load_yaml(text, file)
    if not isinstance(doc.data, dict):
        raise SpecError([Diagnostic(doc.where(()), "a device file must be a mapping (name, memory_bytes, …)")])
    try:
        return Device.model_validate(doc.data)
    except ValidationError as e:
        raise SpecError(validation_diagnostics(e, doc, (), fields=list(Device.model_fields))) from None


def load_device(name_or_path: str) -> Device:
    """A preset by name (``h100``) or a device YAML file by path."""
    p = Path(name_or_path)
    if not p.exists() or p.is_dir():
        cand = preset_dir() / f"{name_or_path}.yaml"
        if not cand.is_file():
            close = difflib.get_close_matches(name_or_path, preset_names(), n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else \
                "; run 'cnncalc devices' to list the presets"
            raise UsageError(f"no device file or preset named '{name_or_path}'{hint}")
        p = cand
        file = f"{name_or_path}.yaml"
    else:
        file = str(p)
    return parse_device(read_text_limited(p, "device file", file=file), file)
