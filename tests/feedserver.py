"""A real HTTP server on 127.0.0.1 serving the feed scenarios the live-feed tests need."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

LAST_MODIFIED = formatdate(1_630_000_000, usegmt=True)  # 2021-08-26


def rss(title: str, items: list[tuple[str, str, str]], extra_head: str = "", encoding: str = "utf-8") -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>Mon, 30 Aug 2021 10:00:00 GMT</pubDate><description>{d}</description></item>"
        for t, link, d in items
    )
    return (f'<?xml version="1.0" encoding="{encoding}"?>{extra_head}<rss version="2.0"><channel><title>{title}</title>'
            f"<link>https://news.example/</link>{body}</channel></rss>").encode(encoding)


LONG = ("The evacuation from the airport continued through the night as aircraft left every hour, officials said, "
        "while crowds gathered at the gates and aid agencies warned of shortages of food and water. ")


_WORDS = ("airport minister troops refugees council market shares election police court storm river school "
          "hospital vaccine budget union strike festival album striker goal orbit rocket software network "
          "harvest drought bridge railway tunnel museum painting senate treaty border embassy").split()


def body(seed: str, words: int = 60) -> str:
    """A distinct, deterministic text per seed (so no two test entries are near duplicates)."""
    import random

    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(words)) + "."


def _items(prefix: str, n: int = 2) -> list[tuple[str, str, str]]:
    return [(f"{prefix} story {i}", f"https://news.example/{prefix}/{i}", f"{prefix} {i}: {body(f'{prefix}{i}')}")
            for i in range(1, n + 1)]


ATOM = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Wire</title>'
        '<id>urn:atom-wire</id><updated>2021-08-30T10:00:00Z</updated>'
        '<entry><title>Atom story</title><id>urn:atom-wire:1</id><link href="https://atom.example/1"/>'
        '<updated>2021-08-30T10:00:00Z</updated><summary>Short summary.</summary>'
        f'<content type="html">&lt;p&gt;Full atom content. {body("atom")}&lt;/p&gt;</content></entry></feed>').encode()

RDF = ('<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
       'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
       '<channel rdf:about="https://rdf.example/"><title>RDF Wire</title><link>https://rdf.example/</link>'
       '<description>d</description></channel>'
       '<item rdf:about="https://rdf.example/1"><title>RDF story</title><link>https://rdf.example/1</link>'
       f'<dc:date>2021-08-30T10:00:00Z</dc:date><description>RDF body. {body("rdf")}</description></item></rdf:RDF>').encode()

CONTENT_ENCODED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
    "<channel><title>Full Text News</title><link>https://full.example/</link>"
    "<item><title>Full text story</title><link>https://full.example/1</link><guid>https://full.example/1</guid>"
    "<pubDate>Mon, 30 Aug 2021 10:00:00 GMT</pubDate><description>Only the teaser.</description>"
    f"<content:encoded><![CDATA[<p>The whole story. {body('content')}</p><p>Second paragraph.</p>]]></content:encoded>"
    "</item></channel></rss>"
).encode()

BILLION_LAUGHS_HEAD = (
    '<!DOCTYPE rss [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>"
)


def xxe_head(secret_path: str, probe_url: str) -> str:
    return (f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret_path}">'
            f'<!ENTITY probe SYSTEM "{probe_url}">'
            f'<!ENTITY % remote SYSTEM "{probe_url}-dtd"> %remote;]>')


class FeedServer:
    """``with FeedServer() as server: server.url('/rss')``; ``server.requests`` logs every request."""

    def __init__(self, secret_path: str = "/nonexistent") -> None:
        self.requests: list[tuple[str, dict]] = []
        self.hits: dict[str, int] = {}
        self.secret_path = secret_path
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:  # no Nagle: header and body go out without a delayed-ACK wait
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's API
                with server._lock:
                    server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                    server.hits[self.path] = server.hits.get(self.path, 0) + 1
                    hit = server.hits[self.path]
                server.route(self, self.path, hit)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    live_a = body("liveA", 120)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "FeedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- responses ------------------------------------------------------------------------
    @staticmethod
    def send(handler, status: int, body: bytes = b"", headers: Optional[dict] = None,
             content_type: str = "application/rss+xml; charset=utf-8") -> None:
        handler.send_response(status)
        headers = dict(headers or {})
        if content_type and status not in (301, 302, 304):
            headers.setdefault("Content-Type", content_type)
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        if body and handler.command != "HEAD":
            try:
                handler.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def route(self, h, path: str, hit: int) -> None:  # noqa: C901 - one branch per scenario
        send = self.send
        if path == "/rss":
            send(h, 200, rss("Example News", _items("rss")))
        elif path == "/live":
            # A feed that changes while a streaming job polls it: A and B, then a new C, then D (a
            # near duplicate of A: one sentence added) and A again.
            items = [("Story A", "https://live.example/a", self.live_a), ("Story B", "https://live.example/b", body("liveB"))]
            if hit >= 2:
                items.insert(0, ("Story C", "https://live.example/c", body("liveC")))
            if hit >= 3:
                items.insert(0, ("Story D", "https://live.example/d", self.live_a + " A sentence was added later."))
            send(h, 200, rss("Live Wire", items))
        elif path == "/recovering":
            if hit <= 2:
                send(h, 503, b"down", content_type="text/plain")
            else:
                send(h, 200, rss("Recovered Wire", [("Story R", "https://recovered.example/r", body("recovered"))]))
        elif path == "/content":
            send(h, 200, CONTENT_ENCODED)
        elif path == "/atom":
            send(h, 200, ATOM, content_type="application/atom+xml")
        elif path == "/rdf":
            send(h, 200, RDF, content_type="application/rdf+xml")
        elif path == "/gzip":
            send(h, 200, gzip.compress(rss("Gzip News", _items("gzip"))), {"Content-Encoding": "gzip"})
        elif path in ("/wire-a", "/wire-b"):
            # Two fixed feeds with validators (a restarted job must not trust them blindly): six
            # stories each; wire-b repeats wire-a's first story word for word and its second with a
            # sentence added.
            tag = path[-1]
            tag_etag = f'"wire-{tag}-v1"'
            if h.headers.get("If-None-Match") == tag_etag:
                send(h, 304, headers={"ETag": tag_etag})
                return
            items = [(f"Wire {tag} story {i}", f"https://wire-{tag}.example/{i}", body(f"wire{tag}{i}", 100))
                     for i in range(1, 7)]
            if tag == "b":
                items[0] = ("Wire b copy of a1", "https://wire-b.example/copy-1", body("wirea1", 100))
                items[1] = ("Wire b update of a2", "https://wire-b.example/update-2",
                            body("wirea2", 100) + " A sentence was added in the update.")
            send(h, 200, rss(f"Wire {tag}", items), {"ETag": tag_etag})
        elif path == "/etag":
            if h.headers.get("If-None-Match") == '"v1"':
                send(h, 304, headers={"ETag": '"v1"'})
            else:
                send(h, 200, rss("Etag News", _items("etag")), {"ETag": '"v1"'})
        elif path == "/lastmod":
            if h.headers.get("If-Modified-Since") == LAST_MODIFIED:
                send(h, 304)
            else:
                send(h, 200, rss("Lastmod News", _items("lastmod")), {"Last-Modified": LAST_MODIFIED})
        elif path == "/moved":
            send(h, 301, headers={"Location": "/moved-here"})
        elif path == "/moved-here":
            send(h, 200, rss("Moved News", _items("moved", 1)))
        elif path in ("/loop-a", "/loop-b"):
            send(h, 302, headers={"Location": "/loop-b" if path == "/loop-a" else "/loop-a"})
        elif path == "/missing":
            send(h, 404, b"not here", content_type="text/plain")
        elif path == "/flaky":
            if hit == 1:
                send(h, 500, b"oops", content_type="text/plain")
            else:
                send(h, 200, rss("Flaky News", _items("flaky", 1)))
        elif path == "/busy":
            if hit == 1:
                send(h, 429, b"slow down", {"Retry-After": "1"}, content_type="text/plain")
            else:
                send(h, 200, rss("Busy News", _items("busy", 1)))
        elif path == "/always-busy":
            send(h, 429, b"slow down", {"Retry-After": "3600"}, content_type="text/plain")
        elif path == "/slow":
            time.sleep(2.0)
            send(h, 200, rss("Slow News", _items("slow", 1)))
        elif path == "/trickle":
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.send_header("Content-Length", "100000")
            h.end_headers()
            try:
                for _ in range(40):
                    h.wfile.write(b" ")
                    h.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/huge":
            filler = "".join(f"<item><title>filler {i}</title><description>{LONG}</description></item>" for i in range(2000))
            send(h, 200, f'<?xml version="1.0"?><rss version="2.0"><channel><title>Huge</title>{filler}</channel></rss>'.encode())
        elif path == "/charset":
            # UTF-8 bytes under a header that claims Latin-1.
            data = rss("Café Wire", [("Café story", "https://charset.example/1", f"Un café à Kaboul. {body('charset')}")])
            send(h, 200, data.replace(b' encoding="utf-8"', b""), content_type="application/rss+xml; charset=iso-8859-1")
        elif path == "/html":
            send(h, 200, b"<!doctype html><html><head><title>Home</title></head><body><p>Welcome</p></body></html>",
                 content_type="text/html; charset=utf-8")
        elif path == "/empty":
            send(h, 200, b"")
        elif path == "/truncated":
            whole = rss("Truncated News", _items("truncated", 2))
            send(h, 200, whole[: whole.index(b"<item>", whole.index(b"</item>"))] + b"<item><title>cut")
        elif path == "/billion":
            send(h, 200, rss("Laughs", [("Laugh &lol9;", "https://laughs.example/1", f"&lol9; {body('laughs')}")], BILLION_LAUGHS_HEAD))
        elif path == "/xxe":
            head = xxe_head(self.secret_path, self.url("/xxe-probe"))
            send(h, 200, rss("XXE", [("Secret &xxe;", "https://xxe.example/1", f"&xxe; &probe; {body('xxe')}")], head))
        else:
            send(h, 404, b"unknown", content_type="text/plain")
