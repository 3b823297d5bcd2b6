"""The PyTorch importer's handlers for token models: permutes, reshapes, attention, class token, embeddings.

Mixed into the importer of :mod:`cnncalc.importers.torch` (which owns tracing, naming and
``emit``); shapes there include the batch dimension (always 1), the layers' shapes do not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


class Unsupported(Exception):
    """An operation without a cnncalc kind; the reason is kept for the message."""


def _dims(args: Sequence[Any]) -> list[int]:
    """permute(0, 2, 1) or permute([0, 2, 1]) → [0, 2, 1]."""
    if len(args) == 1 and isinstance(args[0], Sequence):
        return [int(a) for a in args[0]]
    return [int(a) for a in args]


class TokenHandlers:
    """Handlers ``_m_<Module>`` / ``_f_<function>`` for what sequence and window-attention models use."""

    shapes: dict[Any, Any]
    live: dict[Any, Any]
    gm: Any
    used_params: set[str]  # free parameters a layer uses (not left over as ``parameters:``)

    def emit(self, node: Any, kind: str, fields: dict[str, Any], inputs: Sequence[Any], tag: str) -> None:
        raise NotImplementedError  # the importer's

    def alias(self, node: Any, source: Any) -> None:
        raise NotImplementedError  # the importer's

    def x(self, node: Any) -> Any:
        raise NotImplementedError  # the importer's

    # -- views ------------------------------------------------------------------------------

    def _permute(self, node: Any, perm: Sequence[int]) -> None:
        s = self.shapes[self.x(node)]
        perm = [p % len(s) for p in perm]
        if sorted(perm) != list(range(len(s))):
            raise Unsupported(f"permute {perm} of a {len(s)}-dimensional tensor")
        if perm[0] != 0:
            raise Unsupported(f"permute {perm} moves the batch dimension")
        if perm == sorted(perm):
            self.alias(node, self.x(node))
            return
        self.emit(node, "permute", {"dims": [p - 1 for p in perm[1:]]}, [self.x(node)], "permute")

    def _f_permute(self, node: Any) -> None:
        dims = node.kwargs.get("dims")
        self._permute(node, _dims([dims] if dims is not None else node.args[1:]))

    def _f_transpose(self, node: Any) -> None:
        n = len(self.shapes[self.x(node)])
        a, b = (int(d) % n for d in node.args[1:3])
        perm = list(range(n))
        perm[a], perm[b] = perm[b], perm[a]
        self._permute(node, perm)

    def reshape(self, node: Any) -> None:
        """Any reshape that keeps the batch dimension: a ``reshape`` layer to the traced shape."""
        s, o = self.shapes[self.x(node)], self.shapes[node]
        if o[0] != s[0] or math.prod(o) != math.prod(s):
            raise Unsupported(f"reshape from {list(s)} to {list(o)} (the batch dimension must stay)")
        self.emit(node, "reshape", {"shape": list(o[1:])}, [self.x(node)], "reshape")

    # -- stochastic depth, patch merging -------------------------------------------------------

    def _f_stochastic_depth(self, node: Any) -> None:
        p = float(node.kwargs.get("p", node.args[1] if len(node.args) > 1 else 0.0))
        mode = node.kwargs.get("mode", node.args[2] if len(node.args) > 2 else "row")
        self.emit(node, "stochastic_depth", {"p": p or None, "mode": None if mode == "row" else mode},
                  [self.x(node)], "stochastic_depth")

    def _f_patch_merging_pad(self, node: Any) -> None:
        self.emit(node, "patch_merge", {}, [self.x(node)], "patch_merge")

    # -- attention ------------------------------------------------------------------------------

    def _m_MultiheadAttention(self, node: Any, m: Any) -> None:
        q = node.args[0] if node.args else node.kwargs.get("query")
        k = node.args[1] if len(node.args) > 1 else node.kwargs.get("key")
        v = node.args[2] if len(node.args) > 2 else node.kwargs.get("value")
        if not (q is k is v):
            raise Unsupported("attention whose query, key and value differ (only self-attention is a layer)")
        if not m.batch_first:
            raise Unsupported("batch_first=False (the sequence dimension would come first)")
        if m.bias_k is not None or m.add_zero_attn or not m._qkv_same_embed_dim:
            raise Unsupported("add_bias_kv, add_zero_attn or kdim/vdim ≠ embed_dim")
        if any(a is not None for a in (node.kwargs.get("key_padding_mask"), node.kwargs.get("attn_mask"))):
            raise Unsupported("an attention mask")
        out = self.shapes[node]
        if isinstance(out, tuple) and out and isinstance(out[0], tuple):
            self.shapes[node] = out[0]  # (output, weights or None): the output
        self.emit(node, "attention", {"heads": m.num_heads, "bias": None if m.in_proj_bias is not None else False},
                  [q], "attention")

    def _m_RelativePositionalMultiHeadAttention(self, node: Any, m: Any) -> None:
        """torchvision's MaxViT attention: per window or grid cell, with a relative position bias."""
        if m.n_heads * m.head_dim != m.to_qkv.in_features:
            raise Unsupported("heads × head_dim ≠ features")
        self.emit(node, "attention", {"heads": m.n_heads, "relative_bias": True}, [self.x(node)], "attention")

    def _m_SelfAttention(self, node: Any, m: Any) -> None:
        """``cnncalc torch``'s helper for ``attention``: nn.MultiheadAttention's projections as
        qkv / proj Linears over the last two axes; ``window`` s is MaxViT's relative bias."""
        if (m.qkv.bias is None) != (m.proj.bias is None):
            raise Unsupported("a bias on one projection only")
        self.emit(node, "attention", {"heads": m.heads, "bias": None if m.qkv.bias is not None else False,
                                      "relative_bias": True if m.window else None}, [self.x(node)], "attention")

    def _m_ShiftedWindowAttention(self, node: Any, m: Any) -> None:
        v2 = hasattr(m, "cpb_mlp")
        fields: dict[str, Any] = {"heads": m.num_heads, "window": list(m.window_size),
                                  "shift": list(m.shift_size) if any(m.shift_size) else None,
                                  "version": 2 if v2 else None}
        if v2:
            fields["cpb_hidden"] = None if m.cpb_mlp[0].out_features == 512 else m.cpb_mlp[0].out_features
        if (m.qkv.bias is None) != (m.proj.bias is None):
            raise Unsupported("a bias on one projection only")
        fields["bias"] = None if m.qkv.bias is not None else False
        self.emit(node, "window_attention", fields, [self.x(node)], "attention")

    _m_ShiftedWindowAttentionV2 = _m_ShiftedWindowAttention

    # -- group / instance norm, pixel shuffles ---------------------------------------------------

    def _m_GroupNorm(self, node: Any, m: Any) -> None:
        self.emit(node, "groupnorm", {"groups": m.num_groups, "affine": None if m.affine else False,
                                      "eps": None if m.eps == 1e-5 else m.eps}, [self.x(node)], "groupnorm")

    def _m_InstanceNorm2d(self, node: Any, m: Any) -> None:
        self.emit(node, "instancenorm", {"affine": True if m.affine else None,
                                         "track_running_stats": True if m.track_running_stats else None,
                                         "eps": None if m.eps == 1e-5 else m.eps}, [self.x(node)], "instancenorm")

    def _m_PixelShuffle(self, node: Any, m: Any) -> None:
        self.emit(node, "pixel_shuffle", {"factor": m.upscale_factor}, [self.x(node)], "pixel_shuffle")

    def _m_PixelUnshuffle(self, node: Any, m: Any) -> None:
        self.emit(node, "pixel_unshuffle", {"factor": m.downscale_factor}, [self.x(node)], "pixel_unshuffle")

    # -- class token, position embedding, token selection -----------------------------------------

    def parameter(self, node: Any) -> Any:
        """The parameter a node reads (directly or through expand/repeat/broadcast), or None."""
        while node.op in ("call_method", "call_function") and \
                getattr(node.target, "__name__", node.target) in ("expand", "repeat", "expand_as"):
            node = node.args[0]
        if node.op != "get_attr":
            return None
        try:
            return self.gm.get_parameter(node.target)
        except AttributeError:
            return None

    def use_parameter(self, node: Any) -> None:
        """Mark the parameter a node reads (see ``parameter``) as used by a layer."""
        while node.op in ("call_method", "call_function") and \
                getattr(node.target, "__name__", node.target) in ("expand", "repeat", "expand_as"):
            node = node.args[0]
        if node.op == "get_attr":
            self.used_params.add(str(node.target))

    def class_token(self, node: Any, xs: Sequence[Any], dim: int) -> bool:
        """cat([token.expand(N, -1, -1), x], dim=1) on a sequence: a class_token layer."""
        if len(xs) != 2 or xs[1] not in self.live or xs[0] in self.live:
            return False
        s = self.shapes[xs[1]]
        p = self.parameter(xs[0])
        if p is None or len(s) != 3 or dim % 3 != 1 or tuple(p.shape) != (1, 1, s[2]):
            return False
        self.emit(node, "class_token", {}, [xs[1]], "class_token")
        self.use_parameter(xs[0])
        return True

    def pos_embedding(self, node: Any, xs: Sequence[Any]) -> bool:
        """x + P with P a parameter of x's shape: a pos_embedding layer."""
        live = [x for x in xs if x in self.live]
        const = [x for x in xs if x not in self.live]
        if len(live) != 1 or len(const) != 1:
            return False
        p = self.parameter(const[0])
        if p is None or tuple(p.shape) != tuple(self.shapes[live[0]]):
            return False
        self.emit(node, "pos_embedding", {}, live, "pos_embedding")
        self.use_parameter(const[0])
        return True

    def select_token(self, node: Any, base: Any, index: Any) -> bool:
        """x[:, i] on a sequence [N, L, E]: a select_token layer."""
        if base not in self.live or not isinstance(index, tuple) or len(index) != 2 or index[0] != slice(None) \
                or not isinstance(index[1], int) or len(self.shapes[base]) != 3:
            return False
        i = index[1] % self.shapes[base][1]
        self.emit(node, "select_token", {"index": i or None}, [base], "select_token")
        return True

    def first_output(self, node: Any, base: Any, index: Any) -> bool:
        """out[0] of a layer that returns (output, extra), as nn.MultiheadAttention does; an
        extra that nothing reads (``x, _ = attn(...)``) is no layer."""
        if not isinstance(index, int) or not isinstance(self.live.get(base), int) or base.op != "call_module":
            return False
        if index == 0:
            self.alias(node, base)
            return True
        return not node.users


def uncalled_modules(model: Any, gm: Any) -> list[tuple[str, int, int]]:
    """Modules whose parameters and buffers no traced operation uses (GoogLeNet's auxiliary
    classifiers in eval): (path, parameter elements, buffer elements), outermost modules only."""
    used: set[str] = set()
    for node in gm.graph.nodes:
        if node.op in ("call_module", "get_attr"):
            used.add(str(node.target))

    def is_used(name: str) -> bool:
        parts = name.split(".")
        return any(".".join(parts[:k]) in used for k in range(1, len(parts) + 1))

    tensors = [(n, p.numel(), 0) for n, p in model.named_parameters()] + \
              [(n, 0, b.numel()) for n, b in model.named_buffers()]
    unused = [(n, p, b) for n, p, b in tensors if not is_used(n)]
    if not unused:
        return []
    usedish = {n for n, _, _ in tensors if is_used(n)}
    out: dict[str, list[int]] = {}
    for name, p, b in unused:
        parts = name.split(".")
        # the outermost module of this tensor that holds nothing used
        top = name
        for k in range(1, len(parts)):
            prefix = ".".join(parts[:k])
            if not any(u == prefix or u.startswith(prefix + ".") for u in usedish):
                top = prefix
                break
        acc = out.setdefault(top, [0, 0])
        acc[0] += p
        acc[1] += b
    return [(k, v[0], v[1]) for k, v in out.items()]
