"""Every input limit in one place, each with its reason, and the size-checked file read they all go through."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import Diagnostic, Position, SpecError, UsageError

#: Largest text input (spec, answer sheet, rules, device file, imported or generated spec text).
#: A 200,000-layer spec (MAX_LAYERS) written one flow mapping a line is about 10 MB; the limit
#: leaves room for comments while keeping a parse of the largest allowed file within seconds and
#: far below 1 GB of memory.
MAX_TEXT_BYTES = 16 * 2**20

#: Largest ONNX file. ONNX models carry their weights (VGG-16: 530 MB); protobuf itself cannot
#: parse a message over 2 GiB, so a larger file could never be read anyway.
MAX_ONNX_BYTES = 2 * 2**30

#: Deepest nesting of YAML collections. A spec needs about 6 (blocks → block → layers → entry →
#: list); the limit is far above that and far below what would exhaust Python's (or libyaml's)
#: stack.
MAX_YAML_DEPTH = 64

#: Most values a YAML document may expand to, aliases counted at every use (a "billion laughs"
#: alias bomb hits this the moment its expansion passes it, before anything is copied).
MAX_YAML_NODES = 2_000_000

#: Longest expression in a size field ('2*C + 1'). Real ones are a few dozen characters.
MAX_EXPR_CHARS = 1_000

#: Deepest nesting of an expression (parentheses, unary signs, operator chains). Python's own
#: parser and the evaluator recurse once per level.
MAX_EXPR_DEPTH = 100

#: Largest magnitude of any value inside an expression: integer arithmetic stays cheap and a
#: result converts to a float (the cost model's arithmetic) without overflow.
MAX_EXPR_VALUE = 2**62

#: Largest exponent in ``a ** b``: with MAX_EXPR_VALUE it keeps every power cheap to compute.
MAX_EXPR_EXPONENT = 64

#: Most layers a spec may expand to (blocks and ``repeat`` counted): the analysis of 100,000 layers
#: takes seconds and a few hundred MB; every command stays under 1 GB.
MAX_LAYERS = 100_000

#: Largest ``repeat`` of one entry.
MAX_REPEAT = 100_000

#: Deepest nesting of block instances (a block whose layers use a block …). Expansion recurses once
#: per level; real networks nest 2 or 3 deep.
MAX_BLOCK_DEPTH = 50

#: Longest qualified layer name (``stage1.block2.conv1``): nested block instances prefix their
#: names, so long block names nested deep would otherwise multiply into gigabytes of names.
MAX_NAME_CHARS = 1_000

#: Most points a ``sweep`` may compute (the product of its value lists); each point is a full
#: analysis, and the result is one table row.
MAX_SWEEP_POINTS = 10_000

#: Most layer analyses a ``sweep`` may run (its points × the network's layers): each point
#: analyses every layer again, about 20 µs a layer, so this bounds a sweep to seconds
#: (ResNet-152's 500 layers: 1,000 points; a 50,000-layer network: 10).
MAX_SWEEP_LAYERS = 500_000


#: Most boxes a drawing lays out (``graph``, the report's picture): Graphviz and grandalf take
#: seconds for a thousand boxes and minutes for tens of thousands; --depth folds blocks into one box.
MAX_DRAWN_BOXES = 1_000


def limit_error(what: str, limit: int, unit: str, reason: str) -> str:
    """The one wording of 'over a limit' (every limit message names the limit and why)."""
    return f"{what} exceeds the limit of {limit:,} {unit} ({reason}); see 'Limits' in the README"


def _human(n: int) -> str:
    return f"{n // 2**20:,} MiB" if n >= 2**20 and n % 2**20 == 0 else f"{n:,} bytes"


#: (device, inode) of every file read as input by this process: write_atomic never replaces one.
#: A registry like the layer kinds: filled as inputs are read, only ever added to.
_INPUTS: set[tuple[int, int]] = set()


def is_input(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file this process read as input (the spec, a sheet, a device file…)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) in _INPUTS


def _remember(st: os.stat_result) -> None:
    if stat.S_ISREG(st.st_mode):
        _INPUTS.add((st.st_dev, st.st_ino))


def read_bytes_limited(path: str | os.PathLike[str], what: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of ``path``, refusing anything over ``limit`` without reading it whole.

    A regular file is measured before it is opened for reading; a device, FIFO or ``/dev/zero`` is
    read at most ``limit`` + 1 bytes. Directories and unreadable paths are UsageErrors.
    """
    p = Path(path)
    try:
        with open(p, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise UsageError(f"cannot read {what} {p}: it is a folder")
            _remember(st)
            if stat.S_ISREG(st.st_mode) and st.st_size > limit:
                raise UsageError(f"{what} {p} is {_human(st.st_size)}; "
                                 + limit_error("it", limit, "bytes", "inputs are read whole"))
            data = f.read(limit + 1)
    except IsADirectoryError:
        raise UsageError(f"cannot read {what} {p}: it is a folder") from None
    except FileNotFoundError:
        raise UsageError(f"no such file: {p}") from None
    except OSError as e:
        raise UsageError(f"cannot read {what} {p}: {e.strerror or e}") from None
    if len(data) > limit:
        raise UsageError(f"{what} {p} is larger than {_human(limit)}; "
                         + limit_error("it", limit, "bytes", "inputs are read whole"))
    return data


def check_file(path: str | os.PathLike[str], what: str, limit: int) -> None:
    """UsageError unless ``path`` is a regular file of at most ``limit`` bytes (for readers that open it themselves)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise UsageError(f"cannot read {what} {p}: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"cannot read {what} {p}: not a regular file")
    _remember(st)
    if st.st_size > limit:
        raise UsageError(f"{what} {p} is {_human(st.st_size)}; "
                         + limit_error("it", limit, "bytes", "larger files cannot be parsed"))


def decode_utf8(data: bytes, file: str, encoding: str = "utf-8") -> str:
    """``data`` decoded as UTF-8 (``utf-8-sig`` drops a BOM); a bad byte is a SpecError at its line:column."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        start = data.rfind(b"\n", 0, e.start) + 1
        col = len(data[start:e.start].decode("utf-8", errors="replace")) + 1
        bad = data[e.start:e.end].hex(" ")
        raise SpecError([Diagnostic(Position(file, line, col),
                                    f"not UTF-8 text: byte 0x{bad} cannot be decoded; save the file as UTF-8")]) from None


def read_text_limited(path: str | os.PathLike[str], what: str, limit: int = MAX_TEXT_BYTES,
                      *, file: str | None = None, encoding: str = "utf-8") -> str:
    """The UTF-8 text of ``path`` (``what`` names it in messages: 'spec', 'answer sheet', …).

    Over ``limit`` bytes (checked before reading; /dev/zero stops at the limit) is a UsageError; a
    byte that is not UTF-8 is a SpecError at ``file`` (default: the path) line:column.
    """
    return decode_utf8(read_bytes_limited(path, what, limit), file or str(path), encoding)


def check_text_size(text: str, what: str, limit: int = MAX_TEXT_BYTES) -> None:
    """The same size limit for text that did not come from a file (an importer's or a factory's output)."""
    if len(text) > limit or (4 * len(text) > limit and len(text.encode("utf-8", "surrogatepass")) > limit):
        raise UsageError(f"{what} is larger than {_human(limit)}; "
                         + limit_error("it", limit, "bytes", "inputs are read whole"))


#: Largest count (MACs, ops, bytes, parameters, times the batch) the cost model and the plots take:
#: they compute in floating point, whose range ends near 1.8·10^308; the margin covers their products.
MAX_FLOAT_COUNT = 10**250


def check_float_range(counts: dict[str, int], what: str) -> None:
    """UsageError naming the first of ``counts`` too large for the floating-point arithmetic of ``what``.

    Exact counts are integers of any size (tables print them whole); a cost model or a chart needs floats.
    """
    for name, n in counts.items():
        if abs(n) > MAX_FLOAT_COUNT:
            raise UsageError(f"{what} computes in floating point, and {name} ≈ 10^{len(str(abs(n))) - 1} is beyond its range "
                             f"(the limit is 10^{len(str(MAX_FLOAT_COUNT)) - 1}); the exact counts are in "
                             "'cnncalc table'")
