"""Tagging: language, places, IPTC topics, people and organisations, keywords, flat tags.

Each tagger is a plain function over an article dict (``places.find_places``,
``topics.classify_topics``, ``entities.rule_persons``, ``keywords.extract_keywords``,
``language.tag_language``); :class:`Tagger` holds what they need (automata, model, taxonomy),
built once per worker in ``TagArticlesFn.setup()``; :class:`TagArticles` is the thin composite.
"""

from __future__ import annotations

import functools
from typing import Optional

import apache_beam as beam
from apache_beam.utils import shared

from pipeline.tagging.entities import RuleEntities, SpacyEntities
from pipeline.tagging.keywords import KeywordExtractor
from pipeline.tagging.language import LanguageDetector, tag_language
from pipeline.tagging.places import Gazetteer, find_places
from pipeline.tagging.topics import Taxonomy, classify_topics

# Articles handed to the entity recogniser at once (spaCy's nlp.pipe batches inside).
BATCH_SIZE = 64


def flat_tags(article: dict) -> list[str]:
    """``lang:en``, ``place:AF`` (countries named, and the countries of cities named),
    ``city:1138958``, ``topic:medtop:11000000``, ``person:…``, ``org:…``; no repeats."""
    tags: list[str] = []
    if article.get("language"):
        tags.append(f"lang:{article['language']}")
    countries = []
    for place in article.get("places") or []:
        if place["country_code"] and place["country_code"] not in countries:
            countries.append(place["country_code"])
    tags += [f"place:{code}" for code in countries]
    tags += [f"city:{p['geonames_id']}" for p in article.get("places") or [] if p["kind"] == "city"]
    tags += [f"topic:{t['code']}" for t in article.get("topics") or []]
    tags += [f"person:{name}" for name in article.get("persons") or []]
    tags += [f"org:{name}" for name in article.get("organizations") or []]
    seen: set[str] = set()
    return [t for t in tags if not (t in seen or seen.add(t))]


class Tagger:
    """Everything the taggers need, built once per worker."""

    def __init__(self, taxonomy: Optional[str] = None, ner_model: Optional[str] = None, nlp=None) -> None:
        self.language = LanguageDetector()
        self.gazetteer = Gazetteer()
        self.taxonomy = Taxonomy(taxonomy)
        self.keywords = KeywordExtractor()
        self.entities = SpacyEntities(ner_model, nlp=nlp) if (ner_model or nlp is not None) else RuleEntities()

    def tag_batch(self, articles: list[dict]) -> list[dict]:
        entity_lists = self.entities.extract([f"{a['title']}\n\n{a['text']}" for a in articles])
        return [self.tag(article, persons, orgs) for article, (persons, orgs) in zip(articles, entity_lists)]

    def tag(self, article: dict, persons: Optional[list[str]] = None, organizations: Optional[list[str]] = None) -> dict:
        if persons is None or organizations is None:
            ((persons, organizations),) = self.entities.extract([f"{article['title']}\n\n{article['text']}"])
        article = tag_language(article, self.language)
        title, text = article["title"], article["text"]
        dateline = (article.get("dateline") or "").title()
        tagged = {
            **article,
            "places": find_places(f"{dateline}\n{title}\n{text}" if dateline else f"{title}\n{text}", self.gazetteer),
            "topics": classify_topics(title, text, self.taxonomy),
            "persons": persons,
            "organizations": organizations,
            "entities_source": self.entities.source,
            "keywords": self.keywords.extract(title, text),
        }
        tagged["tags"] = flat_tags(tagged)
        return tagged


class TagArticlesFn(beam.DoFn):
    """Batches of articles -> tagged articles (batches feed spaCy's ``nlp.pipe``).

    The Tagger (~1 s to build, automata and models) is shared by every instance of this DoFn in
    a worker process through Beam's ``Shared`` handle, so several tagging steps cost one set-up."""

    def __init__(self, taxonomy: Optional[str] = None, ner_model: Optional[str] = None,
                 shared_tagger: Optional[shared.Shared] = None) -> None:
        self._taxonomy = taxonomy
        self._ner_model = ner_model
        self._shared = shared_tagger or shared.Shared()
        self._tagger: Optional[Tagger] = None

    def setup(self) -> None:
        self._tagger = self._shared.acquire(functools.partial(Tagger, self._taxonomy, self._ner_model),
                                            tag=f"tagger:{self._taxonomy}:{self._ner_model}")

    def process(self, batch: list[dict]):
        yield from self._tagger.tag_batch(batch)


class TagArticles(beam.PTransform):
    """Kept articles -> the same articles with language, places, topics, entities, keywords and tags."""

    def __init__(self, taxonomy: Optional[str] = None, ner_model: Optional[str] = None,
                 shared_tagger: Optional[shared.Shared] = None) -> None:
        super().__init__()
        self._taxonomy = taxonomy
        self._ner_model = ner_model
        self._shared = shared_tagger

    def expand(self, articles):
        return (
            articles
            | "BatchForTagging" >> beam.BatchElements(min_batch_size=1, max_batch_size=BATCH_SIZE)
            | "Tag" >> beam.ParDo(TagArticlesFn(self._taxonomy, self._ner_model, self._shared))
        )
