"""Tagging: language, places, IPTC topics, people and organisations, keywords, flat tags.

Each tagger is a plain function over an article dict (``places.find_places``,
``topic_model.TopicModel.classify`` or ``topics.classify_topics``, ``entities.rule_persons``,
``keywords.extract_keywords``, ``language.tag_language``); :class:`Tagger` (``tagger.py``) holds
what they need (automata, models, taxonomy) and runs each only on the languages it supports; it is
built once per worker in ``TagArticlesFn.setup()``; :class:`TagArticles` is the thin composite.
"""

from __future__ import annotations

from pipeline.tagging.tag_articles import BATCH_SIZE, TagArticles, TagArticlesFn
from pipeline.tagging.tagger import TOPIC_CHOICES, Tagger, flat_tags, resolve_topics

__all__ = ["BATCH_SIZE", "TOPIC_CHOICES", "TagArticles", "TagArticlesFn", "Tagger", "flat_tags", "resolve_topics"]
