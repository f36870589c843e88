"""Live feeds against a real HTTP server on 127.0.0.1 (no mocks of requests)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from feedserver import LAST_MODIFIED, FeedServer
from pipeline.job import run_job
from pipeline.records import RawRecord
from pipeline.errors import Rejection
from pipeline.sources.http import USER_AGENT, FetchConfig, fetch_feed, make_session
from pipeline.sources.live import fetch_and_parse, parse_feed_list

FAST = FetchConfig(connect_timeout=1.0, read_timeout=0.5, deadline=2.0, max_bytes=64 * 1024, retries=2,
                   backoff=0.05, max_backoff=0.2, retry_budget=5.0)
SECRET = "TOP-SECRET-4711"


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture()
def server(secret_file):
    with FeedServer(str(secret_file)) as running:
        yield running


@pytest.fixture(scope="module")
def session():
    s = make_session(FAST)
    yield s
    s.close()


def _parse(server, session, path, config=FAST, validators=None):
    items, health = fetch_and_parse(session, server.url(path), config, validators)
    records = [i for i in items if isinstance(i, RawRecord)]
    rejections = [i for i in items if isinstance(i, Rejection)]
    return records, rejections, health


# --- one feed at a time ------------------------------------------------------------------------

@pytest.mark.parametrize("path, title, version", [
    ("/rss", "Example News", "rss20"), ("/atom", "Atom Wire", "atom10"), ("/rdf", "RDF Wire", "rss10"),
    ("/gzip", "Gzip News", "rss20"),
])
def test_well_formed_feeds(server, session, path, title, version):
    records, rejections, health = _parse(server, session, path)
    assert records and not rejections
    assert health["outcome"] == "ok" and health["http_status"] == 200 and health["entries"] == len(records)
    assert health["feed_title"] == title and health["bozo"] is None and health["bytes"] > 0
    assert records[0].context["feed_version"] == version
    assert records[0].input_uri == server.url(path) and records[0].position == 1


def test_request_is_polite(server, session):
    _parse(server, session, "/rss")
    headers = server.requests[-1][1]
    assert headers["user-agent"] == USER_AGENT and "newsbeam" in USER_AGENT
    assert "gzip" in headers["accept-encoding"] and "rss" in headers["accept"]


def test_content_encoded_preferred_over_summary(server, session):
    records, _, _ = _parse(server, session, "/content")
    assert "The whole story." in records[0].payload["text"] and records[0].payload["summary"] == "Only the teaser."


def test_etag_then_304(server, session):
    _, _, first = _parse(server, session, "/etag")
    assert first["etag"] == '"v1"'
    records, rejections, second = _parse(server, session, "/etag", validators=(first["etag"], None))
    assert server.requests[-1][1]["if-none-match"] == '"v1"'
    assert second["outcome"] == "not_modified" and second["http_status"] == 304
    assert records == [] and rejections == [] and second["etag"] == '"v1"'


def test_last_modified_then_304(server, session):
    _, _, first = _parse(server, session, "/lastmod")
    assert first["last_modified"] == LAST_MODIFIED
    records, _, second = _parse(server, session, "/lastmod", validators=(None, first["last_modified"]))
    assert server.requests[-1][1]["if-modified-since"] == LAST_MODIFIED
    assert second["outcome"] == "not_modified" and not records and second["last_modified"] == LAST_MODIFIED


def test_301_is_followed(server, session):
    records, _, health = _parse(server, session, "/moved")
    assert len(records) == 1 and health["final_url"] == server.url("/moved-here") and health["http_status"] == 200


@pytest.mark.parametrize("path, stage, reason", [
    ("/loop-a", "fetch", "redirect_loop"),
    ("/missing", "fetch", "http_404"),
    ("/huge", "fetch", "too_large"),
    ("/html", "parse", "not_a_feed"),
    ("/empty", "parse", "empty_body"),
])
def test_unusable_feeds_become_one_rejected_row(server, session, path, stage, reason):
    records, rejections, health = _parse(server, session, path)
    assert records == [] and len(rejections) == 1
    assert (rejections[0].stage, rejections[0].reason) == (stage, reason)
    assert health["outcome"] == "error" and health["error"] == reason and health["message"]


def test_500_then_200_is_retried(server, session):
    records, _, health = _parse(server, session, "/flaky")
    assert len(records) == 1 and health["attempts"] == 2 and server.hits["/flaky"] == 2


def test_429_honours_retry_after():
    waits = []
    with FeedServer() as server:
        session = make_session(FAST)
        result = fetch_feed(session, server.url("/busy"), FAST, sleep=waits.append)
    assert result.outcome == "ok" and result.attempts == 2 and waits == [1.0]


def test_retry_after_beyond_the_budget_gives_up_at_once():
    waits = []
    with FeedServer() as server:
        result = fetch_feed(make_session(FAST), server.url("/always-busy"), FAST, sleep=waits.append)
    assert result.error == "http_429" and result.attempts == 1 and waits == [] and "budget" in result.message


def test_slow_response_times_out_and_retries_are_bounded(server, session):
    records, rejections, health = _parse(server, session, "/slow")
    assert rejections[0].reason == "timeout" and health["attempts"] == FAST.retries + 1
    assert health["elapsed_ms"] < 6000


def test_trickling_body_is_cut_at_the_deadline(server, session):
    config = FetchConfig(read_timeout=1.0, deadline=1.0, retries=0)
    result = fetch_feed(session, server.url("/trickle"), config)
    assert result.error == "timeout" and result.elapsed_ms < 2500


def test_wrong_charset_header_still_gives_clean_text(server, session):
    from datetime import datetime, timezone

    from pipeline.normalize.article import Normalizer

    records, _, _ = _parse(server, session, "/charset")
    article = Normalizer().normalize(records[0], datetime.now(timezone.utc))
    assert "Café story" == article["title"] and "Un café à Kaboul." in article["text"]


def test_truncated_xml_keeps_what_was_recovered(server, session):
    records, rejections, health = _parse(server, session, "/truncated")
    assert len(records) >= 1 and health["outcome"] == "ok" and health["bozo"]


def test_billion_laughs_is_not_expanded(server, session):
    records, rejections, health = _parse(server, session, "/billion")
    for record in records:
        assert "lollollol" not in str(record.payload) and len(str(record.payload)) < 5000
    assert health["bytes"] < 5000


def test_xxe_reads_no_file_and_opens_no_connection(server, session):
    records, rejections, health = _parse(server, session, "/xxe")
    everything = " ".join(str(r.payload) for r in records) + " ".join(str(r.payload) for r in rejections)
    assert SECRET not in everything
    assert not [p for p, _ in server.requests if p.startswith("/xxe-probe")]


def test_only_http_and_https():
    result = fetch_feed(make_session(FAST), "file:///etc/passwd", FAST)
    assert result.error == "bad_scheme" and result.attempts == 0


def test_feed_lists_opml_and_text():
    opml = b"""<?xml version="1.0"?><opml version="2.0"><head><title>f</title></head><body>
      <outline text="World"><outline text="A" type="rss" xmlUrl="https://a.example/feed"/>
      <outline text="B" type="rss" xmlUrl="https://b.example/rss"/></outline>
      <outline text="A again" xmlUrl="https://a.example/feed"/></body></opml>"""
    assert parse_feed_list(opml) == ["https://a.example/feed", "https://b.example/rss"]
    text = b"# my feeds\nhttps://a.example/feed\n\n  https://b.example/rss   # the B feed\nhttps://a.example/feed\n"
    assert parse_feed_list(text) == ["https://a.example/feed", "https://b.example/rss"]
    with pytest.raises(ValueError):
        parse_feed_list(b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "b">]><opml/>')


# --- the whole job, twice ----------------------------------------------------------------------

PATHS = ["/rss", "/atom", "/rdf", "/gzip", "/etag", "/lastmod", "/moved", "/loop-a", "/missing", "/flaky",
         "/busy", "/slow", "/huge", "/charset", "/html", "/empty", "/truncated", "/billion", "/xxe"]


def test_job_fetches_every_feed_then_sends_conditional_requests(server, tmp_path):
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("# local test feeds\n" + "\n".join(server.url(p) for p in PATHS) + "\nftp://nope.example/feed\n")
    out = tmp_path / "out"
    flags = ["--feeds", str(feeds), "--output", str(out), "--fetch-timeout", "0.5", "--fetch-deadline", "2",
             "--fetch-retries", "1", "--fetch-max-bytes", "65536"]
    first = run_job(flags)
    assert first.balanced
    con = duckdb.connect()
    view = lambda ds: f"read_parquet('{out}/{ds}/**/*.parquet', hive_partitioning = true)"  # noqa: E731
    health = {row[0].split(str(server.port))[-1]: row[1:] for row in con.execute(
        f"SELECT feed_url, outcome, error, entries, new_articles, http_status FROM {view('feeds')}").fetchall()}
    assert len(health) == len(PATHS) + 1
    assert health["/rss"] == ("ok", None, 2, 2, 200)
    assert health["/etag"][:1] == ("ok",) and health["/busy"][0] == "ok" and health["/flaky"][0] == "ok"
    for path, reason in {"/loop-a": "redirect_loop", "/missing": "http_404", "/slow": "timeout", "/huge": "too_large",
                         "/html": "not_a_feed", "/empty": "empty_body"}.items():
        assert health[path][:2] == ("error", reason), path
    assert health["ftp://nope.example/feed"][:2] == ("error", "bad_scheme")
    rejected = dict(con.execute(f"SELECT reason, count(*) FROM {view('rejected')} GROUP BY 1").fetchall())
    assert rejected == {"redirect_loop": 1, "http_404": 1, "timeout": 1, "too_large": 1, "not_a_feed": 1,
                        "empty_body": 1, "bad_scheme": 1,
                        "missing_field": 1}  # the cut-off last entry of /truncated: no title, no text
    articles = con.execute(f"SELECT count(*), count(DISTINCT source) FROM {view('articles')}").fetchone()
    new_total = con.execute(f"SELECT sum(new_articles) FROM {view('feeds')}").fetchone()[0]
    assert articles[0] == new_total >= 14 and articles[1] >= 10
    assert con.execute(f"SELECT count(*) FROM {view('articles')} WHERE source = 'Example News'").fetchone()[0] == 2

    before = len(server.requests)
    second = run_job(flags)
    conditional = [h for p, h in server.requests[before:] if p in ("/etag", "/lastmod")]
    assert {"if-none-match", "if-modified-since"} & set(conditional[0]) and len(conditional) == 2
    assert second.written("articles") == 0 and second.balanced
    latest = dict(con.execute(  # each feed's most recent fetch: the second run's
        f"SELECT split_part(feed_url, '{server.port}', 2), arg_max(outcome, fetched_at) FROM {view('feeds')} GROUP BY 1"
    ).fetchall())
    again = {"/etag": latest["/etag"], "/lastmod": latest["/lastmod"]}
    assert again["/etag"] == again["/lastmod"] == "not_modified"
    assert con.execute(f"SELECT count(*) FROM {view('articles')}").fetchone()[0] == articles[0]
    assert con.execute(f"SELECT count(*) FROM {view('feeds')}").fetchone()[0] == 2 * (len(PATHS) + 1)
