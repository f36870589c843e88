"""MinHash signatures, LSH band keys and b-bit sketches over word shingles (numpy, vectorised).

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

**Partial copies (containment).**  A wire story cut to its first paragraphs, or
the same story extended by an update, has a Jaccard of about the length ratio
(0.5 for a copy cut in half) and is missed by the bands above.  Two things find
it without comparing all pairs:

* *lead bands*: a second, small MinHash over the text's lead, its first
  ``lead`` shingles (``lead_bands`` x ``lead_rows`` minimums: a prefix minimum
  over the shingle matrix already computed, nearly free).  A text cut after its
  lead, or extended after it, has the very same lead, so the two share every
  lead band.  Their keys are numbered after the full bands (``b16``, ``b17``):
  for every other step they are band keys like the rest.
* *containment*: the sketch carries the text's number of distinct shingles, so
  |A ∩ B| = J / (1 + J) · (|A| + |B|) and the containment of the shorter text in
  the longer, |A ∩ B| / min(|A|, |B|), are estimated from the sketches alone
  (``containment``; the rule is in ``pipeline/dedup/near.py::verify``).  The
  sketch also carries the lead minimums, so the rule can ask that the two texts
  start alike, as a cut copy and an update do (a round-up's later items do not).

**Every script.**  Chinese, Japanese, Thai, Lao, Khmer and Myanmar are written
without spaces: their characters are tokens of their own (``pipeline/normalize/
words.py``), so their shingles are 5-character n-grams.

Layouts (both opaque to every other module):

* signature (``uint32``): ``num_perm`` minimums, the lead minimums, the number of
  distinct shingles, the number of lead minimums;
* sketch (``bytes``): the low byte of each of the ``num_perm`` minimums, the low
  byte of each lead minimum, the number of distinct shingles (``uint32``,
  little-endian), the number of lead minimums (one byte).  A sketch of exactly
  ``num_perm`` bytes (written by an older version) has neither: it can only
  match by Jaccard.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from pipeline.normalize.words import HAS_NO_SPACE, NO_SPACE_CHARS, WIDE_PUNCTUATION

# ASCII punctuation and control characters become spaces; bytes >= 0x80 (UTF-8 letters) stay
# word characters, so tokenising is a bytes.translate and a split, both in C.
_SEPARATORS = bytes(range(0, 48)) + bytes(range(58, 65)) + bytes(range(91, 97)) + bytes(range(123, 128))
_TOKEN_TABLE = bytes.maketrans(_SEPARATORS, b" " * len(_SEPARATORS))
# Texts with characters of a no-space script: those characters are one token each, their
# punctuation separates, everything else is tokenised as above.
_STR_TABLE = {c: " " for c in _SEPARATORS}
_WIDE_TOKENS = re.compile(f"[{NO_SPACE_CHARS}]|[^\\s{NO_SPACE_CHARS}{WIDE_PUNCTUATION}]+")
# UTF-8 lead bytes of every no-space script (U+0800-U+1FFF, U+3000-U+9FFF, U+F000-U+FFFF,
# U+10000-U+3FFFF): a text with none of them takes the bytes path without a Unicode scan
# (deleting every other byte is one C loop, ~1 µs for an article).
_NOT_LEAD_BYTES = bytes(b for b in range(256) if b not in (0xE0, 0xE1, *range(0xE3, 0xEA), 0xEF, 0xF0))
_SHIFT32 = np.uint64(32)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_BASE = np.uint64(0x100000001B3)
COUNT_BYTES = 4  # the shingle count near the end of a sketch, then one byte: the number of lead minimums


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
    # for a Jaccard estimate to mean anything.  (In no-space scripts a character is a word:
    # 30 characters give as many shingles as 30 English words.)
    min_words: int = 30
    seed: int = 42
    # A band bucket with more members than this is boilerplate shared by many texts, not one
    # story: it is skipped (counted in the metric near/oversized_buckets); its members can
    # still meet in their other bands.
    max_bucket: int = 1000
    # Lead bands: a MinHash of the first ``lead`` shingles, ``lead_bands`` x ``lead_rows``
    # minimums (0 bands: none).  Candidates for partial copies (see the module docstring).
    lead: int = 40
    lead_bands: int = 2
    lead_rows: int = 4
    # Containment rule (near.py::verify): the shorter text's shingles are at least
    # ``containment`` contained in the longer's, the shorter has at least
    # ``containment_ratio`` of the longer's shingles (a short item quoted inside a long
    # round-up is not a copy of it) and at least ``containment_min_words`` words.
    containment: float = 0.85
    containment_ratio: float = 0.45
    containment_min_words: int = 50
    # ... and the two start alike: at least this share of their lead minimums agree (a cut
    # copy and an extended update share their lead; a round-up's later items do not).
    lead_agreement: float = 0.75

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    @property
    def lead_perm(self) -> int:
        return min(self.lead_bands * self.lead_rows, self.num_perm)

    @property
    def band_key_count(self) -> int:
        """Band keys per text: the full bands, then the lead bands."""
        return self.bands + (self.lead_perm // self.lead_rows if self.lead_rows else 0)

    def candidate_probability(self, s: float) -> float:
        return 1.0 - (1.0 - s ** self.rows) ** self.bands


def split_signature(signature: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(minimums, lead minimums, distinct shingle count) of a signature."""
    lead = int(signature[-1])
    return signature[: -2 - lead], signature[-2 - lead: -2], int(signature[-2])


class MinHasher:
    """Build once per worker: holds the permutation parameters."""

    def __init__(self, config: MinHashConfig = MinHashConfig()) -> None:
        self.config = config
        rng = np.random.default_rng(config.seed)
        # Multiply-shift hashing (Dietzfelbinger): h(x) = ((a*x + b) mod 2^64) >> 32, a odd.
        self._a = (rng.integers(1, 2**63, size=config.num_perm, dtype=np.uint64) | np.uint64(1)).reshape(-1, 1)
        self._b = rng.integers(0, 2**63, size=config.num_perm, dtype=np.uint64).reshape(-1, 1)

    def word_hashes(self, text: str) -> np.ndarray:
        """64-bit hashes of the lower-cased words of ``text`` (ASCII punctuation ignored; in
        no-space scripts every character is a word)."""
        lowered = text.lower()
        encoded = lowered.encode("utf-8")
        if lowered.isascii() or not encoded.translate(None, _NOT_LEAD_BYTES) or not HAS_NO_SPACE.search(lowered):
            tokens = encoded.translate(_TOKEN_TABLE).split()
        else:
            tokens = [t.encode("utf-8") for t in _WIDE_TOKENS.findall(lowered.translate(_STR_TABLE))]
        crcs = np.fromiter(map(zlib.crc32, tokens), dtype=np.uint64, count=len(tokens))
        return _mix64(crcs)

    def signature(self, text: str) -> Optional[np.ndarray]:
        """The signature (layout in the module docstring: ``num_perm`` uint32 minimums first),
        or ``None`` for texts under ``min_words`` words."""
        words = self.word_hashes(text)
        config = self.config
        k = config.shingle
        if words.size < max(config.min_words, k):
            return None
        count = words.size - k + 1
        shingles = words[:count].copy()
        for j in range(1, k):
            shingles *= _BASE
            shingles += words[j: count + j]
        # 32-bit shingle ids; repeated shingles need no np.unique for the minimums: they cannot
        # change a minimum (the count does: one sort of a few hundred ids, a few µs)
        shingles = _mix64(shingles) >> _SHIFT32
        ordered = np.sort(shingles.astype(np.uint32))
        distinct = int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1
        mixed = self._a * shingles
        mixed += self._b
        lead_perm = config.lead_perm
        minimums = np.empty(config.num_perm + lead_perm + 2, dtype=np.uint64)
        mixed.min(axis=1, out=minimums[: config.num_perm])
        if lead_perm:
            mixed[:lead_perm, : config.lead].min(axis=1, out=minimums[config.num_perm: -2])
        minimums >>= _SHIFT32  # the shift is monotonic: min first
        minimums[-2] = distinct
        minimums[-1] = lead_perm
        return minimums.astype(np.uint32)

    def band_keys(self, signature: np.ndarray) -> list[str]:
        """One key per band (the band number and its rows' bytes in hex), then one per lead band."""
        config = self.config
        digits = signature.astype("<u4", copy=False).tobytes().hex()  # minimums, then lead minimums
        width = config.rows * 8
        keys = [f"b{band:02d}{digits[band * width:(band + 1) * width]}" for band in range(config.bands)]
        lead = int(signature[-1])
        if lead:
            start, width = config.num_perm * 8, config.lead_rows * 8
            keys += [f"b{config.bands + band:02d}{digits[start + band * width:start + (band + 1) * width]}"
                     for band in range(lead // config.lead_rows)]
        return keys


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard of two signatures (their ``num_perm`` minimums)."""
    a, b = split_signature(a)[0], split_signature(b)[0]
    return float(np.count_nonzero(a == b)) / a.size


def sketch(signature: np.ndarray) -> bytes:
    """The b-bit sketch of a signature (Li & Koenig, b = 8): the low byte of each minimum.
    A quarter of the size, nearly the same accuracy once the 1/256 chance collisions
    are corrected for (``sketch_similarity``).  Then the lead minimums' low bytes, the
    distinct shingle count and the number of lead minimums (layout: module docstring)."""
    lead = int(signature[-1])
    # uint32 -> uint8 keeps the low byte; minimums and lead minimums are contiguous
    return signature[:-2].astype(np.uint8).tobytes() + int(signature[-2]).to_bytes(COUNT_BYTES, "little") + bytes([lead])


def sketch_parts(raw: bytes, num_perm: Optional[int] = None) -> tuple[bytes, bytes, Optional[int]]:
    """(the minimums' low bytes, the lead minimums' low bytes, the distinct shingle count or
    ``None``) of a sketch.  With ``num_perm``, a sketch of exactly that many bytes is an old
    one without lead and count."""
    if num_perm is not None and len(raw) == num_perm:
        return raw, b"", None
    lead = raw[-1]
    end = len(raw) - 1 - COUNT_BYTES
    return raw[: end - lead], raw[end - lead: end], int.from_bytes(raw[end: end + COUNT_BYTES], "little")


def sketch_similarity(a: bytes, b: bytes, num_perm: Optional[int] = None) -> float:
    """Estimated Jaccard from two sketches: P(low bytes equal) = J + (1 - J) / 256."""
    a, b = sketch_parts(a, num_perm)[0], sketch_parts(b, num_perm)[0]
    return bbit_jaccard(a, b)


def bbit_jaccard(a: bytes, b: bytes) -> float:
    matches = np.count_nonzero(np.frombuffer(a, dtype=np.uint8) == np.frombuffer(b, dtype=np.uint8)) / len(a)
    return max(0.0, (matches - 1 / 256) / (1 - 1 / 256))


def containment(jaccard: float, count_a: int, count_b: int) -> float:
    """Containment of the smaller shingle set in the larger, from their Jaccard and sizes:
    |A ∩ B| = J / (1 + J) · (|A| + |B|)."""
    smaller = min(count_a, count_b)
    if smaller <= 0:
        return 0.0
    return min(1.0, jaccard / (1.0 + jaccard) * (count_a + count_b) / smaller)
