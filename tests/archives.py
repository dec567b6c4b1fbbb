"""An archive folder in every format we read, each article findable by a word of its own.

``WORDS`` maps each article's own word to the format it comes in; boilerplate words
(navigation, footer, aside, script) must never be indexed.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

BOILERPLATE = ("Navigationsleiste", "Fusszeilenhinweis", "Randspaltenwerbung", "Skriptvariable")

PAGE = """<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>{title} | Kurier</title>
<meta property="article:published_time" content="{date}">
<link rel="canonical" href="{url}">
<meta name="author" content="Ida Brenner">
<script>var Skriptvariable = "Skriptvariable";</script></head>
<body><nav><ul><li><a href="/">Navigationsleiste Startseite</a></li><li>Sport</li></ul></nav>
<main><article><h1>{title}</h1>
<p>{text}</p>
<p>Die Stadtverwaltung kündigte weitere Informationen für die kommenden Wochen an und bat
die Bevölkerung um Geduld, bis alle Einzelheiten geklärt sind.</p>
</article></main>
<aside>Randspaltenwerbung: jetzt abonnieren</aside>
<footer>Fusszeilenhinweis Impressum Datenschutz Kontakt</footer>
<script>document.write("Skriptvariable")</script></body></html>
"""


def page(title: str, text: str, date: str, url: str) -> str:
    return PAGE.format(title=title, text=text, date=date, url=url)


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Nordkurier Feed</title><link>https://nord.example/</link><language>de</language>
<item><title>Leuchtturm saniert</title><link>https://nord.example/leuchtturm</link>
<guid>https://nord.example/leuchtturm</guid><pubDate>Sat, 05 Jul 2025 10:00:00 +0200</pubDate>
<description>Kurzfassung zum Leuchtturm.</description>
<content:encoded><![CDATA[<p>Der Leuchtturm am Kliff wurde nach langer Sanierung
wiedereröffnet; Kuttermuschel heißt die Ausstellung darin.</p><p>Besucher dürfen ab Herbst
hinauf.</p>]]></content:encoded></item>
<item><title>Fährverbindung eingestellt</title><link>https://nord.example/faehre</link>
<pubDate>Sun, 06 Jul 2025 08:30:00 +0200</pubDate>
<description>Die Fährverbindung zur Hallig Wattkrabbe wird im Winter eingestellt.
</description></item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Alpenblatt</title><id>urn:alpenblatt</id>
<updated>2025-08-02T12:00:00Z</updated>
<entry><title>Gletscher schmilzt schneller</title><id>urn:alpenblatt:gletscher</id>
<link href="https://alpen.example/gletscher"/><published>2025-08-01T09:15:00+02:00</published>
<updated>2025-08-01T10:00:00+02:00</updated>
<content type="html">&lt;p&gt;Daten vom Firnkessel belegen, dass der Gletscher im
Sommer rascher schmilzt als früher.&lt;/p&gt;</content></entry>
</feed>
"""

# One agency story and its copy as another outlet runs it: one sentence changed.
STORY = (
    "Die Landesregierung hat am Dienstag ein Förderpaket für Solaranlagen auf Schuldächern "
    "vorgestellt. Bis 2030 sollen mehr als 400 Schulen mit Photovoltaik ausgestattet "
    "werden, teilte das Ministerium mit. Die Aufwendungen von rund 120 Mio. teilen sich "
    "Freistaat und Gemeinden. Skepsis kam von den Grünen im Landtag, die das Tempo für zu "
    "gering halten. Die Anlagen sollen ab Sommer Strom für Turnhallen und Klassenzimmer "
    "liefern."
)
COPY = STORY.replace(
    "Skepsis kam von den Grünen im Landtag, die das Tempo für zu gering halten.",
    "Die Umweltverbände begrüßten den Schritt ausdrücklich.",
)


# word -> (format, expected date)
WORDS = {
    "Hafenkran": ("html", "2025-03-04"),
    "Kuttermuschel": ("rss/atom", "2025-07-05T10:00:00+02:00"),
    "Wattkrabbe": ("rss/atom", "2025-07-06T08:30:00+02:00"),
    "Firnkessel": ("rss/atom", "2025-08-01T09:15:00+02:00"),
    "Dachsbau": ("warc", "2025-04-11"),
    "Zollbrücke": ("warc", "2025-04-12"),
    "Kieselalge": ("jsonl", "2025-05-01"),
    "Moorlilie": ("json", "2025-05-02"),
    "Wetterhahn": ("csv", "2025-07-05"),
    "Salzwiese": ("jsonl", "2025-09-03T07:00:00+00:00"),
}


def _warc(path: Path) -> None:
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        url = "https://stadt.example/dachsbau"
        request = StatusAndHeaders("GET /dachsbau HTTP/1.1", [("Host", "stadt.example")])
        writer.write_record(
            writer.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=request)
        )
        for word, day, slug in (("Dachsbau", 11, "dachsbau"), ("Zollbrücke", 12, "zoll")):
            html = page(
                f"Neues vom {word}",
                f"Im Stadtpark wurde ein {word} entdeckt, der nun unter Schutz gestellt wird.",
                f"2025-04-{day}",
                f"https://stadt.example/{slug}",
            ).encode()
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            record = writer.create_warc_record(
                f"https://stadt.example/{slug}",
                "response",
                payload=io.BytesIO(html),
                http_headers=headers,
            )
            writer.write_record(record)
        png = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                "https://stadt.example/logo.png",
                "response",
                payload=io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(64)),
                http_headers=png,
            )
        )


def make_archive(folder: Path) -> Path:
    """Write one file per format into ``folder`` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hafen.html").write_text(
        page(
            "Hafen wird erweitert",
            "Am Kai steht bald ein neuer Hafenkran, der Container doppelt so schnell bewegt.",
            "2025-03-04",
            "https://kurier.example/hafen",
        ),
        encoding="utf-8",
    )
    (folder / "nord.rss").write_text(RSS, encoding="utf-8")
    (folder / "alpen.atom").write_text(ATOM, encoding="utf-8")
    _warc(folder / "crawl.warc.gz")
    lines = [{"id": "k1", "text": "Im See wächst die Kieselalge stark.", "date": "2025-05-01"}]
    (folder / "feed.jsonl.gz").write_bytes(
        gzip.compress("".join(json.dumps(r) + "\n" for r in lines).encode())
    )
    array = [{"id": "m1", "title": "Moor", "body": "Die Moorlilie blüht.", "date": "2025-05-02"}]
    (folder / "export.json").write_text(json.dumps(array, ensure_ascii=False), encoding="utf-8")
    (folder / "excel.csv").write_bytes(
        "\ufeffid;Headline;Inhalt;Datum\n"
        'w1;Wetter;"Der Wetterhahn dreht sich; es stürmt.";05.07.2025\n'.encode()
    )
    cms = {
        "guid": "cms-77",
        "headline": "Salz",
        "published": "2025-09-03T07:00:00Z",
        "content": "Die Salzwiese am Deich wird renaturiert.",
        "link": "https://cms.example/salz",
        "views": 12,
    }
    (folder / "cms.jsonl").write_text(json.dumps(cms) + "\n", encoding="utf-8")
    return folder


def broken_files(folder: Path) -> dict[str, str]:
    """Broken and unsupported files beside the good ones: name -> what the report says."""
    folder.mkdir(parents=True, exist_ok=True)
    good = gzip.compress(
        b"".join(b'{"id": "t%d", "text": "Truncated %d."}\n' % (i, i) for i in range(200))
    )
    (folder / "truncated.jsonl.gz").write_bytes(good[: len(good) // 2])
    (folder / "invalid.rss").write_text(RSS.replace("</item>", "</itm>", 1), encoding="utf-8")
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (folder / "notes.bz2").write_bytes(bz2.compress(b"just some notes without structure"))
    return {
        "truncated.jsonl.gz": "ends early",
        "invalid.rss": "invalid XML at line",
        "photo.png": "binary file",
        "notes.bz2": "not an article format",
    }
