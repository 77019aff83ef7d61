"""Prometheus duration and size formats."""

import pytest

from pharos.config.units import format_duration, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0), ("15s", 15.0), ("1m30s", 90.0), ("1h", 3600.0), ("2d", 172800.0),
        ("1w", 604800.0), ("1y", 31536000.0), ("500ms", 0.5), ("1h30m15s250ms", 5415.25),
        ("0s", 0.0), ("90m", 5400.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "1.5s", "s", "1s1m", "-1s", "1 s", "30", "1S"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_duration_error_text_is_prometheus() -> None:
    with pytest.raises(ValueError, match='not a valid duration string: "5x"'):
        parse_duration("5x")


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (90, "1m30s"), (86400, "1d"), (0.25, "250ms"), (3600 * 25, "1d1h")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0), ("1B", 1), ("10MB", 10 * 1024**2), ("512KiB", 512 * 1024), ("1KB", 1024),
        ("2GB", 2 * 1024**3), ("1TB", 1024**4), ("1.5MB", 1536 * 1024), ("1GB512MB", 1536 * 1024**2),
        ("1EB", 1024**6 - 0),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "1024", "10kB", "10mb", "MB", "1XB", "1 MB"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)
