"""In-process checks of the door: the Authorization header parser accepts exactly the configured
credentials (property tests), and bounded decompression round-trips or refuses, never more."""

from __future__ import annotations

import base64
import gzip

import cramjam
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pharos.config.model import BasicAuth, ServerConfig
from pharos.server.inflate import InflateError, inflate
from pharos.server.redact import SECRET_KEYS, redact_secrets
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


SECRET_TEXT = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FF, blacklist_characters="\x7f"), min_size=1
)


@given(secret=SECRET_TEXT, key=st.sampled_from(SECRET_KEYS), flow=st.booleans())
def test_redacted_config_hides_every_secret(secret: str, key: str, flow: bool) -> None:
    value = "S3CR" + secret
    doc = {
        "scrape_configs": [{"job_name": "j", "basic_auth": {"username": "u", key: value}}],
        "other": "kept",
    }
    text = yaml.safe_dump(doc, default_flow_style=flow, width=10**9, allow_unicode=True)
    redacted = redact_secrets(text)
    assert value not in redacted
    back = yaml.safe_load(redacted)
    assert back["scrape_configs"][0]["basic_auth"] == {"username": "u", key: "<secret>"}
    assert back["other"] == "kept"


def test_redaction_keeps_comments_files_and_empty_keys() -> None:
    text = "a:\n  password: 'it''s # x' # why\n  password_file: /p\n  token:\n  bearer_token: |\n    abc\n\n    d\n  b: 1\n"
    expected = (
        "a:\n  password: <secret> # why\n  password_file: /p\n  token:\n  bearer_token: <secret>\n  b: 1\n"
    )
    assert redact_secrets(text) == expected


@given(secret=st.lists(SECRET_TEXT.filter(str.strip), min_size=2, max_size=4))
def test_multi_line_secrets_in_block_scalars_are_hidden(secret: list[str]) -> None:
    lines = "".join(f"        {line.strip()}\n" for line in secret)
    text = f"jobs:\n  - basic_auth:\n      password: |\n{lines}      username: u\nafter: 1\n"
    assert yaml.safe_load(redact_secrets(text)) == {
        "jobs": [{"basic_auth": {"password": "<secret>", "username": "u"}}],
        "after": 1,
    }
