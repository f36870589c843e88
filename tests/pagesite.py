"""A loopback news site for the full-text tests: a summary-only feed whose links point to
article pages on 127.0.0.1 (and one redirect to a second host on 127.0.0.2), with robots.txt,
a cookie wall, a French article, a slow page, a 404, an oversized page.  Every request is logged
with its start and end time (``site.log``: (path, started, ended)) so tests can check pacing."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from xml.sax.saxutils import escape

from feedserver import body

ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def paragraphs(seed: str, count: int = 6, words: int = 45) -> list[str]:
    return [body(f"{seed}-{n}", words) for n in range(count)]


def article_page(title: str, paras: list[str], lang: str = "en", author: str = "Jane Reporter",
                 date: str = "2021-08-30", site: str = "Loopback Times", canonical: Optional[str] = None) -> bytes:
    ps = "".join(f"<p>{escape(p)}</p>" for p in paras)
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)} | {site}</title>'
            f'<meta property="og:site_name" content="{site}"><meta name="author" content="{author}">'
            f'<meta property="article:published_time" content="{date}T09:00:00Z">{link}</head>'
            f'<body><nav><a href="/">Home</a> <a href="/world">World</a></nav><article><h1>{escape(title)}</h1>'
            f'<p class="byline">By {author}</p>{ps}</article><footer>(c) {site}</footer></body></html>').encode("utf-8")


FRENCH = [
    "Le conseil municipal a voté mardi soir un budget qui prévoit la rénovation complète de la gare centrale, "
    "un chantier attendu depuis plus de dix ans par les habitants du quartier.",
    "Selon le maire, les travaux commenceront au printemps et dureront trois ans ; la circulation des trains "
    "sera maintenue pendant toute la durée du chantier grâce à des quais provisoires.",
    "Les associations de riverains se disent satisfaites, mais elles demandent que les commerces installés "
    "autour de la gare soient indemnisés pour les pertes liées aux travaux et aux déviations.",
    "Le projet comprend aussi une nouvelle passerelle pour les piétons et les cyclistes, un parking à vélos de "
    "mille places et la plantation de deux cents arbres le long de l'avenue principale.",
    "L'opposition a critiqué le coût de l'opération, estimé à quatre-vingts millions d'euros, et réclame un "
    "audit indépendant avant la signature des premiers contrats avec les entreprises retenues.",
]

COOKIE_WALL = (b'<!doctype html><html><head><title>Before you continue</title></head><body><div class="consent">'
               b"<h1>We value your privacy</h1><p>We use cookies and similar technologies to improve your experience. "
               b"By clicking Accept all cookies you consent to our cookie policy. You can manage your privacy settings "
               b"at any time.</p><p>Accept all cookies. Reject all. Manage your privacy settings.</p></div></body></html>")


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:  # a client that hung up (timeout, size cap): expected
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class PageSite:
    """``with PageSite() as site:`` a feed at ``site.url('/feed.xml')`` and its pages."""

    def __init__(self, host: str = "127.0.0.1", slow_s: float = 2.0, other: Optional["PageSite"] = None) -> None:
        self.log: list[list] = []  # [path, started, ended]
        self.in_flight = 0
        self.max_in_flight = 0
        self.slow_s = slow_s
        self.other = other
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                entry = [self.path, time.monotonic(), None]
                with site._lock:  # logged before the response goes out: a client never sees an unlogged request
                    site.log.append(entry)
                    site.in_flight += 1
                    site.max_in_flight = max(site.max_in_flight, site.in_flight)
                try:
                    site.route(self, self.path)
                finally:
                    with site._lock:
                        site.in_flight -= 1
                        entry[2] = time.monotonic()

        self._httpd = _QuietServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self.host = host
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def __enter__(self) -> "PageSite":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.log]

    # --- content --------------------------------------------------------------------------
    def entries(self) -> list[tuple[str, str, Optional[str]]]:
        """(title, path or absolute URL, summary or None for a headline-only entry)."""
        return [
            ("Airport evacuation continues", "/news/airport", "Flights left every hour overnight."),
            ("La gare centrale sera rénovée", "/news/gare", "Le conseil a voté le budget."),
            ("Council approves budget", "/news/cookie", "The council approved the budget on Tuesday."),
            ("Secret memo", "/private/memo", "A memo was leaked."),
            ("Storm hits the coast", "/news/slow", "A storm hit the coast."),
            ("Museum closes", "/news/gone", "The museum closed."),
            ("Railway tunnel opens", "/news/moved", "The tunnel opened."),
            ("Election results", "/news/huge", "Results are in."),
            ("Striker signs new contract", "/news/striker", None),  # headline + link only
            ("Bridge repairs delayed", "/news/bridge-gone", None),  # headline + link only, a 404
        ]

    def feed(self) -> bytes:
        items = []
        for title, path, summary in self.entries():
            link = path if path.startswith("http") else self.url(path)
            desc = f"<description>{escape(summary)}</description>" if summary else ""
            items.append(f"<item><title>{escape(title)}</title><link>{link}</link><guid>{link}</guid>"
                         f"<pubDate>Mon, 30 Aug 2021 10:00:00 GMT</pubDate>{desc}</item>")
        return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Loopback Times</title>'
                f'<link>{self.url("/")}</link>{"".join(items)}</channel></rss>').encode("utf-8")

    @staticmethod
    def send(h, status: int, data: bytes = b"", content_type: str = "text/html; charset=utf-8",
             headers: Optional[dict] = None) -> None:
        h.send_response(status)
        for key, value in {"Content-Type": content_type, "Content-Length": str(len(data)), **(headers or {})}.items():
            h.send_header(key, value)
        h.end_headers()
        try:
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def route(self, h, path: str) -> None:  # noqa: C901
        send = self.send
        if path == "/robots.txt":
            send(h, 200, ROBOTS, "text/plain")
        elif path == "/feed.xml":
            send(h, 200, self.feed(), "application/rss+xml; charset=utf-8")
        elif path == "/news/airport":
            send(h, 200, article_page("Airport evacuation continues", paragraphs("airport"),
                                      canonical=self.url("/news/airport")))
        elif path == "/news/gare":
            send(h, 200, article_page("La gare centrale sera rénovée", FRENCH, lang="fr", author="Marie Dupont",
                                      site="Le Quotidien"))
        elif path == "/news/cookie":
            send(h, 200, COOKIE_WALL)
        elif path == "/news/striker":
            send(h, 200, article_page("Striker signs new contract", paragraphs("striker")))
        elif path == "/private/memo":
            send(h, 200, article_page("Secret memo", paragraphs("memo")))
        elif path == "/news/slow":
            time.sleep(self.slow_s)
            send(h, 200, article_page("Storm hits the coast", paragraphs("storm")))
        elif path == "/news/moved" and self.other is not None:
            send(h, 302, b"", headers={"Location": self.other.url("/article/tunnel")})
        elif path == "/news/to-metadata":
            send(h, 302, b"", headers={"Location": "http://169.254.169.254/latest/meta-data/"})
        elif path == "/article/tunnel":
            send(h, 200, article_page("Railway tunnel opens", paragraphs("tunnel"), site="Other Host News"))
        elif path == "/news/huge":
            send(h, 200, article_page("Election results", paragraphs("huge", count=3000)))
        else:
            send(h, 404, b"<html><body><p>Not found</p></body></html>")
