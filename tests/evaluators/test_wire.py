"""The wire format: plain values and base-class arrays round-trip; everything else is refused."""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import pytest

from evaluators import wire


def roundtrip(value: object, **kw: object) -> object:
    frame = wire.encode(value)
    hlen, _ = wire.HEADER.unpack_from(frame)
    return wire.decode(frame[wire.HEADER.size:], hlen, **kw)  # type: ignore[arg-type]


def raw_frame(header: str | bytes, payload: bytes = b"") -> tuple[bytes, int]:
    head = header.encode() if isinstance(header, str) else header
    return head + payload, len(head)


def test_plain_values_round_trip() -> None:
    value = {"a": [1, 2.5, None, True, "x"], "t": (1, (2, 3)), "big": 10**30}
    assert roundtrip(value) == value
    assert isinstance(roundtrip((1, 2)), tuple)


def test_non_finite_floats_round_trip() -> None:
    out = roundtrip([math.inf, -math.inf, math.nan])
    assert out[0] == math.inf and out[1] == -math.inf and math.isnan(out[2])


def test_arrays_round_trip_with_dtype_and_shape() -> None:
    for dtype in ("bool", "int8", "uint16", "int64", "float32", "float64"):
        arr = (np.arange(12) % 3).astype(dtype).reshape(3, 4)
        out = roundtrip(arr)
        assert type(out) is np.ndarray and out.dtype == arr.dtype and out.shape == (3, 4)
        assert np.array_equal(out, arr)


def test_read_only_decode_gives_arrays_that_cannot_be_made_writable() -> None:
    out = roundtrip(np.arange(4), writable=False)
    with pytest.raises(ValueError):
        out.setflags(write=True)


def test_non_contiguous_array_is_sent_contiguous() -> None:
    arr = np.arange(20).reshape(4, 5)[:, ::2]
    assert np.array_equal(roundtrip(arr), arr)


def test_numpy_scalars_become_python_numbers() -> None:
    out = roundtrip([np.int32(3), np.float64(2.5), np.bool_(True)])
    assert out == [3, 2.5, True]
    assert [type(v) for v in out] == [int, float, bool]


def test_object_dtype_is_refused() -> None:
    with pytest.raises(wire.WireError, match="dtype"):
        wire.encode(np.array([object()], dtype=object))


def test_arbitrary_objects_are_refused() -> None:
    with pytest.raises(wire.WireError, match="cannot cross"):
        wire.encode({"x": {1, 2}})


def test_dict_keys_must_be_plain_strings() -> None:
    with pytest.raises(wire.WireError):
        wire.encode({1: "a"})
    with pytest.raises(wire.WireError):
        wire.encode({"__nd__": 0})


def test_str_subclass_key_is_refused() -> None:
    class Key(str):
        def startswith(self, *a: object) -> bool:  # type: ignore[override]
            return False

    with pytest.raises(wire.WireError):
        wire.encode({Key("__nd__"): 1})


def test_subclasses_are_encoded_through_their_base_class() -> None:
    class Lying(list):  # type: ignore[type-arg]
        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(["forged"])

    class Seven(int):
        def __int__(self) -> int:
            return 0

    class Arr(np.ndarray):
        def view(self, *a: object, **k: object) -> object:  # type: ignore[override]
            raise RuntimeError("never called")

    out = roundtrip([Lying([1, 2]), Seven(7), np.arange(3).view(Arr)])
    assert out[0] == [1, 2] and out[1] == 7
    assert type(out[2]) is np.ndarray and out[2].tolist() == [0, 1, 2]


def test_output_budget_is_enforced_before_copying() -> None:
    with pytest.raises(wire.WireError, match="larger"):
        wire.tree(np.zeros(1 << 20, dtype=np.uint8), max_bytes=1 << 16)


def test_nesting_depth_is_bounded() -> None:
    value: list[object] = []
    for _ in range(wire.MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(wire.WireError, match="deeper"):
        wire.encode(value)


def test_decoder_refuses_invalid_json() -> None:
    with pytest.raises(wire.WireError):
        wire.decode(*raw_frame(b"\xff{not json"))


def test_decoder_refuses_integers_beyond_the_digit_limit() -> None:
    with pytest.raises(wire.WireError):
        wire.decode(*raw_frame('{"v": ' + "9" * 5000 + ', "b": []}'))


def test_decoder_refuses_json_nested_beyond_the_recursion_limit() -> None:
    with pytest.raises(wire.WireError):
        wire.decode(*raw_frame('{"v": ' + "[" * 100000 + "]" * 100000 + ', "b": []}'))


def test_decoder_refuses_arrays_whose_shape_does_not_match_their_bytes() -> None:
    head = json.dumps({"v": {"__nd__": 0, "dtype": "int64", "shape": [3]}, "b": [16]})
    with pytest.raises(wire.WireError, match="does not match"):
        wire.decode(*raw_frame(head, b"\0" * wire.ALIGN))


def test_decoder_refuses_forbidden_dtypes_and_reserved_keys() -> None:
    head = json.dumps({"v": {"__nd__": 0, "dtype": "object", "shape": [1]}, "b": [8]})
    with pytest.raises(wire.WireError, match="not allowed"):
        wire.decode(*raw_frame(head, b"\0" * wire.ALIGN))
    with pytest.raises(wire.WireError, match="reserved"):
        wire.decode(*raw_frame(json.dumps({"v": {"__class__": 1}, "b": []})))


def test_decoder_refuses_payload_sizes_that_do_not_add_up() -> None:
    with pytest.raises(wire.WireError, match="add up"):
        wire.decode(*raw_frame(json.dumps({"v": 1, "b": [4]}), b"\0" * 3))


def test_buffers_start_aligned_in_the_frame() -> None:
    frame = wire.encode([np.arange(3, dtype=np.int8), np.arange(5, dtype=np.float64)])
    hlen, plen = wire.HEADER.unpack_from(frame)
    assert (wire.HEADER.size + hlen) % wire.ALIGN == 0 and plen == 2 * wire.ALIGN


def test_read_frame_refuses_frames_over_the_cap() -> None:
    data = struct.pack(">II", 10, 1 << 30)
    with pytest.raises(wire.WireError, match="cap"):
        wire.read_frame(lambda n: data[:n], 1 << 20)


def _walked(value: object) -> object:
    """decode() of `value` through the strict walk: a sibling string holding a backslash makes the
    header one that the plain-header shortcut never takes (escapes could spell a reserved key)."""
    frame = wire.encode([value, "\\"])
    hlen, _ = wire.HEADER.unpack_from(frame)
    return wire.decode(frame[wire.HEADER.size:], hlen)[0]


@pytest.mark.parametrize("value", [
    None, 3, -2.5, "text", [], {}, [1, [2, [3, "x"]]], {"event": "result", "i": 0, "status": "ok",
                                                          "output": [3, 1, 2, 0], "times_ms": [0.01]},
    {"nested": {"deeper": [{"k": True}, None]}}, "line\nbreak", (1, 2), {"t": (1, [2.0, float("inf")])},
    [[[[[[[[[[1]]]]]]]]]],
])
def test_the_plain_header_shortcut_gives_what_the_walk_gives(value: object) -> None:
    frame = wire.encode(value)
    hlen, _ = wire.HEADER.unpack_from(frame)
    fast = wire.decode(frame[wire.HEADER.size:], hlen)
    assert fast == _walked(value) and type(fast) is type(_walked(value))


def test_the_shortcut_never_skips_a_check_of_the_walk() -> None:
    # a reserved key spelt with escapes, which `"__` does not show
    with pytest.raises(wire.WireError, match="reserved"):
        wire.decode(*raw_frame('{"v": {"\\u005f\\u005fclass__": 1}, "b": []}'))
    assert wire.decode(*raw_frame('{"v": {"\\u005f_tuple__": [1, 2]}, "b": []}')) == (1, 2)
    # nesting beyond MAX_DEPTH, within what json.loads accepts
    deep = "[" * (wire.MAX_DEPTH + 2) + "]" * (wire.MAX_DEPTH + 2)
    with pytest.raises(wire.WireError, match="deeply"):
        wire.decode(*raw_frame('{"v": ' + deep + ', "b": []}'))
    # and as deep as the walk allows still decodes, whichever path it takes
    ok = "[" * wire.MAX_DEPTH + "1" + "]" * wire.MAX_DEPTH
    assert wire.decode(*raw_frame('{"v": ' + ok + ', "b": []}')) == json.loads(ok)


@pytest.mark.parametrize("value", [
    None, 3, -2.5, "text", [], {}, [1, [2, [3, "x"]]], {"ready": True, "isolation": {"namespaces": ["net", "pid"]}},
    {"pid": 12, "wait_status": 0, "cpu_s": 0.0123, "maxrss_kb": 20480}, {"code": "def f(x):\n    return 'é'\n"},
])
def test_plain_encoding_gives_the_frame_of_the_walking_encoder(value: object) -> None:
    """The trusted shortcut (no walk) writes byte for byte what `encode` writes for such values."""
    assert wire.encode_plain(value) == wire.encode(value)


def test_plain_encoding_refuses_what_json_cannot_say_exactly() -> None:
    with pytest.raises(ValueError):
        wire.encode_plain({"x": math.nan})
    with pytest.raises(TypeError):
        wire.encode_plain({"x": np.arange(3)})


class _Int(int):
    def __int__(self) -> int:  # what the walk never calls: it reads the base class's value
        raise AssertionError("candidate code ran in the encoder")


@pytest.mark.parametrize("value", [
    list(range(40)), tuple(range(-5, 5)), [0.5, -1.25, 3.0], [1, 2.0], [True, 1], [1, None], [math.inf, 1.0],
    [1, _Int(7)], [_Int(3)], [2 ** 200, -(2 ** 300)], [[1, 2], [3]], [np.int64(3), 4],
])
def test_the_flat_number_shortcut_encodes_what_the_walk_encodes(value: object) -> None:
    """A plain list or tuple of plain ints or finite floats is encoded by C loops; anything else (bools,
    subclasses, numpy scalars, non-finite floats) still goes through the walk, item by item."""
    items = [wire.tree(v)[0] for v in value]  # type: ignore[attr-defined]  # each item on its own
    walked = items if isinstance(value, list) else {"__tuple__": items}
    fast, _ = wire.tree(value)
    assert json.dumps(fast) == json.dumps(walked)
    assert roundtrip(value) == roundtrip(list(value) if isinstance(value, list) else value)  # type: ignore[arg-type]


def test_the_flat_number_shortcut_keeps_the_walks_limits() -> None:
    with pytest.raises(wire.WireError, match="20001 bits"):
        wire.tree([1, 2 ** 20000])
    with pytest.raises(wire.WireError, match="larger than the sandbox accepts"):
        wire.tree([1] * 100, 500)  # the walk would charge 2 + 100 * 8
    # charged as if every int were as long as the longest, one long int would refuse this list; the
    # walk, item by item, accepts it
    value = [2 ** 300] + [1] * 20
    exact = 2 + 8 + 301 // 3 + 20 * 8
    assert wire.tree(value, exact)[0] == value
