"""Exact dedup: the plain functions and the composite."""

from __future__ import annotations

from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.dedup import DeduplicateArticles
from pipeline.dedup.exact import UnionFind, exact_keys, rank_of, resolve, star_edges


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


def test_star_edges_point_to_earliest_then_smallest_id():
    members = [(rank_of(art("b", published=3)), "b"), (rank_of(art("c", published=2)), "c"), (rank_of(art("a")), "a")]
    edges = list(star_edges("url:x", members))
    assert {(e[1], e[3], e[4]) for e in edges} == {("a", "c", "url"), ("b", "c", "url")}
    assert list(star_edges("url:x", members[:1])) == []


def test_union_find_is_transitive_and_order_independent():
    a, b, c, d = art("a", published=5), art("b", published=1), art("c"), art("d")
    edges = [(a, b, "url"), (c, a, "text")]
    results = []
    for order in (edges, edges[::-1]):
        uf = UnionFind()
        for x, y, label in order:
            uf.union(x["article_id"], rank_of(x), y["article_id"], rank_of(y), label)
        results.append(dict(uf.components()))
    assert results[0] == results[1]
    assert results[0]["a"] == ("b", "url", 3) and results[0]["c"] == ("b", "text", 3) and results[0]["b"] == ("b", None, 3)
    assert "d" not in results[0]


def test_union_find_merge():
    left, right = UnionFind(), UnionFind()
    x, y, z = art("x", published=3), art("y", published=2), art("z", published=1)
    left.union("x", rank_of(x), "y", rank_of(y), "url")
    right.union("y", rank_of(y), "z", rank_of(z), "text")
    left.merge(right)
    assert {n: c[0] for n, c in left.components()} == {"x": "z", "y": "z", "z": "z"}


def test_resolve_same_id_twice_keeps_one():
    copy1, copy2 = art("s", uri="/b/s.txt"), art("s", uri="/a/s.txt")
    out = list(resolve("s", [copy1, copy2], None))
    assert [k for k, _ in out] == ["article", "duplicate"]
    assert out[0][1]["input_uri"] == "/a/s.txt" and out[0][1]["duplicate_count"] == 1
    assert out[1][1]["duplicate_of"] == "s" and out[1][1]["matched_on"] == "id"


def test_composite_transitive_clusters_and_singletons():
    articles = [
        art("a", text="one", url="https://x/1", published=5),
        art("b", text="two", url="https://x/1", published=2),     # a~b by URL
        art("c", text="two", published=9),                        # b~c by text
        art("d", text="three", guid="g"),
        art("e", text="four", guid="g", published=1),             # d~e by guid
        art("f", text="five"),                                    # alone
    ]
    with TestPipeline() as p:
        out = p | beam.Create(articles) | DeduplicateArticles()
        assert_that(
            out["articles"] | "Kept" >> beam.Map(lambda a: (a["article_id"], a["cluster_id"], a["duplicate_count"])),
            equal_to([("b", "b", 2), ("e", "e", 1), ("f", None, 0)]),
            label="kept",
        )
        assert_that(
            out["duplicates"] | "Dups" >> beam.Map(lambda d: (d["article_id"], d["duplicate_of"], d["matched_on"], d["kind"])),
            equal_to([("a", "b", "url", "exact"), ("c", "b", "text", "exact"), ("d", "e", "guid", "exact")]),
            label="dups",
        )
