"""Taggers as plain functions, the TagArticles composite, and the seeds' done-when checks."""

from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.tagging import TagArticles, Tagger, flat_tags
from pipeline.tagging.entities import SpacyEntities, rule_organizations, rule_persons
from pipeline.tagging.keywords import KeywordExtractor
from pipeline.tagging.language import LanguageDetector
from pipeline.tagging.places import Gazetteer, find_places
from pipeline.tagging.topics import Taxonomy, classify_topics


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer()


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger()


def codes(text: str, gazetteer: Gazetteer) -> set[str]:
    return {p["country_code"] if p["kind"] == "country" else p["name"] for p in find_places(text, gazetteer)}


# --- places -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "sentence",
    [
        "Jordan scored twice as the Bulls beat the Knicks.",
        "Michael Jordan scored twice in the final quarter.",
        "Chad said he would stay at the club for another season.",
        "We ate turkey and stuffing at Christmas.",
        "Reading the report, the minister said nothing had changed.",
        "Nice work, said the coach after training.",
        "The band played a nice set; reading from the script, she thanked the fans.",
    ],
)
def test_ambiguous_words_are_not_places(sentence, gazetteer):
    assert find_places(sentence, gazetteer) == []


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("Refugees fled to Jordan last year.", {"JO"}),
        ("Troops from Chad crossed the border.", {"TD"}),
        ("The summit in Turkey ended early.", {"TR"}),
        ("He moved from Reading to London.", {"Reading", "London"}),
        ("The festival in Nice drew crowds.", {"Nice"}),
    ],
)
def test_ambiguous_names_with_a_location_cue_are_places(sentence, expected, gazetteer):
    assert codes(sentence, gazetteer) == expected


def test_kabul_washington_and_the_uk(gazetteer):
    places = find_places(
        "Flights left Kabul for the UK on Monday. Washington said the airlift would go on. "
        "Officials in Kabul agreed.",
        gazetteer,
    )
    by_name = {p["name"]: p for p in places}
    kabul = by_name["Kabul"]
    assert kabul["kind"] == "city" and kabul["country_code"] == "AF" and kabul["geonames_id"] == 1138958
    assert kabul["mentions"] == 2 and round(kabul["lat"]) == 35 and round(kabul["lon"]) == 69
    assert by_name["Washington"]["country_code"] == "US" and by_name["Washington"]["kind"] == "city"
    assert by_name["United Kingdom"]["kind"] == "country" and by_name["United Kingdom"]["country_code"] == "GB"
    assert places[0]["name"] == "Kabul"  # most mentioned first


def test_demonyms_and_aliases_map_to_countries(gazetteer):
    assert codes("Afghan interpreters met British and American officials.", gazetteer) == {"AF", "GB", "US"}
    assert codes("Britain and the US signed it; the U.K. agreed.", gazetteer) == {"GB", "US"}


def test_multi_word_names_and_names_that_belong_to_something_else(gazetteer):
    assert codes("Leaders of the United States met in New York.", gazetteer) == {"US", "New York City"}
    assert find_places("Downing Street said the talks went well.", gazetteer) == []
    assert find_places("Shoppers crowded Oxford Street; the Washington Post reported it.", gazetteer) == []
    assert find_places("The actor Denzel Washington arrived.", gazetteer) == []
    york = [p for p in find_places("He flew to New York.", gazetteer) if p["kind"] == "city"]
    assert len(york) == 1 and york[0]["country_code"] == "US"  # not "York", GB


def test_city_shared_by_two_countries_follows_the_country_named(gazetteer):
    (only,) = [p for p in find_places("Police in Hyderabad made arrests.", gazetteer) if p["kind"] == "city"]
    assert only["country_code"] == "IN"  # the most populous by default
    cities = [p for p in find_places("Police in Hyderabad, Pakistan made arrests.", gazetteer) if p["kind"] == "city"]
    assert cities[0]["country_code"] == "PK"


# --- topics -----------------------------------------------------------------------------------

def test_topics_rank_politics_for_an_election_story():
    taxonomy = Taxonomy()
    topics = classify_topics(
        "Prime minister calls snap election",
        "The prime minister called a general election. Opposition parties said voters would punish the "
        "government; MPs in parliament debated the campaign and the party manifesto.",
        taxonomy,
    )
    assert topics[0]["code"] == "medtop:11000000" and topics[0]["label"] == "politics"
    assert 0 < topics[0]["score"] <= 1
    assert classify_topics("", "", taxonomy) == []


def test_taxonomy_file_replaces_the_default(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"topics": [
        {"code": "x:cats", "label": "cats", "terms": {"cat": 2, "kitten": 3}},
        {"code": "x:dogs", "label": "dogs", "terms": {"dog": 2, "puppy": 3}},
    ]}))
    topics = classify_topics("A kitten", "The cat and the kitten met a dog.", Taxonomy(str(path)))
    assert [t["code"] for t in topics] == ["x:cats"]  # dogs: evidence 2 < minimum


# --- people and organisations -----------------------------------------------------------------

def test_rule_persons_titles_and_honorifics():
    text = (
        "Prime Minister Boris Johnson spoke to President Joe Biden. Mr Cleverly and Sir Ed Davey were "
        "there; Taliban spokesman Dr Suhail Shaheen said no. Later Mr Biden's aides and Mr Johnson met."
    )
    persons = rule_persons(text)
    assert persons[:2] == ["Boris Johnson", "Joe Biden"]
    assert {"Cleverly", "Ed Davey", "Suhail Shaheen"} <= set(persons)
    assert "Biden" not in persons and "Johnson" not in persons  # merged into the full names


def test_rule_persons_ignores_departments_and_plain_capitals():
    assert rule_persons("The Justice Department and General Motors said the Foreign Office agreed.") == []


def test_rule_organizations():
    orgs = rule_organizations("The Defense Ministry told Sky News that the Bank of England would act.")
    assert "Defense Ministry" in orgs and "Sky News" in orgs


def test_spacy_pipeline_integration_without_a_download():
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([
        {"label": "PERSON", "pattern": "Boris Johnson"},
        {"label": "PERSON", "pattern": "Joe Biden"},
        {"label": "ORG", "pattern": "Sky News"},
        {"label": "GPE", "pattern": "Kabul"},
    ])
    entities = SpacyEntities("test-ruler", nlp=nlp, batch_size=2)
    out = entities.extract(["Boris Johnson told Sky News about Kabul.", "Joe Biden agreed.", "Nothing here."])
    assert out == [(["Boris Johnson"], ["Sky News"]), (["Joe Biden"], []), ([], [])]
    tagged = Tagger(ner_model="test-ruler", nlp=nlp).tag_batch([_article("Boris Johnson told Sky News", "Joe Biden agreed in Kabul.")])[0]
    assert tagged["entities_source"] == "spacy:test-ruler"
    assert tagged["persons"] == ["Boris Johnson", "Joe Biden"] and tagged["organizations"] == ["Sky News"]
    assert "person:Joe Biden" in tagged["tags"] and "org:Sky News" in tagged["tags"]


# --- keywords and language ---------------------------------------------------------------------

def test_keywords_are_few_repeated_phrases_and_deterministic():
    extractor = KeywordExtractor()
    text = (
        "The Bank of England raised interest rates. Interest rates rose to 5%. The Bank of England said "
        "inflation was too high, and interest rates may rise again. Inflation hit savers and borrowers."
    )
    first = extractor.extract("Interest rates rise again", text)
    assert first == extractor.extract("Interest rates rise again", text)
    assert 1 <= len(first) <= 10
    assert first[0].lower() == "interest rates"
    assert "Bank of England" not in first  # "of" is a stopword: phrases never span it
    assert "inflation" in [k.lower() for k in first]


def test_short_text_gets_a_low_language_confidence():
    detector = LanguageDetector()
    code, score = detector.detect("Kabul airlift")
    assert score < 0.3
    code, score = detector.detect(
        "The government said on Monday that the evacuation of civilians from the airport would continue "
        "for as long as it was safe to do so, and that more flights were planned."
    )
    assert code == "en" and score > 0.9


# --- the composite and the seeds ---------------------------------------------------------------

def _article(title: str, text: str, **extra) -> dict:
    return {"article_id": title[:8], "title": title, "text": text, "language": None, "language_score": None,
            "dateline": None, **extra}


def test_tag_articles_composite():
    articles = [
        _article("Kabul airlift ends", "The last flights left Kabul. President Joe Biden said troops were home."),
        _article("Election called", "The prime minister called an election; parliament was dissolved and MPs campaigned."),
    ]
    with TestPipeline() as p:
        tagged = p | beam.Create(articles) | TagArticles()
        summary = tagged | beam.Map(lambda a: (a["article_id"], "place:AF" in a["tags"], a["tags"][0]))
        assert_that(summary, equal_to([("Kabul ai", True, "lang:en"), ("Election", False, "lang:en")]))


def test_flat_tags_include_city_countries_once():
    article = {"language": "en", "places": [
        {"name": "Kabul", "kind": "city", "country_code": "AF", "geonames_id": 1138958},
        {"name": "Afghanistan", "kind": "country", "country_code": "AF", "geonames_id": 1149361},
    ], "topics": [{"code": "medtop:11000000"}], "persons": ["Joe Biden"], "organizations": []}
    assert flat_tags(article) == ["lang:en", "place:AF", "city:1138958", "topic:medtop:11000000", "person:Joe Biden"]


def test_seeds_are_tagged_as_the_issue_requires(seed_articles, tagger):
    tagged = {k: tagger.tag(dict(a)) for k, a in seed_articles.items()}
    politics, conflict, crime = "medtop:11000000", "medtop:16000000", "medtop:02000000"
    for key, article in tagged.items():
        assert article["language"] == "en", key
        assert politics in {t["code"] for t in article["topics"]}, (key, article["topics"])
        assert len(article["keywords"]) <= 10 and article["keywords"]
    for key in ("000", "002"):
        assert {conflict, crime} & {t["code"] for t in tagged[key]["topics"]}, (key, tagged[key]["topics"])
    countries = set().union(*({p["country_code"] for p in a["places"]} for a in tagged.values()))
    assert {"AF", "GB", "US"} <= countries
    cities = [p for a in tagged.values() for p in a["places"] if p["name"] == "Kabul"]
    assert cities and cities[0]["kind"] == "city" and cities[0]["lat"] and cities[0]["lon"]
    assert {"Boris Johnson", "Joe Biden"} <= set(tagged["000"]["persons"])
    assert tagged["000"]["entities_source"] == "rules"
    assert "place:AF" in tagged["000"]["tags"] and "lang:en" in tagged["000"]["tags"]


# --- options, end to end -----------------------------------------------------------------------

def test_taxonomy_option_replaces_topics_in_the_output(tmp_path):
    import duckdb

    from conftest import SEEDS
    from pipeline.cli import main

    taxonomy = tmp_path / "taxonomy.json"
    taxonomy.write_text(json.dumps({"topics": [
        {"code": "t:evac", "label": "evacuation", "terms": {"evacuation": 3, "evacuations": 3, "airlift": 3}},
        {"code": "t:cats", "label": "cats", "terms": {"cat": 3, "kitten": 3}},
    ]}))
    out = tmp_path / "out"
    assert main(["run", "--input", str(SEEDS / "*.txt"), "--output", str(out), "--taxonomy", str(taxonomy)]) == 0
    codes = duckdb.connect().execute(
        f"SELECT list_distinct(flatten(list([t.code for t in topics]))) FROM read_parquet('{out}/articles/**/*.parquet')"
    ).fetchone()[0]
    assert codes == ["t:evac"]


def test_bad_tagging_options_fail_before_the_run(tmp_path, capsys):
    from conftest import SEEDS
    from pipeline.cli import main

    out = tmp_path / "out"
    assert main(["run", "--input", str(SEEDS / "*.txt"), "--output", str(out), "--taxonomy", str(tmp_path / "nope.json")]) == 2
    assert main(["run", "--input", str(SEEDS / "*.txt"), "--output", str(out), "--ner-model", "xx_no_such_model"]) == 2
    assert "xx_no_such_model" in capsys.readouterr().err
    assert not out.exists()
