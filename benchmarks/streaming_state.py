"""Bytes of streaming-dedup state per article in the horizon, measured on the BBC corpus.

    .venv/bin/python benchmarks/streaming_state.py [--bbc ../shared/corpora/bbc] [--limit 2225]

Each BBC text becomes a feed article (guid and URL of typical length, like a BBC feed entry).
For each, the entries ``pipeline/dedup/streaming.py`` keeps for a kept article are built with
the module's own functions and encoded with the coders the DoFns declare (``PickleCoder`` for
values, UTF-8 for keys): one ``Owner`` per exact key (text, URL, guid) and one band ``Member``
per band bucket, plus each state key and one event-time timer per key (key, firing and hold
timestamps).  The article held by ``HoldArticles`` until its verdict arrives is reported apart:
it lives for the seconds a verdict takes, not for the horizon.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from apache_beam.coders import PickleCoder  # noqa: E402

from corpus import bbc_files, save_result  # noqa: E402
from pipeline.dedup.minhash import MinHashConfig, MinHasher, sketch  # noqa: E402
from pipeline.dedup.streaming import NEAR, make_probe, owner_entry  # noqa: E402
from pipeline.normalize.article import content_hash  # noqa: E402

TIMER_BYTES = 8 + 8 + 8  # firing time, hold time, window/tag overhead (the key is counted with the state)


def feed_article(path: Path, n: int) -> dict:
    text = path.read_text(encoding="latin-1")
    title, _, body = text.partition("\n")
    number = 10_000_000 + n
    url = f"https://www.bbc.co.uk/news/{path.parent.name}-{number}"
    chash = content_hash(body)
    return {
        "schema_version": "2", "article_id": hashlib.blake2b(f"{url}|{chash}".encode(), digest_size=8).hexdigest(),
        "title": title.strip(), "text": " ".join(body.split()), "guid": url, "url": url, "canonical_url": url,
        "published_at": None, "input_uri": "https://feeds.bbci.co.uk/news/rss.xml", "input_format": "feed",
        "position": n % 50 + 1, "content_hash": chash,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bbc", type=Path, default=HERE.parent.parent / "shared" / "corpora" / "bbc")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    coder = PickleCoder()
    config = MinHashConfig()
    hasher = MinHasher(config)
    files = bbc_files(args.bbc)
    if args.limit:
        files = files[: args.limit]
    exact_b, band_b, held_b, totals = [], [], [], []
    for n, path in enumerate(files):
        article = feed_article(path, n)
        signature = hasher.signature(article["text"])
        near = (sketch(signature), hasher.band_keys(signature)) if signature is not None else None
        probe = make_probe(article, f"{'0' * 16}/{'0' * 12}", near)
        now = 1.8e9
        exact = sum(len(coder.encode(owner_entry(probe, now))) + len(key.encode()) + TIMER_BYTES for key in probe["keys"])
        bands = 0
        if near:
            # members share a bucket's timer; one timer per bucket counted, as for a bucket of one
            bands = sum(len(coder.encode((probe["node"], near[0], now))) + len(key.encode()) + TIMER_BYTES
                        + len(coder.encode(1)) + len(coder.encode(now)) for key in near[1])
        exact_b.append(exact)
        band_b.append(bands)
        totals.append(exact + bands)
        held_b.append(len(coder.encode(("article", {**article, NEAR: near} if near else article))))
    result = {
        "articles": len(totals),
        "state_bytes_per_article_mean": round(statistics.mean(totals)),
        "state_bytes_per_article_p95": sorted(totals)[int(0.95 * len(totals))],
        "exact_keys_bytes_mean": round(statistics.mean(exact_b)),
        "band_entries_bytes_mean": round(statistics.mean(band_b)),
        "mb_per_100k_articles_in_horizon": round(statistics.mean(totals) * 100_000 / 1e6, 1),
        "held_article_bytes_mean (transient, until its verdict)": round(statistics.mean(held_b)),
    }
    print(json.dumps(result, indent=2))
    save_result("streaming_state", result)


if __name__ == "__main__":
    sys.exit(main())
