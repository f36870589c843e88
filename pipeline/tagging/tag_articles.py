"""The TagArticles composite: kept articles -> tagged articles (batches of BATCH_SIZE)."""

from __future__ import annotations

import functools
from typing import Optional

import apache_beam as beam
from apache_beam.utils import shared

from pipeline.tagging.tagger import Tagger, resolve_topics

# Articles handed to the entity recogniser at once (spaCy's nlp.pipe batches inside).
BATCH_SIZE = 64


class TagArticlesFn(beam.DoFn):
    """Batches of articles -> tagged articles (batches feed spaCy's ``nlp.pipe``).

    The Tagger (~1 s to build, automata and models) is shared by every instance of this DoFn in
    a worker process through Beam's ``Shared`` handle, so several tagging steps cost one set-up."""

    def __init__(self, taxonomy: Optional[str] = None, ner_model: Optional[str] = None,
                 shared_tagger: Optional[shared.Shared] = None, topics: Optional[str] = None) -> None:
        self._taxonomy = taxonomy
        self._ner_model = ner_model
        self._topics = resolve_topics(topics, taxonomy)
        self._shared = shared_tagger or shared.Shared()
        self._tagger: Optional[Tagger] = None

    def setup(self) -> None:
        self._tagger = self._shared.acquire(
            functools.partial(Tagger, self._taxonomy, self._ner_model, topics=self._topics),
            tag=f"tagger:{self._topics}:{self._taxonomy}:{self._ner_model}")

    def process(self, batch: list[dict]):
        yield from self._tagger.tag_batch(batch)


class TagArticles(beam.PTransform):
    """Kept articles -> the same articles with language, places, topics, entities, keywords and tags."""

    def __init__(self, taxonomy: Optional[str] = None, ner_model: Optional[str] = None,
                 shared_tagger: Optional[shared.Shared] = None, topics: Optional[str] = None) -> None:
        super().__init__()
        self._taxonomy = taxonomy
        self._ner_model = ner_model
        self._topics = resolve_topics(topics, taxonomy)
        self._shared = shared_tagger

    def expand(self, articles):
        return (
            articles
            | "BatchForTagging" >> beam.BatchElements(min_batch_size=1, max_batch_size=BATCH_SIZE)
            | "Tag" >> beam.ParDo(TagArticlesFn(self._taxonomy, self._ner_model, self._shared, self._topics))
        )
