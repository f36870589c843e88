"""Connected components by shuffles only: large-star / small-star (Kiveris et al. 2014,
"Connected Components in MapReduce and Beyond"), unrolled for a fixed number of rounds
when the pipeline is built, then a settle check and a capped fallback.

Every node of the result points at the MINIMUM node of its component (nodes are any
totally ordered, hashable values; dedup uses ``exact.Node`` tuples).

    edges -> both directions
    round r = 1..rounds:
      large-star: group by node u, m = min(N(u) + u); every neighbour v > u -> edge (v, m)
      small-star: group by node u, m = min(smaller neighbours + u); each of them and u -> (v, m)
    label:  group by node u -> label p(u) = min(N(u) + u), told to every neighbour
    settle: group by node v -> settled when every neighbour's label equals p(v)
            (then p(v) is the minimum of v's component); an unsettled node sends
            (v, p(v)) and (v, label of each neighbour) to the fallback
    fallback: union-find over those edges in one worker, CAPPED (``fallback_cap`` edges; over
            it the job fails loudly instead of answering wrong), and counted
    root:   group by label p -> root = fallback root of p, else p

Both star steps keep connectivity and never raise a node's smallest neighbour, so each
component ends as a star around its minimum after O(log^2 n) rounds at worst (in practice
a handful; the edges arriving here are already per-bundle stars).  The counter
``components/changes_last_round`` = 0 proves the fixed point was reached; the fallback
(``components/fallback_edges``) finishes whatever did not converge, exactly.

State per key: large-star, label and root steps stream the grouped values (two passes
over the re-iterable, nothing kept), although a star's root has its whole component as
neighbours.  Small-star and settle keep the distinct smaller neighbours / distinct labels
of one node: one once converged, before that about how many bundle-level stars the node
was met in (at most its ~19 dedup keys), not the data size.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.typehints import KV

from pipeline import metrics
from pipeline.dedup.exact import MinRootUnionFind

# Large-star + small-star rounds unrolled into the graph.  The edges of dedup are stars per
# bundle already; 4 rounds converge any component whose bundle-level stars chain <= ~2^4 deep.
ROUNDS = 4
# Edges the fallback may hold in one worker (~200 bytes per edge of dedup nodes: <= ~100 MB).
FALLBACK_CAP = 500_000

N = Any  # a node: hashable, totally ordered
PARENT, NEIGHBOUR, MEMBER, ROOT = "p", "n", "m", "r"


# ---- plain functions ----------------------------------------------------------------------------

def large_star(node: N, neighbours: Iterable[N]) -> tuple[N, Iterator[tuple[N, N]]]:
    """``m``, the minimum of the node and its neighbours, and the edges ``(v, m)`` for every
    neighbour ``v > node`` (lazily).  ``neighbours`` is read twice (a grouped iterable is
    re-iterable) and never held: a star's root sees its whole component here.  A repeated
    neighbour gives a repeated edge; the next small-star drops it."""
    m = local_label(node, neighbours)
    return m, ((v, m) for v in neighbours if v > node)


def small_star(node: N, smaller: Iterable[N]) -> tuple[list[tuple[N, N]], int]:
    """For the neighbours smaller than ``node``: every one of them and ``node`` itself linked
    to their minimum ``m``; and how many edges changed (all but ``(node, m)``)."""
    others = {v for v in smaller if v < node}
    if not others:
        return [], 0
    m = min(others)
    edges = [(v, m) for v in others if v != m]
    edges.append((node, m))
    return edges, len(others) - 1


def both_ways(edge: tuple[N, N]) -> Iterator[tuple[N, N]]:
    a, b = edge
    if a != b:
        yield a, b
        yield b, a


def local_label(node: N, neighbours: Iterable[N]) -> N:
    """The smallest of a node and its neighbours (``None`` neighbours: presence markers)."""
    label = node
    for v in neighbours:
        if v is not None and v < label:
            label = v
    return label


def tell_label(node: N, neighbours: Iterable[N]) -> Iterator[tuple[N, tuple[str, N]]]:
    """The node's label to itself and to each neighbour (``neighbours`` read twice, not held)."""
    label = local_label(node, neighbours)
    yield node, (PARENT, label)
    for v in neighbours:
        if v is not None and v != node:
            yield v, (NEIGHBOUR, label)


def settle(node: N, label: N, neighbour_labels: Iterable[N]) -> list[tuple[N, N]]:
    """The fallback edges of a node: none when every neighbour carries the node's label
    (then the label is its component's minimum), else the node linked to its label and to
    every other label it sees (these links keep the component connected)."""
    others = {q for q in neighbour_labels if q != label}
    if not others:
        return []
    return [(node, label)] + [(node, q) for q in sorted(others)]


class ComponentsDidNotConverge(RuntimeError):
    """More unsettled edges after the unrolled rounds than the fallback may hold."""


def _group(pairs: Iterable[tuple[N, N]]) -> dict:
    groups: dict = {}
    for key, value in pairs:
        groups.setdefault(key, []).append(value)
    return groups


def star_rounds(edges: Iterable[tuple[N, N]], rounds: int = ROUNDS) -> tuple[list[tuple[N, N]], list[int]]:
    """The unrolled rounds as plain Python (what the composite does with shuffles): the
    edges after them (both directions) and the changes counted per round."""
    current = [pair for edge in edges for pair in both_ways(edge)]
    changes = []
    for _ in range(rounds):
        large: list = []
        changed = 0
        for node, neighbours in _group(current).items():
            m, out = large_star(node, neighbours)
            out = list(out)
            large += out
            changed += len(out) if m != node else 0
        current = []
        for node, smaller in _group(large).items():
            out, count = small_star(node, smaller)
            current += [pair for edge in out for pair in both_ways(edge)]
            changed += count
        changes.append(changed)
    return current, changes


def connected_components(edges: Iterable[tuple[N, N]], rounds: int = ROUNDS, cap: int = FALLBACK_CAP
                         ) -> tuple[dict, dict]:
    """``{node: minimum node of its component}`` for every node of ``edges`` (a self-edge
    ``(u, u)`` makes ``u`` a component of its own), computed exactly as the composite does,
    and its counters (``changes`` per round, ``fallback_edges``, ``unsettled``)."""
    edges = list(edges)
    loops = [(a, None) for a, b in edges if a == b]
    current, changes = star_rounds(edges, rounds)
    told: list = []
    for node, neighbours in _group(current + loops).items():
        told += list(tell_label(node, neighbours))
    members, fallback = [], []
    for node, values in _group(told).items():
        label = next(v for tag, v in values if tag == PARENT)
        extra = settle(node, label, (v for tag, v in values if tag == NEIGHBOUR))
        fallback += extra
        members.append((label, node))
    if len(fallback) > cap:
        raise ComponentsDidNotConverge(f"{len(fallback)} fallback edges > cap {cap}")
    finished = MinRootUnionFind()
    for a, b in fallback:
        finished.union(a, b)
    fallback_roots = dict(finished.roots())
    roots = {node: fallback_roots.get(label, label) for label, node in members}
    stats = {"changes": changes, "fallback_edges": len(fallback), "unsettled": len({a for a, _ in fallback})}
    return roots, stats


# ---- Beam ---------------------------------------------------------------------------------------

class BothWaysFn(beam.DoFn):
    def process(self, edge):
        yield from both_ways(edge)


class _StarFn(beam.DoFn):
    """A star step of round ``round_``; its changes count for the round and, in the ``last``
    round, for ``components/changes_last_round`` (0: converged)."""

    def __init__(self, round_: int, last: bool):
        self._round = round_
        self._last = last

    def setup(self) -> None:
        self._changes = Metrics.counter(metrics.NAMESPACE, metrics.COMPONENT_CHANGES.format(round=self._round))
        self._last_changes = Metrics.counter(metrics.NAMESPACE, metrics.COMPONENT_LAST_ROUND_CHANGES)

    def _count(self, changes: int) -> None:
        if changes:
            self._changes.inc(changes)
            if self._last:
                self._last_changes.inc(changes)


class LargeStarFn(_StarFn):
    def process(self, group):
        node, neighbours = group
        m, edges = large_star(node, neighbours)
        count = 0
        for edge in edges:
            count += 1
            yield edge
        if m != node:
            self._count(count)


class SmallStarFn(_StarFn):
    """Its edges leave in both directions, ready for the next large-star or the label step."""

    def process(self, group):
        node, smaller = group
        edges, changes = small_star(node, smaller)
        self._count(changes)
        for edge in edges:
            yield from both_ways(edge)


class LoopMarkerFn(beam.DoFn):
    """A self-edge ``(u, u)``: ``u`` is a node even without neighbours."""

    def process(self, edge):
        a, b = edge
        if a == b:
            yield a, None


class LabelFn(beam.DoFn):
    def process(self, group):
        node, neighbours = group
        yield from tell_label(node, neighbours)


class SettleFn(beam.DoFn):
    """``(label, (MEMBER, node))`` for every node; unsettled nodes also send fallback edges."""

    FALLBACK = "fallback"

    def setup(self) -> None:
        self._unsettled = Metrics.counter(metrics.NAMESPACE, metrics.COMPONENT_UNSETTLED)
        self._fallback = Metrics.counter(metrics.NAMESPACE, metrics.COMPONENT_FALLBACK_EDGES)

    def process(self, group):
        node, values = group
        label = None
        for tag, value in values:
            if tag == PARENT:
                label = value
                break
        extra = settle(node, label, (value for tag, value in values if tag == NEIGHBOUR))
        if extra:
            self._unsettled.inc()
            self._fallback.inc(len(extra))
            for edge in extra:
                yield beam.pvalue.TaggedOutput(self.FALLBACK, edge)
        yield label, (MEMBER, node)


class CappedUnionFindCombineFn(beam.CombineFn):
    """Union-find over the fallback edges, at most ``cap`` of them (else the job fails:
    raise ``rounds``), -> ``[(node, minimum of its component), ...]``."""

    def __init__(self, cap: int):
        self._cap = cap

    def create_accumulator(self):
        return []

    def add_input(self, acc, edge):
        acc.append(edge)
        self._check(len(acc))
        return acc

    def merge_accumulators(self, accumulators):
        merged = [edge for acc in accumulators for edge in acc]
        self._check(len(merged))
        return merged

    def _check(self, count: int) -> None:
        if count > self._cap:
            raise ComponentsDidNotConverge(
                f"connected components: over {self._cap} edges left unsettled after the unrolled rounds; "
                "raise the number of rounds (pipeline/dedup/components.py ROUNDS)")

    def extract_output(self, acc):
        finished = MinRootUnionFind()
        for a, b in acc:
            finished.union(a, b)
        return sorted(finished.roots())


class EmitFallbackRootsFn(beam.DoFn):
    def process(self, roots):
        for node, root in roots:
            yield node, (ROOT, root)


class JoinRootFn(beam.DoFn):
    """``(label, [members…, fallback root?])`` -> ``(node, root)`` per member.  Two passes
    over the grouped values: nothing held but the root."""

    def process(self, group):
        label, values = group
        root = label
        for tag, value in values:
            if tag == ROOT:
                root = value
        for tag, value in values:
            if tag == MEMBER:
                yield value, root


class FindComponents(beam.PTransform):
    """Edges ``(a, b)`` -> ``(node, minimum node of its component)`` for every node."""

    def __init__(self, rounds: int = ROUNDS, fallback_cap: int = FALLBACK_CAP):
        super().__init__()
        self._rounds = rounds
        self._cap = fallback_cap

    def expand(self, edges):
        current = edges | "BothWays" >> beam.ParDo(BothWaysFn())
        for r in range(1, self._rounds + 1):
            last = r == self._rounds
            large = (
                current
                | f"GroupLargeStar{r}" >> beam.GroupByKey()
                | f"LargeStar{r}" >> beam.ParDo(LargeStarFn(r, last))
            )
            current = (
                large
                | f"GroupSmallStar{r}" >> beam.GroupByKey()
                | f"SmallStar{r}" >> beam.ParDo(SmallStarFn(r, last))
            )
        loops = edges | "SelfLoopNodes" >> beam.ParDo(LoopMarkerFn())
        settled = (
            (current, loops)
            | "CollectLabelInputs" >> beam.Flatten()
            | "GroupLabel" >> beam.GroupByKey()
            | "Label" >> beam.ParDo(LabelFn())
            | "GroupSettle" >> beam.GroupByKey()
            | "Settle" >> beam.ParDo(SettleFn()).with_output_types(KV[Any, Any]).with_outputs(
                SettleFn.FALLBACK, main="members")
        )
        fallback_roots = (
            settled[SettleFn.FALLBACK]
            | "FallbackUnionFind" >> beam.CombineGlobally(CappedUnionFindCombineFn(self._cap)).without_defaults()
            | "FallbackRoots" >> beam.ParDo(EmitFallbackRootsFn())
        )
        return (
            (settled.members, fallback_roots)
            | "CollectRootInputs" >> beam.Flatten()
            | "GroupRoot" >> beam.GroupByKey()
            | "JoinRoot" >> beam.ParDo(JoinRootFn())
        )
