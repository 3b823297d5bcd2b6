"""Peak device memory of PyTorch eager, by replaying every allocation and free of one batch.

The replay follows what PyTorch keeps (each layer kind says so in cnncalc/layers):

- Before the batch: framework allocations (the cuBLAS / cuBLASLt workspaces of a warm process:
  those of the forward's thread and of autograd's backward thread, whatever the network; with
  ``Workload.fresh_process`` only those this workload's GEMMs create), parameters and buffers, the
  optimizer state of earlier steps (momentum 1×, Adam 2× the parameters), the input batch.
- Forward, layer by layer: the output (unless in place or a view), tensors the layer saves for
  backward (training) or drops at once (inference), the cuDNN workspace of a convolution. A
  tensor is freed after its last use, unless autograd saved it or an enclosing block (a
  PyTorch module's ``forward`` frame) still holds its input. Autocast casts the fp32 input and
  each conv / GEMM weight to the low precision (cached while autograd needs them).
- Training: cross-entropy, then the backward in reverse: activation gradients, parameter
  gradients (fp32), the backward workspaces; saved tensors are released as each layer's backward
  finishes. Then the optimizer step (Adam's foreach step makes one parameter-sized temporary).
- Every allocation is rounded up to the allocator's granularity (512 B on CUDA).

The peak is the largest total alive at any moment; its breakdown says what was alive then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ..analysis import Analysis, Row
from ..graph import INPUT, Graph, Node
from ..layers.base import ElemKind, Kernel, KernelClass, Layer, Saved, numel
from .base import MemoryBreakdown, Mode, Workload
from .devices import Device

#: Kernel classes autocast runs in the low precision (conv, GEMM): their weights get cast copies.
AUTOCAST_CLASSES = frozenset({KernelClass.CONV, KernelClass.CONV_GROUPED, KernelClass.MATMUL})

CATEGORIES = ("weights", "gradients", "optimizer_state", "activations", "transient", "workspace")


@dataclass(frozen=True)
class MemoryResult:
    """The peak, its breakdown, where it happened, and the model's persistent parts."""

    breakdown: MemoryBreakdown
    peak_at: str
    weights_bytes: int  # parameters + buffers + framework allocations, as after model.cuda()


class _Pool:
    """Live allocations by id, with a running total and the largest total seen."""

    def __init__(self, rounding: int) -> None:
        self.rounding = rounding
        self.live: dict[int, tuple[int, str]] = {}
        self.refs: dict[int, int] = defaultdict(int)
        self.by_cat: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
        self.total = 0
        self.peak = -1
        self.peak_cats: dict[str, int] = dict(self.by_cat)
        self.peak_at = ""
        self.where = "start"
        self._next = 0

    def size(self, nbytes: int) -> int:
        """Bytes the allocator hands out for a request: rounded up, never 0."""
        r = self.rounding
        return max(r, -(-nbytes // r) * r)

    def alloc(self, nbytes: int, cat: str, refs: int = 1) -> int:
        self._next += 1
        tid = self._next
        size = self.size(nbytes)
        self.live[tid] = (size, cat)
        self.refs[tid] = refs
        self.by_cat[cat] += size
        self.total += size
        if self.total > self.peak:
            self.peak = self.total
            self.peak_cats = dict(self.by_cat)
            self.peak_at = self.where
        return tid

    def incref(self, tid: int, n: int = 1) -> None:
        self.refs[tid] += n

    def decref(self, tid: int, n: int = 1) -> None:
        if tid not in self.live:
            return
        self.refs[tid] -= n
        if self.refs[tid] <= 0:
            size, cat = self.live.pop(tid)
            self.by_cat[cat] -= size
            self.total -= size

    def scratch(self, nbytes: int, cat: str) -> None:
        """Allocate and free at once (a workspace): it counts only towards the peak."""
        self.decref(self.alloc(nbytes, cat))


def _elem_bytes(elem: ElemKind, float_bytes: int) -> int:
    return {"float": float_bytes, "fp32": 4, "int64": 8, "bool": 1}[elem]


def conv_workspace(kernel: Kernel, in_bytes: int, out_bytes: int, device: Device) -> int:
    """cuDNN workspace of one convolution (cudnn.benchmark off: the heuristics' algorithm),
    ws = a_in·input (windows larger than 1×1) + a_out·output bytes (the device's memory_rules);
    none for grouped convolutions (PyTorch's native kernels).

    The same in either memory format. In NCHW it reads as cuDNN's NHWC copies of input and output;
    channels_last needs no copies, but no measurement shows it allocating less: the peaks measured
    for 16-bit inference (VGG-16 at batch 256: input + output + as much again) are met only with this
    workspace, and the 22 held-out networks of issue 16, 16-bit inference asked as channels_last,
    were met by a model that kept it (only LeNet-5 was far off). So it stays — an upper bound, if
    cuDNN's NHWC kernels do need less."""
    if kernel.cls is not KernelClass.CONV:
        return 0
    rules = device.memory_rules
    a_in = rules.conv_workspace_input if kernel.window > 1 else 0.0
    return int(a_in * in_bytes + rules.conv_workspace_output * out_bytes)


class _Replay:
    def __init__(self, graph: Graph, analysis: Analysis, device: Device, workload: Workload) -> None:
        self.nodes: Sequence[Node] = graph.nodes
        self.rows: Sequence[Row] = analysis.rows
        self.free_params = graph.parameters
        self.extra_inputs = graph.extra_inputs  # a spec's inputs: besides the first
        self.device = device
        self.w = workload
        self.train = workload.mode is Mode.TRAIN
        self.pool = _Pool(device.memory_rules.alloc_rounding)
        self.B = workload.batch
        self.act = workload.compute_dtype.bytes
        self.par = workload.param_dtype.bytes
        self.amp = workload.amp is not None
        # name → storage id of each layer's output; several names share a storage (in place, views)
        self.storage: dict[str, int] = {}
        # names whose output is the un-cast fp32 input (autocast casts it before a conv / GEMM)
        self.full_precision: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------

    def act_bytes(self, shape: tuple[int, ...]) -> int:
        return numel(shape) * self.B * self.act

    def new_bytes(self, s: Saved, float_bytes: int) -> int:
        return s.numel * (self.B if s.per_sample else 1) * _elem_bytes(s.elem, float_bytes)

    @staticmethod
    def autocast(layer: Layer, kernels: Sequence[Kernel]) -> bool:
        return any(k.cls in AUTOCAST_CLASSES for k in kernels)

    # -- phases ----------------------------------------------------------------------------

    def framework(self) -> list[int]:
        """Library allocations alive before the batch: ``framework_bytes``, and per thread that runs
        GEMMs its cuBLAS workspace (plus the cuBLASLt one of the forward's addmm). A warm process
        has run forward and backward GEMMs (two threads, and cuBLASLt) whatever this network is;
        a fresh one only what this workload does: the forward thread's if the network has a GEMM
        (cuBLASLt at batch > 1, where nn.Linear's addmm takes the cuBLASLt path), and in training
        the backward thread's too."""
        rules = self.device.memory_rules
        out = [rules.framework_bytes] if rules.framework_bytes else []
        if not self.w.fresh_process:
            threads, lt = 2, True
        else:
            gemm = any(k.cls is KernelClass.MATMUL for node, row in zip(self.nodes, self.rows)
                       for k in node.layer.kernels(row.inputs, row.output, self.train))
            threads, lt = (1 + self.train if gemm else 0), gemm and self.B > 1
        if rules.cublas_workspace_bytes:
            out.extend([rules.cublas_workspace_bytes] * threads)
        if lt and rules.cublaslt_workspace_bytes:
            out.append(rules.cublaslt_workspace_bytes)
        return out

    def setup(self) -> tuple[list[int], int]:
        """Framework allocations, parameters, buffers, optimizer state, input (and targets)."""
        p = self.pool
        p.where = "model loaded"
        for nbytes in self.framework():
            p.alloc(nbytes, "workspace")
        params: list[int] = []
        for row, node in zip(self.rows, self.nodes):
            if node.shares is not None:  # another layer's tensors, allocated (and stepped) once there
                continue
            for n in node.layer.param_tensors(row.inputs):
                if node.trainable:  # frozen tensors get no gradient and no optimizer state
                    params.append(n)
                p.alloc(n * self.par, "weights")
            for n, elem in node.layer.buffer_tensors(row.inputs):
                p.alloc(n * _elem_bytes(elem, self.par), "weights")
        for fp in self.free_params:  # parameters no layer uses: held, never given a gradient
            p.alloc(fp.params * self.par, "weights")
        weights = p.total
        if self.train:
            for _ in range(self.w.optimizer.state_copies):
                for n in params:
                    p.alloc(n * self.par, "optimizer_state")
        p.where = "input batch"
        # the input batch is in the model's dtype (fp32 under autocast)
        self.storage[INPUT] = p.alloc(numel(self.rows[0].inputs[0]) * self.B * self.par if self.rows else 0,
                                      "activations", refs=1 << 30)  # the caller holds it throughout
        for name, shape in self.extra_inputs:  # held by the caller like the first
            self.storage[name] = p.alloc(numel(shape) * self.B * self.par, "activations", refs=1 << 30)
        if self.amp:
            self.full_precision.add(INPUT)
        if self.train:
            p.alloc(8 * self.B, "activations", refs=1 << 30)  # int64 class targets
        return params, weights

    def forward(self) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        """Run the forward; returns per layer the storages it saved and its autocast weight copies."""
        p, nodes = self.pool, self.nodes
        uses: dict[str, int] = defaultdict(int)
        for node in nodes:
            for i in node.inputs:
                uses[i] += 1
        # a block instance's forward frame holds the block's inputs until its last layer has run
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        members: dict[str, set[str]] = defaultdict(set)
        for k, node in enumerate(nodes):
            for grp in node.groups:
                first.setdefault(grp.name, k)
                last[grp.name] = k
                members[grp.name].add(node.name)
        frame_inputs: dict[str, list[str]] = {
            g: sorted({i for node in nodes[first[g]:last[g] + 1] for i in node.inputs
                       if any(gg.name == g for gg in node.groups) and i not in members[g]})
            for g in first
        }
        opens: dict[int, list[str]] = defaultdict(list)
        closes: dict[int, list[str]] = defaultdict(list)
        for gname in first:
            opens[first[gname]].append(gname)
            closes[last[gname]].append(gname)

        saved: dict[str, list[int]] = {}
        copies: dict[str, list[int]] = {}
        for k, (node, row) in enumerate(zip(nodes, self.rows)):
            layer = node.layer
            p.where = f"forward {node.name}"
            for gname in opens[k]:
                for name in frame_inputs[gname]:
                    p.incref(self.storage[name])
            kernels = layer.kernels(row.inputs, row.output, self.train)
            ins = [self.storage[i] for i in node.inputs]
            keep: list[int] = []
            my_copies: list[int] = []
            lowp = self.amp and self.autocast(layer, kernels)
            casts: list[int] = []
            if lowp:
                for j, name in enumerate(node.inputs):
                    if name in self.full_precision:  # autocast's cast of the fp32 input
                        ins[j] = p.alloc(self.act_bytes(row.inputs[j]), "activations")
                        casts.append(ins[j])
                for n in layer.param_tensors(row.inputs):  # cast weight copies (cached in training)
                    my_copies.append(p.alloc(n * self.act, "weights"))
            storage = layer.output_storage(self.train)
            out = p.alloc(self.act_bytes(row.output), "activations", refs=0) if storage == "new" else ins[0]
            if self.amp and not lowp and node.inputs[0] in self.full_precision:
                self.full_precision.add(node.name)  # autocast leaves it in fp32 until a conv / GEMM
            conv_ws = sum(conv_workspace(kn, self.act_bytes(row.inputs[0]), self.act_bytes(row.output),
                                         self.device) for kn in kernels)
            if conv_ws:
                p.scratch(conv_ws, "workspace")
            if self.train:
                for s in layer.saved_for_backward(row.inputs, row.output):
                    keep.append(self._hold(s, ins, out, p))
            else:
                for s in layer.inference_scratch(row.inputs, row.output):
                    p.scratch(self.new_bytes(s, self.act), "transient")
            act = layer.fused_activation()
            if act is not None:
                if act.output_storage(self.train) == "new":
                    prev = out
                    out = p.alloc(self.act_bytes(row.output), "activations", refs=0)
                    if self.train:
                        keep.extend(self._hold(s, [prev], out, p) for s in act.saved_for_backward(
                            (row.output,), row.output))
                    if p.refs[prev] == 0:
                        p.decref(prev, 0)
                elif self.train:
                    keep.extend(self._hold(s, [out], out, p) for s in act.saved_for_backward(
                        (row.output,), row.output))
            self.storage[node.name] = out
            p.incref(out, uses[node.name] + (1 if k == len(nodes) - 1 else 0))
            if p.refs[out] <= 0:  # nobody reads it (a dead end): gone at once
                p.decref(out, 0)
            for name in node.inputs:
                p.decref(self.storage[name])
            for c in casts:
                p.decref(c)
            if not self.train:
                for c in my_copies:
                    p.decref(c)  # inference mode: no cache, the copy goes after the call
                my_copies = []
            for gname in closes[k]:
                for name in frame_inputs[gname]:
                    p.decref(self.storage[name])
            saved[node.name] = keep
            copies[node.name] = my_copies
        return saved, copies

    def _hold(self, s: Saved, ins: Sequence[int], out: int, p: _Pool) -> int:
        """Take a reference for a saved tensor; allocate it when it is a new one."""
        if s.source == "input":
            p.incref(ins[s.index])
            return ins[s.index]
        if s.source == "output":
            p.incref(out)
            return out
        return p.alloc(self.new_bytes(s, self.act), "activations")

    def backward(self, saved: dict[str, list[int]], copies: dict[str, list[int]]) -> None:
        p, nodes, rows = self.pool, self.nodes, self.rows
        last = nodes[-1]
        classes = numel(rows[-1].output)
        # cross-entropy: log_softmax (fp32 under autocast: a cast copy first) saves its result
        p.where = "loss"
        logits_cast = p.alloc(classes * self.B * 4, "activations") if self.amp else None
        lsm = p.alloc(classes * self.B * (4 if self.amp else self.act), "activations")
        loss = p.alloc(4, "activations")
        p.where = "backward loss"
        g = p.alloc(classes * self.B * (4 if self.amp else self.act), "transient")  # nll_loss backward
        g2 = p.alloc(classes * self.B * (4 if self.amp else self.act), "transient")  # log_softmax backward
        for t in (g, lsm, loss) + ((logits_cast,) if logits_cast else ()):
            p.decref(t)
        if self.amp:
            g3 = p.alloc(classes * self.B * self.act, "transient")
            p.decref(g2)
            g2 = g3
        p.decref(self.storage[last.name])  # the logits: the caller's reference ends with the graph
        grads: dict[str, int] = {last.name: g2}
        needs_grad = {INPUT: False, **{name: False for name, _ in self.extra_inputs}}
        for node in nodes:
            needs_grad[node.name] = True
        for node, row in zip(reversed(nodes), reversed(rows)):
            layer = node.layer
            p.where = f"backward {node.name}"
            gout = grads.pop(node.name, None)
            if gout is None:
                continue
            act = layer.fused_activation()
            if act is not None and not act.grad_passthrough():
                g_new = p.alloc(self.act_bytes(row.output), "transient")
                p.decref(gout)
                gout = g_new
            kernels = layer.kernels(row.inputs, row.output, True)
            for j, name in enumerate(node.inputs):
                if not needs_grad.get(name, True):
                    continue
                if layer.grad_passthrough():
                    p.incref(gout)
                    gin = gout
                else:
                    gin = p.alloc(self.act_bytes(row.inputs[j]), "transient")
                if name in grads:  # a tensor used twice: its gradients are summed
                    total = p.alloc(self.act_bytes(row.inputs[j]), "transient")
                    p.decref(grads[name])
                    p.decref(gin)
                    gin = total
                grads[name] = gin
            ws = sum(conv_workspace(kn, self.act_bytes(row.inputs[0]), self.act_bytes(row.output),
                                    self.device) for kn in kernels)
            if ws:
                p.scratch(int(ws * self.device.memory_rules.conv_workspace_backward), "workspace")
            lowp = self.amp and self.autocast(layer, kernels)
            for n in layer.param_tensors(row.inputs) if node.trainable and node.shares is None else ():
                if lowp:  # the low-precision copy's gradient, cast to the fp32 parameter's
                    tmp = p.alloc(n * self.act, "transient")
                    p.alloc(n * self.par, "gradients")
                    p.decref(tmp)
                else:
                    p.alloc(n * self.par, "gradients")
            p.decref(gout)
            for t in saved.get(node.name, []):
                p.decref(t)
            for t in copies.get(node.name, []):
                p.decref(t)
        for t in grads.values():
            p.decref(t)

    def step(self, params: list[int]) -> None:
        """The optimizer step: foreach Adam makes sqrt(v) for every parameter at once."""
        p = self.pool
        p.where = "optimizer step"
        if self.w.optimizer.state_copies == 2:
            temps = [p.alloc(n * self.par, "optimizer_state") for n in params]
            for t in temps:
                p.decref(t)


def simulate_memory(graph: Graph, analysis: Analysis, device: Device, workload: Workload) -> MemoryResult:
    """Replay one batch (the third training step: optimizer state exists) and return its peak.

    ``analysis`` is the graph analysed at batch 1 (shapes per sample).
    """
    r = _Replay(graph, analysis, device, workload)
    params, weights = r.setup()
    saved, copies = r.forward()
    if r.train and graph.nodes:
        r.backward(saved, copies)
        r.step(params)
    pool = r.pool
    return MemoryResult(MemoryBreakdown(**pool.peak_cats), pool.peak_at, weights)
