"""MinHash signatures and LSH band keys over word shingles (numpy, vectorised).

Defaults (``MinHashConfig``): 5-word shingles, 96 permutations, 16 bands x 6
rows.  Two texts of Jaccard similarity s share at least one band with
probability 1 - (1 - s^6)^16 (the S-curve):

    s     0.3    0.5    0.6    0.7    0.75   0.8    0.9
    P   0.012  0.221  0.521  0.865  0.957  0.992  1.000

so a pair at s >= 0.8 becomes a candidate 99.2% of the time; candidates are
then verified by the estimated Jaccard of their b-bit sketches (the low byte of
each minimum, ``sketch``; >= ``threshold``, default 0.75: the estimate's
standard error at s = 0.8 is ~0.04, so the threshold sits one standard error
below the target).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

# ASCII punctuation and control characters become spaces; bytes >= 0x80 (UTF-8 letters) stay
# word characters, so tokenising is a bytes.translate and a split, both in C.
_SEPARATORS = bytes(range(0, 48)) + bytes(range(58, 65)) + bytes(range(91, 97)) + bytes(range(123, 128))
_TOKEN_TABLE = bytes.maketrans(_SEPARATORS, b" " * len(_SEPARATORS))
_SHIFT32 = np.uint64(32)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_BASE = np.uint64(0x100000001B3)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads every input bit over the whole word."""
    x = (x ^ (x >> _S30)) * _M1  # uint64 array arithmetic wraps silently, as intended
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


@dataclass(frozen=True)
class MinHashConfig:
    shingle: int = 5
    bands: int = 16
    rows: int = 6
    threshold: float = 0.75
    # Texts with fewer words are only exact-deduplicated: their shingle sets are too small
    # for a Jaccard estimate to mean anything.
    min_words: int = 30
    seed: int = 42
    # A band bucket with more members than this is boilerplate shared by many texts, not one
    # story: it is skipped (counted in the metric near/oversized_buckets); its members can
    # still meet in their other bands.
    max_bucket: int = 1000

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    def candidate_probability(self, s: float) -> float:
        return 1.0 - (1.0 - s ** self.rows) ** self.bands


class MinHasher:
    """Build once per worker: holds the permutation parameters."""

    def __init__(self, config: MinHashConfig = MinHashConfig()) -> None:
        self.config = config
        rng = np.random.default_rng(config.seed)
        # Multiply-shift hashing (Dietzfelbinger): h(x) = ((a*x + b) mod 2^64) >> 32, a odd.
        self._a = (rng.integers(1, 2**63, size=config.num_perm, dtype=np.uint64) | np.uint64(1)).reshape(-1, 1)
        self._b = rng.integers(0, 2**63, size=config.num_perm, dtype=np.uint64).reshape(-1, 1)

    def word_hashes(self, text: str) -> np.ndarray:
        """64-bit hashes of the lower-cased words of ``text`` (ASCII punctuation ignored)."""
        tokens = text.lower().encode("utf-8").translate(_TOKEN_TABLE).split()
        crcs = np.fromiter(map(zlib.crc32, tokens), dtype=np.uint64, count=len(tokens))
        return _mix64(crcs)

    def signature(self, text: str) -> Optional[np.ndarray]:
        """``num_perm`` uint32 minimums, or ``None`` for texts under ``min_words`` words."""
        words = self.word_hashes(text)
        k = self.config.shingle
        if words.size < max(self.config.min_words, k):
            return None
        count = words.size - k + 1
        shingles = words[:count].copy()
        for j in range(1, k):
            shingles *= _BASE
            shingles += words[j: count + j]
        # 32-bit shingle ids; repeated shingles need no np.unique: they cannot change a minimum
        shingles = _mix64(shingles) >> _SHIFT32
        mixed = self._a * shingles
        mixed += self._b
        return (mixed.min(axis=1) >> _SHIFT32).astype(np.uint32)  # the shift is monotonic: min first

    def band_keys(self, signature: np.ndarray) -> list[str]:
        """One key per band: the band number and its rows' bytes in hex."""
        width = self.config.rows * 8
        digits = signature.astype("<u4").tobytes().hex()
        return [f"b{band:02d}{digits[band * width:(band + 1) * width]}" for band in range(self.config.bands)]


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a == b)) / a.size


def sketch(signature: np.ndarray) -> bytes:
    """The b-bit sketch of a signature (Li & Koenig, b = 8): the low byte of each minimum.
    A quarter of the size, nearly the same accuracy once the 1/256 chance collisions
    are corrected for (``sketch_similarity``)."""
    return (signature & 0xFF).astype(np.uint8).tobytes()


def sketch_similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard from two sketches: P(low bytes equal) = J + (1 - J) / 256."""
    matches = np.count_nonzero(np.frombuffer(a, dtype=np.uint8) == np.frombuffer(b, dtype=np.uint8)) / len(a)
    return max(0.0, (matches - 1 / 256) / (1 - 1 / 256))
