"""newsbeam report: the numbers come from the committed data, the page works offline, and in a real
headless Chromium it loads without a script error and draws every chart."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import SEEDS
from feedserver import FeedServer
from pipeline.cli import main
from pipeline.job import run_job
from pipeline.report import QUESTIONS, collect, render_html, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
NO_CHROMIUM = ("no Chromium on this machine: the browser test of the report is skipped "
               "(make test installs Debian's chromium when it runs as root with apt-get)")


@pytest.fixture(scope="module")
def output(tmp_path_factory):
    """Seeds (articles, duplicates, rejections) and three live feeds fetched twice: an ok feed, one
    that answers 304 the second time, and one that fails."""
    root = tmp_path_factory.mktemp("report")
    out, feeds = root / "out", root / "feeds.txt"
    with FeedServer() as server:
        feeds.write_text("\n".join(server.url(p) for p in ("/rss", "/etag", "/missing")) + "\n")
        summaries = [run_job(["--input", f"{SEEDS}/**", "--feeds", str(feeds), "--output", str(out)]) for _ in range(2)]
    assert all(s.state == "DONE" for s in summaries)
    return out, summaries[0]


def _glob(out: Path, dataset: str) -> str:
    return f"read_parquet('{out}/{dataset}/**/*.parquet', hive_partitioning = true)"


def test_the_numbers_are_those_of_the_output(output):
    out, first = output
    data = collect(str(out))
    con = duckdb.connect()
    articles = con.execute(f"SELECT count(*) FROM {_glob(out, 'articles')}").fetchone()[0]
    assert data.totals["articles"] == articles == first.written("articles")
    per_day = data.tables["articles_per_day"]
    dated = con.execute(f"SELECT count(*) FROM {_glob(out, 'articles')} WHERE published_at IS NOT NULL").fetchone()[0]
    assert sum(per_day.column("articles")) == dated and per_day.column("day") == sorted(per_day.column("day"))
    reasons = dict(zip(data.tables["rejected_by_reason"].column("reason"), data.tables["rejected_by_reason"].column("records")))
    assert reasons == {f"{stage}/{reason}": n for (stage, reason), n in _rejections(out).items()}
    health = {row[0].rsplit("/", 1)[1]: row for row in data.tables["feed_health"].rows}
    cols = data.tables["feed_health"].columns
    ratio = {name: dict(zip(cols, row)) for name, row in health.items()}
    assert ratio["missing"]["error_ratio"] == 1.0 and ratio["missing"]["errors"] == "http_404"
    assert ratio["rss"]["error_ratio"] == 0.0 and ratio["rss"]["fetches"] == 2
    assert ratio["etag"]["not_modified_ratio"] == 0.5  # 200 with an ETag, then 304
    rates = data.tables["duplicate_rate"]
    assert all(0.0 <= r <= 1.0 for r in rates.column("rate"))
    assert sum(rates.column("duplicates")) == con.execute(
        f"SELECT count(*) FROM {_glob(out, 'duplicates')} WHERE published_at IS NOT NULL").fetchone()[0]
    pages = data.tables["page_health"]
    fetched = duckdb.connect().execute(f"SELECT host, count(*), avg((status <> 'ok')::int) FROM {_glob(out, 'pages')} "
                                       "GROUP BY 1").fetchall()
    assert {(h, n, round(r, 4)) for h, n, r in fetched} == set(zip(pages.column("host"), pages.column("fetches"),
                                                                   pages.column("failure_ratio")))
    places = {row[0]: row for row in data.tables["top_places"].rows}
    assert "Kabul" in places and places["Kabul"][3] == pytest.approx(34.53, abs=0.1)  # a city: coordinates
    assert "conflict, war and peace" in data.tables["top_topics"].column("topic")


def _rejections(out: Path) -> dict:
    rows = duckdb.connect().execute(f"SELECT stage, reason, count(*) FROM {_glob(out, 'rejected')} GROUP BY 1, 2").fetchall()
    return {(stage, reason): n for stage, reason, n in rows}


def test_the_page_needs_no_network(output):
    page = render_html(collect(str(output[0])))
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|<iframe|@import", page, re.I)
    for question in QUESTIONS:
        assert f'data-chart="{question.name}"' in page


def test_an_empty_output_says_no_data_instead_of_failing(tmp_path):
    data = collect(str(tmp_path / "nothing"))
    page = render_html(data)
    assert data.totals["articles"] == 0
    assert page.count("No data yet") == len(QUESTIONS) and 'data-points="0"' in page


def test_the_command_writes_the_page(output, tmp_path, capsys):
    target = tmp_path / "r.html"
    assert main(["report", "--output", str(output[0]), "--html", str(target)]) == 0
    printed = capsys.readouterr().out
    assert target.stat().st_size > 1_000_000 and f"charts with data: {len(QUESTIONS)} of {len(QUESTIONS)}" in printed


def _chromium(*args: str, user_data: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         # every host name fails to resolve: the page must not need the network
         "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={user_data}",
         "--virtual-time-budget=10000", *args],
        capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_in_a_headless_browser_every_chart_renders_without_errors(output, tmp_path):
    page = tmp_path / "report.html"
    write_report(str(output[0]), str(page))
    done = _chromium("--dump-dom", page.as_uri(), user_data=tmp_path / "profile")
    body = re.search(r"<body[^>]*>", done.stdout)
    assert body, done.stderr[-2000:]
    errors = re.search(r'data-report-errors="([^"]*)"', body.group(0))
    rendered = re.search(r'data-charts-rendered="([^"]*)"', body.group(0))
    assert errors and errors.group(1) == "[]", body.group(0)
    assert rendered and set(rendered.group(1).split(",")) == {q.name for q in QUESTIONS}
    drawn = re.findall(r'<section data-chart="(\w+)" data-points="(\d+)"', done.stdout)
    assert drawn and all(int(points) > 0 for _, points in drawn), drawn
    shot = tmp_path / "shot.png"
    _chromium(f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri(), user_data=tmp_path / "profile2")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_plotly_the_command_says_how_to_install_it(output, monkeypatch, capsys, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "plotly", None)  # import plotly -> ImportError
    assert main(["report", "--output", str(output[0]), "--html", str(tmp_path / "r.html")]) == 2
    assert "pip install 'newsbeam[report]'" in capsys.readouterr().err
