"""Field-aware encoding of log lines in blocks: each line becomes a template plus variables.

A *variable* is a JSON string value (`":"...` up to the closing quote or a backslash) or a token
holding a digit (`[\\w.]*\\d[\\w.]*`). Every variable is replaced in the line by a marker, chr(17)
followed by one slot character:

- `0`..`o` (slot 0..63): the value is in column `v00`..`v63` of the same row. Within a batch a
  slot is the variable's context (the 6 characters before it) and its occurrence in the line,
  so a column holds one kind of value (request ids, latencies, paths, ...) and compresses well;
  contexts whose values repeat get slots 0..31, which blocks store with Parquet dictionaries;
- `p`..`x` and `!`..`)`: the value is made from the row's own timestamp (epoch seconds with
  3, 6 or 9 decimals as zap writes them; UTC year, month, day, hour, minute, seconds as in
  nginx or Java timestamps), so it costs nothing;
- variables of rare contexts stay in the template as text.

The template column is dictionary-encoded by Parquet (few distinct shapes per stream). Lines
holding chr(17), and any line whose reconstruction would differ, are kept whole in `line` with a
null template: every line comes back byte for byte. `decode` rebuilds lines with vectorised
Arrow operations; `register` makes it the SQL function `pharos_line` of a DuckDB connection.
"""

from __future__ import annotations

import string
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.func import ARROW, SPECIAL

MARK = "\x11"
SLOTS = 64
DICT_SLOTS = 32  # slots 0..31 hold repetitive values (Parquet dictionary pages), 32..63 the rest
REPETITIVE = 0.25  # distinct values / occurrences at most this: a dictionary slot
SLOT_BASE = 0x30
# Values derived from the row's timestamp: slot character -> (text length, how to make it).
# ("epoch", decimals, offset): epoch seconds with `decimals` (rounded half up, `offset` in the last
# digit: float formatting, as Python's f"{ts / 1e9:.6f}", is off by one at most);
# ("utc", field, 0): a UTC calendar field, zero-padded (S3/S6/S9: seconds with a truncated fraction).
_EPOCHS = [("epoch", d, o) for d in (3, 6, 9) for o in (0, -1, 1)]
_CALENDAR = [("utc", f, 0) for f in ("Y", "m", "d", "H", "M", "S", "S3", "S6", "S9")]
DERIVED = {chr(0x70 + i): k for i, k in enumerate(_EPOCHS)} | {
    chr(0x21 + i): k for i, k in enumerate(_CALENDAR)
}
_FIELD_WIDTH = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2, "S3": 6, "S6": 9, "S9": 12}
CONTEXT = 6
MAX_OCCURRENCE = 8
MIN_SLOT_ROWS = 64
VAR_RE = r'":"[^"\\]*|[\w.]*\d[\w.]*'
SLOT_COLUMNS = [f"v{s:02d}" for s in range(SLOTS)]
ENCODED_SCHEMA = pa.schema(
    [
        ("stream", pa.uint32()),
        ("ts", pa.int64()),
        ("tpl", pa.string()),
        ("line", pa.string()),
        ("meta", pa.string()),
    ]
    + [(c, pa.string()) for c in SLOT_COLUMNS]
)


def _epoch_text(ts: pa.Array, decimals: int, offset: int) -> pa.Array:
    """Epoch seconds of `ts` (> 0) rounded half up to `decimals`, plus `offset` in the last digit."""
    unit = 10 ** (9 - decimals)
    scaled = pc.add(pc.divide(pc.add(ts, unit // 2), unit), offset)
    sec = pc.divide(scaled, 10**decimals)
    return pc.binary_join_element_wise(
        pc.cast(sec, pa.string()), _padded(pc.subtract(scaled, pc.multiply(sec, 10**decimals)), decimals), "."
    )


def _padded(values: pa.Array, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(values, pa.string()), width, "0")


def _utc_text(ts: pa.Array, field: str) -> pa.Array:
    """A UTC calendar field of `ts` (> 0), zero-padded; S3/S6/S9 add a truncated fraction."""
    t = ts.cast(pa.timestamp("ns"))
    fn = {"Y": pc.year, "m": pc.month, "d": pc.day, "H": pc.hour, "M": pc.minute, "S": pc.second}
    if field in fn:
        return _padded(fn[field](t), _FIELD_WIDTH[field])
    digits = int(field[1])
    frac = pc.divide(pc.subtract(ts, pc.multiply(pc.divide(ts, 10**9), 10**9)), 10 ** (9 - digits))
    return pc.binary_join_element_wise(_padded(pc.second(t), 2), _padded(frac, digits), ".")


def derived_text(ts: pa.Array, char: str) -> pa.Array:
    """The text the DERIVED character `char` stands for, per timestamp of `ts` (all > 0)."""
    kind, arg, offset = DERIVED[char]
    return _epoch_text(ts, int(arg), offset) if kind == "epoch" else _utc_text(ts, str(arg))


def _derived_length(char: str) -> int:
    kind, arg, _ = DERIVED[char]
    return 11 + int(arg) if kind == "epoch" else _FIELD_WIDTH[str(arg)]


_WORD = np.zeros(256, dtype=bool)
_WORD[[ord(c) for c in string.ascii_letters + string.digits + "_."]] = True
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[ord("0") : ord("9") + 1] = True


def _bounds(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The data bytes and the n + 1 offsets of a string array."""
    offsets = np.frombuffer(arr.buffers()[1], np.int32)[arr.offset : arr.offset + len(arr) + 1].astype(
        np.int64
    )
    data = arr.buffers()[2]
    return (np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)), offsets


def _json_strings(text: np.ndarray, line_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Byte ranges of the `":"[^"\\]*` variables of `text` (lines start where `line_start`)."""
    quote = text == ord('"')
    cand = np.flatnonzero(
        quote[:-2] & (text[1:-1] == ord(":")) & quote[2:] & ~line_start[1:-2] & ~line_start[2:-1]
    )
    keep = np.ones(len(cand), dtype=bool)
    for i in np.flatnonzero(np.diff(cand) == 2) + 1:  # in `":":"` the second lies inside the first
        keep[i] = not keep[i - 1]
    cand = cand[keep]
    stop = line_start.copy()
    stop[:-1] |= quote | (text == ord("\\"))
    stops = np.flatnonzero(stop)
    return cand, stops[np.searchsorted(stops, cand + 3)]


def _merged(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two sorted arrays merged into one sorted array."""
    return np.insert(a, np.searchsorted(a, b), b)


def _variables(text: np.ndarray, line_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted byte ranges of the variables of `text`, as VAR_RE finds them: JSON string values,
    then the runs of word characters and dots holding a digit outside them."""
    n = len(text)
    s_start, s_end = _json_strings(text, line_start)
    edges = np.zeros(n + 1, dtype=np.int8)
    edges[s_start] = 1
    edges[s_end] -= 1  # ranges are disjoint: the ends are distinct
    word = np.r_[False, _WORD[text] & ~np.cumsum(edges[:n], dtype=np.int8).astype(bool), False]
    run_start = np.flatnonzero(word[1:-1] & (~word[:-2] | line_start[:n]))
    run_end = np.flatnonzero(word[1:-1] & (~word[2:] | line_start[1:])) + 1
    if len(run_start):
        held = np.logical_or.reduceat(_DIGIT[text] & word[1:-1], run_start)
        run_start, run_end = run_start[held], run_end[held]
    order = np.argsort(np.r_[s_start, run_start], kind="stable")
    return np.r_[s_start, run_start][order], np.r_[s_end, run_end][order]


class _Split:
    """Lines split into parts (n + 1 per line) and variables (n per line), flattened."""

    def __init__(self, lines: pa.Array) -> None:
        data, offsets = _bounds(lines)
        lo = int(offsets[0])
        line_start = np.zeros(int(offsets[-1]) - lo + 1, dtype=bool)
        line_start[offsets - lo] = True
        start, end = _variables(data[lo : int(offsets[-1])], line_start)
        start, end = start + lo, end + lo
        self.n = len(lines)
        bounds = _merged(np.column_stack([start, end]).ravel(), offsets[:-1]).astype(np.int32)
        pieces = pa.Array.from_buffers(
            pa.string(),
            len(bounds),
            [None, pa.py_buffer(np.r_[bounds, np.int32(offsets[-1])]), lines.buffers()[2]],
        )
        self.row_of_var = np.searchsorted(offsets, start, side="right") - 1
        counts = np.bincount(self.row_of_var, minlength=self.n)
        self.var_offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
        self.row_of_part = np.repeat(np.arange(self.n, dtype=np.int64), counts + 1)
        k = np.arange(len(start), dtype=np.int64)
        self.values = pieces.take(pa.array(2 * k + self.row_of_var + 1))
        q = np.arange(len(self.row_of_part), dtype=np.int64)
        self.parts = pieces.take(pa.array(2 * q - self.row_of_part))


def _slot_keys(split: _Split) -> np.ndarray:
    """Per variable: context id * MAX_OCCURRENCE + occurrence, or -1 past MAX_OCCURRENCE."""
    k = np.arange(len(split.values), dtype=np.int64)
    before = split.parts.take(pa.array(k + split.row_of_var))
    ctx = pc.utf8_slice_codeunits(before, -CONTEXT)
    ctx_id = np.asarray(pc.dictionary_encode(ctx).indices, dtype=np.int64)
    group = split.row_of_var * (int(ctx_id.max(initial=0)) + 1) + ctx_id
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    occ = np.empty_like(k)
    occ[order] = np.arange(len(order)) - first
    return np.where(occ < MAX_OCCURRENCE, ctx_id * MAX_OCCURRENCE + occ, -1)


def _slots(keys: np.ndarray, values: pa.Array) -> np.ndarray:
    """Per variable: a slot for the most frequent keys (repetitive ones in the dictionary slots),
    -1 (inline) for the rest."""
    valid = keys >= 0
    uniq, counts = np.unique(keys[valid], return_counts=True)
    top = np.argsort(-counts, kind="stable")[: 2 * SLOTS]
    top = top[counts[top] >= MIN_SLOT_ROWS]
    slot = np.full(len(keys), -1, dtype=np.int64)
    if not len(top):
        return slot
    repetitive = _distinct_ratio(keys, values, uniq[top]) <= REPETITIVE
    dict_keys = uniq[top][repetitive][:DICT_SLOTS]
    other_keys = uniq[top][~repetitive][: SLOTS - DICT_SLOTS]
    targets = np.r_[np.arange(len(dict_keys)), DICT_SLOTS + np.arange(len(other_keys))]
    slot[valid] = _map(keys[valid], np.r_[dict_keys, other_keys], targets)
    return slot


def _distinct_ratio(keys: np.ndarray, values: pa.Array, wanted: np.ndarray) -> np.ndarray:
    """Per key of `wanted`: distinct values / occurrences, estimated on every 8th variable."""
    sample = np.arange(0, len(keys), 8)
    ids = np.asarray(pc.dictionary_encode(values.take(pa.array(sample))).indices, dtype=np.int64)
    which = _map(keys[sample], wanted, np.arange(len(wanted)))
    hit = which >= 0
    pairs = np.unique(which[hit] * (int(ids.max(initial=0)) + 1) + ids[hit])
    distinct = np.bincount(pairs // (int(ids.max(initial=0)) + 1), minlength=len(wanted))
    seen = np.bincount(which[hit], minlength=len(wanted))
    return distinct / np.maximum(seen, 1)


def _map(values: np.ndarray, keys: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """targets[i] where values == keys[i], else -1 (keys unique)."""
    order = np.argsort(keys)
    pos = np.clip(np.searchsorted(keys[order], values), 0, len(keys) - 1)
    hit = keys[order][pos] == values
    return np.where(hit, targets[order][pos], -1)


def _derived(split: _Split, ts: pa.Array) -> np.ndarray:
    """Per variable: the code point of its DERIVED character when it equals a text of the row's
    timestamp, else 0."""
    out = np.zeros(len(split.values), dtype=np.int64)
    if not len(out):
        return out
    lengths = np.asarray(pc.binary_length(split.values), dtype=np.int64)
    row_ts = pc.take(ts, pa.array(split.row_of_var))
    positive = np.asarray(pc.greater(row_ts, 0), dtype=bool)
    for char in DERIVED:
        cand = np.flatnonzero(positive & (lengths == _derived_length(char)) & (out == 0))
        if len(cand):
            text = derived_text(pc.take(row_ts, pa.array(cand)), char)
            same = np.asarray(pc.equal(pc.take(split.values, pa.array(cand)), text), dtype=bool)
            out[cand[same]] = ord(char)
    return out


def _templates(split: _Split, pieces: pa.Array) -> pa.Array:
    """Per line: parts and pieces interleaved and joined."""
    n_parts, n_vars = len(split.parts), len(pieces)
    gather = np.empty(n_parts + n_vars, dtype=np.int64)
    q = np.arange(n_parts, dtype=np.int64)
    gather[2 * q - split.row_of_part] = q
    k = np.arange(n_vars, dtype=np.int64)
    gather[2 * k + split.row_of_var + 1] = n_parts + k
    both = pa.concat_arrays([split.parts.cast(pa.string()), pieces.cast(pa.string())]).take(pa.array(gather))
    return _joined(both, 2 * split.var_offsets + np.arange(split.n + 1, dtype=np.int64))


def _joined(both: pa.Array, starts: np.ndarray) -> pa.Array:
    """Strings made of the runs both[starts[i]:starts[i + 1]]: each run is one byte range of the
    data of `both` (a freshly gathered array), so nothing is copied."""
    if not len(both):
        return pa.array([""] * (len(starts) - 1), pa.string())
    piece_offsets = np.frombuffer(both.buffers()[1], np.int32)[both.offset : both.offset + len(both) + 1]
    data = both.buffers()[2] or pa.py_buffer(b"")
    bounds = piece_offsets[starts].astype(np.int32)
    return pa.Array.from_buffers(pa.string(), len(starts) - 1, [None, pa.py_buffer(bounds), data])


def encode(table: pa.Table) -> pa.Table:
    """`table` (stream, ts, line, meta) as ENCODED_SCHEMA rows, in the same order."""
    if not table.num_rows:
        return ENCODED_SCHEMA.empty_table()
    lines = table.column("line").combine_chunks()
    ts = table.column("ts").combine_chunks()
    split = _Split(lines)
    derived = _derived(split, ts)
    slot = _slots(np.where(derived > 0, -1, _slot_keys(split)), split.values)
    codes = np.where(derived > 0, derived, np.where(slot >= 0, slot + SLOT_BASE, 0))
    markers = pa.array([MARK + chr(c) for c in range(128)])
    pieces = pc.if_else(pa.array(codes > 0), markers.take(pa.array(codes)), split.values)
    marked = pc.match_substring(lines, MARK)
    tpl = pc.if_else(marked, pa.nulls(split.n, pa.string()), _templates(split, pieces))
    columns = {
        "stream": table.column("stream"),
        "ts": ts,
        "tpl": tpl,
        "line": None,
        "meta": table.column("meta"),
    }
    columns.update(zip(SLOT_COLUMNS, _slot_columns(split, slot), strict=True))
    return _verified(lines, columns)


def _slot_columns(split: _Split, slot: np.ndarray) -> list[pa.Array]:
    """The SLOTS columns: per row the value of its variable in that slot (at most one), else null."""
    order = np.flatnonzero(slot >= 0)
    order = order[np.argsort(slot[order], kind="stable")]
    gathered = split.values.take(pa.array(order)).cast(pa.string())
    _, offsets = _bounds(gathered)
    bounds = np.searchsorted(slot[order], np.arange(SLOTS + 1))
    out = []
    for s in range(SLOTS):
        rows = split.row_of_var[order[bounds[s] : bounds[s + 1]]]
        if not len(rows):
            out.append(pa.nulls(split.n, pa.string()))
            continue
        lengths = np.zeros(split.n + 1, dtype=np.int64)
        lengths[rows + 1] = np.diff(offsets[bounds[s] : bounds[s + 1] + 1])
        valid = np.zeros(split.n, dtype=bool)
        valid[rows] = True
        own = (np.cumsum(lengths) + offsets[bounds[s]]).astype(np.int32)
        buffers = [
            pa.py_buffer(np.packbits(valid, bitorder="little")),
            pa.py_buffer(own),
            gathered.buffers()[2],
        ]
        out.append(pa.Array.from_buffers(pa.string(), split.n, buffers, split.n - len(rows)))
    return out


def _verified(lines: pa.Array, columns: dict[str, object]) -> pa.Table:
    """The encoded table, with lines that do not come back exactly (or have no template) stored whole."""
    n = len(lines)
    columns["line"] = pa.nulls(n, pa.string())
    enc = pa.table(columns, schema=ENCODED_SCHEMA)
    slots = pa.StructArray.from_arrays([enc.column(c).combine_chunks() for c in SLOT_COLUMNS], SLOT_COLUMNS)
    back = decode(enc.column("tpl"), enc.column("line"), enc.column("ts"), slots)
    bad = pc.invert(pc.equal(back, lines).fill_null(False))
    if not pc.any(bad).as_py():
        return enc
    tpl = pc.if_else(bad, pa.nulls(n, pa.string()), enc.column("tpl"))
    raw = pc.if_else(bad, lines, pa.nulls(n, pa.string()))
    return enc.set_column(2, "tpl", tpl).set_column(3, "line", raw)


def _first_bytes(arr: pa.Array, idx: np.ndarray) -> np.ndarray:
    """First byte of the strings of `arr` at positions `idx` (each non-empty)."""
    if not len(idx):
        return np.zeros(0, dtype=np.int64)
    offsets = np.frombuffer(arr.buffers()[1], np.int32)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], np.uint8)
    return data[offsets[idx]].astype(np.int64)


def _values(codes: np.ndarray, rows: np.ndarray, ts: pa.Array, values: tuple[pa.Array, ...]) -> pa.Array:
    """The value each marker (slot code, row) stands for."""
    n = len(ts)
    sources = [v.cast(pa.string()) for v in values]
    index = (codes - SLOT_BASE) * n + rows
    base = len(sources) * n
    for char in DERIVED:
        hit = np.flatnonzero(codes == ord(char))
        if len(hit):
            sources.append(derived_text(pc.take(ts, pa.array(rows[hit])), char))
            index[hit] = base + np.arange(len(hit))
            base += len(hit)
    return pa.concat_arrays(sources).take(pa.array(index))


def _one(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def decode(tpl: pa.Array, line: pa.Array, ts: pa.Array, slots: pa.StructArray) -> pa.Array:
    """Lines from encoded columns: template, whole line, ts and the slot columns as a struct."""
    tpl, line, ts, slots = _one(tpl), _one(line), _one(ts), _one(slots)
    n = len(tpl)
    values = tuple(slots.field(i) for i in range(SLOTS))
    pieces = pc.split_pattern(tpl.fill_null("") if tpl.null_count else tpl, MARK)
    offsets = np.asarray(pieces.offsets, dtype=np.int64)
    offsets -= offsets[0]
    flat = pieces.flatten()
    marker = np.ones(len(flat), dtype=bool)
    marker[offsets[:-1]] = False
    at = np.flatnonzero(marker)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))[at]
    vals = _values(_first_bytes(flat, at), rows, ts, values)
    texts = pc.if_else(pa.array(marker), pc.utf8_slice_codeunits(flat, 1), flat)
    end = np.cumsum(marker.astype(np.int64) + 1)
    gather = np.empty(int(end[-1]) if len(end) else 0, dtype=np.int64)
    gather[end - 1] = np.arange(len(flat))
    gather[end[at] - 2] = len(flat) + np.arange(len(at))
    joined = _joined(pa.concat_arrays([texts, vals]).take(pa.array(gather)), np.r_[0, end][offsets])
    return pc.if_else(pc.is_null(tpl), line, joined) if tpl.null_count else joined


def line_bytes(tpl: pa.Array, line: pa.Array, ts: pa.Array, slots: pa.StructArray) -> pa.Array:
    """UTF-8 length of each decoded line without building it: a template names each slot at most
    once and a slot column holds a value only where its template names it."""
    tpl, line, slots = _one(tpl), _one(line), _one(slots)
    total = pc.subtract(pc.binary_length(tpl), pc.multiply(pc.count_substring(tpl, MARK), 2))
    for i in range(SLOTS):
        total = pc.add(total, pc.binary_length(slots.field(i)).fill_null(0))
    for char in DERIVED:
        total = pc.add(total, pc.multiply(pc.count_substring(tpl, MARK + char), _derived_length(char)))
    return pc.if_else(pc.is_null(tpl), pc.binary_length(line), total).cast(pa.int64())


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make `pharos_line(tpl, line, ts, {v00: ..., ...})` (= `decode`) and `pharos_bytes(...)`
    (= `line_bytes`) available to SQL on `con`."""
    text = duckdb.sqltypes.VARCHAR
    slots = duckdb.struct_type({c: text for c in SLOT_COLUMNS})
    args: list[Any] = [text, text, duckdb.sqltypes.BIGINT, slots]  # the stub's element union is invariant
    for name, fn, out in (
        ("pharos_line", decode, text),
        ("pharos_bytes", line_bytes, duckdb.sqltypes.BIGINT),
    ):
        con.create_function(name, fn, args, out, type=ARROW, null_handling=SPECIAL, side_effects=False)
