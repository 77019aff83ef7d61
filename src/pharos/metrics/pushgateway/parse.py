"""Request parsing: the grouping key in the URL path and the pushed body, as the Pushgateway does."""

from __future__ import annotations

import binascii
import re

from pharos.metrics.exposition import ExpositionFormat, ParseError, parse
from pharos.metrics.exposition.gofmt import go_quote
from pharos.metrics.pushgateway.model import COUNTER, GAUGE, HISTOGRAM, SUMMARY, UNTYPED, Family, Metric

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_B64 = "@base64"
_TYPES = {"counter": COUNTER, "gauge": GAUGE, "histogram": HISTOGRAM, "summary": SUMMARY}
PROTOBUF_MEDIA = "application/vnd.google.protobuf"


class PushError(ValueError):
    """A push the Pushgateway answers with 400 and this text."""


def decode_base64(value: str) -> str:
    """Go's base64.RawURLEncoding after trimming '=' padding; '=' alone is the empty string."""
    raw = value.rstrip("=")
    try:
        data = binascii.a2b_base64(
            (raw.replace("-", "+").replace("_", "/") + "=" * (-len(raw) % 4)).encode(), strict_mode=True
        )
    except (binascii.Error, ValueError) as exc:
        raise PushError(f"illegal base64 data: {exc}") from None
    if any(c in raw for c in "+/"):
        raise PushError("illegal base64 data: not URL-safe base64")
    return data.decode("utf-8", "surrogateescape")


def grouping_key(path: str) -> dict[str, str]:
    """The grouping labels of `/metrics/<path>`: job/<job>{/<name>/<value>}, '@base64' allowed."""
    head, _, rest = path.partition("/")
    if head not in ("job", "job" + _B64):
        raise LookupError(path)
    job, sep, labels = rest.partition("/")
    if head.endswith(_B64):
        job = decode_base64(job)
    if not job:
        raise PushError("job name is required")
    result = _split_labels("/" + labels if sep else "")
    result["job"] = job
    return result


def _split_labels(labels: str) -> dict[str, str]:
    """The Pushgateway's splitLabels: '/name/value' pairs, names may end in '@base64'."""
    result: dict[str, str] = {}
    if len(labels) <= 1:
        return result
    components = labels.split("/")
    if len(components) % 2 == 0:
        raise PushError(f"odd number of components in label string {go_quote(labels)}")
    for i in range(1, len(components) - 1, 2):
        name, value = components[i], components[i + 1]
        trimmed = name.removesuffix(_B64)
        if not _LABEL_NAME.fullmatch(trimmed) or trimmed.startswith("__"):
            raise PushError(f"improper label name {go_quote(trimmed)}")
        if name != trimmed:
            try:
                value = decode_base64(value)
            except PushError as exc:
                raise PushError(
                    f"invalid base64 encoding for label {trimmed}={go_quote(value)}: {exc}"
                ) from None
        result[trimmed] = value
    return result


# -- the body ------------------------------------------------------------------------------------
def parse_body(body: bytes, content_type: str | None, now: float) -> dict[str, Family]:
    """Metric families of a pushed body (text format, or delimited protobuf MetricFamily)."""
    if content_type and content_type.split(";")[0].strip().lower() == PROTOBUF_MEDIA:
        from pharos.metrics.pushgateway.protobuf import parse_delimited

        return parse_delimited(body, now)
    try:
        result = parse(body, ExpositionFormat.PROMETHEUS_TEXT)
    except ParseError as exc:
        raise PushError(f"text format parsing error in {exc}") from None
    types = {name: _TYPES.get(md.type, UNTYPED) for name, md in result.metadata.items()}
    families: dict[str, Family] = {}
    builders: dict[tuple[str, tuple[tuple[str, str], ...]], Metric] = {}
    for s in result.samples:
        labels = {n: v for n, v in s.labels if n != "__name__"}
        sample_name = dict(s.labels)["__name__"]
        fam_name, part = _family_of(sample_name, types)
        fam = families.get(fam_name)
        if fam is None:
            md = result.metadata.get(fam_name)
            fam = families[fam_name] = Family(
                fam_name, types.get(fam_name, UNTYPED), md.help if md else "", [], now
            )
        _add_sample(fam, builders, part, labels, s.value, s.timestamp_ms is not None)
    return families


def _family_of(sample_name: str, types: dict[str, str]) -> tuple[str, str]:
    """(family name, part): part is '', '_bucket', '_sum' or '_count'."""
    if sample_name in types:
        return sample_name, ""
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample_name.removesuffix(suffix)
        if base != sample_name and (
            types.get(base) == HISTOGRAM or (types.get(base) == SUMMARY and suffix != "_bucket")
        ):
            return base, suffix
    return sample_name, ""


def _add_sample(
    fam: Family,
    builders: dict[tuple[str, tuple[tuple[str, str], ...]], Metric],
    part: str,
    labels: dict[str, str],
    value: float,
    has_ts: bool,
) -> None:
    """Fold one text sample into its family's metrics."""
    if fam.type not in (HISTOGRAM, SUMMARY):
        fam.metrics.append(Metric(labels, value, has_timestamp=has_ts))
        return
    special = "le" if fam.type == HISTOGRAM else "quantile"
    bound = labels.pop(special, None) if part in ("", "_bucket") else None
    key = (fam.name, tuple(sorted(labels.items())))
    metric = builders.get(key)
    if metric is None:
        metric = builders[key] = Metric(labels)
        fam.metrics.append(metric)
    metric.has_timestamp |= has_ts
    if part == "_sum":
        metric.sum = value
    elif part == "_count":
        metric.count = value
    elif bound is not None:
        target = metric.buckets if fam.type == HISTOGRAM else metric.quantiles
        target[_bound(bound)] = value


def _bound(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise PushError(f"text format parsing error: invalid bound {go_quote(text)}") from None


def sanitize(families: dict[str, Family], key: dict[str, str]) -> None:
    """Grouping labels override the pushed ones; `instance=""` is added where missing."""
    for fam in families.values():
        for m in fam.metrics:
            m.labels.update(key)
            m.labels.setdefault("instance", "")
