"""``newsbeam report --output OUT --html report.html``: one self-contained page of charts.

Two halves, so each can be read (and tested) on its own:

* :func:`collect` asks DuckDB the questions, over the committed data only (the views of
  ``pipeline.query.connect``: an uncommitted run is invisible), and returns plain rows;
* :func:`render_html` draws them with plotly (its ``plotly.min.js`` is inlined once, so the page
  works offline: no CDN, no request at all) and returns the page.

Each chart is a ``<section data-chart=NAME data-points=N>``; a chart with no data says so instead of
drawing an empty frame.  A small script at the end records script errors and which charts rendered
in ``<body data-report-errors=… data-charts-rendered=…>`` (what the headless-browser test reads).
Places are a table with coordinates, not a world map: plotly's maps fetch their outlines from a CDN,
which an offline page cannot.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

from pipeline.query import query_rows

TOP = 20  # bars per "top" chart


@dataclass(frozen=True)
class Question:
    name: str
    title: str
    sql: str
    note: str = ""


QUESTIONS: tuple[Question, ...] = (
    Question("articles_per_day", "Articles per day (published, UTC)",
             "SELECT published_date AS day, count(*) AS articles FROM articles "
             "WHERE published_date IS NOT NULL GROUP BY 1 ORDER BY 1"),
    Question("articles_per_source", f"Articles per source (top {TOP})",
             "SELECT coalesce(source, source_domain, '(unknown)') AS source, count(*) AS articles FROM articles "
             f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP}"),
    Question("duplicate_rate", "Duplicate rate per day (duplicates / records kept or dropped as duplicates)",
             "WITH a AS (SELECT published_date AS day, count(*) AS n FROM articles GROUP BY 1), "
             "d AS (SELECT published_date AS day, count(*) AS n FROM duplicates GROUP BY 1) "
             "SELECT coalesce(a.day, d.day) AS day, coalesce(d.n, 0) AS duplicates, coalesce(a.n, 0) AS articles, "
             "round(coalesce(d.n, 0) / (coalesce(a.n, 0) + coalesce(d.n, 0)), 4) AS rate "
             "FROM a FULL OUTER JOIN d ON a.day = d.day WHERE coalesce(a.day, d.day) IS NOT NULL ORDER BY 1"),
    Question("rejected_by_reason", "Rejected records by stage and reason",
             "SELECT stage || '/' || reason AS reason, count(*) AS records FROM rejected GROUP BY 1 ORDER BY 2 DESC, 1"),
    Question("feed_health", "Feed health: share of fetches that failed or were not modified (304), and latency",
             "SELECT feed_url, count(*) AS fetches, "
             "round(avg(CASE WHEN outcome = 'error' THEN 1 ELSE 0 END), 4) AS error_ratio, "
             "round(avg(CASE WHEN outcome = 'not_modified' THEN 1 ELSE 0 END), 4) AS not_modified_ratio, "
             "CAST(median(elapsed_ms) AS BIGINT) AS median_ms, CAST(quantile_cont(elapsed_ms, 0.95) AS BIGINT) AS p95_ms, "
             "string_agg(DISTINCT error, ', ') AS errors "
             "FROM feeds GROUP BY 1 ORDER BY error_ratio DESC, 1"),
    Question("page_health", f"Full-text page fetches per host (top {TOP} by fetches): share not ok, and latency",
             "SELECT host, count(*) AS fetches, round(avg(CASE WHEN status = 'ok' THEN 0 ELSE 1 END), 4) AS failure_ratio, "
             "CAST(median(elapsed_ms) AS BIGINT) AS median_ms, string_agg(DISTINCT status, ', ') AS statuses "
             f"FROM pages GROUP BY 1 ORDER BY fetches DESC, 1 LIMIT {TOP}"),
    Question("top_places", f"Top places (top {TOP}; coordinates for cities)",
             "SELECT p.name AS place, p.kind AS kind, p.country_code AS country, p.lat AS lat, p.lon AS lon, "
             "count(DISTINCT article_id) AS articles, sum(p.mentions) AS mentions "
             "FROM (SELECT article_id, unnest(places) AS p FROM articles) GROUP BY ALL "
             f"ORDER BY articles DESC, mentions DESC, place LIMIT {TOP}"),
    Question("top_topics", "Top topics (articles per IPTC topic)",
             "SELECT t.label AS topic, count(DISTINCT article_id) AS articles "
             "FROM (SELECT article_id, unnest(topics) AS t FROM articles) GROUP BY 1 ORDER BY 2 DESC, 1"),
    Question("top_people", f"Top people (top {TOP})",
             "SELECT person, count(DISTINCT article_id) AS articles "
             "FROM (SELECT article_id, unnest(persons) AS person FROM articles) GROUP BY 1 "
             f"ORDER BY 2 DESC, 1 LIMIT {TOP}"),
)

TOTALS_SQL = ("SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM duplicates), "
              "(SELECT count(*) FROM rejected), (SELECT count(*) FROM feeds), "
              "(SELECT min(published_date) FROM articles), (SELECT max(published_date) FROM articles)")


@dataclass
class Table:
    columns: list[str]
    rows: list[tuple]

    def column(self, name: str) -> list:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]


@dataclass
class ReportData:
    output: str
    generated_at: str
    totals: dict[str, Any]
    tables: dict[str, Table] = field(default_factory=dict)


def collect(output: str, now: Optional[datetime] = None) -> ReportData:
    """Every chart's rows, from the committed data of ``output``."""
    (articles, duplicates, rejected, feeds, first, last), = query_rows(output, TOTALS_SQL)[1]
    data = ReportData(
        output=output,
        generated_at=(now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"),
        totals={"articles": articles, "duplicates": duplicates, "rejected": rejected, "feed fetches": feeds,
                "first day": first, "last day": last},
    )
    for question in QUESTIONS:
        columns, rows = query_rows(output, question.sql)
        data.tables[question.name] = Table(columns, rows)
    return data


# --- rendering -------------------------------------------------------------------------------------


def _bar(x: list, y: list, horizontal: bool = False, **layout) -> Any:
    import plotly.graph_objects as go

    trace = go.Bar(x=y, y=x, orientation="h") if horizontal else go.Bar(x=x, y=y)
    figure = go.Figure(trace)
    if horizontal:
        figure.update_yaxes(autorange="reversed", automargin=True)
    figure.update_layout(margin=dict(l=10, r=10, t=10, b=10), height=max(260, 26 * len(x) + 60) if horizontal else 320,
                         **layout)
    return figure


def _figure(name: str, table: Table) -> Any:
    """The plotly figure of one chart (``None``: drawn as an HTML table instead)."""
    import plotly.graph_objects as go

    if name == "articles_per_day":
        return _bar([str(d) for d in table.column("day")], table.column("articles"), yaxis_title="articles")
    if name == "articles_per_source":
        return _bar(table.column("source"), table.column("articles"), horizontal=True, xaxis_title="articles")
    if name == "duplicate_rate":
        figure = go.Figure(go.Scatter(x=[str(d) for d in table.column("day")], y=table.column("rate"),
                                      mode="lines+markers", name="duplicate rate",
                                      customdata=list(zip(table.column("duplicates"), table.column("articles"))),
                                      hovertemplate="%{x}: %{y:.1%} (%{customdata[0]} duplicates, %{customdata[1]} articles)"))
        figure.update_layout(margin=dict(l=10, r=10, t=10, b=10), height=320, yaxis=dict(tickformat=".0%", rangemode="tozero"))
        return figure
    if name == "rejected_by_reason":
        return _bar(table.column("reason"), table.column("records"), horizontal=True, xaxis_title="records")
    if name == "feed_health":
        feeds = table.column("feed_url")
        figure = go.Figure([
            go.Bar(y=feeds, x=table.column("error_ratio"), orientation="h", name="errors"),
            go.Bar(y=feeds, x=table.column("not_modified_ratio"), orientation="h", name="not modified (304)"),
        ])
        figure.update_yaxes(autorange="reversed", automargin=True)
        figure.update_layout(barmode="group", margin=dict(l=10, r=10, t=30, b=10), height=max(260, 48 * len(feeds) + 80),
                             legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"),
                             xaxis=dict(tickformat=".0%", range=[0, 1]))
        return figure
    if name == "page_health":
        figure = _bar(table.column("host"), table.column("failure_ratio"), horizontal=True)
        figure.update_layout(xaxis=dict(tickformat=".0%", range=[0, 1]))
        return figure
    if name == "top_topics":
        return _bar(table.column("topic"), table.column("articles"), horizontal=True, xaxis_title="articles")
    if name == "top_people":
        return _bar(table.column("person"), table.column("articles"), horizontal=True, xaxis_title="articles")
    return None


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _html_table(table: Table, columns: Optional[list[str]] = None) -> str:
    columns = columns or table.columns
    index = [table.columns.index(c) for c in columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(row[i])}</td>" for i in index) + "</tr>" for row in table.rows)
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _section(question: Question, table: Table) -> str:
    title = f"<h2>{html.escape(question.title)}</h2>"
    points = len(table.rows)
    if not points:
        return (f'<section data-chart="{question.name}" data-points="0">{title}'
                '<p class="empty">No data yet in this output.</p></section>')
    figure = _figure(question.name, table)
    if figure is None:  # a table is the chart
        inner = f'<div class="table" data-rendered-table="{question.name}">{_html_table(table)}</div>'
    else:
        import plotly.io as pio

        inner = pio.to_html(figure, full_html=False, include_plotlyjs=False, div_id=f"chart-{question.name}",
                            config={"displayModeBar": False, "responsive": True})
        if question.name in ("feed_health", "page_health"):
            inner += _html_table(table)
    return f'<section data-chart="{question.name}" data-points="{points}">{title}{inner}</section>'


STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 24px auto; max-width: 1100px;
       color: #1f2933; padding: 0 16px; }
h1 { margin-bottom: 4px; } .meta { color: #616e7c; margin-top: 0; }
.totals { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0 8px; }
.totals div { background: #f0f4f8; border-radius: 6px; padding: 8px 14px; }
.totals b { display: block; font-size: 1.4em; }
section { border-top: 1px solid #d9e2ec; padding-top: 8px; margin-top: 16px; }
h2 { font-size: 1.05em; margin: 8px 0; }
table.data { border-collapse: collapse; font-size: 0.9em; margin-top: 6px; }
table.data th, table.data td { border-bottom: 1px solid #e4e7eb; padding: 3px 10px; text-align: left; }
.empty { color: #9aa5b1; font-style: italic; }
"""

# Runs before anything else: records every script error, so a test (or a reader) can see them.
ERROR_PROBE = ("<script>window.__reportErrors = [];"
               "window.addEventListener('error', function (e) { window.__reportErrors.push(String(e.message)); });"
               "</script>")
# Runs last: which charts rendered (plotly drew an SVG, or the table is there).
RENDER_PROBE = """<script>
window.addEventListener('load', function () {
  var rendered = [];
  document.querySelectorAll('section[data-chart]').forEach(function (s) {
    if (s.querySelector('.main-svg') || s.querySelector('[data-rendered-table]')) rendered.push(s.dataset.chart);
  });
  document.body.setAttribute('data-charts-rendered', rendered.join(','));
  document.body.setAttribute('data-report-errors', JSON.stringify(window.__reportErrors));
});
</script>"""


def render_html(data: ReportData) -> str:
    """The whole page (plotly's script inlined once: about 4.8 MB, no network needed)."""
    from plotly.offline import get_plotlyjs

    totals = "".join(f"<div><b>{_cell(v) if not isinstance(v, int) else f'{v:,}'}</b>{html.escape(k)}</div>"
                     for k, v in data.totals.items())
    sections = "".join(_section(q, data.tables[q.name]) for q in QUESTIONS if q.name in data.tables)
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>newsbeam report: {html.escape(data.output)}</title><style>{STYLE}</style>{ERROR_PROBE}"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<h1>newsbeam report</h1><p class=\"meta\">{html.escape(data.output)} · committed data as of "
        f"{html.escape(data.generated_at)}</p><div class=\"totals\">{totals}</div>{sections}"
        f"{RENDER_PROBE}</body></html>"
    )


def write_report(output: str, path: str) -> ReportData:
    """Collect, render and write the page to ``path`` (a local file)."""
    data = collect(output)
    page = render_html(data)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(page)
    return data


def summary_lines(data: ReportData, path: str) -> list[str]:
    charts = [q.name for q in QUESTIONS if data.tables.get(q.name) and data.tables[q.name].rows]
    empty = [q.name for q in QUESTIONS if q.name not in charts]
    lines = [f"newsbeam report {data.output} -> {path}",
             "  " + "   ".join(f"{k}: {_cell(v)}" for k, v in data.totals.items()),
             f"  charts with data: {len(charts)} of {len(QUESTIONS)}"]
    if empty:
        lines.append("  no data yet: " + ", ".join(empty))
    return lines


__all__ = ["QUESTIONS", "ReportData", "Table", "collect", "render_html", "summary_lines", "write_report"]
