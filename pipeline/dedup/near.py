"""Near-duplicate candidates from LSH band buckets, and their verification.

A band member carries its MinHash sketch, so a bucket is verified where it is
grouped (``verify``: by estimated Jaccard, or by containment for a partial copy): every new member against the bucket's lowest member (a star, never all
pairs).  When that head was written by an earlier run its sketch is not in
the bucket (the index holds it); such candidates are returned as *pending* and
verified after a join with the index sketches by uid.
"""

from __future__ import annotations

from typing import Iterable, Optional

from pipeline.dedup.exact import EXISTING, NEW, Node
from pipeline.dedup.minhash import MinHashConfig, bbit_jaccard, containment, sketch_parts

# A member of a band bucket: (node, record uid, sketch bytes or None for written records).
BandMember = tuple[Node, str, Optional[bytes]]
# A near edge: (member node, head node, "minhash" | "containment", similarity).
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
    """Is this candidate pair a near duplicate?  ``("minhash", J)`` when the estimated Jaccard J
    reaches ``config.threshold``; else ``("containment", C)`` when the texts are one a partial
    copy of the other: C, the estimated share of the shorter text's shingles found in the
    longer, reaches ``config.containment``, the shorter has at least ``config.containment_ratio``
    of the longer's shingles and at least ``config.containment_min_words`` words, and the two
    start alike (at least ``config.lead_agreement`` of their lead minimums agree: a copy cut to
    its first paragraphs and an update that adds paragraphs keep the lead).  The ratio and
    lead rules keep a short item quoted inside a long round-up from being merged with it
    (nor, through it, with the round-up's other items), and a text that merely contains
    another one whole, elsewhere than at its start, from joining that text's cluster.
    ``None`` otherwise, or when a sketch is missing or the two were made with other settings."""
    if head_sketch is None or not member_sketch:
        return None
    member, member_lead, member_count = sketch_parts(member_sketch, config.num_perm)
    head, head_lead, head_count = sketch_parts(head_sketch, config.num_perm)
    if len(member) != len(head) or not member:
        return None
    jaccard = bbit_jaccard(member, head)
    if jaccard >= config.threshold:
        return "minhash", jaccard
    if member_count is None or head_count is None or not member_lead or len(member_lead) != len(head_lead):
        return None
    agree = sum(x == y for x, y in zip(member_lead, head_lead))
    if agree < config.lead_agreement * len(member_lead):
        return None
    shorter, longer = sorted((member_count, head_count))
    if shorter < config.containment_ratio * longer or shorter + config.shingle - 1 < config.containment_min_words:
        return None
    contained = containment(jaccard, member_count, head_count)
    return ("containment", contained) if contained >= config.containment else None
