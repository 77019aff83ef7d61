"""In-process checks of the door: the Authorization header parser accepts exactly the configured
credentials (property tests), and bounded decompression round-trips or refuses, never more."""

from __future__ import annotations

import base64
import gzip

import cramjam
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pharos.config.model import BasicAuth, ServerConfig
from pharos.server.inflate import InflateError, inflate
from pharos.server.security import credentials

CREDS = credentials(
    ServerConfig(basic_auth=BasicAuth(username="alice", password="pw:with:colons"), bearer_token="tok")
)
GOOD = {"bearer tok", "basic " + base64.b64encode(b"alice:pw:with:colons").decode()}
COMPRESS = {
    "gzip": gzip.compress,
    "zstd": cramjam.zstd.compress,
    "deflate": cramjam.zlib.compress,
    "snappy": cramjam.snappy.compress_raw,
}


@given(
    st.text() | st.sampled_from(["BEARER tok", " Bearer   tok ", "Bearer tok2", "Bearer", "Basic YWxpY2U6"])
)
def test_only_the_configured_credentials_pass(header: str) -> None:
    assert CREDS.accepts(header) == (_normalised(header) in GOOD)


def _normalised(header: str) -> str:
    """The scheme in lower case and one space before the value (how the header is read)."""
    scheme, _, value = header.strip().partition(" ")
    return f"{scheme.lower()} {value.strip()}"


@given(st.binary(max_size=64), st.sampled_from(["Basic ", "Bearer ", "basic ", ""]))
def test_arbitrary_encoded_values_never_raise(raw: bytes, scheme: str) -> None:
    header = scheme + base64.b64encode(raw).decode()
    assert CREDS.accepts(header) == (raw == b"alice:pw:with:colons" and scheme.lower() == "basic ")


def test_without_configuration_nothing_is_required() -> None:
    assert not credentials(ServerConfig()).required


@pytest.mark.parametrize("codec", sorted(COMPRESS))
@given(data=st.binary(max_size=4096))
def test_inflate_round_trips_within_the_limit(codec: str, data: bytes) -> None:
    packed = bytes(COMPRESS[codec](data))
    assert inflate(packed, codec, limit=len(data)) == data
    if data:
        with pytest.raises(InflateError) as refused:
            inflate(packed, codec, limit=len(data) - 1)
        assert refused.value.status == 413


@pytest.mark.parametrize("codec", sorted(COMPRESS))
@given(garbage=st.binary(max_size=256))
def test_inflate_of_garbage_is_an_inflate_error_or_bytes(codec: str, garbage: bytes) -> None:
    try:
        assert len(inflate(garbage, codec, limit=1 << 20)) <= 1 << 20
    except InflateError as exc:
        assert exc.status in (400, 413) and str(exc)
