"""Dedup: the plain functions (keys, clusters, MinHash, candidates) and the composite."""

from __future__ import annotations

from datetime import datetime, timezone

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.dedup import DeduplicateArticles
from pipeline.dedup.exact import UnionFind, exact_group, exact_keys, existing_member, index_row, node_of, record_uid, resolve
from pipeline.dedup.minhash import MinHashConfig, MinHasher, estimated_jaccard, sketch, sketch_similarity
from pipeline.dedup.near import band_group, verify

STORY = (
    "The central bank held interest rates at 4.75% on Thursday, saying that inflation was close to its target "
    "and that the economy was growing at a steady pace. Analysts had expected the decision, although some had "
    "argued for a cut to support exporters hit by the strong currency. The bank's governor said the committee "
    "would keep watching house prices and consumer spending, which slowed in the final months of the year. "
    "Markets barely moved after the announcement, and the currency held its gains against the dollar."
)


def art(article_id, text="t", url=None, guid=None, published=None, uri=None, position=None):
    return {
        "schema_version": "1", "article_id": article_id, "title": f"title {article_id}", "text": text,
        "content_hash": f"h-{text}", "canonical_url": url, "url": url, "guid": guid,
        "published_at": datetime(2021, 8, published, tzinfo=timezone.utc) if published else None,
        "input_uri": uri or f"/in/{article_id}.txt", "input_format": "text", "position": position,
        "cluster_id": None, "duplicate_count": 0,
    }


# ---- exact ------------------------------------------------------------------------------

def test_keys():
    assert exact_keys(art("a", url="https://x/1", guid="g1")) == ["t:h-t", "u:https://x/1", "g:g1"]


def test_record_uid_distinguishes_the_same_article_read_twice():
    assert record_uid(art("s", uri="/a/s.txt")) != record_uid(art("s", uri="/b/s.txt"))
    assert record_uid(art("s", uri="/a/s.txt")) == record_uid(art("s", uri="/a/s.txt"))


def test_rank_earliest_date_then_input_order():
    assert node_of(art("z", published=1)) < node_of(art("a", published=2))
    assert node_of(art("z", uri="/in/a.txt")) < node_of(art("a", uri="/in/b.txt"))
    assert node_of(art("z", published=1)) < node_of(art("a"))  # unknown dates last


def test_exact_group_star_and_existing_records():
    a, b, c = art("a", published=3), art("b", published=2), art("c")
    members = [(node_of(x), record_uid(x)) for x in (a, b, c)]
    edges, seen = exact_group("u:x", members)
    assert {(e[0][3], e[1][3], e[2]) for e in edges} == {("a", "b", "url"), ("c", "b", "url")}
    assert seen == []
    # The same key written by an earlier run: its kept article heads the group.
    old = existing_member(index_row(["u:x"], "old-uid", node_of(art("k", published=9)), None))
    edges, _ = exact_group("u:x", members + [old])
    assert {e[1][3] for e in edges} == {"k"}
    # A record whose uid is in the index was already written.
    again = existing_member(index_row(["u:x"], record_uid(a), node_of(a), None))
    _, seen = exact_group("u:x", [(node_of(a), record_uid(a)), again])
    assert seen == [(record_uid(a), "a")]
    assert exact_group("u:x", [old]) == ([], [])


def _components(pairs):
    uf = UnionFind()
    for x, y, label in pairs:
        uf.union(node_of(x), node_of(y), label, 0.9 if label == "minhash" else 1.0)
    return dict(uf.components())


def test_union_find_is_transitive_and_order_independent():
    a, b, c, d = art("a", published=5), art("b", published=1), art("c"), art("d")
    edges = [(a, b, "url"), (c, a, "minhash")]
    first, second = _components(edges), _components(edges[::-1])
    assert first == second
    root = node_of(b)
    assert first[record_uid(a)] == (root, "url", 1.0, 3)
    assert first[record_uid(c)] == (root, "minhash", 0.9, 3)
    assert first[record_uid(b)] == (root, None, 1.0, 3)
    assert record_uid(d) not in first


def test_union_find_merge():
    left, right = UnionFind(), UnionFind()
    x, y, z = art("x", published=3), art("y", published=2), art("z", published=1)
    left.union(node_of(x), node_of(y), "url")
    right.union(node_of(y), node_of(z), "text")
    left.merge(right)
    assert {comp[0][3] for _, comp in left.components()} == {"z"}


def test_resolve():
    copy1, copy2 = art("s", uri="/b/s.txt"), art("s", uri="/a/s.txt")
    comps = _components([(copy1, copy2, "text")])
    results = [resolve(a, comps[record_uid(a)]) for a in (copy1, copy2)]
    kept = [row for kind, row, _ in results if kind == "article"]
    dups = [row for kind, row, _ in results if kind == "duplicate"]
    assert len(kept) == len(dups) == 1
    assert kept[0]["input_uri"] == "/a/s.txt" and kept[0]["duplicate_count"] == 1 and kept[0]["cluster_id"] == "s"
    assert dups[0]["duplicate_of"] == "s" and dups[0]["matched_on"] == "id" and dups[0]["kind"] == "exact"
    near = art("n", text="other")
    kind, row, _ = resolve(near, _components([(near, copy2, "minhash")])[record_uid(near)])
    assert (kind, row["kind"], row["matched_on"], row["similarity"], row["duplicate_of"]) == ("duplicate", "near", "minhash", 0.9, "s")
    assert resolve(art("lonely"), None)[:2] == ("article", art("lonely"))


# ---- MinHash --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hasher():
    return MinHasher()


def _jaccard(a: str, b: str, k: int = 5) -> float:
    def shingles(text):
        words = text.lower().replace(".", " ").replace(",", " ").split()
        return {" ".join(words[i:i + k]) for i in range(len(words) - k + 1)}
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def test_signature_deterministic_and_short_texts_skipped(hasher):
    sig = hasher.signature(STORY)
    assert sig.dtype == np.uint32 and sig.size == 96
    assert np.array_equal(sig, MinHasher().signature(STORY))
    assert hasher.signature("Too short to compare by shingles.") is None
    assert len(hasher.band_keys(sig)) == 16 and len(set(hasher.band_keys(sig))) == 16


def test_estimate_tracks_true_jaccard(hasher):
    edited = STORY.replace("Thursday", "Friday").replace("Markets barely moved", "Markets hardly moved")
    unrelated = ("Fans queued overnight for tickets to the final, which sold out within an hour of going on sale. "
                 "The club said extra screens would be set up in the park so that supporters without a seat could "
                 "watch the match together, and police said they expected a large but peaceful crowd in the city.")
    assert abs(estimated_jaccard(hasher.signature(STORY), hasher.signature(edited)) - _jaccard(STORY, edited)) < 0.12
    assert estimated_jaccard(hasher.signature(STORY), hasher.signature(unrelated)) < 0.1


def test_s_curve():
    config = MinHashConfig()
    assert config.candidate_probability(0.8) > 0.99 and config.candidate_probability(0.3) < 0.02


def test_band_group_is_a_star_with_a_cap(hasher):
    sig = sketch(hasher.signature(STORY))
    other = sketch(hasher.signature("completely different words about a cricket match " * 8))
    records = (art("a", published=2), art("b", published=1), art("c", published=3))
    members = [(node_of(x), record_uid(x), s) for x, s in zip(records, (sig, sig, other))]
    edges, pending, compared, oversized = band_group(members + members[:1], max_bucket=10, threshold=0.75)
    # star around the lowest member b: a is verified similar, c is compared and rejected
    assert not oversized and not pending and compared == 2
    assert [(e[0][3], e[1][3], e[2], e[3]) for e in edges] == [("a", "b", "minhash", 1.0)]
    assert band_group(members, max_bucket=2, threshold=0.75) == ([], [], 0, True)
    assert band_group(members[:1], max_bucket=10, threshold=0.75) == ([], [], 0, False)


def test_band_group_defers_written_heads(hasher):
    sig = sketch(hasher.signature(STORY))
    new = art("n", published=1)
    written = existing_member({"uid": "w1", "root_uid": "r", "root_article_id": "root", "root_ts": 5.0,
                               "root_order": "x#1", "keys": []})
    edges, pending, compared, _ = band_group([(node_of(new), record_uid(new), sig), (*written, None)], 10, 0.75)
    # the written record outranks the new one although it is later: first seen wins
    assert edges == [] and compared == 0
    assert [(p[0][3], p[1][3], p[2]) for p in pending] == [("n", "root", "w1")]


def test_verify(hasher):
    a = sketch(hasher.signature(STORY))
    config = MinHashConfig(threshold=0.75)
    assert verify(a, a, config) == ("minhash", 1.0)
    assert verify(a, bytes(len(a)), config) is None
    assert verify(a, None, config) is None


def test_sketch_similarity_tracks_full_signature(hasher):
    edited = STORY.replace("Thursday", "Friday") + " Reporting by the wire desk."
    full = estimated_jaccard(hasher.signature(STORY), hasher.signature(edited))
    bbit = sketch_similarity(sketch(hasher.signature(STORY)), sketch(hasher.signature(edited)))
    assert len(sketch(hasher.signature(STORY))) == MinHashConfig().num_perm
    assert abs(full - bbit) < 0.05


# ---- composite ------------------------------------------------------------------------------

def test_composite_exact_and_near_clusters():
    near_copy = STORY.replace("Thursday", "Friday") + " Reporting by the wire desk."
    articles = [
        art("a", text="one", url="https://x/1", published=5),
        art("b", text="two", url="https://x/1", published=2),     # a~b by URL
        art("c", text="two", published=9),                        # b~c by text
        art("d", text="three", guid="g"),
        art("e", text="four", guid="g", published=1),             # d~e by guid
        art("f", text="five"),                                    # alone
        art("g", text="six", uri="/x/g.txt"),
        art("g", text="six", uri="/y/g.txt"),                     # the same article read twice
        art("s", text=STORY, published=3),
        art("t", text=near_copy, published=4),                    # near duplicate of s
    ]
    with TestPipeline() as p:
        out = p | beam.Create(articles) | DeduplicateArticles()
        assert_that(
            out["articles"] | "Kept" >> beam.Map(lambda a: (a["article_id"], a["cluster_id"], a["duplicate_count"])),
            equal_to([("b", "b", 2), ("e", "e", 1), ("f", None, 0), ("g", "g", 1), ("s", "s", 1)]),
            label="kept",
        )
        assert_that(
            out["duplicates"] | "Dups" >> beam.Map(lambda d: (d["article_id"], d["duplicate_of"], d["matched_on"], d["kind"])),
            equal_to([("a", "b", "url", "exact"), ("c", "b", "text", "exact"), ("d", "e", "guid", "exact"),
                      ("g", "g", "id", "exact"), ("t", "s", "minhash", "near")]),
            label="dups",
        )
        assert_that(
            out["index"] | "Sigs" >> beam.Map(lambda r: len(r["signature"] or b"")),
            equal_to([96, 96] + [0] * 8),
            label="index",
        )
