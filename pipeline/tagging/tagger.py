"""The Tagger (everything the taggers need, built once per worker) and language gating.

Each tagger runs only on the languages it supports, read from the article's ``language`` (declared
by the input or detected): topics (model or taxonomy), keywords (English stopwords) and the
rule-based people/organisations are English-only; a spaCy model runs on its own language.  On an
article in another language (or of unknown language) those columns stay empty.  One exception, for
bare headlines: a detected language given with low confidence (``language_score`` below
``SURE_SCORE``, i.e. a short text) counts as English when English is nearly as likely
(``LanguageDetector.english_is_close``); a language given by the input is always taken as it is.  Places run on every
language: the gazetteer matches Latin-script names, which name the same places in most European
languages (measured on German text by ``benchmarks/eval_tagging.py``).
"""

from __future__ import annotations

from typing import Optional

from pipeline.tagging.entities import RuleEntities, SpacyEntities
from pipeline.tagging.keywords import KeywordExtractor
from pipeline.tagging.language import LanguageDetector, tag_language
from pipeline.tagging.places import Gazetteer, find_places
from pipeline.tagging.topic_model import TopicModel
from pipeline.tagging.topics import Taxonomy, classify_topics

TOPIC_CHOICES = ("model", "taxonomy")
SURE_SCORE = 0.5


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


def resolve_topics(topics: Optional[str], taxonomy: Optional[str]) -> str:
    """``--topics`` as given, else ``taxonomy`` when a ``--taxonomy FILE`` is given, else ``model``."""
    if topics is None:
        return "taxonomy" if taxonomy else "model"
    if topics not in TOPIC_CHOICES:
        raise ValueError(f"topics must be one of {TOPIC_CHOICES}, not {topics!r}")
    return topics


class Tagger:
    """Everything the taggers need, built once per worker."""

    def __init__(self, taxonomy: Optional[str] = None, ner_model: Optional[str] = None, nlp=None,
                 topics: Optional[str] = None) -> None:
        self.language = LanguageDetector()
        self.gazetteer = Gazetteer()
        self.topics = resolve_topics(topics, taxonomy)
        self.taxonomy = Taxonomy(taxonomy) if self.topics == "taxonomy" else None
        self.topic_model = TopicModel() if self.topics == "model" else None
        self.keywords = KeywordExtractor()
        self.entities = SpacyEntities(ner_model, nlp=nlp) if (ner_model or nlp is not None) else RuleEntities()
        # languages each tagger supports
        self.topic_languages = frozenset({"en"})
        self.keyword_languages = frozenset({"en"})
        lang = getattr(getattr(self.entities, "nlp", None), "lang", None)
        self.entity_languages = frozenset({lang}) if lang and lang != "xx" else frozenset({"en"})

    def language_of(self, article: dict) -> Optional[str]:
        """The language the taggers go by: the article's, or 'en' for an unsure short text that English fits."""
        language = article.get("language")
        if language in (None, "en"):
            return language
        score = article.get("language_score")
        if score is not None and score < SURE_SCORE and self.language.english_is_close(f"{article['title']}\n{article['text']}"):
            return "en"
        return language

    def classify(self, title: str, text: str) -> list[dict]:
        if self.topic_model is not None:
            return self.topic_model.classify(title, text)
        return classify_topics(title, text, self.taxonomy)

    def tag_batch(self, articles: list[dict]) -> list[dict]:
        articles = [tag_language(a, self.language) for a in articles]
        languages = [self.language_of(a) for a in articles]
        wanted = [i for i, lang in enumerate(languages) if lang in self.entity_languages]
        found = self.entities.extract([f"{articles[i]['title']}\n\n{articles[i]['text']}" for i in wanted])
        entity_lists: list[tuple[list[str], list[str]]] = [([], []) for _ in articles]
        for i, pair in zip(wanted, found):
            entity_lists[i] = pair
        return [self._tag(article, lang, persons, orgs)
                for article, lang, (persons, orgs) in zip(articles, languages, entity_lists)]

    def tag(self, article: dict, persons: Optional[list[str]] = None, organizations: Optional[list[str]] = None) -> dict:
        article = tag_language(article, self.language)
        return self._tag(article, self.language_of(article), persons, organizations)

    def _tag(self, article: dict, language: Optional[str], persons: Optional[list[str]],
             organizations: Optional[list[str]]) -> dict:
        if persons is None or organizations is None:
            persons, organizations = [], []
            if language in self.entity_languages:
                ((persons, organizations),) = self.entities.extract([f"{article['title']}\n\n{article['text']}"])
        title, text = article["title"], article["text"]
        dateline = (article.get("dateline") or "").title()
        tagged = {
            **article,
            "places": find_places(f"{dateline}\n{title}\n{text}" if dateline else f"{title}\n{text}", self.gazetteer),
            "topics": self.classify(title, text) if language in self.topic_languages else [],
            "persons": persons,
            "organizations": organizations,
            "entities_source": self.entities.source,
            "keywords": self.keywords.extract(title, text) if language in self.keyword_languages else [],
        }
        tagged["tags"] = flat_tags(tagged)
        return tagged
