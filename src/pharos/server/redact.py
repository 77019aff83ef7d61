"""The config text as /api/v1/status/config shows it: the values of secret keys replaced by
`<secret>`, as Prometheus and Alertmanager show theirs. Line-based, so the file keeps its
layout and comments."""

from __future__ import annotations

import re

# Keys whose values Prometheus and Alertmanager show as <secret> (config.Secret fields and the
# receivers' keys, tokens and webhook URLs).
SECRET_KEYS = (
    "password",
    "bearer_token",
    "credentials",
    "client_secret",
    "smtp_auth_password",
    "smtp_auth_secret",
    "auth_password",
    "auth_secret",
    "api_key",
    "routing_key",
    "service_key",
    "api_url",
    "bot_token",
    "token",
)
_KEYS = "|".join(SECRET_KEYS)
_QUOTED = r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^']|'')*'"
_BLOCK_SECRET = re.compile(
    rf"^(\s*(?:-\s+)?(?:{_KEYS})[ \t]*:[ \t]+)(?![|>\s])(?:{_QUOTED}|[^\n]*?)([ \t]+#[^\n]*)?$", re.MULTILINE
)
_FLOW_SECRET = re.compile(rf"([{{,][ \t]*(?:{_KEYS})[ \t]*:[ \t]*)({_QUOTED}|[^,}}\n]+)")


# A literal or folded block scalar: the indicator line and the lines indented below the key.
_BLOCK_SCALAR_SECRET = re.compile(
    rf"^([ \t]*)((?:-[ \t]+)?(?:{_KEYS})[ \t]*:[ \t]*)[|>][^\n]*(?:\n(?:\1[ \t]+[^\n]*|[ \t]*(?=\n)))*",
    re.MULTILINE,
)


def redact_secrets(text: str) -> str:
    """Config text with the values of secret keys replaced by `<secret>`, as Prometheus shows
    its config at /api/v1/status/config (block, block-scalar and flow mappings alike)."""
    text = _BLOCK_SCALAR_SECRET.sub(lambda m: m.group(1) + m.group(2) + "<secret>", text)
    text = _FLOW_SECRET.sub(lambda m: m.group(1) + "<secret>", text)
    return _BLOCK_SECRET.sub(lambda m: m.group(1) + "<secret>" + (m.group(2) or ""), text)
