"""Tagging: enrich kept articles (language now; places, topics, entities, keywords build on it)."""

from __future__ import annotations

import apache_beam as beam

from pipeline.tagging.language import LanguageDetector, tag_language


class TagArticleFn(beam.DoFn):
    def setup(self) -> None:
        self._language = LanguageDetector()

    def process(self, article: dict):
        yield tag_language(article, self._language)


class TagArticles(beam.PTransform):
    """Kept articles -> the same articles with their tags filled in."""

    def expand(self, articles):
        return articles | "Tag" >> beam.ParDo(TagArticleFn())
