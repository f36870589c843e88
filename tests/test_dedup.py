"""Exact dedup: the plain functions and the composite."""

from __future__ import annotations

from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.dedup import DeduplicateArticles
from pipeline.dedup.exact import UnionFind, exact_keys, rank_of, record_uid, resolve, star_edges


def art(article_id, text="t", url=None, guid=None, published=None, uri=None, position=None):
    return {
        "schema_version": "1", "article_id": article_id, "title": f"title {article_id}", "text": text,
        "content_hash": f"h-{text}", "canonical_url": url, "url": url, "guid": guid,
        "published_at": datetime(2021, 8, published, tzinfo=timezone.utc) if published else None,
        "input_uri": uri or f"/in/{article_id}.txt", "input_format": "text", "position": position,
        "cluster_id": None, "duplicate_count": 0,
    }


def test_keys():
    keys = [k for k, _ in exact_keys(art("a", url="https://x/1", guid="g1"))]
    assert keys == ["text:h-t", "url:https://x/1", "guid:g1"]


def test_record_uid_distinguishes_the_same_article_read_twice():
    assert record_uid(art("s", uri="/a/s.txt")) != record_uid(art("s", uri="/b/s.txt"))
    assert record_uid(art("s", uri="/a/s.txt")) == record_uid(art("s", uri="/a/s.txt"))


def test_star_edges_point_to_earliest_then_smallest_id():
    b, c, a = rank_of(art("b", published=3)), rank_of(art("c", published=2)), rank_of(art("a"))
    edges = list(star_edges("url:x", [b, c, a, b]))
    assert {(e[0][1], e[1][1], e[2]) for e in edges} == {("a", "c", "url"), ("b", "c", "url")}
    assert list(star_edges("url:x", [a, a])) == []


def _components(pairs):
    uf = UnionFind()
    for x, y, label in pairs:
        uf.union(rank_of(x), rank_of(y), label)
    return {uid: comp for uid, comp in uf.components()}


def test_union_find_is_transitive_and_order_independent():
    a, b, c, d = art("a", published=5), art("b", published=1), art("c"), art("d")
    edges = [(a, b, "url"), (c, a, "text")]
    first, second = _components(edges), _components(edges[::-1])
    assert first == second
    ub = record_uid(b)
    assert first[record_uid(a)] == (ub, "b", "url", 3)
    assert first[record_uid(c)] == (ub, "b", "text", 3)
    assert first[ub] == (ub, "b", None, 3)
    assert record_uid(d) not in first


def test_union_find_merge():
    left, right = UnionFind(), UnionFind()
    x, y, z = art("x", published=3), art("y", published=2), art("z", published=1)
    left.union(rank_of(x), rank_of(y), "url")
    right.union(rank_of(y), rank_of(z), "text")
    left.merge(right)
    assert {comp[1] for _, comp in left.components()} == {"z"}


def test_resolve():
    copy1, copy2 = art("s", uri="/b/s.txt"), art("s", uri="/a/s.txt")
    comps = _components([(copy1, copy2, "text")])
    results = [resolve(a, comps[record_uid(a)]) for a in (copy1, copy2)]
    kept = [row for kind, row in results if kind == "article"]
    dups = [row for kind, row in results if kind == "duplicate"]
    assert len(kept) == len(dups) == 1
    assert kept[0]["duplicate_count"] == 1 and kept[0]["cluster_id"] == "s"
    assert dups[0]["duplicate_of"] == "s" and dups[0]["matched_on"] == "id"
    assert resolve(art("lonely"), None) == ("article", art("lonely"))


def test_composite_transitive_clusters_and_singletons():
    articles = [
        art("a", text="one", url="https://x/1", published=5),
        art("b", text="two", url="https://x/1", published=2),     # a~b by URL
        art("c", text="two", published=9),                        # b~c by text
        art("d", text="three", guid="g"),
        art("e", text="four", guid="g", published=1),             # d~e by guid
        art("f", text="five"),                                    # alone
        art("g", text="six", uri="/x/g.txt"),
        art("g", text="six", uri="/y/g.txt"),                     # the same article read twice
    ]
    with TestPipeline() as p:
        out = p | beam.Create(articles) | DeduplicateArticles()
        assert_that(
            out["articles"] | "Kept" >> beam.Map(lambda a: (a["article_id"], a["cluster_id"], a["duplicate_count"])),
            equal_to([("b", "b", 2), ("e", "e", 1), ("f", None, 0), ("g", "g", 1)]),
            label="kept",
        )
        assert_that(
            out["duplicates"] | "Dups" >> beam.Map(lambda d: (d["article_id"], d["duplicate_of"], d["matched_on"], d["kind"])),
            equal_to([("a", "b", "url", "exact"), ("c", "b", "text", "exact"), ("d", "e", "guid", "exact"), ("g", "g", "id", "exact")]),
            label="dups",
        )
