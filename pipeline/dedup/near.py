"""Near-duplicate candidates from LSH band buckets, and their verification."""

from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from pipeline.dedup.exact import EXISTING, NEW, Member, Node
from pipeline.dedup.minhash import estimated_jaccard

# (member uid, head uid, member node, head node): "is the member similar to the head?"
Candidate = tuple[str, str, Node, Node]


def band_group(members: Iterable[Member], max_bucket: int) -> tuple[list[Candidate], bool]:
    """Candidates from one band bucket: every new member against the bucket's lowest
    member (a star, never all pairs).  Returns ``(candidates, oversized)``; a bucket
    larger than ``max_bucket`` yields nothing."""
    distinct = set(members)
    if len(distinct) < 2 or not any(node[0] == NEW for node, _ in distinct):
        return [], False
    if len(distinct) > max_bucket:
        return [], True
    head_node, head_uid = min(distinct)
    written = {uid for node, uid in distinct if node[0] == EXISTING}
    candidates = [
        (uid, head_uid, node, head_node)
        for node, uid in sorted(distinct)
        if node[0] == NEW and uid != head_uid and uid not in written
    ]
    return candidates, False


def verify(member_sig: bytes, head_sig: bytes, threshold: float) -> Optional[float]:
    """Estimated Jaccard of two signatures when it reaches ``threshold``."""
    a = np.frombuffer(member_sig, dtype="<u4")
    b = np.frombuffer(head_sig, dtype="<u4")
    if a.size != b.size or a.size == 0:
        return None
    similarity = estimated_jaccard(a, b)
    return similarity if similarity >= threshold else None
