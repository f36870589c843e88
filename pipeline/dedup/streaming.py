"""Streaming deduplication: small keyed probes with timer-bounded state, joined back to the articles.

Each article is split in two (``ProbeArticles``): the article itself, keyed by a join key (its
record uid and a nonce), waits in ``HoldArticles``; a small *probe* (uid, identity, node, exact
keys, band keys, b-bit sketch: ~1.4 KB pickled, mostly its 16 band keys, whatever the article's
size) walks the stateful stages keyed by its keys: content hash (``SeenText``), canonical URL
(``SeenUrl``), guid (``SeenGuid``), one after the other (a text match with an earlier run waits
for the guid/URL stages to tell a copy from the same entry read again), then, if still
undecided, one element per MinHash band into ``NearBands`` (a single stage keyed by band key; a
band key starts with its band number). A probe with no key for an exact stage (no URL, no guid),
or already decided, is routed around it (``KeyBy*`` -> ``After*``, counted
``dedup/bypassed/<stage>``): there is no hot "" key; texts too short for a signature send
nothing to ``NearBands``. The exact verdict and every band result are joined to the held article
by its join key; ``ResolveStream`` turns the decision into a row carrying its index row.

State is bounded by ``--dedup-horizon`` in **event time**: every entry (an exact key's owner, a
band bucket's members, an earlier run's key, a held article) is cleared by an event-time timer
at its first-seen time + horizon, so a key never seen again is forgotten once the watermark
passes; an entry met after its horizon but before its timer fired (the watermark lags) is
ignored on access.  Event time because the horizon is a property of the stream (a replayed
backlog or a TestStream behaves as live traffic would) and because processing-time timers
would send the whole local job to the slower bundle-based runner.  A band bucket is a
``BagState`` (appended, never rewritten per element) with its size, capped at ``max_bucket``
(members beyond are counted in ``near/oversized_buckets``, not stored); its timer fires at its
oldest member's horizon, drops the expired members and re-arms for the next.  The local
FnApiRunner keeps every stage's input watermark at +infinity, so event-time timers fired right
after the bundle that set them, and it held data behind a Flatten until the source ended;
``pipeline.beam_fixes.fix_local_runner_streaming`` (applied by ``build_streaming_pipeline``)
fixes both for streaming runs only.  Articles are put in the global window first: Beam keeps
state per key and window, and dedup must span windows.

Earlier runs (``--output``'s ``_index``, listed by ``ListFilesFn`` so only committed runs count)
enter by key: each index entry is a ``history`` element flattened into the keyed stage of its
key, timestamped with the time the job read it and expiring one horizon later like any other
entry (its ``root_ts``, a publication date, may be years old: expiring from it would forget an
archive at once).  No side input: a record read in the first moments of a job may race its
history; a history entry that arrives after this run claimed its key takes the key over (the
earlier run's article wins from then on) and is counted in ``dedup/history_after_claim``.

The first record seen wins (there is no "earliest published" across an unbounded stream); a
record that matches an earlier one on any key becomes a duplicate of that record's cluster root.
The very same record read again (the same entry polled twice, in this run or an earlier one)
writes nothing and is counted as "already in output".
"""

from __future__ import annotations

import logging
import os
import re
import time
import typing
from typing import Any, Optional

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.typehints.native_type_compatibility import convert_to_beam_type
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer

from pipeline import metrics
from pipeline.records import INDEX_ROW
from pipeline.dedup.exact import duplicate_row, exact_keys, existing_member, index_row, key_label, node_of, record_uid
from pipeline.dedup.index import ListFilesFn, index_pattern, read_index_table
from pipeline.dedup.minhash import MinHashConfig, MinHasher, sketch
from pipeline.dedup.near import verify

_LOG = logging.getLogger(__name__)

DUP = "_dup"  # transient: (kind, matched_on, root node, similarity) once a record is known to be a duplicate
NEAR = "_near"  # transient: (sketch, band keys)
AGAIN = "again"
DUPLICATES, INDEX = "duplicates", "index"
PROBES, BYPASS, BANDS = "probes", "bypass", "bands"
DEFAULT_HORIZON = "7d"
_HORIZON = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
KEY_KINDS = ("t", "u", "g")
STAGE_NAMES = {"t": "Text", "u": "Url", "g": "Guid"}
ARTICLE, VERDICT, BAND, PROBE, HISTORY = "article", "verdict", "band", "probe", "history"


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


# ---------------------------------------------------------------------------------------------
# Plain functions: what travels, what is stored, what is decided.

# A probe: the small record that walks the keyed stages instead of the article.
#   join: join key of the held article; uid: record uid; identity: stream_identity;
#   node: the record's dedup node; keys: exact keys; bands: band keys or None; sketch: bytes or None;
#   dup: (kind, matched_on, root, similarity) once decided; pending: (matched_on, root) when the
#   text matched an earlier run's record and a later exact stage may still prove it the same entry.
Probe = dict


def make_probe(article: dict, join: str, near: Optional[tuple[bytes, list[str]]]) -> Probe:
    return {
        "join": join, "uid": record_uid(article), "identity": stream_identity(article), "node": node_of(article),
        "keys": exact_keys(article), "bands": list(near[1]) if near else None, "sketch": near[0] if near else None,
        "dup": None, "pending": None,
    }


def stage_label(kind: str) -> str:
    """Counter label of an exact stage: text, url or guid."""
    return {"t": "text", "u": "url", "g": "guid"}[kind]


def stage_key(probe: Probe, kind: str) -> Optional[str]:
    """The probe's key of ``kind`` ('t', 'u', 'g'), or None when it has none or is already decided."""
    if probe["dup"] is not None:
        return None
    for key in probe["keys"]:
        if key[0] == kind:
            return key
    return None


# An exact key's state: (root node, owner identity or None for an earlier run's record,
# first-seen event time, owner record uid).
Owner = tuple[Any, Optional[str], float, str]


def owner_entry(probe: Probe, now: float) -> Owner:
    return probe["node"], probe["identity"], now, probe["uid"]


def history_owner(root, uid: str, now: float) -> Owner:
    return root, None, now, uid


def decide_exact(key: str, probe: Probe, stored: Optional[Owner]) -> tuple[dict, bool]:
    """``(updates to the probe, whether the probe claims the key)`` for a probe meeting the
    (unexpired) state of one exact key."""
    if stored is None:
        return {}, probe["pending"] is None  # a pending probe is a duplicate anyway: it claims nothing
    root, owner, _, uid = stored
    if owner is not None:  # claimed in this run
        if owner == probe["identity"]:
            return {"dup": (AGAIN, None, root, 1.0)}, False
        if probe["pending"] is not None:
            return {}, False  # the earlier run's match on its text decides
        return {"dup": ("exact", key_label(key), root, 1.0)}, False
    if uid == probe["uid"]:  # the very record an earlier run wrote
        return {"dup": (AGAIN, None, root, 1.0)}, False
    if probe["pending"] is not None:
        # same text and same guid/URL as one earlier record: that entry read again at another position
        return ({"dup": (AGAIN, None, root, 1.0)} if probe["pending"][1][3] == root[3] else {}), False
    if key[0] == "t":
        return {"pending": (key_label(key), root)}, False
    return {"dup": ("exact", key_label(key), root, 1.0)}, False


def exact_verdict(probe: Probe):
    """The probe's decision after the exact stages: None (no exact match) or
    (kind, matched_on, root, similarity)."""
    if probe["dup"] is not None:
        return probe["dup"]
    if probe["pending"] is not None:
        matched_on, root = probe["pending"]
        return "exact", matched_on, root, 1.0
    return None


def band_probes(probe: Probe) -> list[tuple[str, tuple]]:
    """``(band key, (join, node, sketch))`` for every band of an undecided probe with a signature."""
    if exact_verdict(probe) is not None or not probe["bands"]:
        return []
    return [(key, (probe["join"], probe["node"], probe["sketch"])) for key in probe["bands"]]


def combine_verdict(exact, band_results) -> Optional[tuple]:
    """An article's decision: its exact verdict, else the most similar band match (ties: the
    lowest root), else None (kept)."""
    if exact is not None:
        return exact
    matches = [m for m in band_results if m is not None]
    if not matches:
        return None
    root, matched_on, similarity = min(matches, key=lambda m: (-m[2], m[0]))
    return "near", matched_on, root, round(similarity, 4)


# A band bucket member: (root node, sketch, first-seen event time).
Member = tuple[Any, bytes, float]


def best_match(probe_sketch: bytes, members, now: float, horizon: float, config: MinHashConfig):
    """``(root, matched_on, value)`` of the most similar unexpired member, or None."""
    best = None
    for root, other, seen in members:
        if now - seen > horizon:
            continue
        matched = verify(probe_sketch, other, config)
        if matched is not None and (best is None or matched[1] > best[2]):
            best = (root, *matched)
    return best


def split_expired(members, fire_ts: float, horizon: float) -> tuple[list, int]:
    """The members still inside the horizon at ``fire_ts``, and how many are past it."""
    keep = [m for m in members if m[2] + horizon > fire_ts]
    return keep, len(members) - len(keep)


KEYED = typing.Tuple[str, typing.Any]  # declared on every keying step: a deterministic key coder for the state
_KEYED_HINT = convert_to_beam_type(KEYED)  # the same, for tagged outputs (typed by assignment)


# ---------------------------------------------------------------------------------------------
# DoFns.

class ProbeArticlesFn(beam.DoFn):
    """Article -> ``(join, ("article", article + its sketch))`` to hold, and its probe (``PROBES``)."""

    def __init__(self, config: Optional[MinHashConfig]):
        self._config = config

    def setup(self) -> None:
        self._hasher = MinHasher(self._config) if self._config is not None else None

    def process(self, article: dict):
        near = None
        if self._hasher is not None:
            signature = self._hasher.signature(article["text"])
            if signature is not None:
                near = (sketch(signature), self._hasher.band_keys(signature))
        # a nonce: the same record (same uid) may be read twice at once (a Pub/Sub redelivery)
        join = f"{record_uid(article)}/{os.urandom(6).hex()}"
        held = {**article, NEAR: near} if near else article
        yield join, (ARTICLE, held)
        yield beam.pvalue.TaggedOutput(PROBES, make_probe(article, join, near))


class KeyProbeFn(beam.DoFn):
    """Probe -> ``(its key for the stage, ("probe", probe))``, or the probe itself on ``BYPASS``
    when it has no key there."""

    def __init__(self, stage):
        self._stage = stage

    def setup(self) -> None:
        label = stage_label(self._stage)
        self._keyed = Metrics.counter(metrics.NAMESPACE, metrics.DEDUP_KEYED.format(stage=label))
        self._bypassed = Metrics.counter(metrics.NAMESPACE, metrics.DEDUP_BYPASSED.format(stage=label))

    def process(self, probe: Probe):
        key = stage_key(probe, self._stage)
        if key is None:
            self._bypassed.inc()
            yield beam.pvalue.TaggedOutput(BYPASS, probe)
        else:
            self._keyed.inc()
            yield key, (PROBE, probe)


class SeenKeyFn(beam.DoFn):
    """Keyed by one exact key: the first record seen with it (within the horizon) owns it; later
    records with it are duplicates of the owner's cluster root.  State: one ``Owner`` per key,
    cleared by a timer at first-seen + horizon."""

    FIRST = ReadModifyWriteStateSpec("first", PickleCoder())  # Owner
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, horizon_s: float):
        self._horizon = horizon_s

    def setup(self) -> None:
        self._expired = Metrics.counter(metrics.NAMESPACE, metrics.DEDUP_STATE_EXPIRED)
        self._written = Metrics.counter(metrics.NAMESPACE, metrics.DEDUP_STATE_WRITTEN)
        self._late_history = Metrics.counter(metrics.NAMESPACE, metrics.DEDUP_HISTORY_AFTER_CLAIM)

    def process(self, element, timestamp=beam.DoFn.TimestampParam, first=beam.DoFn.StateParam(FIRST),
                expiry=beam.DoFn.TimerParam(EXPIRY)):
        key, (what, value) = element
        now = float(timestamp)
        stored = first.read()
        if stored is not None and now - stored[2] > self._horizon:
            stored = None  # past its horizon, its timer not fired yet (the watermark lags): forgotten
        if what == HISTORY:
            if stored is not None and stored[1] is not None:
                self._late_history.inc()
            first.write(history_owner(*value, now))
            expiry.set(now + self._horizon)
            self._written.inc()
            return
        updates, claim = decide_exact(key, value, stored)
        if claim:
            first.write(owner_entry(value, now))
            expiry.set(now + self._horizon)
            self._written.inc()
        yield {**value, **updates} if updates else value

    @on_timer(EXPIRY)
    def expire(self, fire=beam.DoFn.TimestampParam, first=beam.DoFn.StateParam(FIRST),
               expiry=beam.DoFn.TimerParam(EXPIRY)):
        stored = first.read()
        if stored is None:
            return
        if stored[2] + self._horizon <= float(fire):
            first.clear()
            self._expired.inc()
        else:  # re-claimed after this timer was set (a timer set again may still fire once)
            expiry.set(stored[2] + self._horizon)


class NearBandFn(beam.DoFn):
    """Keyed by one band bucket (all bands in one stage: a band key starts with its band number):
    compare a probe's sketch with the bucket's members (at most ``max_bucket``, the rest counted,
    not stored) -> ``(join, ("band", (root, matched_on, value) or None))``.  State: a bag
    of ``Member`` (appended, never rewritten per element) and its size; a timer at the oldest
    member's first-seen + horizon drops the expired members and re-arms for the next."""

    MEMBERS = BagStateSpec("members", PickleCoder())  # Member
    SIZE = ReadModifyWriteStateSpec("size", PickleCoder())  # int: members in the bag
    NEXT = ReadModifyWriteStateSpec("next", PickleCoder())  # float: when the timer fires
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, horizon_s: float, config: MinHashConfig):
        self._horizon = horizon_s
        self._config = config

    def setup(self) -> None:
        self._oversized = Metrics.counter(metrics.NAMESPACE, metrics.NEAR_OVERSIZED)
        self._expired = Metrics.counter(metrics.NAMESPACE, metrics.DEDUP_STATE_EXPIRED)
        self._written = Metrics.counter(metrics.NAMESPACE, metrics.DEDUP_STATE_WRITTEN)

    def _add(self, member: Member, members, size, nxt, expiry) -> None:
        count = size.read() or 0
        if count >= self._config.max_bucket:
            self._oversized.inc()
            return
        members.add(member)
        size.write(count + 1)
        self._written.inc()
        due = nxt.read()
        if due is None or member[2] + self._horizon < due:
            expiry.set(member[2] + self._horizon)
            nxt.write(member[2] + self._horizon)

    def process(self, element, timestamp=beam.DoFn.TimestampParam, members=beam.DoFn.StateParam(MEMBERS),
                size=beam.DoFn.StateParam(SIZE), nxt=beam.DoFn.StateParam(NEXT), expiry=beam.DoFn.TimerParam(EXPIRY)):
        _key, (what, value) = element
        now = float(timestamp)
        if what == HISTORY:
            root, signature = value
            self._add((root, signature, now), members, size, nxt, expiry)
            return
        join, node, probe_sketch = value
        best = best_match(probe_sketch, members.read(), now, self._horizon, self._config)
        if best is None:
            self._add((node, probe_sketch, now), members, size, nxt, expiry)
        yield join, (BAND, best)

    @on_timer(EXPIRY)
    def expire(self, fire=beam.DoFn.TimestampParam, members=beam.DoFn.StateParam(MEMBERS),
               size=beam.DoFn.StateParam(SIZE), nxt=beam.DoFn.StateParam(NEXT), expiry=beam.DoFn.TimerParam(EXPIRY)):
        keep, expired = split_expired(list(members.read()), float(fire), self._horizon)
        if not expired:
            due = nxt.read()
            if due is not None and due > float(fire):
                expiry.set(due)  # an older timer: the current one is still set
            return
        self._expired.inc(expired)
        members.clear()
        for member in keep:
            members.add(member)
        if keep:
            size.write(len(keep))
            due = min(m[2] for m in keep) + self._horizon
            expiry.set(due)
            nxt.write(due)
        else:
            size.clear()
            nxt.clear()


class VerdictFn(beam.DoFn):
    """Probe after the exact stages -> ``(join, ("verdict", (exact verdict, bands to wait for)))``
    for the held article, and one ``(band key, ("probe", (join, node, sketch)))`` per band on
    ``BANDS`` when it is still undecided."""

    def process(self, probe: Probe):
        bands = band_probes(probe)
        yield probe["join"], (VERDICT, (exact_verdict(probe), len(bands)))
        for key, value in bands:
            yield beam.pvalue.TaggedOutput(BANDS, (key, (PROBE, value)))


class HoldArticlesFn(beam.DoFn):
    """Keyed by join key: holds an article until its exact verdict and every band result it
    waits for have arrived (they may come in any order), then emits the article with its
    decision in ``DUP``.  Bounded by a timer at first-seen + horizon: an article still
    undecided then is kept (counted, never dropped); parts without their article are counted
    and dropped."""

    HELD = ReadModifyWriteStateSpec("held", PickleCoder())  # {"article", "verdict", "bands": [...]}
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, horizon_s: float):
        self._horizon = horizon_s

    def setup(self) -> None:
        self._timeout = Metrics.counter(metrics.NAMESPACE, metrics.DEDUP_VERDICT_TIMEOUT)
        self._orphan = Metrics.counter(metrics.NAMESPACE, metrics.DEDUP_VERDICT_ORPHAN)

    def process(self, element, timestamp=beam.DoFn.TimestampParam, held=beam.DoFn.StateParam(HELD),
                expiry=beam.DoFn.TimerParam(EXPIRY)):
        _join, (what, value) = element
        parts = held.read()
        if parts is None:
            parts = {"bands": []}
            expiry.set(float(timestamp) + self._horizon)
        if what == BAND:
            parts["bands"].append(value)
        else:
            parts[what] = value
        verdict = parts.get(VERDICT)
        if ARTICLE in parts and verdict is not None and len(parts["bands"]) >= verdict[1]:
            held.clear()
            expiry.clear()
            decision = combine_verdict(verdict[0], parts["bands"])
            article = parts[ARTICLE]
            yield {**article, DUP: decision} if decision is not None else article
        else:
            held.write(parts)

    @on_timer(EXPIRY)
    def expire(self, join=beam.DoFn.KeyParam, held=beam.DoFn.StateParam(HELD)):
        parts = held.read()
        if parts is None:
            return
        held.clear()
        if ARTICLE in parts:
            self._timeout.inc()
            _LOG.error("dedup: %s undecided within the horizon; kept", join)
            yield parts[ARTICLE]
        else:
            self._orphan.inc()
            _LOG.error("dedup: verdict parts for %s arrived after their article was released", join)




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


def history_entries(row: dict, near: bool):
    """``(stage, key, entry)`` for one ``IndexRecord``: exact keys -> ('t'/'u'/'g', key, (root
    node, uid)); band keys -> ('bands', key, (root node, sketch)) when the row has a sketch and
    near dedup is on."""
    root, uid = existing_member(row)
    for key in row["keys"]:
        if key[0] == "b":
            if near and row["signature"] is not None:
                yield BANDS, key, (root, row["signature"])
        else:
            yield key[0], key, (root, uid)


class ReadHistoryFn(beam.DoFn):
    """An index file -> ``(key, ("history", entry))`` on the output of its key's stage,
    timestamped with the time the job read it (its horizon starts then)."""

    _COLUMNS = ["uid", "root_uid", "root_article_id", "root_ts", "root_order", "keys", "signature"]

    def __init__(self, near: bool):
        self._near = near

    def process(self, path):
        table = read_index_table(path, self._COLUMNS)  # a committed file (ListFilesFn)
        read_at = time.time()
        for row in table.to_pylist():
            for stage, key, entry in history_entries(row, self._near):
                yield beam.pvalue.TaggedOutput(
                    stage, beam.window.TimestampedValue((key, (HISTORY, entry)), read_at))


class DeduplicateStream(beam.PTransform):
    """Unbounded articles -> ``{"articles", "duplicates"}`` with keyed, timer-bounded state;
    every row carries its index row in ``INDEX_ROW``."""

    def __init__(self, output: Optional[str], near: Optional[MinHashConfig] = MinHashConfig(),
                 horizon: str = DEFAULT_HORIZON):
        super().__init__()
        self._output = output
        self._near = near
        self._horizon = parse_horizon(horizon)

    def expand(self, articles):
        pipeline = articles.pipeline
        stages = list(KEY_KINDS) + ([BANDS] if self._near is not None else [])
        history = {}
        if self._output:
            read = (
                pipeline
                | "HistoryPattern" >> beam.Create([index_pattern(self._output)])
                | "ListHistory" >> beam.ParDo(ListFilesFn())
                | "SpreadHistory" >> beam.Reshuffle()
                | "ReadHistory" >> beam.ParDo(ReadHistoryFn(self._near is not None)).with_outputs(*stages)
            )
            for stage in stages:
                history[stage] = read[stage]
                history[stage].element_type = _KEYED_HINT

        def with_history(keyed, stage: str, name: str):
            if stage not in history:
                return keyed
            return (keyed, history[stage]) | f"History{name}" >> beam.Flatten().with_output_types(KEYED)

        # State is kept per key *and window*: one global window, so dedup spans every window.
        split = (
            articles
            | "GlobalDedupWindow" >> beam.WindowInto(beam.window.GlobalWindows())
            | "ProbeArticles" >> beam.ParDo(ProbeArticlesFn(self._near)).with_output_types(KEYED).with_outputs(
                PROBES, main=ARTICLE)
        )
        probes = split[PROBES]
        for kind in KEY_KINDS:
            name = STAGE_NAMES[kind]
            keyed = probes | f"KeyBy{name}" >> beam.ParDo(KeyProbeFn(kind)).with_output_types(KEYED).with_outputs(
                BYPASS, main=PROBE)
            seen = with_history(keyed[PROBE], kind, name) | f"Seen{name}" >> beam.ParDo(SeenKeyFn(self._horizon))
            probes = (seen, keyed[BYPASS]) | f"After{name}" >> beam.Flatten()
        verdicts = probes | "Verdicts" >> beam.ParDo(VerdictFn()).with_output_types(KEYED).with_outputs(
            BANDS, main=VERDICT)
        parts = [split[ARTICLE], verdicts[VERDICT]]
        if self._near is not None:
            bands = verdicts[BANDS]
            bands.element_type = _KEYED_HINT
            parts.append(
                with_history(bands, BANDS, "Bands")
                | "NearBands" >> beam.ParDo(NearBandFn(self._horizon, self._near)).with_output_types(KEYED))
        decided = (
            tuple(parts)
            | "JoinVerdicts" >> beam.Flatten().with_output_types(KEYED)
            | "HoldArticles" >> beam.ParDo(HoldArticlesFn(self._horizon))
        )
        resolved = decided | "ResolveStream" >> beam.ParDo(ResolveStreamingFn()).with_outputs(DUPLICATES, main="articles")
        return {"articles": resolved.articles, "duplicates": resolved[DUPLICATES]}
