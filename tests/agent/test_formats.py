"""CRI, docker json-file and plain parsing; property tests for the parsers."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from pharos.agent.formats import (
    CRI,
    DOCKER,
    PLAIN,
    CriParser,
    DockerParser,
    PlainParser,
    detect_format,
    format_rfc3339_ns,
    parse_rfc3339_ns,
)


def feed(parser, lines: list[bytes], start: int = 0):
    out: list = []
    parser.feed(lines, start, out, 7)
    return out


def test_detect() -> None:
    assert detect_format(b"2024-05-01T10:00:00.123456789Z stdout F hello") == CRI
    assert detect_format(b'{"log":"hi\\n","stream":"stderr","time":"2024-05-01T10:00:00.1Z"}') == DOCKER
    assert detect_format(b"127.0.0.1 - - [01/May/2024] GET /") == PLAIN
    assert detect_format(b'{"msg": "json app log"}') == PLAIN


def test_rfc3339() -> None:
    assert parse_rfc3339_ns(b"1970-01-01T00:00:01Z") == 1_000_000_000
    assert parse_rfc3339_ns(b"1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert parse_rfc3339_ns(b"1970-01-01T02:00:01.000000001+02:00") == 1_000_000_001
    assert parse_rfc3339_ns(b"1969-12-31T23:00:00-01:00") == 0
    assert format_rfc3339_ns(1_500_000_000) == "1970-01-01T00:00:01.500000000Z"


def test_cri_fields_and_offsets() -> None:
    lines = [
        b"2024-05-01T10:00:00.000000001Z stdout F first",
        b"2024-05-01T10:00:00.000000002Z stderr F",
        b"2024-05-01T10:00:00.000000003Z stdout F with  two spaces ",
    ]
    out = feed(CriParser(), lines, 100)
    base = parse_rfc3339_ns(b"2024-05-01T10:00:00Z")
    assert out == [
        (base + 1, "stdout", b"first", 100),
        (base + 2, "stderr", b"", 100 + len(lines[0]) + 1),
        (base + 3, "stdout", b"with  two spaces ", 100 + len(lines[0]) + len(lines[1]) + 2),
    ]


def test_cri_partial_longer_than_16k_and_interleaved_streams() -> None:
    big = b"x" * 40_000
    parts = [big[i : i + 16384] for i in range(0, len(big), 16384)]
    lines = [b"2024-05-01T10:00:00.1Z stdout P " + p for p in parts[:-1]]
    lines.insert(1, b"2024-05-01T10:00:00.2Z stderr F between")
    lines.append(b"2024-05-01T10:00:00.3Z stdout F " + parts[-1])
    parser = CriParser()
    out = feed(parser, lines[:2], 0)
    assert [e[2] for e in out] == [b"between"]
    assert parser.pending_start() == 0
    out = feed(parser, lines[2:], sum(len(x) + 1 for x in lines[:2]))
    assert [(e[1], e[2]) for e in out] == [("stdout", big)]
    assert out[0][0] == parse_rfc3339_ns(b"2024-05-01T10:00:00.1Z")
    assert parser.pending_start() is None


def test_cri_max_line_size() -> None:
    out = feed(CriParser(max_line_size=10), [b"2024-05-01T10:00:00Z stdout P " + b"a" * 8] * 3 + [
        b"2024-05-01T10:00:00Z stdout F end"])
    assert out[0][2] == b"a" * 10


def test_cri_garbage_kept_as_line() -> None:
    out = feed(CriParser(), [b"not a cri line at all", b"x"])
    assert [e[2] for e in out] == [b"not a cri line at all", b"x"]


def test_docker_json_and_split_lines() -> None:
    long = "y" * 20_000
    lines = [
        orjson.dumps({"log": "hello\n", "stream": "stdout", "time": "2024-05-01T10:00:00.5Z"}),
        orjson.dumps({"log": long[:16384], "stream": "stderr", "time": "2024-05-01T10:00:01Z"}),
        orjson.dumps({"log": long[16384:] + "\n", "stream": "stderr", "time": "2024-05-01T10:00:01Z"}),
        b"{broken",
    ]
    out = feed(DockerParser(), lines)
    assert out[0][:3] == (parse_rfc3339_ns(b"2024-05-01T10:00:00.5Z"), "stdout", b"hello")
    assert out[1][1:3] == ("stderr", long.encode())
    assert out[2][2] == b"{broken"


def test_plain() -> None:
    out = feed(PlainParser(), [b"a", b"", b"b"], 10)
    assert out == [(7, "", b"a", 10), (7, "", b"b", 13)]


_msg = st.binary(max_size=300).map(lambda b: b.replace(b"\n", b" "))
_entry = st.tuples(
    st.integers(min_value=0, max_value=4_000_000_000 * 10**9),
    st.sampled_from(["stdout", "stderr"]),
    _msg,
    st.lists(st.integers(min_value=1, max_value=50), max_size=4),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_entry, max_size=30))
def test_cri_roundtrip_property(entries) -> None:
    """Rendering entries as CRI lines (split into P parts at random cuts) parses back to the same."""
    lines: list[bytes] = []
    for ts, stream, msg, cuts in entries:
        stamp = format_rfc3339_ns(ts).encode()
        pos = 0
        for cut in sorted(set(cuts)):
            if cut < len(msg):
                lines.append(stamp + b" " + stream.encode() + b" P " + msg[pos:cut])
                pos = cut
        lines.append(stamp + b" " + stream.encode() + b" F " + msg[pos:])
    out = feed(CriParser(), lines)
    assert [(e[0], e[1], e[2]) for e in out] == [(ts, s, m) for ts, s, m, _ in entries]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=4_000_000_000 * 10**9),
                          st.sampled_from(["stdout", "stderr"]), st.text(max_size=200)), max_size=30))
def test_docker_roundtrip_property(entries) -> None:
    """docker json-file records parse back to the same (text, stream, time); newlines split records."""
    lines = [orjson.dumps({"log": text.replace("\n", " ") + "\n", "stream": s, "time": format_rfc3339_ns(ts)})
             for ts, s, text in entries]
    out = feed(DockerParser(), lines)
    assert [(e[0], e[1], e[2]) for e in out] == [(ts, s, t.replace("\n", " ").encode()) for ts, s, t in entries]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=500))
def test_parsers_never_raise(data: bytes) -> None:
    lines = data.split(b"\n")
    for parser in (CriParser(), DockerParser(), PlainParser()):
        feed(parser, lines)
    detect_format(lines[0])
