"""The learned topic model: the shipped file, its mapping table, calibrated output, training, language gating."""

from __future__ import annotations

import fnmatch
import json
import random
import tomllib
from importlib import resources
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.tagging import TagArticles, Tagger, resolve_topics
from pipeline.tagging import training
from pipeline.tagging.topic_model import (FLOOR, MAX_TOPICS, META_FILE, MODEL_FILE, THRESHOLD, TopicModel, features,
                                          select_topics, sha256_file, tokens)
from pipeline.tagging.topics import Taxonomy

ROOT = Path(__file__).resolve().parents[1]
DATA = resources.files("pipeline.tagging") / "data"
# The 29 categories of the two News Category subsets (their README lists them with counts).
NEWS_CATEGORIES = {
    "POLITICS", "ENTERTAINMENT", "U.S. NEWS", "WORLD NEWS", "COMEDY", "SPORTS", "CRIME", "STYLE & BEAUTY", "MEDIA",
    "WEIRD NEWS", "BLACK VOICES", "HOME & LIVING", "ENVIRONMENT", "WELLNESS", "PARENTING", "FOOD & DRINK", "WOMEN",
    "QUEER VOICES", "BUSINESS", "MONEY", "CULTURE & ARTS", "IMPACT", "TECH", "SCIENCE", "RELIGION", "TRAVEL",
    "EDUCATION", "LATINO VOICES", "WEDDINGS",
}
POLITICS, CONFLICT, SPORT, ECONOMY = "medtop:11000000", "medtop:16000000", "medtop:15000000", "medtop:04000000"


@pytest.fixture(scope="module")
def model() -> TopicModel:
    return TopicModel()


@pytest.fixture(scope="module")
def meta() -> dict:
    return json.loads((DATA / META_FILE).read_text("utf-8"))


# --- the shipped file ---------------------------------------------------------------------------

def test_model_file_is_the_one_described_by_its_metadata(model, meta):
    with resources.as_file(DATA / MODEL_FILE) as path:
        assert sha256_file(path) == meta["sha256"]
        assert path.stat().st_size == meta["bytes"] <= 10_000_000
    taxonomy = Taxonomy()
    assert model.codes == [t.code for t in taxonomy.topics] and len(model.codes) == meta["topics"] == 17
    assert model.weights.shape == (meta["features"], 17) and len(model.vocab) == meta["features"]
    assert model.bias.shape == (17,) and model.calibration.shape == (17, 2)
    assert np.isfinite(model.weights).all() and np.isfinite(model.calibration).all()
    assert (model.calibration[:, 0] > 0).all()  # a higher score never means a lower probability


def test_shipped_model_gives_the_training_scripts_probabilities_on_its_probes(model, meta):
    assert len(meta["probes"]) >= 5
    for probe in meta["probes"]:
        got = model.probabilities(probe["title"], probe["text"])
        assert np.allclose(got, probe["probabilities"], atol=2e-6), probe["title"]


def test_model_files_are_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["pipeline"]
    for name in (MODEL_FILE, META_FILE, "news_category_iptc.tsv"):
        assert any(fnmatch.fnmatch(f"tagging/data/{name}", p) for p in patterns), name
    assert "scikit-learn" not in " ".join(config["project"]["dependencies"])


# --- the mapping table --------------------------------------------------------------------------

def test_mapping_table_covers_every_category_with_valid_codes():
    mapping = training.load_mapping()
    assert set(mapping) == NEWS_CATEGORIES
    valid = {t.code for t in Taxonomy().topics}
    for category, codes in mapping.items():
        assert set(codes) <= valid, category
        assert len(codes) == len(set(codes)) <= 2, category
    assert mapping["POLITICS"] == (POLITICS,) and mapping["SPORTS"] == (SPORT,)
    assert len(mapping["WELLNESS"]) == 2                      # some map to two topics
    assert mapping["U.S. NEWS"] == () and mapping["WORLD NEWS"] == ()  # some to none
    text = (DATA / "news_category_iptc.tsv").read_text("utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")][1:]
    assert all(len(r) == 3 and r[2].strip() for r in rows)    # every row says why


def test_mapping_table_rejects_a_wrong_header(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("cat\tcode\nPOLITICS\tmedtop:11000000\n")
    with pytest.raises(ValueError):
        training.load_mapping(str(bad))


# --- calibrated output --------------------------------------------------------------------------

def test_select_topics_floor_threshold_and_cap():
    codes = [f"c{i}" for i in range(6)]
    labels = [f"l{i}" for i in range(6)]
    assert select_topics([0.1, 0.05, 0, 0, 0, 0], codes, labels) == []  # best below the floor
    only = select_topics([FLOOR, 0.4, 0.1, 0, 0, 0], codes, labels)
    assert [t["code"] for t in only] == ["c1"]                          # best above the floor, the rest below 0.5
    many = select_topics([0.9, 0.8, 0.7, 0.6, 0.55, 0.99], codes, labels)
    assert [t["code"] for t in many] == ["c5", "c0", "c1", "c2"]        # at most four, best first


def test_scores_are_probabilities_and_the_rules_hold_on_random_texts(model):
    rng = random.Random(7)
    words = sorted(w for w in model.vocab if " " not in w and not w.startswith("t:"))
    for _ in range(300):
        title = " ".join(rng.choice(words) for _ in range(rng.randrange(0, 12)))
        text = " ".join(rng.choice(words) for _ in range(rng.randrange(0, 200)))
        p = model.probabilities(title, text)
        assert p.shape == (17,) and ((p >= 0) & (p <= 1)).all()
        topics = model.classify(title, text)
        assert len(topics) <= MAX_TOPICS
        assert [t["score"] for t in topics] == sorted((t["score"] for t in topics), reverse=True)
        if topics:
            assert topics[0]["score"] >= round(FLOOR, 4) and topics[0]["score"] == round(float(p.max()), 4)
            assert all(t["score"] >= THRESHOLD for t in topics[1:])
        else:
            assert p.max() < FLOOR


def test_model_topics_for_plain_stories(model):
    assert model.classify("", "") == [] and model.probabilities("", "").max() < FLOOR  # no words, no topic
    election = model.classify("Prime minister calls snap election",
                              "Opposition parties said voters would punish the government in the vote.")
    assert election[0]["code"] == POLITICS
    assert model.classify("Striker scores twice as United win the cup final", "")[0]["code"] == SPORT
    assert model.classify("Shares fall as the central bank raises interest rates", "")[0]["code"] == ECONOMY


def test_features_tokens():
    assert tokens("Biden’s 2021 U.S. visit; Köln!") == ["biden", "<num>", "visit", "köln"]
    counts = features("Snap election", "Election called")
    assert counts["t:snap"] == 1 and counts["election"] == 2 and counts["snap election"] == 1
    assert counts["election election"] == 1 and "t:called" not in counts


# --- training -----------------------------------------------------------------------------------

def _tiny_examples() -> list[training.Example]:
    sport = ["the striker scored a goal in the match", "the team won the league match", "a goal in the cup final"]
    money = ["shares fell as the bank raised rates", "the bank cut interest rates", "profits rose and shares gained"]
    out = []
    for i, text in enumerate(sport * 3):
        out.append(training.Example(f"match report {i}", text, (SPORT,), (), 1.0, f"s{i}", "news-category"))
    for i, text in enumerate(money * 3):
        out.append(training.Example(f"markets {i}", text, (ECONOMY,), (POLITICS,), 1.0, f"m{i}", "news-category"))
    out.append(training.Example("goalkeeper", "", (SPORT,), (), 0.1, "prior:goalkeeper", "prior"))
    return out


def test_training_is_reproducible_and_learns(tmp_path):
    codes = [POLITICS, SPORT, ECONOMY]
    labels = ["politics", "sport", "economy"]
    first = training.train(_tiny_examples(), codes, labels)
    second = training.train(_tiny_examples(), codes, labels)
    training.save(first, tmp_path / "a.npz")
    training.save(second, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    loaded = TopicModel(str(tmp_path / "a.npz"))
    in_memory = TopicModel.from_arrays(first.codes, first.labels, first.vocab, first.weights, first.bias, first.calibration)
    text = ("Cup final", "the striker scored a goal")
    assert np.array_equal(loaded.probabilities(*text), in_memory.probabilities(*text))
    p = dict(zip(codes, loaded.probabilities(*text)))
    assert p[SPORT] > p[ECONOMY]
    p = dict(zip(codes, loaded.probabilities("Markets", "the bank raised interest rates")))
    assert p[ECONOMY] > p[SPORT]
    assert "goalkeeper" in first.vocab and "t:goalkeeper" in first.vocab  # prior terms are always features


def test_build_examples_labels_weak_labels_and_prior():
    taxonomy = Taxonomy()
    mapping = training.load_mapping()
    news = [
        {"headline": "Senate passes the budget bill", "short_description": "Lawmakers voted late.", "category": "POLITICS", "link": "a"},
        {"headline": "Troops and rebels clash near the border", "short_description": "Fighting killed soldiers in the war.",
         "category": "WORLD NEWS", "link": "b"},
        {"headline": "A day in the life", "short_description": "Nothing much.", "category": "U.S. NEWS", "link": "c"},
    ]
    bbc = [("sport", "g1", "Cup final", "The striker scored a goal in the final.")]
    examples = training.build_examples(news, bbc, taxonomy, mapping)
    by_source: dict[str, list] = {}
    for ex in examples:
        by_source.setdefault(ex.source, []).append(ex)
    assert [ex.positives for ex in by_source["news-category"]] == [(POLITICS,)]
    assert [ex.title for ex in by_source["news-category-headline"]] == ["Senate passes the budget bill"]
    (weak,) = by_source["news-category-weak"]                       # the section item the taxonomy can read
    assert CONFLICT in weak.positives and weak.weight == training.WEAK_WEIGHT and weak.group == "b"
    assert {ex.source for ex in examples if ex.group == "g1"} == {"bbc", "bbc-lead", "bbc-headline"}
    priors = by_source["prior"]
    assert len(priors) == len({ex.title for ex in priors}) > 1000     # one example per taxonomy term


# --- which tagger, and language gating ----------------------------------------------------------

def test_resolve_topics():
    assert resolve_topics(None, None) == "model"
    assert resolve_topics(None, "mine.json") == "taxonomy"
    assert resolve_topics("taxonomy", None) == "taxonomy"
    with pytest.raises(ValueError):
        resolve_topics("keywords", None)


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger()


GERMAN = ("Bundesregierung beschließt Hilfen für Landwirte",
          "Die Bundesregierung in Berlin hat am Montag neue Hilfen für die Landwirtschaft beschlossen. Wie ein Sprecher "
          "des Ministeriums mitteilte, sollen die Gelder noch vor dem Sommer ausgezahlt werden. Frankreich hatte bereits "
          "im Frühjahr ein ähnliches Programm aufgelegt, teilte die Regierung in Paris mit. Minister Schmidt sagte, "
          "die Bauern bräuchten jetzt Planungssicherheit.")
ENGLISH = ("Prime Minister calls snap election",
           "Prime Minister Boris Johnson called a general election in London on Monday. Opposition parties said voters "
           "would punish the government, and the Labour Party launched its campaign.")


def _article(title: str, text: str, **extra) -> dict:
    return {"article_id": title[:8], "title": title, "text": text, "language": None, "language_score": None,
            "dateline": None, **extra}


def test_english_only_taggers_are_gated_by_language(tagger):
    german = tagger.tag(_article(*GERMAN))
    assert german["language"] == "de"
    assert german["topics"] == [] and german["keywords"] == [] and german["persons"] == [] and german["organizations"] == []
    assert {"DE", "FR"} <= {p["country_code"] for p in german["places"]}  # places still run
    assert not any(t.startswith(("topic:", "person:", "org:")) for t in german["tags"])
    english = tagger.tag(_article(*ENGLISH))
    assert english["language"] == "en" and english["topics"][0]["code"] == POLITICS and english["keywords"]
    assert "Boris Johnson" in english["persons"]
    declared = tagger.tag(_article(*ENGLISH, language="fr", language_score=1.0))  # the input's word is taken
    assert declared["topics"] == [] and declared["keywords"] == [] and declared["persons"] == []


def test_tag_batch_gates_entities_per_article(tagger):
    out = tagger.tag_batch([_article(*GERMAN), _article(*ENGLISH)])
    assert out[0]["persons"] == [] and "Boris Johnson" in out[1]["persons"]
    assert out[0]["topics"] == [] and out[1]["topics"]


def test_tag_articles_composite_gates_and_takes_the_topic_choice():
    articles = [_article(*GERMAN), _article(*ENGLISH)]
    with TestPipeline() as p:
        tagged = p | beam.Create(articles) | TagArticles(topics="taxonomy")
        summary = tagged | beam.Map(lambda a: (a["language"], bool(a["topics"]), bool(a["keywords"])))
        assert_that(summary, equal_to([("de", False, False), ("en", True, True)]))


def test_taxonomy_topics_still_available(tagger):
    by_taxonomy = Tagger(topics="taxonomy")
    assert by_taxonomy.topic_model is None and by_taxonomy.taxonomy is not None
    assert tagger.topic_model is not None and tagger.taxonomy is None
    english = by_taxonomy.tag(_article(*ENGLISH))
    assert english["topics"][0]["code"] == POLITICS


def test_topics_option_on_the_command_line(tmp_path):
    import duckdb

    from conftest import SEEDS
    from pipeline.cli import main
    from pipeline.tagging.topics import classify_topics

    out = tmp_path / "out"
    assert main(["run", "--input", str(SEEDS / "*.txt"), "--output", str(out), "--topics", "taxonomy"]) == 0
    rows = duckdb.connect().execute(
        f"SELECT title, text, [t.code for t in topics] FROM read_parquet('{out}/articles/**/*.parquet')"
    ).fetchall()
    taxonomy = Taxonomy()
    assert rows
    for title, text, codes in rows:  # exactly the taxonomy's topics, not the model's
        assert codes == [t["code"] for t in classify_topics(title, text, taxonomy)]


def test_a_bare_english_headline_misread_as_another_language_is_still_tagged(tagger):
    headline = tagger.tag(_article("Carl Icahn slams eBay CEO", ""))
    assert headline["language"] != "en" and headline["language_score"] < 0.5  # the detector's guess is kept...
    assert tagger.language_of(headline) == "en" and headline["topics"]         # ...but English taggers run
    german = tagger.tag(_article("Bundesregierung beschließt Hilfen für Landwirte", ""))
    assert german["language"] == "de" and tagger.language_of(german) == "de"
    assert german["topics"] == [] and german["keywords"] == []
    declared = _article("Carl Icahn slams eBay CEO", "", language="de", language_score=None)
    assert tagger.language_of(tagger.tag(declared)) == "de"                      # the input's word is final
