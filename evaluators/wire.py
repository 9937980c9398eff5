"""The wire format between the parent and a sandbox child: JSON plus raw numpy buffers, never pickle.

A frame is `>II` (header length, payload length), a UTF-8 JSON header, then the concatenated raw buffers
of the numpy arrays the header references. The decoder is strict: it rebuilds only plain Python values
and base-class numpy arrays of whitelisted dtypes whose declared shape matches the buffer size.
This module is imported by the child harness as a plain script module, so it depends on the stdlib only
(numpy is imported lazily).
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

HEADER = struct.Struct(">II")
DTYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                    "float32", "float64"})
MAX_DEPTH = 64


class WireError(ValueError):
    """A frame that does not follow the wire format (too large, malformed, or of a forbidden type)."""


def _encode_value(value: Any, buffers: list[bytes], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise WireError(f"output nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, (list, tuple)):
        items = [_encode_value(v, buffers, depth + 1) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or k.startswith("__"):
                raise WireError(f"dict keys must be plain strings, got {type(k).__name__} {k!r:.40}")
            out[str(k)] = _encode_value(v, buffers, depth + 1)
        return out
    np = _numpy()
    if np is not None:
        if isinstance(value, np.generic):
            return _encode_value(value.item(), buffers, depth)
        if isinstance(value, np.ndarray):
            arr = np.ascontiguousarray(np.asarray(value).view(np.ndarray))
            dtype = arr.dtype.name
            if dtype not in DTYPES:
                raise WireError(f"numpy dtype {dtype!r} cannot cross the sandbox boundary")
            buffers.append(arr.tobytes())
            return {"__nd__": len(buffers) - 1, "dtype": dtype, "shape": list(arr.shape)}
    raise WireError(f"a value of type {type(value).__name__} cannot cross the sandbox boundary; "
                    "return plain lists, tuples, numbers or numpy arrays")


def encode(value: Any) -> bytes:
    """Serialise `value` into one frame."""
    buffers: list[bytes] = []
    tree = _encode_value(value, buffers, 0)
    header = json.dumps({"v": tree, "b": [len(b) for b in buffers]}, separators=(",", ":"),
                        allow_nan=False).encode()
    payload = b"".join(buffers)
    return HEADER.pack(len(header), len(payload)) + header + payload


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


def decode(frame_body: bytes, header_len: int, *, writable: bool = True) -> Any:
    """Rebuild the value of a frame whose `>II` prefix was already read (body = header + payload).

    With `writable=False` arrays are views of an immutable buffer (they cannot be made writable).
    """
    try:
        header = json.loads(frame_body[:header_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"frame header is not JSON: {exc}") from None
    if not isinstance(header, dict) or set(header) != {"v", "b"} or not isinstance(header["b"], list):
        raise WireError("frame header must be an object with keys 'v' and 'b'")
    sizes = header["b"]
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes):
        raise WireError("buffer sizes must be non-negative integers")
    payload = memoryview(bytes(frame_body[header_len:]))
    if sum(sizes) != len(payload):
        raise WireError("buffer sizes do not add up to the payload")
    buffers, offset = [], 0
    for size in sizes:
        buffers.append(payload[offset:offset + size])
        offset += size
    return _decode_value(header["v"], buffers, 0, writable)


def read_frame(read_exact: Any, max_bytes: int, *, writable: bool = True) -> Any:
    """Read one frame through `read_exact(n) -> bytes` (which must return exactly n bytes or raise)."""
    head = read_exact(HEADER.size)
    header_len, payload_len = HEADER.unpack(head)
    if header_len + payload_len > max_bytes:
        raise WireError(f"frame of {header_len + payload_len} bytes exceeds the {max_bytes}-byte cap")
    return decode(read_exact(header_len + payload_len), header_len, writable=writable)


def _numpy() -> Any:
    import sys

    return sys.modules.get("numpy")
