"""Streaming deduplication: keyed state with a horizon, no GroupByKey.

Each article passes through a chain of stateful DoFns, one per kind of key, each keyed by that
key: its content hash (``t:``), its canonical URL (``u:``), its feed guid (``g:``) and then each
of its MinHash bands.  The state of a key holds the node of the first record seen with it (its
article id, uid and first-seen time) or, for a band, the sketches of the records seen in that
bucket.  Expiry is checked on access against the element's event time: an entry older than the
horizon (``--dedup-horizon``, default 7 days) is forgotten, so state is bounded by the articles of
one horizon and needs no timers (which fire too early on the local runner).  Articles are put in
the global window first: Beam keeps state per key and window, and dedup must span windows.  Keys that earlier
runs wrote to ``--output`` (the ``_index`` dataset) are a side input read once at start: a record
matching them is a duplicate of the earlier kept article.

The first record seen wins (there is no "earliest published" across an unbounded stream); a
record that matches an earlier one on any key becomes a duplicate of that record's cluster root.
The very same record read again (the same entry polled twice) writes nothing and is counted as
"already in output".
"""

from __future__ import annotations

import re
import typing
from typing import Optional

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from pipeline import metrics
from pipeline.dedup.exact import duplicate_row, exact_keys, existing_member, index_row, key_label, node_of, record_uid
from pipeline.dedup.index import ListFilesFn, index_pattern, read_index_table
from pipeline.dedup.minhash import MinHashConfig, MinHasher, sketch
from pipeline.dedup.near import verify

DUP = "_dup"  # transient: (kind, matched_on, root node, similarity) once a record is known to be a duplicate
NEAR = "_near"  # transient: (sketch, band keys)
AGAIN = "again"
DUPLICATES, INDEX = "duplicates", "index"
DEFAULT_HORIZON = "7d"
_HORIZON = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
KEY_KINDS = ("t", "u", "g")


def parse_horizon(value: str) -> float:
    """'7d', '12h', '90m', '3600s' or '3600' -> seconds."""
    match = _HORIZON.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 7d, 12h, 90m, 3600s)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def stream_identity(article: dict) -> str:
    """The same entry polled again: same article id (guid or URL, and text) from the same feed,
    wherever it sits in the feed now (its position is not part of it)."""
    return f"{article['article_id']}|{article['input_uri']}"


def _key_of(article: dict, kind: str) -> Optional[str]:
    for key in exact_keys(article):
        if key[0] == kind:
            return key
    return None


class SketchArticleFn(beam.DoFn):
    """Article -> the same article with its b-bit sketch and band keys (texts long enough)."""

    def __init__(self, config: MinHashConfig):
        self._config = config

    def setup(self) -> None:
        self._hasher = MinHasher(self._config)

    def process(self, article: dict):
        signature = self._hasher.signature(article["text"])
        if signature is None:
            yield article
        else:
            yield {**article, NEAR: (sketch(signature), self._hasher.band_keys(signature))}


KEYED = typing.Tuple[str, typing.Any]  # declared on every keying step: a deterministic key coder for the state


class KeyByFn(beam.DoFn):
    """Article -> (its key of one kind, article); articles without such a key pass as ('', article)."""

    def __init__(self, kind: str):
        self._kind = kind

    def process(self, article: dict):
        if self._kind == "b" or self._kind.startswith("b"):
            near = article.get(NEAR)
            band = int(self._kind[1:])
            yield (near[1][band] if near else ""), article
        else:
            yield (_key_of(article, self._kind) or ""), article


def _same_entry(article: dict, key: str, root, history) -> bool:
    """Written before as the same entry: its text key and its guid/URL key lead to the same
    earlier record (a feed entry polled again after a restart, maybe at another position)."""
    if key[0] != "t":
        return False
    for other in exact_keys(article):
        if other[0] in "gu":
            for _kind, other_root, _uid in history[other]:
                if other_root[3] == root[3]:
                    return True
    return False


class SeenKeyFn(beam.DoFn):
    """Keyed by one exact key: the first record seen with it (within the horizon) is its owner;
    later records with it are duplicates of the owner's cluster root."""

    FIRST = ReadModifyWriteStateSpec("first", PickleCoder())  # (root node, owner identity, first-seen event time)

    def __init__(self, horizon_s: float):
        self._horizon = horizon_s

    def setup(self) -> None:
        self._expired = Metrics.counter(metrics.NAMESPACE, "dedup_state_expired")

    def process(self, element, history, timestamp=beam.DoFn.TimestampParam, first=beam.DoFn.StateParam(FIRST)):
        key, article = element
        if not key or article.get(DUP):
            yield article
            return
        now = float(timestamp)
        uid = record_uid(article)
        identity = stream_identity(article)
        earlier = list(history[key])
        # Written before as this very entry (a restart re-polls it): nothing to write, whatever
        # this job has seen since.
        for _kind, root, earlier_uid in earlier:
            if earlier_uid == uid or _same_entry(article, key, root, history):
                if first.read() is None:
                    first.write((root, identity, now))
                yield {**article, DUP: (AGAIN, None, root, 1.0)}
                return
        stored = first.read()
        if stored is not None and now - stored[2] > self._horizon:
            self._expired.inc()
            first.clear()
            stored = None
        if stored is not None:
            root, owner, _ = stored
            if owner == identity:
                yield {**article, DUP: (AGAIN, None, root, 1.0)}
            else:
                yield {**article, DUP: ("exact", key_label(key), root, 1.0)}
            return
        if earlier:
            _kind, root, _uid = earlier[0]
            yield {**article, DUP: ("exact", key_label(key), root, 1.0)}
            first.write((root, None, now))
            return
        first.write((node_of(article), identity, now))
        yield article


class NearBandFn(beam.DoFn):
    """Keyed by one band bucket: compare the record's sketch with the bucket's recent members
    (at most ``max_bucket``: more is boilerplate, counted); similar enough -> near duplicate."""

    BUCKET = ReadModifyWriteStateSpec("bucket", PickleCoder())  # [(root node, sketch, first-seen time)]

    def __init__(self, horizon_s: float, config: MinHashConfig, max_bucket: int):
        self._horizon = horizon_s
        self._config = config
        self._max_bucket = max_bucket

    def setup(self) -> None:
        self._oversized = Metrics.counter(metrics.NAMESPACE, "near/oversized_buckets")
        self._expired = Metrics.counter(metrics.NAMESPACE, "dedup_state_expired")

    def process(self, element, history, timestamp=beam.DoFn.TimestampParam, bucket=beam.DoFn.StateParam(BUCKET)):
        key, article = element
        near = article.get(NEAR)
        if not key or near is None or article.get(DUP):
            yield article
            return
        now = float(timestamp)
        members = bucket.read() or []
        fresh = [m for m in members if now - m[2] <= self._horizon]
        if len(fresh) != len(members):
            self._expired.inc(len(members) - len(fresh))
        best = None
        for root, other, _ in fresh + [(r, s, now) for _kind, r, s in history[key]]:
            found = verify(near[0], other, self._config)
            if found is not None and (best is None or found[1] > best[2]):
                best = (root, *found)
        if best is not None:
            if len(fresh) != len(members):
                bucket.write(fresh)
            yield {**article, DUP: ("near", best[1], best[0], round(best[2], 4))}
            return
        if len(fresh) < self._max_bucket:
            fresh.append((node_of(article), near[0], now))
        else:
            self._oversized.inc()
        bucket.write(fresh)
        yield article


INDEX_ROW = "_index_row"  # transient: a row's IndexRecord travels with it, so the sink publishes both in one commit


class ResolveStreamingFn(beam.DoFn):
    """Decided article -> kept article or duplicate row, each carrying its index row in
    ``INDEX_ROW`` (the sink publishes data and index of a bundle in one commit); nothing for
    a record read again."""

    def setup(self) -> None:
        self._exact = Metrics.counter(metrics.NAMESPACE, metrics.DUPLICATES_BY_KIND.format(kind="exact"))
        self._near = Metrics.counter(metrics.NAMESPACE, metrics.DUPLICATES_BY_KIND.format(kind="near"))
        self._already = Metrics.counter(metrics.NAMESPACE, metrics.ALREADY_WRITTEN)

    def process(self, article: dict):
        dup = article.get(DUP)
        near = article.get(NEAR)
        clean = {k: v for k, v in article.items() if k not in (DUP, NEAR)}
        if dup is not None and dup[0] == AGAIN:
            self._already.inc()
            return
        keys = exact_keys(clean) + (list(near[1]) if near else [])
        uid = record_uid(clean)
        if dup is None:
            root = node_of(clean)
            yield {**clean, "cluster_id": None, "duplicate_count": 0,
                   INDEX_ROW: index_row(keys, uid, root, near[0] if near else None)}
        else:
            kind, matched_on, root, similarity = dup
            (self._near if kind == "near" else self._exact).inc()
            row = duplicate_row(
                clean, duplicate_of=root[3], kind=kind, matched_on=matched_on, cluster_id=root[3], similarity=similarity)
            yield beam.pvalue.TaggedOutput(DUPLICATES, {**row, INDEX_ROW: index_row(keys, uid, root, near[0] if near else None)})


class ReadHistoryFn(beam.DoFn):
    """An index file -> (key, entry) for the keys earlier runs wrote: exact keys map to
    ("exact", root node, uid); band keys to ("band", root node, sketch)."""

    def process(self, path):
        table = read_index_table(path, ["uid", "root_uid", "root_article_id", "root_ts", "root_order", "keys", "signature"])
        for row in table.to_pylist():
            root, uid = existing_member(row)
            for key in row["keys"]:
                if key[0] == "b":
                    if row["signature"] is not None:
                        yield key, ("band", root, row["signature"])
                else:
                    yield key, ("exact", root, uid)


class DeduplicateStream(beam.PTransform):
    """Unbounded articles -> ``{"articles", "duplicates"}`` with keyed, expiring state; every
    row carries its index row in ``INDEX_ROW``."""

    def __init__(self, output: Optional[str], near: Optional[MinHashConfig] = MinHashConfig(),
                 horizon: str = DEFAULT_HORIZON):
        super().__init__()
        self._output = output
        self._near = near
        self._horizon = parse_horizon(horizon)

    def expand(self, articles):
        pipeline = articles.pipeline
        if self._output:
            history = (
                pipeline
                | "HistoryPattern" >> beam.Create([index_pattern(self._output)])
                | "ListHistory" >> beam.ParDo(ListFilesFn())
                | "ReadHistory" >> beam.ParDo(ReadHistoryFn()).with_output_types(KEYED)
            )
        else:
            history = pipeline | "NoHistory" >> beam.Create([]).with_output_types(KEYED)
        lookup = beam.pvalue.AsMultiMap(history)  # no GroupByKey: side-input lookups by key
        # State is kept per key *and window*: one global window, so dedup spans every window.
        stream = articles | "GlobalDedupWindow" >> beam.WindowInto(beam.window.GlobalWindows())
        if self._near is not None:
            stream = stream | "SketchArticles" >> beam.ParDo(SketchArticleFn(self._near))
        for kind in KEY_KINDS:
            name = {"t": "Text", "u": "Url", "g": "Guid"}[kind]
            stream = (
                stream
                | f"KeyBy{name}" >> beam.ParDo(KeyByFn(kind)).with_output_types(KEYED)
                | f"Seen{name}" >> beam.ParDo(SeenKeyFn(self._horizon), lookup)
            )
        if self._near is not None:
            for band in range(self._near.band_key_count):
                stream = (
                    stream
                    | f"KeyByBand{band:02d}" >> beam.ParDo(KeyByFn(f"b{band}")).with_output_types(KEYED)
                    | f"NearBand{band:02d}" >> beam.ParDo(
                        NearBandFn(self._horizon, self._near, self._near.max_bucket), lookup)
                )
        resolved = stream | "ResolveStream" >> beam.ParDo(ResolveStreamingFn()).with_outputs(DUPLICATES, main="articles")
        return {"articles": resolved.articles, "duplicates": resolved[DUPLICATES]}
