"""Bounded decompression of request bodies (gzip, deflate, zstd, raw snappy), shared by every
ingestion route: a small compressed body never inflates past the request's body cap.

The cap is the request's (`server.max_request_body_size`, set per request by the security
middleware); outside a request it is the default.
"""

from __future__ import annotations

from contextvars import ContextVar

import cramjam

DEFAULT_LIMIT = 100 << 20
BODY_LIMIT: ContextVar[int] = ContextVar("pharos_body_limit", default=DEFAULT_LIMIT)
_STREAMING = {"gzip": cramjam.gzip, "deflate": cramjam.zlib, "zstd": cramjam.zstd}


class InflateError(ValueError):
    """A body that is corrupt (status 400, the codec's own message) or inflates past the cap (413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def explain(self, prefix: str) -> str:
        """`prefix: <codec message>` for a corrupt body; the cap's message for one too large."""
        return f"{prefix}: {self}" if self.status == 400 else str(self)


def too_large(limit: int) -> InflateError:
    """The error of a body past `limit` once decompressed."""
    return InflateError(
        413, f"decompressed body larger than the limit of {limit} bytes (server.max_request_body_size)"
    )


def inflate(body: bytes, codec: str, limit: int | None = None) -> bytes:
    """`body` decompressed by `codec` (gzip, deflate, zstd or snappy), at most `limit` bytes
    (default: the current request's cap); InflateError names the problem."""
    cap = BODY_LIMIT.get() if limit is None else limit
    if codec == "snappy":
        return _snappy(body, cap)
    module = _STREAMING[codec]
    size = min(cap + 1, max(1 << 16, 4 * len(body)))
    while True:
        buffer = bytearray(size)
        try:
            written = module.decompress_into(body, buffer)
        except cramjam.DecompressionError as exc:
            if "whole buffer" not in str(exc):
                raise InflateError(400, str(exc)) from None
            if size > cap:
                raise too_large(cap) from None
            size = min(cap + 1, size * 4)  # the buffer was too small: grow it, up to the cap
            continue
        if written > cap:
            raise too_large(cap)
        return bytes(memoryview(buffer)[:written])


def _snappy(body: bytes, cap: int) -> bytes:
    """Raw snappy: the block header gives the length, checked before decoding."""
    try:
        if cramjam.snappy.decompress_raw_len(body) > cap:
            raise too_large(cap)
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise InflateError(400, str(exc)) from None
