"""Each seed quirk, through the whole normaliser."""

from __future__ import annotations

from datetime import datetime, timezone

from conftest import SEEDS, NOW
from pipeline.normalize.article import Normalizer, normalize_article
from pipeline.records import RawRecord


def test_seed_001_metadata_date_and_dateline_source(seed_articles):
    a = seed_articles["001"]
    assert a["published_at"] == datetime(2021, 8, 16, tzinfo=timezone.utc)
    assert a["date_source"] == "metadata"
    assert "UrduPoint News" in a["source"] and "Sputnik" in a["source"]
    assert a["dateline"] == "London"


def test_seed_001_inline_date_header_is_not_text(seed_articles):
    a = seed_articles["001"]
    assert not a["text"].lower().startswith("date")
    assert "2021-08-16" not in a["text"] and "2021-08-16" not in a["title"]
    assert a["title"].startswith("UK Prime Minister Boris Johnson")


def test_seed_001_repeated_lead_and_dateline_removed(seed_articles):
    a = seed_articles["001"]
    paragraphs = a["text"].split("\n\n")
    # The summary line and the dateline paragraph said the same: it appears once.
    assert sum("has been speaking with international leaders" in p for p in paragraphs) == 1
    assert "LONDON (" not in a["text"]
    assert paragraphs[0].startswith("UK Prime Minister Boris Johnson has been speaking")
    assert a["summary"] == paragraphs[0]


def test_seed_002_caption_and_tweet_removed(seed_articles):
    a = seed_articles["002"]
    assert "(Liam McBurney/PA)" not in a["text"]
    assert "(SAC Samantha Holden RAF/PA)" not in a["text"]
    assert "@SecBlinken" not in a["text"] and "t.co/" not in a["text"]
    # ...while the sentences around them stay.
    assert "Mr Cleverly acknowledged some emails" in a["text"]
    assert "US secretary of state Antony Blinken will host a virtual meeting" in a["text"]


def test_curly_quotes_are_folded_and_stray_punctuation_tidied(seed_articles):
    for a in seed_articles.values():
        for ch in "\u201c\u201d\u2018\u2019":
            assert ch not in a["text"], ch
    a0 = seed_articles["000"]["text"]
    assert "evacuations, the answer is no" in a0          # was "evacuations , the"
    assert "the past two decades.\"" in a0                # stray opening quote at the end
    assert "is over.\" ." not in a0 and "added. ." not in a0
    assert "Mr Biden's controversial August 31 withdrawal deadline" in a0


def test_seeds_without_dates_are_not_given_one(seed_articles):
    for key in ("000", "002"):
        assert seed_articles[key]["published_at"] is None
        assert seed_articles[key]["date_source"] == "none"


def test_seeds_titles_summaries_and_counts(seed_articles):
    for a in seed_articles.values():
        assert a["title"] and len(a["title"]) <= 200
        assert a["summary"] and a["text"].startswith(a["summary"])
        assert a["word_count"] == len(a["text"].split()) > 200
    assert seed_articles["000"]["title"].startswith("Boris Johnson urges President Joe Biden")


def test_seed_ids_are_stable_and_machine_independent():
    path = sorted(SEEDS.glob("*.txt"))[0]
    data = path.read_bytes()
    first = normalize_article(RawRecord(str(path), "text", data), now=NOW).article_id
    again = normalize_article(RawRecord(str(path), "text", data), now=datetime(2030, 1, 1, tzinfo=timezone.utc)).article_id
    elsewhere = normalize_article(RawRecord(f"/mnt/other/machine/seeds/{path.name}", "text", data), now=NOW).article_id
    assert first == again == elsewhere
    assert len(first) == 16 and int(first, 16) >= 0


def test_three_seeds_are_distinct(seed_articles):
    assert len({a["content_hash"] for a in seed_articles.values()}) == 3
    assert len({a["article_id"] for a in seed_articles.values()}) == 3


def test_bbc_style_headline_first_line():
    data = b"Ad sales boost Time Warner profit\n\nQuarterly profits at US media giant TimeWarner jumped 76% to $1.13bn.\n\nThe firm said it was pleased.\n"
    a = Normalizer().normalize(RawRecord("/x/business/001.txt", "text", data), NOW)
    assert a["title"] == "Ad sales boost Time Warner profit"
    assert a["summary"].startswith("Quarterly profits")
    assert "Time Warner profit" not in a["text"]
