"""The wire format between the parent and a sandbox child: JSON plus raw numpy buffers, never pickle.

A frame is `>II` (header length, payload length), a UTF-8 JSON header, then the raw buffers of the numpy
arrays the header references, each padded to a multiple of `ALIGN` bytes; the header is padded with
spaces so that the payload starts `ALIGN`-aligned too (arrays decoded in place from a mapping are then
aligned, so numpy takes the same code paths, and gives the same sums, as on the parent's copy). The decoder is strict: it rebuilds only plain Python values
and base-class numpy arrays of whitelisted dtypes whose declared shape matches the buffer size.
The encoder reads values through the base classes' own methods, so an object that overrides `__iter__`,
`__int__`, `view`… cannot run code or change what is sent while it is encoded.
This module is imported by the child harness as a plain script module, so it depends on the stdlib only
(numpy is used only when it is already imported).
"""

from __future__ import annotations

import json
import math
import struct
import sys
from typing import Any

HEADER = struct.Struct(">II")
DTYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                    "float32", "float64"})
MAX_DEPTH = 64
#: integers beyond this many bits do not fit the JSON text the decoder accepts (4300 digits)
MAX_INT_BITS = 14_000
ALIGN = 64
_ZEROS = bytes(ALIGN)


def _padding(n: int) -> int:
    return -n % ALIGN


class WireError(ValueError):
    """A frame that does not follow the wire format (too large, malformed, or of a forbidden type)."""


class _Budget:
    __slots__ = ("left",)

    def __init__(self, limit: int | None) -> None:
        self.left = limit if limit is not None else -1

    def spend(self, n: int) -> None:
        if self.left < 0:
            return
        self.left -= n
        if self.left < 0:
            raise WireError("the output is larger than the sandbox accepts")


def _encode_value(value: Any, buffers: list[Any], depth: int, budget: _Budget) -> Any:
    if depth > MAX_DEPTH:
        raise WireError(f"output nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if value is None or kind is bool:
        return value
    if issubclass(kind, str):
        text = str.__str__(value)
        budget.spend(len(text))
        return text
    if issubclass(kind, int) and kind is not bool:
        number = int.__int__(value)
        bits = number.bit_length()
        if bits > MAX_INT_BITS:
            raise WireError(f"an integer of {bits} bits cannot cross the sandbox boundary (at most "
                            f"{MAX_INT_BITS} bits, about 4200 digits); return it as a string or an array")
        budget.spend(8 + bits // 3)
        return number
    if issubclass(kind, float):
        real = float.__float__(value)
        budget.spend(8)
        return real if math.isfinite(real) else {"__float__": repr(real)}
    if kind is list or kind is tuple:
        flat = _flat_numbers(value, budget)
        if flat is not None:
            return flat if kind is list else {"__tuple__": flat}
    if issubclass(kind, (list, tuple)):
        items = list.__iter__(value) if issubclass(kind, list) else tuple.__iter__(value)
        budget.spend(2)
        out = [_encode_value(v, buffers, depth + 1, budget) for v in items]
        return out if issubclass(kind, list) else {"__tuple__": out}
    if issubclass(kind, dict):
        tree = {}
        for k, v in dict.items(value):
            if type(k) is not str or k.startswith("__"):
                raise WireError(f"dict keys must be plain strings not starting with '__', got "
                                f"{type(k).__name__} {str(k)[:40]!r}")
            budget.spend(len(k) + 4)
            tree[k] = _encode_value(v, buffers, depth + 1, budget)
        return tree
    np = sys.modules.get("numpy")
    if np is not None:
        if issubclass(kind, np.ndarray):
            arr = np.ndarray.view(value, np.ndarray)
            dtype = arr.dtype.name
            if dtype not in DTYPES:
                raise WireError(f"numpy dtype {dtype!r} cannot cross the sandbox boundary")
            budget.spend(int(arr.nbytes) + 64)
            flat = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
            buffers.append(memoryview(flat))
            return {"__nd__": len(buffers) - 1, "dtype": dtype, "shape": list(arr.shape)}
        if issubclass(kind, np.generic):
            return _encode_value(np.generic.item(value), buffers, depth, budget)
    raise WireError(f"a value of type {kind.__name__} cannot cross the sandbox boundary; "
                    "return plain lists, tuples, dicts, numbers, strings or numpy arrays")


def _flat_numbers(items: list[Any] | tuple[Any, ...], budget: _Budget) -> list[Any] | None:
    """A plain list or tuple of plain ints, or of finite plain floats (the common output: an order, a
    vector), encoded with C loops instead of a call per item; None for anything else, which the walk
    then encodes (and checks) item by item. Exact types only: no subclass method can run. The budget
    is charged what the walk would charge at most (every int as long as the longest); a list that
    would pass the budget only item by item goes to the walk."""
    if not items:
        return None
    kinds = set(map(type, items))
    if kinds == _INTS:
        bits = max(max(items).bit_length(), min(items).bit_length())
        if bits > MAX_INT_BITS:
            return None  # the walk names the offending integer
        cost = 2 + len(items) * (8 + bits // 3)
    elif kinds == _FLOATS and all(map(math.isfinite, items)):
        cost = 2 + len(items) * 8
    else:
        return None
    if 0 <= budget.left < cost:
        return None
    budget.spend(cost)
    return list(items)


_INTS, _FLOATS = {int}, {float}


def tree(value: Any, max_bytes: int | None = None) -> tuple[Any, list[Any]]:
    """Turn `value` into a JSON-able tree and the raw buffers it references (no copy of array data)."""
    buffers: list[Any] = []
    return _encode_value(value, buffers, 0, _Budget(max_bytes)), buffers


def pack(encoded: Any, buffers: list[Any]) -> list[Any]:
    """The pieces of one frame for an already encoded tree: prefix + header, then each raw buffer."""
    header = json.dumps({"v": encoded, "b": [len(b) for b in buffers]}, separators=(",", ":"),
                        allow_nan=False).encode()
    header += b" " * _padding(HEADER.size + len(header))
    pieces: list[Any] = []
    for b in buffers:
        pieces.append(b)
        if _padding(len(b)):
            pieces.append(_ZEROS[:_padding(len(b))])
    return [HEADER.pack(len(header), sum(len(p) for p in pieces)) + header, *pieces]


def encode(value: Any, max_bytes: int | None = None) -> bytes:
    """Serialise `value` into one frame."""
    return b"".join(bytes(p) for p in pack(*tree(value, max_bytes)))


def encode_plain(value: Any) -> bytes:
    """One frame of a trusted value made of dicts, lists, strings, finite numbers, booleans and None.

    For the harness's own messages (a job, the zygote's replies), which hold nothing else: the value
    goes to `json.dumps` as it is, without the walk that `encode` makes to keep tuples, non-finite
    floats and arrays apart and to read untrusted values safely (about a fifth of its time). A tuple
    would arrive as a list, so a value that may hold one goes through `encode`.
    """
    header = json.dumps({"v": value, "b": []}, separators=(",", ":"), allow_nan=False).encode()
    header += b" " * _padding(HEADER.size + len(header))
    return HEADER.pack(len(header), 0) + header


def _decode_value(node: Any, buffers: list[memoryview], depth: int, writable: bool) -> Any:
    if depth > MAX_DEPTH:
        raise WireError("frame nested too deeply")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode_value(v, buffers, depth + 1, writable) for v in node]
    if isinstance(node, dict):
        if "__tuple__" in node:
            items = node["__tuple__"]
            if not isinstance(items, list) or len(node) != 1:
                raise WireError("malformed tuple node")
            return tuple(_decode_value(v, buffers, depth + 1, writable) for v in items)
        if "__float__" in node:
            text = node["__float__"]
            if text not in ("nan", "inf", "-inf") or len(node) != 1:
                raise WireError("malformed float node")
            return float(text)
        if "__nd__" in node:
            return _decode_array(node, buffers, writable)
        if any(k.startswith("__") for k in node):
            raise WireError("dict keys starting with '__' are reserved")
        return {str(k): _decode_value(v, buffers, depth + 1, writable) for k, v in node.items()}
    raise WireError(f"unexpected JSON node {type(node).__name__}")


def _decode_array(node: dict[str, Any], buffers: list[memoryview], writable: bool) -> Any:
    import numpy as np

    if set(node) != {"__nd__", "dtype", "shape"}:
        raise WireError("malformed array node")
    idx, dtype, shape = node["__nd__"], node["dtype"], node["shape"]
    if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(buffers):
        raise WireError("array node points at no buffer")
    if dtype not in DTYPES:
        raise WireError(f"array dtype {dtype!r} is not allowed")
    if (not isinstance(shape, list) or len(shape) > 32
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
        raise WireError("array shape must be a list of non-negative integers")
    dt = np.dtype(dtype)
    count = math.prod(shape)
    buf = buffers[idx]
    if count * dt.itemsize != len(buf):
        raise WireError(f"array of shape {shape} and dtype {dtype} does not match its {len(buf)} bytes")
    arr = np.frombuffer(buf, dtype=dt).reshape(shape)
    return arr.copy() if writable else arr


def decode(frame_body: Any, header_len: int, *, writable: bool = True, max_items: int | None = None) -> Any:
    """Rebuild the value of a frame whose `>II` prefix was already read (body = header + payload).

    With `writable=False` arrays are views of the body, which must then be immutable (bytes or a
    read-only mapping): such arrays cannot be made writable. `max_items` bounds the values the JSON
    header may hold before it is parsed (see `count_items`), so a forged frame costs the decoder at most
    a small multiple of its size.
    """
    body = memoryview(frame_body)
    text = bytes(body[:header_len])
    if max_items is not None:
        items = count_items(text)
        if items > max_items:
            raise WireError(f"the frame holds about {items} values, more than the {max_items} the sandbox "
                            "decodes (Limits.max_output_items); return large data as numpy arrays")
    try:
        header = json.loads(text)
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, digits over the limit, deep nesting
        raise WireError(f"frame header is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(header, dict) or set(header) != {"v", "b"} or not isinstance(header["b"], list):
        raise WireError("frame header must be an object with keys 'v' and 'b'")
    sizes = header["b"]
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes):
        raise WireError("buffer sizes must be non-negative integers")
    payload = body[header_len:]
    if not payload.readonly:
        payload = memoryview(bytes(payload))
    if sum(s + _padding(s) for s in sizes) != len(payload):
        raise WireError("buffer sizes do not add up to the payload")
    if not sizes and _plain(text):
        return header["v"]  # what the walk would rebuild, as json.loads gave it
    buffers, offset = [], 0
    for size in sizes:
        buffers.append(payload[offset:offset + size])
        offset += size + _padding(size)
    return _decode_value(header["v"], buffers, 0, writable)


def count_items(header: bytes) -> int:
    """An upper bound on the values a JSON text holds: each needs a separator or an opening bracket.

    Counted with C loops over the bytes (about 1 ms per 10 MB) before `json.loads` builds any object:
    a value costs the parser up to ~60 bytes of objects, so this bound is what keeps its memory a small
    multiple of the frame, whatever the frame's shape.
    """
    return header.count(b",") + header.count(b"[") + header.count(b"{") + 1


def _plain(header: bytes) -> bool:
    """Whether a header's JSON is plain values only, which `_decode_value` would return unchanged.

    A reserved `__` key (tuple, non-finite float, array, or a refused one) shows as `"__`, unless it is
    spelt with escapes, so a header with a backslash is walked too; and a header with at most MAX_DEPTH
    brackets besides its own two cannot nest deeper than the walk allows. Most frames are plain (the
    events of a candidate, the zygote's replies) and skip the walk, about half of their decoding time.
    """
    return b'"__' not in header and b"\\" not in header \
        and header.count(b"[") + header.count(b"{") <= MAX_DEPTH + 2


def read_frame(read_exact: Any, max_bytes: int, *, writable: bool = True) -> Any:
    """Read one frame through `read_exact(n) -> bytes` (which must return exactly n bytes or raise)."""
    head = read_exact(HEADER.size)
    header_len, payload_len = HEADER.unpack(head)
    if header_len + payload_len > max_bytes:
        raise WireError(f"frame of {header_len + payload_len} bytes exceeds the {max_bytes}-byte cap")
    return decode(read_exact(header_len + payload_len), header_len, writable=writable)
