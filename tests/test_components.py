"""Connected components (large-star / small-star + settle + capped fallback) against brute
force on random graphs: the plain functions, the composite on TestPipeline, and the
cluster semantics of the batch dedup (roots, links, sizes) against ``UnionFind``."""

from __future__ import annotations

import random

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline import metrics
from pipeline.dedup.components import (
    ROUNDS,
    ComponentsDidNotConverge,
    FindComponents,
    connected_components,
    large_star,
    small_star,
    star_rounds,
)
from pipeline.dedup.exact import EXISTING, KEY_PRIORITY, NEW, UnionFind, better_link, component


def brute_force(edges) -> dict:
    """Minimum node of each node's component, by depth-first search."""
    adjacency: dict = {}
    for a, b in edges:
        adjacency.setdefault(a, set()).add(b)
        adjacency.setdefault(b, set()).add(a)
    roots: dict = {}
    for start in adjacency:
        if start in roots:
            continue
        seen, stack = set(), [start]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(adjacency[node])
        low = min(seen)
        roots.update({node: low for node in seen})
    return roots


def random_graph(seed: int) -> list[tuple[int, int]]:
    """A mix of shapes on shuffled node ids: chains, stars, cycles, isolated nodes
    (self-edges), random edges; sometimes with repeated edges."""
    rng = random.Random(seed)
    ids = list(range(rng.randint(1, 120)))
    rng.shuffle(ids)
    edges: list[tuple[int, int]] = []
    pos = 0
    while pos < len(ids):
        size = rng.randint(1, 25)
        part, pos = ids[pos:pos + size], pos + size
        shape = rng.choice(("chain", "star", "cycle", "isolated", "random"))
        if shape == "isolated" or len(part) == 1:
            edges += [(v, v) for v in part]
        elif shape == "chain":
            edges += list(zip(part, part[1:]))
        elif shape == "star":
            edges += [(part[0], v) for v in part[1:]]
        elif shape == "cycle":
            edges += list(zip(part, part[1:] + part[:1]))
        else:
            edges += [(rng.choice(part), rng.choice(part)) for _ in range(len(part) * 2)]
            edges += [(v, v) for v in part]  # every node present even if no random edge hit it
    if rng.random() < 0.3:
        edges += rng.sample(edges, len(edges) // 3)  # duplicates
    for i in range(len(edges)):
        if rng.random() < 0.5:
            edges[i] = edges[i][::-1]
    rng.shuffle(edges)
    return edges


@pytest.mark.parametrize("rounds", [0, 1, 2, ROUNDS])
def test_components_match_brute_force(rounds):
    for seed in range(150):
        edges = random_graph(seed)
        roots, stats = connected_components(edges, rounds=rounds)
        assert roots == brute_force(edges), (seed, rounds)
        assert len(stats["changes"]) == rounds


def test_star_steps_keep_connectivity():
    for seed in range(100):
        edges = random_graph(seed)
        nodes = {v for e in edges for v in e}
        after, _ = star_rounds(edges, rounds=1)
        after += [(v, v) for v in nodes]  # self-edges only keep nodes visible to the brute force
        assert brute_force(after) == brute_force(edges), seed


def test_large_and_small_star():
    m, edges = large_star(3, [1, 5, 7, 5])
    assert m == 1 and sorted(set(edges)) == [(5, 1), (7, 1)]  # 5 and 7 move from 3 to 1
    m, edges = large_star(1, [5, 7])
    assert m == 1 and sorted(edges) == [(5, 1), (7, 1)]  # already a star around 1: no change
    edges, changes = small_star(9, [4, 2, 6])
    assert sorted(edges) == [(4, 2), (6, 2), (9, 2)] and changes == 2
    assert small_star(2, []) == ([], 0)
    m, edges = large_star(4, [4])
    assert m == 4 and list(edges) == []


def test_rounds_reach_the_fixed_point_on_stars_and_short_chains():
    star = [(0, v) for v in range(1, 50)]
    _, stats = connected_components(star)
    assert stats["changes"][-1] == 0 and stats["fallback_edges"] == 0
    chain = [(v, v + 1) for v in range(8)]
    _, stats = connected_components(chain)
    assert stats["changes"][-1] == 0 and stats["fallback_edges"] == 0


def test_long_chain_is_finished_by_the_fallback_and_capped():
    chain = [(v, v + 1) for v in range(2000)]
    random.Random(1).shuffle(chain)
    roots, stats = connected_components(chain, rounds=1)
    assert set(roots.values()) == {0} and stats["fallback_edges"] > 0 and stats["changes"][-1] > 0
    with pytest.raises(ComponentsDidNotConverge):
        connected_components(chain, rounds=1, cap=stats["fallback_edges"] - 1)


def _counter(result, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_namespace(metrics.NAMESPACE).with_name(name))["counters"]
    return sum(c.committed for c in found)


@pytest.mark.parametrize("rounds", [1, ROUNDS])
def test_composite_matches_brute_force(rounds):
    graphs = [random_graph(seed) for seed in range(12)]
    graphs.append([(v, v + 1) for v in range(300)])  # a long chain: unsettled after few rounds
    # One pipeline, graphs kept apart by offsetting their node ids.
    edges, expected = [], []
    for g, graph in enumerate(graphs):
        shifted = [(a + g * 1000, b + g * 1000) for a, b in graph]
        edges += shifted
        expected += list(brute_force(shifted).items())
    pipeline = TestPipeline()
    roots = pipeline | beam.Create(edges) | FindComponents(rounds=rounds)
    assert_that(roots, equal_to(expected))
    result = pipeline.run()
    result.wait_until_finish()
    plain = connected_components(edges, rounds=rounds)[1]
    assert _counter(result, metrics.COMPONENT_LAST_ROUND_CHANGES) == plain["changes"][-1]
    assert _counter(result, metrics.COMPONENT_FALLBACK_EDGES) == plain["fallback_edges"]
    if rounds == 1:
        assert plain["fallback_edges"] > 0  # the fallback path was exercised


def _random_node(rng: random.Random, uid: int):
    kind = EXISTING if rng.random() < 0.15 else NEW
    return kind, rng.choice((1.0, 2.0, float("inf"))), f"in#{rng.randint(0, 5):010d}", f"art{rng.randint(0, 30)}", f"{uid:016x}"


def test_cluster_semantics_equal_union_find():
    """Roots (minimum node), links (KEY_PRIORITY, then similarity) and sizes as the batch
    composite assembles them equal ``UnionFind.components``."""
    labels = list(KEY_PRIORITY) + [None]
    for seed in range(60):
        rng = random.Random(seed)
        nodes = [_random_node(rng, i) for i in range(rng.randint(2, 40))]
        edges = []
        for _ in range(rng.randint(1, 60)):
            a, b = rng.sample(nodes, 2)
            if a[0] == EXISTING:
                a, b = b, a
            if a[0] == EXISTING:
                continue  # links are always set on new records
            label = rng.choice(labels)
            edges.append((a, b, label, round(rng.uniform(0.75, 1.0), 2) if label == "minhash" else 1.0))
        reference = UnionFind()
        for a, b, label, similarity in edges:
            reference.union(a, b, label, similarity)
        roots, _ = connected_components([(a, b) for a, b, _, _ in edges], rounds=rng.randint(0, ROUNDS))
        links: dict = {}
        for a, _, label, similarity in edges:
            if label is not None:
                links[a[4]] = better_link(links.get(a[4]), (label, similarity))
        sizes: dict = {}
        for root in roots.values():
            sizes[root] = sizes.get(root, 0) + 1
        ours = {node[4]: component(node, root, links.get(node[4]), sizes[root])
                for node, root in roots.items() if node[0] == NEW}
        assert ours == dict(reference.components()), seed
