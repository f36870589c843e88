"""Partial copies: a story cut to its first paragraphs or extended by an update is a near
duplicate ("containment"); a short item inside a long round-up is not."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.dedup import DeduplicateArticles
from pipeline.dedup.minhash import MinHashConfig, MinHasher, containment, sketch, sketch_parts, sketch_similarity, split_signature
from pipeline.dedup.near import verify

STORY = [
    "Rescue teams worked through the night on Tuesday to reach villages cut off by the floods in the north of the "
    "country, where the river burst its banks after three days of torrential rain. Officials said at least twelve "
    "people had died and hundreds more had been forced to leave their homes.",
    "The regional governor said helicopters had dropped food and drinking water to families stranded on rooftops, "
    "but that strong winds had made several flights impossible. Schools in the worst affected districts will stay "
    "closed for the rest of the week, and the main railway line to the coast remains shut.",
    "Forecasters warned that more heavy rain was expected over the weekend and urged people living near the river "
    "to move to higher ground. The army has sent two thousand soldiers to help build sandbag walls around the "
    "largest towns, where water levels are still rising by several centimetres an hour.",
    "Aid agencies said the damage to farmland could push up food prices across the region, as the harvest was due "
    "to begin next month. The government has promised emergency payments to farmers who lost crops and livestock, "
    "and said it would review how the flood defences built after the last disaster had failed.",
]
UPDATE = [
    "On Wednesday morning the prime minister visited a relief centre in the provincial capital and promised that "
    "every family who had lost a home would be given temporary housing before the winter. Opposition leaders "
    "accused the government of ignoring warnings from engineers about the state of the embankments.",
    "By the afternoon the death toll had risen to nineteen, the interior ministry said, and four people were still "
    "missing. Volunteers from neighbouring provinces have arrived with boats and medical supplies.",
]
OTHER_ITEMS = [
    "The national football team named three new players in its squad for next month's qualifying matches, with the "
    "coach saying he wanted to give young talent a chance before the tournament. Two senior players were left out "
    "after injuries kept them from playing for their clubs in recent weeks, and the captain is also a doubt.",
    "Shares in the country's largest carmaker fell sharply after it cut its profit forecast for the year, blaming "
    "weaker demand in export markets and the rising cost of batteries. The company said it would delay the opening "
    "of a new factory and review its plans for electric models, while its unions warned of job losses ahead.",
    "A new exhibition of paintings by a little known nineteenth century artist opened at the city museum on Friday, "
    "after the works were found in an attic by the painter's great grandchildren. Curators said the collection "
    "changed what historians thought they knew about art in the region, and tickets for the first week sold out.",
    "Scientists at the university said they had developed a cheaper way to remove salt from seawater, using a "
    "membrane made from a material found in crab shells. They hope the method could bring drinking water to dry "
    "coastal areas within a decade, although it has so far only been tested in the laboratory on a small scale.",
    "The city council voted to ban cars from the old town centre at weekends from next spring, after a trial last "
    "summer that shopkeepers said had brought more visitors. Residents will still be allowed to drive to their "
    "homes, and the bus company has promised more frequent services on the routes that cross the centre.",
]
CONFIG = MinHashConfig()


@pytest.fixture(scope="module")
def hasher():
    return MinHasher(CONFIG)


def _sketch(hasher, paragraphs):
    return sketch(hasher.signature("\n\n".join(paragraphs)))


def _lead_keys(hasher, text):
    return set(hasher.band_keys(hasher.signature(text))[CONFIG.bands:])


def test_containment_formula_is_exact_on_true_sets():
    """|A ∩ B| = J / (1 + J) (|A| + |B|): with the true Jaccard the containment is exact."""
    rng = random.Random(7)
    for _ in range(300):
        shared = set(rng.sample(range(10_000), rng.randrange(1, 300)))
        a = shared | set(rng.sample(range(10_000, 20_000), rng.randrange(0, 300)))
        b = shared | set(rng.sample(range(20_000, 30_000), rng.randrange(0, 300)))
        j = len(a & b) / len(a | b)
        assert containment(j, len(a), len(b)) == pytest.approx(len(a & b) / min(len(a), len(b)))


def test_sketch_carries_the_distinct_shingle_count(hasher):
    text = "\n\n".join(STORY)
    signature = hasher.signature(text)
    minimums, lead, count = split_signature(signature)
    words = text.replace(",", " ").replace(".", " ").lower().split()
    assert count == len({tuple(words[i:i + 5]) for i in range(len(words) - 4)})
    assert minimums.size == CONFIG.num_perm and lead.size == CONFIG.lead_perm
    low, lead_low, stored = sketch_parts(sketch(signature), CONFIG.num_perm)
    assert stored == count and len(low) == CONFIG.num_perm and len(lead_low) == CONFIG.lead_perm
    assert sketch_parts(low, CONFIG.num_perm) == (low, b"", None)  # an old sketch: minimums only
    assert split_signature(hasher.signature(text + " " + text))[2] == count + 4  # only the 4 shingles across the seam are new


def test_truncated_copy_is_a_containment_duplicate(hasher):
    full, lead_only = _sketch(hasher, STORY), _sketch(hasher, STORY[:2])
    assert sketch_similarity(full, lead_only) < CONFIG.threshold  # Jaccard alone misses it
    label, value = verify(lead_only, full, CONFIG)
    assert label == "containment" and value >= CONFIG.containment
    assert verify(full, lead_only, CONFIG)[0] == "containment"  # symmetric: whichever is the head
    # the copy becomes a candidate: its lead bands are the original's
    assert _lead_keys(hasher, "\n\n".join(STORY)) == _lead_keys(hasher, "\n\n".join(STORY[:2]))


def test_extended_update_is_a_containment_duplicate(hasher):
    extended = STORY + UPDATE
    label, value = verify(_sketch(hasher, extended), _sketch(hasher, STORY), CONFIG)
    assert label == "containment" and value >= CONFIG.containment
    assert _lead_keys(hasher, "\n\n".join(extended)) == _lead_keys(hasher, "\n\n".join(STORY))


def test_close_copies_still_match_on_minhash(hasher):
    edited = [STORY[0].replace("Tuesday", "Monday"), *STORY[1:]]
    assert verify(_sketch(hasher, edited), _sketch(hasher, STORY), CONFIG)[0] == "minhash"


def test_item_inside_a_round_up_is_not_merged(hasher):
    """Wholly contained, but a fifth of the round-up: not a copy of it (length ratio rule)."""
    item = STORY[:2]
    roundup = [OTHER_ITEMS[0], *item, *OTHER_ITEMS[1:4]]
    assert verify(_sketch(hasher, item), _sketch(hasher, roundup), CONFIG) is None
    for other in OTHER_ITEMS[:4]:
        assert verify(_sketch(hasher, [other]), _sketch(hasher, roundup), CONFIG) is None


def test_a_text_contained_elsewhere_than_at_the_start_is_not_merged(hasher):
    """Wholly contained and more than half of the other, but not at its start: a digest of two
    stories is not a copy of its second story (the lead rule)."""
    story = STORY[:3]
    digest = [OTHER_ITEMS[0], OTHER_ITEMS[1], *story]
    assert containment(sketch_similarity(_sketch(hasher, story), _sketch(hasher, digest)), 1, 1) > 0  # they overlap
    assert verify(_sketch(hasher, story), _sketch(hasher, digest), CONFIG) is None
    no_lead_rule = MinHashConfig(lead_agreement=0.0)
    assert verify(_sketch(hasher, story), _sketch(hasher, digest), no_lead_rule)[0] == "containment"


def test_short_texts_do_not_match_by_containment(hasher):
    short = [" ".join(STORY[0].split()[:40])]  # 40 words, under containment_min_words
    twice = [short[0], OTHER_ITEMS[0][:200]]  # the short text, then as much again
    assert verify(_sketch(hasher, short), _sketch(hasher, twice), CONFIG) is None
    loose = MinHashConfig(containment_min_words=10)
    assert verify(_sketch(hasher, short), _sketch(hasher, twice), loose)[0] == "containment"


def test_unrelated_texts_never_match(hasher):
    sketches = [_sketch(hasher, [text]) for text in OTHER_ITEMS] + [_sketch(hasher, STORY)]
    for i, a in enumerate(sketches):
        for b in sketches[i + 1:]:
            assert verify(a, b, CONFIG) is None


def test_old_sketches_without_a_count_match_by_jaccard_only(hasher):
    full, lead_only = _sketch(hasher, STORY), _sketch(hasher, STORY[:2])
    old_full = full[: CONFIG.num_perm]
    assert verify(full, old_full, CONFIG) == ("minhash", 1.0)
    assert verify(lead_only, old_full, CONFIG) is None


def _random_text(rng, words, vocabulary):
    return " ".join(rng.choice(vocabulary) for _ in range(words))


def test_partial_copies_found_and_distinct_texts_not_on_random_texts(hasher):
    """Property over many texts: a copy cut to 50-90% of its words, or extended by up to 60%,
    shares a lead band with its original and verifies as a duplicate (allowing for the
    estimator's spread); pairs of distinct texts never verify."""
    rng = random.Random(13)
    vocabulary = [f"w{i}" for i in range(3000)]
    found = total = 0
    sketches = []
    for _ in range(200):
        words = _random_text(rng, rng.randrange(120, 600), vocabulary).split()
        original = " ".join(words)
        if rng.random() < 0.5:
            copy = " ".join(words[: int(len(words) * rng.uniform(0.5, 0.9))])
        else:
            copy = original + " " + _random_text(rng, int(len(words) * rng.uniform(0.1, 0.6)), vocabulary)
        total += 1
        assert _lead_keys(hasher, original) & _lead_keys(hasher, copy)
        a, b = sketch(hasher.signature(original)), sketch(hasher.signature(copy))
        found += verify(b, a, CONFIG) is not None
        sketches.append(a)
    assert found / total >= 0.97
    assert all(verify(a, b, CONFIG) is None for i, a in enumerate(sketches) for b in sketches[i + 1: i + 20])


def _article(article_id, text, published):
    return {
        "schema_version": "1", "article_id": article_id, "title": f"title {article_id}", "text": text,
        "content_hash": f"h-{article_id}", "canonical_url": None, "url": None, "guid": None,
        "published_at": datetime(2021, 8, published, tzinfo=timezone.utc),
        "input_uri": f"/in/{article_id}.txt", "input_format": "text", "position": None,
        "cluster_id": None, "duplicate_count": 0,
    }


def test_composite_marks_partial_copies_and_keeps_round_ups():
    full = "\n\n".join(STORY)
    articles = [
        _article("wire", full, 1),
        _article("cut", "\n\n".join(STORY[:2]), 2),
        _article("update", "\n\n".join(STORY + UPDATE), 3),
        _article("roundup", "\n\n".join([OTHER_ITEMS[0], *STORY[:2], *OTHER_ITEMS[1:4]]), 4),
        _article("other", OTHER_ITEMS[4], 5),
    ]
    with TestPipeline() as p:
        out = p | beam.Create(articles) | DeduplicateArticles()
        assert_that(out["articles"] | "Kept" >> beam.Map(lambda a: a["article_id"]), equal_to(["wire", "roundup", "other"]),
                    label="kept")
        assert_that(
            out["duplicates"] | "Dups" >> beam.Map(
                lambda d: (d["article_id"], d["duplicate_of"], d["kind"], d["matched_on"], d["similarity"] >= 0.85)),
            equal_to([("cut", "wire", "near", "containment", True), ("update", "wire", "near", "containment", True)]),
            label="dups",
        )


def test_streaming_marks_partial_copies():
    """The streaming chain verifies its band buckets (lead bands included) with the same rule."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
    from apache_beam.testing.test_stream import TestStream

    from pipeline.dedup.streaming import DeduplicateStream

    options = PipelineOptions([])
    options.view_as(StandardOptions).streaming = True
    events = [("wire", "\n\n".join(STORY)), ("cut", "\n\n".join(STORY[:2])), ("other", OTHER_ITEMS[4])]
    stream = TestStream()
    for ts, (name, text) in enumerate(events):
        stream = stream.add_elements([beam.window.TimestampedValue({**_article(name, text, 1), "published_at": None}, ts)])
    with TestPipeline(options=options) as p:
        out = p | stream.advance_watermark_to_infinity() | DeduplicateStream(None)
        assert_that(out["articles"] | "Kept" >> beam.Map(lambda a: a["article_id"]), equal_to(["wire", "other"]), label="kept")
        assert_that(out["duplicates"] | "Dups" >> beam.Map(lambda d: (d["article_id"], d["duplicate_of"], d["matched_on"])),
                    equal_to([("cut", "wire", "containment")]), label="dups")


def test_full_bands_and_minimums_are_those_of_earlier_versions(hasher):
    """An existing _index/ keeps matching: the 16 full band keys and the 96 low bytes of the
    sketch are what the version before the lead bands wrote (values computed with it)."""
    signature = hasher.signature("\n".join(STORY))
    keys = hasher.band_keys(signature)
    assert keys[0] == "b0073197000e4f020006c772700798bc9026ed7af019bc79905"
    assert keys[15] == "b15115eb901e9771001b4a2ba01b9856b00d31d18029f275900"
    assert sketch(signature)[:8].hex() == "73e46c796e9b308e"
