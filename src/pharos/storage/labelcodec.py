"""The one encoding of a series' labels on disk (WAL series records, Parquet series catalogs):
a JSON array of alternating names and values."""

from __future__ import annotations

from collections.abc import Sequence

import orjson


def encode_label_blob(flat: Sequence[str]) -> bytes:
    """JSON bytes of a flat [name, value, ...] list, in an exactly sized buffer.

    orjson returns `bytes` that keep a ~4 KiB allocation however short the text; held by the
    hundred thousand (one per new series) that costs ~800 MB of transient RSS, so the result is
    copied into a right-sized object.
    """
    return bytes(memoryview(orjson.dumps(list(flat))))


def decode_label_blob(blob: bytes | memoryview) -> list[str]:
    """The flat [name, value, ...] list back from `encode_label_blob`'s bytes."""
    decoded: list[str] = orjson.loads(blob)
    return decoded
