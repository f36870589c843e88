"""Unit tests of the plain-text rules (one rule each)."""

from __future__ import annotations

import pytest

from pipeline.normalize.text import TextRules


@pytest.fixture(scope="module")
def rules() -> TextRules:
    return TextRules()


def test_metadata_header_inline_date(rules):
    meta, rest = rules.parse_metadata_header(" date 2021-08-16 UK Prime Minister spoke")
    assert meta == {"date": "2021-08-16"} and rest.strip() == "UK Prime Minister spoke"


def test_metadata_header_lines(rules):
    meta, rest = rules.parse_metadata_header("Title: A headline\nSource: The Paper\nDate: 2021-01-02T03:04:05Z\n\nBody here.")
    assert meta == {"title": "A headline", "source": "The Paper", "date": "2021-01-02T03:04:05Z"}
    assert rest.strip() == "Body here."


def test_word_date_at_start_is_not_metadata(rules):
    meta, rest = rules.parse_metadata_header("Date night ideas for the weekend")
    assert meta == {} and rest.startswith("Date night")


@pytest.mark.parametrize(
    "paragraph, place, publishers, date_text, rest",
    [
        ("LONDON (UrduPoint News / Sputnik - 16th August, 2021) UK said.", "London", ["UrduPoint News", "Sputnik"], "16th August, 2021", "UK said."),
        ("WASHINGTON (Reuters) - The US said.", "Washington", ["Reuters"], None, "The US said."),
        ("NEW YORK (Reuters, Aug 16, 2021) Stocks rose.", "New York", ["Reuters"], "Aug 16, 2021", "Stocks rose."),
        ("KABUL, Aug 16 (AP) \u2014 Fighters said.", "Kabul", ["AP"], None, "Fighters said."),
    ],
)
def test_datelines(rules, paragraph, place, publishers, date_text, rest):
    dateline, remainder = rules.strip_dateline(paragraph)
    assert dateline is not None
    assert (dateline.place, dateline.publishers, dateline.date_text, remainder) == (place, publishers, date_text, rest)


@pytest.mark.parametrize("paragraph", ["UK (and US) troops left.", "Nato (the alliance) said so.", "The BBC (British Broadcasting Corporation) - reported."])
def test_not_datelines(rules, paragraph):
    assert rules.strip_dateline(paragraph) == (None, paragraph)


@pytest.mark.parametrize(
    "paragraph",
    [
        "James Cleverly (Liam McBurney/PA)",
        "UK military personnel arrive home from Afghanistan (SAC Samantha Holden RAF/PA)",
        "Photo: Taliban fighters in Kabul",
        "Image copyright Getty Images",
    ],
)
def test_captions(rules, paragraph):
    assert rules.is_caption(paragraph)


@pytest.mark.parametrize(
    "paragraph",
    [
        "The rate rose to 5% (year/year) in July.",
        "He said the answer was no (see below).",
        "Mr Cleverly told the BBC: \"I suspect everybody has.\"",
    ],
)
def test_not_captions(rules, paragraph):
    assert not rules.is_caption(paragraph)


def test_embedded_tweet(rules):
    tweet = ("On Monday, August 30 I will host a virtual ministerial. Watch live at https://t.co/0odi0ZeoGP or from @StateDept. "
             "\u2014 Secretary Antony Blinken (@SecBlinken) August 29, 2021")
    assert rules.is_embed(tweet)
    assert not rules.is_embed("Blinken (@SecBlinken) said on August 29, 2021 that talks would continue.")


def test_boilerplate(rules):
    assert rules.is_boilerplate("Advertisement")
    assert rules.is_boilerplate("Read more: Taliban take Kabul")
    assert not rules.is_boilerplate("Read more widely than ever, the minister urged students in a speech that went on for a long time.")


def test_repeated_lead(rules):
    assert rules.same_text("UK PM spoke on Monday", "UK PM spoke on Monday.")
    assert not rules.same_text("UK PM spoke on Monday", "Something else entirely was said.")


def test_fix_unicode_mojibake_quotes_and_spaces(rules):
    assert rules.fix_unicode("The \u00e2\u20ac\u0153quoted\u00e2\u20ac\x9d word") == 'The "quoted" word'
    assert rules.fix_unicode("caf\u00c3\u00a9") == "caf\u00e9"
    assert rules.fix_unicode("it\u2019s\u00a0here\u200b") == "it's here"
    assert rules.fix_unicode("cafe\u0301") == "caf\u00e9"  # NFC


def test_tidy(rules):
    assert rules.tidy('He said no , then left .') == "He said no, then left."
    assert rules.tidy('It is over." .') == 'It is over."'
    assert rules.tidy('two decades. "') == 'two decades."'


def test_title_from_long_lead_is_cut_at_a_word(rules):
    lead = "word " * 80
    title = rules.title_from_lead(lead.strip() + ".")
    assert len(title) <= 200 and title.endswith("\u2026") and not title.endswith(" \u2026")


def test_paragraph_split_single_newlines(rules):
    assert rules.split_paragraphs("one\ntwo\n\n") == ["one", "two"]
    assert rules.split_paragraphs("a  b\n c\n\n\nd") == ["a b c", "d"]
