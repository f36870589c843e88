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
# A near edge: (member node, head node, matched_on, similarity); ``verify`` says matched_on.
Edge = tuple[Node, Node, str, float]
# A candidate whose head was written before: (member node, head node, head uid, member sketch).
Pending = tuple[Node, Node, str, bytes]
# A candidate of a bucket's star: (member node, member uid, head node, head uid).
Star = tuple[Node, str, Node, str]


def band_star(members: Iterable[BandMember], max_bucket: int) -> tuple[list[Star], bool]:
    """The star of a bucket: every new member (not written before) with the bucket's lowest
    member, its head; and whether the bucket was over ``max_bucket`` (then it yields
    nothing: boilerplate shared by many texts, not one story).  Sketches are not needed."""
    distinct = {member[1]: member[0] for member in members}
    if len(distinct) < 2:
        return [], False
    if not any(node[0] == NEW for node in distinct.values()):
        return [], False
    if len(distinct) > max_bucket:
        return [], True
    ranked = sorted(distinct.items(), key=lambda item: (item[1], item[0]))
    head_uid, head_node = ranked[0]
    written = {uid for uid, node in distinct.items() if node[0] == EXISTING}
    star = [(node, uid, head_node, head_uid) for uid, node in ranked[1:] if node[0] == NEW and uid not in written]
    return star, False


def band_group(members: Iterable[BandMember], config: MinHashConfig
               ) -> tuple[list[Edge], list[Pending], int, bool]:
    """Verified edges, pending candidates (head written before), the number of
    candidates compared here, and whether the bucket was over ``config.max_bucket``."""
    members = list(members)
    star, oversized = band_star(members, config.max_bucket)
    sketches = {uid: sig for _, uid, sig in members}
    edges: list[Edge] = []
    pending: list[Pending] = []
    compared = 0
    for node, uid, head_node, head_uid in star:
        sig = sketches[uid]
        if sig is None:
            continue
        if head_node[0] == EXISTING:
            pending.append((node, head_node, head_uid, sig))
            continue
        compared += 1
        match = verify(sig, sketches[head_uid], config)
        if match is not None:
            edges.append((node, head_node, *match))
    return edges, pending, compared, oversized


def verify(member_sketch: bytes, head_sketch: Optional[bytes], config: MinHashConfig) -> Optional[tuple[str, float]]:
    """``(matched_on, value)`` when the member matches the head: ``("minhash", estimated
    Jaccard)`` when it reaches ``config.threshold``; ``None`` otherwise."""
    if head_sketch is None or len(member_sketch) != len(head_sketch) or not member_sketch:
        return None
    similarity = sketch_similarity(member_sketch, head_sketch)
    return ("minhash", similarity) if similarity >= config.threshold else None
