"""Exposition parsing: Prometheus text 0.0.4 and OpenMetrics 1.0.

INTERFACE CONTRACT (the parser helper implements; the scrape loop and `pharos import` use it).

Accepts and rejects exactly what Prometheus does: lines the fast path does not recognise are
handed to the reference parsers in `reference.py`, which reproduce Go's parser and its messages.
Errors read `line N: <Go's message>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Final, Literal

import numpy as np

from pharos.metrics.exposition import reference as ref
from pharos.metrics.exposition.gofmt import NORMAL_NAN, GoNumError, go_float_to_ms, go_parse_float
from pharos.metrics.exposition.layout import PageLayout
from pharos.metrics.model import METRIC_NAME, Labels, make_labels


class ExpositionFormat(str, Enum):  # noqa: UP042 (contract: str() keeps the Enum form)
    PROMETHEUS_TEXT = "text/plain"
    OPENMETRICS = "application/openmetrics-text"


# The Accept header Prometheus 2.42 sends when scraping.
SCRAPE_ACCEPT_HEADER = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


class ParseError(ValueError):
    """Malformed exposition; the message names the line number and what was expected."""


@dataclass(slots=True)
class Exemplar:
    labels: Labels
    value: float
    timestamp_ms: int | None


@dataclass(slots=True)
class Sample:
    key: str  # the series text exactly as exposed (name + label block); stable across scrapes
    labels: Labels  # canonical, includes __name__
    value: float
    timestamp_ms: int | None
    exemplar: Exemplar | None = None


@dataclass(slots=True)
class MetricMetadata:
    type: str  # counter, gauge, histogram, summary, unknown, info, stateset, gaugehistogram
    help: str
    unit: str


@dataclass
class ParseResult:
    samples: list[Sample]
    metadata: dict[str, MetricMetadata]  # by metric family name


@dataclass(slots=True)
class Columns:
    """One parse as columns, in page order: what the scrape hot path consumes (no object per sample)."""

    keys: list[str]  # series text of each sample (shared with the layout; never mutate)
    values: np.ndarray  # float64
    metadata: dict[str, MetricMetadata]  # by metric family name
    series: dict[str, Labels]  # labels by series text (the parse cache's map)
    timestamps: dict[int, int] = field(default_factory=dict)  # sample index -> explicit timestamp (ms)
    exemplars: dict[int, Exemplar] = field(default_factory=dict)  # sample index -> exemplar
    extra: dict[str, Labels] = field(default_factory=dict)  # labels of series texts not in `series`
    layout: PageLayout | None = None  # the same object as last parse's when the series lines are

    def labels_of(self, key: str) -> Labels:
        """The canonical labels (with __name__) of one of `keys`."""
        return self.extra.get(key) or self.series[key]

    def samples(self) -> list[Sample]:
        """The same parse as Sample objects."""
        ts, ex = self.timestamps, self.exemplars
        return [
            Sample(key, self.labels_of(key), value, ts.get(i), ex.get(i))
            for i, (key, value) in enumerate(zip(self.keys, self.values.tolist(), strict=True))
        ]


class ParseCache:
    """Per-target memory of validated series texts, comment lines and the last page's layout."""

    __slots__ = ("fmt", "layout", "layouts", "meta", "series")

    def __init__(self, layouts: bool = True) -> None:
        self.layouts = layouts  # False for one-shot parses: a layout would never be used
        self.fmt: ExpositionFormat | None = None
        self.series: dict[str, Labels] = {}
        self.meta: dict[str, ref.MetaEntry | None] = {}
        self.layout: PageLayout | None = None

    def reset(self, fmt: ExpositionFormat) -> None:
        """Forget everything; entries are only valid for the format that produced them."""
        self.fmt = fmt
        self.series = {}
        self.meta = {}
        self.layout = None

    def trim(self, keys: list[str]) -> None:
        """Keep the series map bounded by what the last scrape exposed."""
        if len(self.series) > 2 * len(keys) + 1024:
            keep = self.series
            self.series = {key: keep[key] for key in keys if key in keep}
        if len(self.meta) > 4096:
            self.meta = {}


# --- content type -----------------------------------------------------------------------------

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_MEDIA_TYPE = re.compile(rf"\s*({_TOKEN})(?:/({_TOKEN}))?\s*")
_PARAM = re.compile(rf'\s*;\s*({_TOKEN})=({_TOKEN}|"(?:[^"\\]|\\.)*")\s*')


def format_from_content_type(content_type: str | None) -> ExpositionFormat:
    """Pick the parser as Prometheus 2.42's textparse.New does (mime.ParseMediaType)."""
    if not content_type:
        return ExpositionFormat.PROMETHEUS_TEXT
    m = _MEDIA_TYPE.match(content_type)
    if m is None or m.group(2) is None:
        return ExpositionFormat.PROMETHEUS_TEXT
    if f"{m.group(1)}/{m.group(2)}".lower() != ExpositionFormat.OPENMETRICS.value:
        return ExpositionFormat.PROMETHEUS_TEXT
    return (
        ExpositionFormat.OPENMETRICS
        if _params_ok(content_type, m.end())
        else ExpositionFormat.PROMETHEUS_TEXT
    )


def _params_ok(text: str, pos: int) -> bool:
    """Go rejects malformed or duplicate parameters; a trailing ';' is ignored."""
    seen: set[str] = set()
    while pos < len(text):
        m = _PARAM.match(text, pos)
        if m is None:
            return text[pos:].strip() == ";"
        key = m.group(1).lower()
        if key in seen:
            return False
        seen.add(key)
        pos = m.end()
    return True


# --- the fast path ----------------------------------------------------------------------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_PAIR = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n\x00]|\\[^\n\x00])*"'
_SERIES = rf"{_NAME}(?:\{{(?:{_PAIR}(?:,{_PAIR})*,?)?\}})?"
_LINE = re.compile(rf"({_SERIES}) ([^ ]+)(?: ([^ ]+))?")
_PAIRS = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n\x00]|\\[^\n\x00])*)"')
_NUM_CHARS = "0123456789.eE+-"


class _Unsure(Enum):
    """The cheap checks cannot tell: the reference parser decides."""

    UNSURE = 0


_MISSING: Final = _Unsure.UNSURE
MetaLookup = ref.MetaEntry | None | Literal[_Unsure.UNSURE]


def _labels_of_key(key: str) -> Labels:
    """Labels of a series text already matched by _SERIES."""
    brace = key.find("{")
    if brace < 0:
        return make_labels(((METRIC_NAME, key),))
    pairs = [(METRIC_NAME, key[:brace])]
    for name, value in _PAIRS.findall(key, brace):
        pairs.append((name, ref.unescape_label(value) if "\\" in value else value))
    return make_labels(pairs)


def _value(text: str) -> float | None:
    """Go-compatible float, or None when the reference parser must decide."""
    if not text.strip(_NUM_CHARS):
        try:
            v = float(text)
        except ValueError:
            return None
        return v if v - v == 0.0 else None
    try:
        v = go_parse_float(text)
    except GoNumError:
        return None
    return NORMAL_NAN if v != v else v


def _prom_ts(text: str) -> int | None:
    if len(text) < 19 and text.isdigit() and text.isascii():
        return int(text)
    return None


def _om_ts(text: str) -> int | None:
    v = _value(text)
    if v is None or v - v:  # NaN and ±Inf are errors; let the reference parser word them
        return None
    return go_float_to_ms(v)


_PROM_META = re.compile(r"# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)([^\n\x00]*)")
_OM_META = re.compile(r"# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) ([^\n\x00]*)")


def _prom_meta(line: str) -> MetaLookup:
    """A text-format '#' line without the reference parser; _MISSING when unsure."""
    if "\x00" in line:
        return _MISSING
    if not line.startswith(("# HELP", "# TYPE", "#\t", "#  ")):
        return None
    m = _PROM_META.fullmatch(line)
    if m is None:
        return _MISSING
    kind, name, rest = m.groups()
    text = rest[1:] if rest.strip(" \t") else ""
    if kind == "TYPE":
        kind_type = ref.PROM_TYPES.get(text)
        return _MISSING if kind_type is None else ref.MetaEntry("type", name, kind_type)
    return ref.MetaEntry("help", name, ref.unescape_help(text))


def _om_meta(line: str) -> MetaLookup:
    """An OpenMetrics metadata line without the reference parser; _MISSING when unsure."""
    m = _OM_META.fullmatch(line)
    if m is None:
        return _MISSING
    kind, name, text = m.groups()
    if kind == "TYPE":
        return ref.MetaEntry("type", name, text) if text in ref.OM_TYPES else _MISSING
    if kind == "HELP":
        return ref.MetaEntry("help", name, ref.unescape_label(text))
    if text and not (name.endswith("_" + text)):
        return _MISSING
    return ref.MetaEntry("unit", name, text)


class _Run:
    """One parse of one body: a tight loop over lines, with the reference parser as fallback."""

    def __init__(self, text: str, fmt: ExpositionFormat, cache: ParseCache, fast: bool) -> None:
        self.text = text
        self.om = fmt is ExpositionFormat.OPENMETRICS
        self.cache = cache
        self.fast = fast
        self.keys: list[str] = []
        self.values: list[float] = []
        self.timestamps: dict[int, int] = {}
        self.exemplars: dict[int, Exemplar] = {}
        self.extra: dict[str, Labels] = {}
        self.referenced = 0  # entries the reference parser took (EOF aside)
        self.metas: list[ref.MetaEntry] = []
        self.ts_of = _om_ts if self.om else _prom_ts
        self.cold_meta = _om_meta if self.om else _prom_meta

    def run(self) -> Columns:
        lines = self.text.split("\n")
        last = len(lines) - 1
        pos = k = 0
        while k <= last:
            if self.fast:
                k, pos = self.fast_lines(lines, k, last, pos)
            end = self.reference(pos, pos + len(lines[k]) + 1)
            if end is None:
                break
            while pos < end and k <= last:
                pos += len(lines[k]) + 1
                k += 1
        values = np.array(self.values, dtype=np.float64)
        return Columns(
            self.keys,
            values,
            self.build_metadata(),
            self.cache.series,
            self.timestamps,
            self.exemplars,
            self.extra,
        )

    def fast_lines(self, lines: list[str], k: int, last: int, pos: int) -> tuple[int, int]:
        """Consume lines the fast way until one needs the reference parser (the last always does)."""
        stop = self.scan(lines, k, last)
        return stop, pos + sum(map(len, lines[k:stop])) + (stop - k)

    def scan(self, lines: list[str], first: int, last: int) -> int:
        """The hot loop: returns the index of the first line it could not take."""
        series = self.cache.series
        meta_get = self.cache.meta.get
        add_key, add_value = self.keys.append, self.values.append
        metas_append = self.metas.append
        om = self.om
        k = first - 1
        for line in lines[first:last]:
            k += 1
            if not line:
                if om:
                    return k
                continue
            if line[0] == "#":
                entry = meta_get(line, _MISSING)
                if entry is _MISSING:
                    if not self.comment(line):
                        return k
                elif entry is not None:
                    metas_append(entry)
                continue
            j = line.rfind("}") + 1
            if not j:
                j = line.find(" ")
                if j < 0:
                    return k
            key = line[:j]
            if key not in series:
                if not self.cold_sample(line):
                    return k
                continue
            if line[j : j + 1] != " ":
                return k
            text = line[j + 1 :]
            ts = None
            if " " in text:
                text, _, ts_text = text.partition(" ")
                ts = self.ts_of(ts_text)
                if ts is None:
                    return k
            if text.strip(_NUM_CHARS):
                value = _value(text)
                if value is None:
                    return k
            else:
                try:
                    value = float(text)
                except ValueError:
                    return k
                if value - value:
                    return k
            if ts is not None:
                self.timestamps[len(self.keys)] = ts
            add_key(key)
            add_value(value)
        return last

    def comment(self, line: str) -> bool:
        """A comment or metadata line, from the cache or the cold regexes; False if unsure."""
        meta = self.cache.meta
        entry = meta.get(line, _MISSING)
        if entry is _MISSING:
            entry = self.cold_meta(line)
            if entry is _MISSING:
                return False
            meta[line] = entry
        if entry is not None:
            self.metas.append(entry)
        return True

    def cold_sample(self, line: str) -> bool:
        m = _LINE.fullmatch(line)
        if m is None:
            return False
        key, value_text, ts_text = m.groups()
        value = _value(value_text)
        if value is None:
            return False
        if ts_text is not None:
            ts = self.ts_of(ts_text)
            if ts is None:
                return False
            self.timestamps[len(self.keys)] = ts
        self.cache.series[key] = _labels_of_key(key)
        self.keys.append(key)
        self.values.append(value)
        return True

    def build_metadata(self) -> dict[str, MetricMetadata]:
        """Fold HELP/TYPE/UNIT entries into one record per metric family."""
        metadata: dict[str, MetricMetadata] = {}
        for entry in self.metas:
            md = metadata.get(entry.name)
            if md is None:
                md = metadata[entry.name] = MetricMetadata("unknown", "", "")
            setattr(md, entry.kind, entry.text)
        return metadata

    def reference(self, pos: int, line_end: int) -> int | None:
        """Parse one entry at pos with the reference parser; its end offset, or None at EOF."""
        parser = ref.OpenMetricsReference(self.text, pos) if self.om else ref.PromReference(self.text, pos)
        try:
            entry = parser.next_entry()
        except ref.GoError as err:
            line_no = self.text.count("\n", 0, err.pos) + 1
            raise ParseError(f"line {line_no}: {err.message}") from None
        if entry is ref.EOF:
            return None
        self.referenced += 1
        end = parser.lexer.i
        single_line = end == line_end and self.text[pos] != " " and self.text[pos] != "\t"
        self.take(entry, self.text[pos : line_end - 1], single_line)
        return end

    def take(self, entry: ref.Entry, line: str, single_line: bool) -> None:
        if isinstance(entry, ref.SeriesEntry):
            self.take_series(entry, single_line)
            return
        if single_line:
            self.cache.meta[line] = entry if isinstance(entry, ref.MetaEntry) else None
        if isinstance(entry, ref.MetaEntry):
            self.metas.append(entry)

    def take_series(self, entry: ref.SeriesEntry, single_line: bool) -> None:
        labels = make_labels([(METRIC_NAME, entry.name), *entry.labels])
        if single_line and entry.exemplar is None:
            self.cache.series[entry.key] = labels
        elif self.cache.series.get(entry.key) != labels:
            self.extra[entry.key] = labels
        index = len(self.keys)
        if entry.exemplar is not None:
            pairs, value, ts = entry.exemplar
            self.exemplars[index] = Exemplar(make_labels(pairs), value, ts)
        if entry.timestamp_ms is not None:
            self.timestamps[index] = entry.timestamp_ms
        self.keys.append(entry.key)
        self.values.append(entry.value)


def _decode(body: bytes) -> tuple[str, bool]:
    """UTF-8 text of the body; invalid bytes become surrogate escapes (and disable the fast path)."""
    try:
        return body.decode("utf-8"), True
    except UnicodeDecodeError:
        return body.decode("utf-8", "surrogateescape"), False


def parse_columns(body: bytes, fmt: ExpositionFormat, cache: ParseCache) -> Columns:
    """Parse a whole exposition body into columns; raise ParseError on the first malformed line."""
    if cache.fmt is not fmt:
        cache.reset(fmt)
    layout = cache.layout
    if layout is not None:
        values = layout.values(body, _value)
        if values is not None:
            return Columns(layout.keys, values, layout.metadata, cache.series, layout=layout)
    text, fast = _decode(body)
    if fmt is not ExpositionFormat.OPENMETRICS:
        text += "\n"  # as Go's NewPromParser does
    run = _Run(text, fmt, cache, fast)
    columns = run.run()
    cache.trim(columns.keys)
    plain = cache.layouts and fast and not (run.referenced or columns.timestamps or columns.exemplars)
    cache.layout = columns.layout = PageLayout.build(body, columns.keys, columns.metadata) if plain else None
    return columns


def parse(body: bytes, fmt: ExpositionFormat, cache: object | None = None) -> ParseResult:
    """Parse a whole exposition body into Samples; raise ParseError on the first malformed line."""
    columns = parse_columns(body, fmt, cache if isinstance(cache, ParseCache) else ParseCache(layouts=False))
    return ParseResult(columns.samples(), columns.metadata)


def parse_reference(body: bytes, fmt: ExpositionFormat) -> ParseResult:
    """Parse with the reference parsers only (no fast path, no cache); for tests and debugging."""
    text, _ = _decode(body)
    if fmt is not ExpositionFormat.OPENMETRICS:
        text += "\n"
    columns = _Run(text, fmt, ParseCache(), fast=False).run()
    return ParseResult(columns.samples(), columns.metadata)
