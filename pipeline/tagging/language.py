"""Language identification with py3langid (ships its own model)."""

from __future__ import annotations

from typing import Optional

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# py3langid's cost grows with text length (~0.8 us/char); on BBC news 240 characters
# (headline and lead) already identify every article as English.
SAMPLE_CHARS = 240
# Below this many words the probability is scaled down linearly: short texts get
# a low confidence rather than a confident wrong answer.
FULL_CONFIDENCE_WORDS = 20
# A short text detected as another language still counts as English for the English-only taggers
# when English is nearly as likely (P(en) >= ENGLISH_CLOSE x P(best)): bare headlines such as
# "Carl Icahn slams eBay CEO" are often given to German, Luxembourgish or Pidgin.
ENGLISH_CLOSE = 0.4


class LanguageDetector:
    """Build once per worker (loading the model takes ~0.6 s)."""

    def __init__(self) -> None:
        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def detect(self, text: str) -> tuple[Optional[str], float]:
        sample = text[:SAMPLE_CHARS]
        words = len(sample.split())
        if words == 0:
            return None, 0.0
        code, probability = self._identifier.classify(sample)
        confidence = float(probability) * min(1.0, words / FULL_CONFIDENCE_WORDS)
        return code, round(confidence, 4)


    def english_is_close(self, text: str) -> bool:
        """Is English nearly as likely as the best language for ``text`` (see ENGLISH_CLOSE)?"""
        ranked = self._identifier.rank(text[:SAMPLE_CHARS])
        if not ranked:
            return False
        best = float(ranked[0][1])
        english = next((float(p) for code, p in ranked if code == "en"), 0.0)
        return best > 0 and english >= ENGLISH_CLOSE * best


def tag_language(article: dict, detector: LanguageDetector) -> dict:
    """Fill ``language``/``language_score`` unless the input declared the language."""
    if article.get("language"):
        return article
    code, score = detector.detect(f"{article['title']}\n{article['text']}")
    return {**article, "language": code, "language_score": score}
