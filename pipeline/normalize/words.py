"""Words of a text in every script.

Most scripts separate words with spaces.  Chinese, Japanese (kanji and kana), Thai, Lao,
Khmer and Myanmar do not: a whole sentence is one space-free run.  In those scripts each
character counts as one word (the usual length measure for Chinese and Japanese, where
lengths are given in characters; for Thai it over-counts words about fourfold, the price of
needing no dictionary).  Korean separates words with spaces and is counted like Latin text.

``count_words`` is the article's ``word_count``; ``split_words`` gives the tokens that
MinHash shingles (``pipeline/dedup/minhash.py`` uses the same character class), so the two
agree on what a word is.
"""

from __future__ import annotations

import re

# Scripts written without spaces between words: one character = one word.
NO_SPACE_CHARS = (
    "\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u31f0-\u31ff"  # Katakana extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0002ffff"  # CJK extensions B-F
)
# Punctuation of those scripts (ideographic comma and full stop, corner brackets, full-width
# forms), separators like ASCII punctuation.  Latin letters and digits in full width stay words.
WIDE_PUNCTUATION = "\u2000-\u206f\u3000-\u303f\uff00-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
HAS_NO_SPACE = re.compile(f"[{NO_SPACE_CHARS}]")
_WORDS = re.compile(f"[{NO_SPACE_CHARS}]|[^\\s{NO_SPACE_CHARS}{WIDE_PUNCTUATION}]+")


def split_words(text: str) -> list[str]:
    """Words of ``text``: space-separated runs, with every character of a no-space script a
    word of its own (and that script's punctuation dropped)."""
    if text.isascii() or not HAS_NO_SPACE.search(text):
        return text.split()
    return _WORDS.findall(text)


def count_words(text: str) -> int:
    """``word_count``: whitespace-separated words; in no-space scripts, characters."""
    return len(split_words(text))
