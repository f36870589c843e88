"""Near-duplicate candidates from LSH band buckets, and their verification.

A band member carries its MinHash sketch, so a bucket is verified where it is
grouped: every new member against the bucket's lowest member (a star, never all
pairs).  When that head was written by an earlier run its sketch is not in
the bucket (the index holds it); such candidates are returned as *pending* and
verified after a join with the index sketches by uid.
"""

from __future__ import annotations

from typing import Iterable, Optional

from pipeline.dedup.exact import EXISTING, NEW, Node
from pipeline.dedup.minhash import MinHashConfig, sketch_similarity

# A member of a band bucket: (node, record uid, sketch bytes or None for written records).
BandMember = tuple[Node, str, Optional[bytes]]
# A near edge: (member node, head node, "minhash", similarity).
Edge = tuple[Node, Node, str, float]
# A candidate whose head was written before: (member node, head node, head uid, member sketch).
Pending = tuple[Node, Node, str, bytes]


def band_group(members: Iterable[BandMember], max_bucket: int, threshold: float
               ) -> tuple[list[Edge], list[Pending], int, bool]:
    """Verified edges, pending candidates (head written before), the number of
    candidates compared here, and whether the bucket was over ``max_bucket`` (then
    it yields nothing: boilerplate shared by many texts, not one story)."""
    distinct = {uid: (node, sig) for node, uid, sig in members}
    if len(distinct) < 2:
        return [], [], 0, False
    if not any(node[0] == NEW for node, _ in distinct.values()):
        return [], [], 0, False
    if len(distinct) > max_bucket:
        return [], [], 0, True
    ranked = sorted(distinct.items(), key=lambda item: (item[1][0], item[0]))
    head_uid, (head_node, head_sig) = ranked[0]
    written = {uid for uid, (node, _) in distinct.items() if node[0] == EXISTING}
    edges: list[Edge] = []
    pending: list[Pending] = []
    compared = 0
    for uid, (node, sig) in ranked[1:]:
        if node[0] != NEW or uid in written or sig is None:
            continue
        if head_node[0] == EXISTING:
            pending.append((node, head_node, head_uid, sig))
            continue
        compared += 1
        matched = verify(sig, head_sig, MinHashConfig(threshold=threshold))
        if matched is not None:
            edges.append((node, head_node, *matched))
    return edges, pending, compared, False


def verify(member_sketch: bytes, head_sketch: Optional[bytes], config: MinHashConfig) -> Optional[tuple[str, float]]:
    """``(matched_on, value)`` when two sketches are similar enough under ``config``: here
    ``("minhash", estimated Jaccard)`` when it reaches ``config.threshold``; ``None`` otherwise."""
    if head_sketch is None or len(member_sketch) != len(head_sketch) or not member_sketch:
        return None
    similarity = sketch_similarity(member_sketch, head_sketch)
    return ("minhash", similarity) if similarity >= config.threshold else None
