"""Deduplication: exact and MinHash near duplicates, within a run and across runs.

``DeduplicateArticles`` (batch, ``batch.py``; connected components in ``components.py``)
and ``DeduplicateStream`` (streaming, ``streaming.py``)."""

from pipeline.dedup.batch import DUPLICATES, INDEX, MINHASH_FIELD, DeduplicateArticles

__all__ = ["DUPLICATES", "INDEX", "MINHASH_FIELD", "DeduplicateArticles"]
