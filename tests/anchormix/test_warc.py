"""WARC and WET inbox files: main text, language, headers, repair, and nothing lost.

Every page's main text is a real docstring (standard library, or an installed
package for the one with an accented letter) inside generated site boilerplate
(:func:`anchormix.demo.inbox.web_page`); the WARC records are written by fastwarc
(:func:`anchormix.demo.inbox.warc_record`). The non-English text is a real
translation found on the machine (a message catalog), or the test skips.
"""

from __future__ import annotations

import argparse
import csv
import gettext
import gzip
import inspect
import json
import re
import sysconfig
import textwrap
import zlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from anchormix.demo.inbox import http_response, warc_record, web_page, write_warc
from anchormix.ingest.warc_reader import warc_source
from anchormix.readers import IngestSettings, is_inbox_file, read_file
from anchormix.stages.ingest import ingest_drop
from anchormix.store import connect_store, init_schema

WHEN = datetime(2026, 11, 1, 3, 4, 5, tzinfo=timezone.utc)
STAMP = "2026-11-01T03:04:05Z"
DOCS = [inspect.getdoc(f) for f in (json.dumps, json.loads, gzip.open, csv.reader, textwrap.wrap, re.sub)]
BOILERPLATE = ("Related pages", "Privacy policy", "cookies", "Search the docs", "Docs mirror", "updated nightly")
FAULT = ("truncated_file", "unreadable_file", "decompressed_size_limit")


def _words(text: str) -> str:
    return " ".join(text.split())


def _page(i: int, text: str | None = None) -> bytes:
    title = f"page{i}"
    return http_response(web_page(title, text or DOCS[i % len(DOCS)], [f"other.page{k}" for k in range(8)]).encode())


def _crawl(pages: int = 3) -> list[bytes]:
    """warcinfo, then a request and an HTML response per page."""
    records = [warc_record("warcinfo", None, WHEN, b"software: test\r\n", content_type="application/warc-fields")]
    for i in range(pages):
        url = f"https://docs.example.org/p{i}"
        records.append(warc_record("request", url, WHEN, b"GET /p%d HTTP/1.1\r\nHost: docs.example.org\r\n\r\n" % i))
        records.append(warc_record("response", url, WHEN, _page(i)))
    return records


def _read(path: Path, settings: IngestSettings | None = None):
    with open(path, "rb") as handle:
        return read_file(handle, str(path), settings or IngestSettings(), name=path.name)


def _offsets(records: list[bytes], gz: bool) -> tuple[list[int], bytes]:
    blobs = [gzip.compress(r, mtime=0) if gz else r for r in records]
    starts, at = [], 0
    for blob in blobs:
        starts.append(at)
        at += len(blob)
    return starts, b"".join(blobs)


def _meta(record) -> dict:
    return json.loads(record.metadata)


@pytest.mark.parametrize("gz", [False, True], ids=["warc", "warc.gz"])
def test_html_responses_load_their_main_text_with_headers_and_offsets(tmp_path, gz):
    records = _crawl(3)
    starts, data = _offsets(records, gz)
    path = tmp_path / ("webcrawl-2026.warc.gz" if gz else "webcrawl-2026.warc")
    path.write_bytes(data)
    load = _read(path)
    assert not load.bad and len(load.good) == 3
    for k, (line, record) in enumerate(load.good):
        offset = starts[2 + 2 * k]  # warcinfo, then request/response pairs
        meta = _meta(record)
        assert line == offset + 1 and meta["warc_offset"] == offset
        assert record.url == f"https://docs.example.org/p{k}" and record.fetched_at == STAMP
        assert record.source == "webcrawl"
        assert record.id == meta["warc_record_id"].strip("<>") and record.id.startswith("urn:uuid:")
        assert _words(DOCS[k]) in _words(record.text)  # the docstring, whole
        assert not any(b.lower() in record.text.lower() for b in BOILERPLATE), record.text
        assert meta["content_type"] == "text/html" and meta["charset"] == "utf-8" and meta["http_status"] == 200
        assert meta["lang"] == "en" and meta["lang_confidence"] > 0.9
    assert load.rows_seen == 3 and load.unread_bytes == 0


def test_wet_conversion_records_are_already_text(tmp_path):
    records = [warc_record("warcinfo", None, WHEN, b"software: test\r\n", content_type="application/warc-fields")]
    records += [warc_record("conversion", f"https://docs.example.org/t{i}", WHEN, DOCS[i].encode(),
                            content_type="text/plain") for i in range(4)]
    path = write_warc(tmp_path / "commoncrawl-00001.warc.wet.gz", records, gz=True)
    load = _read(path)
    assert not load.bad
    assert [r.text for _, r in load.good] == DOCS[:4]
    assert {r.source for _, r in load.good} == {"commoncrawl"}
    assert all(_meta(r)["warc_type"] == "conversion" and _meta(r)["lang"] == "en" for _, r in load.good)


def test_an_english_docstring_is_identified_as_english(tmp_path):
    text = inspect.getdoc(argparse).split("\n\n")
    prose = "\n\n".join(p for p in text if not p.startswith(" "))[:1500]
    path = write_warc(tmp_path / "crawl.warc", [warc_record("response", "https://e.org/argparse", WHEN,
                                                             _page(0, prose))])
    [(_, record)] = _read(path).good
    meta = _meta(record)
    assert (meta["lang"], meta["lang_confidence"] >= 0.9) == ("en", True)


def _translated_text() -> tuple[str, str] | None:
    """Real translated text from this machine: (ISO 639-1 code, text), or None."""
    for code in ("de", "es", "it", "fr"):
        for catalog in sorted(Path("/usr/share").glob(f"**/lang/{code}/LC_MESSAGES/*.mo"))[:3] + sorted(
                Path("/usr/share/locale").glob(f"{code}/LC_MESSAGES/*.mo"))[:20]:
            try:
                with open(catalog, "rb") as handle:
                    messages = gettext.GNUTranslations(handle)._catalog  # noqa: SLF001 - the catalog's own strings
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            long = sorted(m for k, m in messages.items() if k and isinstance(m, str) and len(m.split()) >= 8)
            if len(long) >= 10:
                return code, "\n\n".join(" ".join(m.split()) for m in long[:12])
    sample = Path(sysconfig.get_paths()["stdlib"]) / "test" / "cjkencodings" / "euc_jp-utf8.txt"
    if sample.is_file():  # CPython's own Japanese test text
        return "ja", sample.read_text("utf-8")
    return None


def test_non_english_text_is_identified(tmp_path):
    found = _translated_text()
    if found is None:
        pytest.skip("no translated message catalog (e.g. vim's) and no CPython cjkencodings test text on this machine")
    code, text = found
    path = write_warc(tmp_path / "crawl.warc", [
        warc_record("response", "https://e.org/l10n", WHEN, _page(0, text)),
        warc_record("conversion", "https://e.org/l10n.txt", WHEN, text.encode(), content_type="text/plain"),
    ])
    load = _read(path)
    assert [(_meta(r)["lang"]) for _, r in load.good] == [code, code], [r.text[:200] for _, r in load.good]


def _matern() -> str:
    kernels = pytest.importorskip("sklearn.gaussian_process.kernels")
    doc = inspect.getdoc(kernels.Matern)
    text = "\n\n".join(doc.split("\n\n")[:2])
    assert "Matérn" in text
    return text


def test_ftfy_repairs_a_page_served_with_the_wrong_charset(tmp_path):
    text = _matern()
    body = web_page("Matern", text, ["x"]).encode("utf-8")  # UTF-8 bytes...
    wrong = http_response(body, content_type="text/html; charset=ISO-8859-1")  # ...declared Latin-1
    mojibake = text.encode("utf-8").decode("latin-1").encode("utf-8")  # and a WET text broken upstream
    assert "MatÃ©rn" in mojibake.decode()
    path = write_warc(tmp_path / "crawl.warc.gz", [
        warc_record("response", "https://e.org/matern", WHEN, wrong),
        warc_record("conversion", "https://e.org/matern.txt", WHEN, mojibake, content_type="text/plain"),
    ], gz=True)
    load = _read(path)
    assert len(load.good) == 2 and not load.bad
    for _, record in load.good:
        assert "Matérn" in record.text and "Ã" not in record.text
        assert _words(text) in _words(record.text)
        assert _meta(record)["ftfy_fixed"] is True
    clean = write_warc(tmp_path / "clean.warc", [warc_record("response", "https://e.org/m", WHEN, _page(0, text))])
    [(_, record)] = _read(clean).good
    assert _meta(record)["ftfy_fixed"] is False and _words(text) in _words(record.text)  # clean text untouched


def test_non_text_responses_and_error_pages_are_quarantined_and_counted(tmp_path):
    records = _crawl(2) + [
        warc_record("response", "https://e.org/a.pdf", WHEN, http_response(b"%PDF-1.7\n%binary", "application/pdf")),
        warc_record("response", "https://e.org/logo.png", WHEN, http_response(b"\x89PNG\r\n\x1a\n" + bytes(64),
                                                                               "image/png")),
        warc_record("response", "https://e.org/gone", WHEN, http_response(
            web_page("Not found", DOCS[3], []).encode(), status="404 Not Found")),
        warc_record("response", "https://e.org/empty", WHEN, http_response(
            b"<html><head><script>var x = 1;</script></head><body><nav><a href='/'>Home</a></nav></body></html>")),
        warc_record("metadata", "https://e.org/a.pdf", WHEN, b"fetchTimeMs: 12\r\n",
                    content_type="application/warc-fields"),
        warc_record("response", "https://e.org/last", WHEN, _page(4)),
    ]
    path = write_warc(tmp_path / "crawl.warc", records)
    load = _read(path)
    reasons = sorted(q.reason for q in load.bad)
    assert reasons == ["http_status:404", "no_main_text: the page has no main text", "not_text:application/pdf",
                       "not_text:image/png"]
    assert all(q.record_id and q.record_id.startswith("urn:uuid:") for q in load.bad)
    responses = sum(b"WARC-Type: response" in r for r in records)
    assert load.rows_seen == len(load.good) + len(load.bad) == responses == 7  # warcinfo/request/metadata: no row
    assert [r.url for _, r in load.good] == ["https://docs.example.org/p0", "https://docs.example.org/p1",
                                             "https://e.org/last"]


@pytest.mark.parametrize("gz", [False, True], ids=["warc", "warc.gz"])
def test_a_truncated_warc_keeps_the_records_before_the_cut(tmp_path, gz):
    records = _crawl(4)
    starts, data = _offsets(records, gz)
    cut_record = 6  # the third response
    cut = starts[cut_record] + (len(data[starts[cut_record]:starts[cut_record + 1]]) // 2)
    path = tmp_path / ("crawl.warc.gz" if gz else "crawl.warc")
    path.write_bytes(data[:cut])
    load = _read(path)
    assert [line for line, _ in load.good] == [starts[2] + 1, starts[4] + 1]
    [fault] = load.bad
    assert fault.reason.startswith("truncated_file") and fault.line == starts[cut_record] + 1
    assert load.unread_bytes == cut - starts[cut_record] and f"; {load.unread_bytes} bytes unread" in fault.reason


@pytest.mark.parametrize("gz", [False, True], ids=["warc", "warc.gz"])
def test_a_cut_anywhere_loses_no_record_unseen(tmp_path, gz):
    """Cut the file at many points: each response before the cut loads whole, the rest is the tail row."""
    records = _crawl(3) + [warc_record("conversion", "https://e.org/t", WHEN, DOCS[5].encode(),
                                       content_type="text/plain")]
    starts, data = _offsets(records, gz)
    content = [s + 1 for s, r in zip(starts, records) if b"WARC-Type: response" in r or b"WARC-Type: conversion" in r]
    path = tmp_path / ("crawl.warc.gz" if gz else "crawl.warc")
    path.write_bytes(data)
    whole = {line: r.text for line, r in _read(path).good}
    assert sorted(whole) == content
    for cut in sorted(set(range(0, len(data), 41)) | {s - 1 for s in starts[1:]} | set(starts)):
        path.write_bytes(data[:cut])
        load = _read(path)
        faults = [q for q in load.bad if q.reason.startswith(FAULT)]
        tail = faults[0].line - 1 if faults else cut
        assert len(faults) <= 1 and load.unread_bytes == cut - tail, (cut, load.bad)
        assert [line for line, _ in load.good] == [c for c in content if c - 1 < tail], (cut, load.bad)
        assert all(whole[line] == r.text for line, r in load.good)  # nothing cut short loads
        if cut in starts:
            assert not faults, (cut, faults)  # a cut between records is a shorter, whole file


def test_garbage_between_records_stops_reading_there(tmp_path):
    records = _crawl(2)
    starts, data = _offsets(records, False)
    broken = data[:starts[3]] + b"this line is not a WARC record\r\n\r\n" + data[starts[3]:]
    path = tmp_path / "crawl.warc"
    path.write_bytes(broken)
    load = _read(path)
    assert [line for line, _ in load.good] == [starts[2] + 1]
    [fault] = load.bad
    assert fault.reason.startswith("truncated_file") and fault.line == starts[3] + 1
    assert load.unread_bytes == len(broken) - starts[3]


def test_decompressed_cap_stops_reading_and_counts_the_tail(tmp_path):
    records = _crawl(4)
    starts, data = _offsets(records, True)
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(data)
    plain = sum(len(r) for r in records[:5])  # warcinfo and two request/response pairs
    load = _read(path, IngestSettings(max_decompressed_bytes=plain + 100))
    assert [line for line, _ in load.good] == [starts[2] + 1, starts[4] + 1]
    [fault] = load.bad
    assert fault.reason.startswith("decompressed_size_limit") and fault.line == starts[5] + 1
    assert load.unread_bytes == len(data) - starts[5]


def test_an_oversized_record_is_skipped_unread_and_the_next_loads(tmp_path):
    big = "\n\n".join(DOCS * 40)
    records = [warc_record("response", "https://e.org/big", WHEN, _page(0, big)),
               warc_record("response", "https://e.org/small", WHEN, _page(1))]
    path = write_warc(tmp_path / "crawl.warc.gz", records, gz=True)
    load = _read(path, IngestSettings(max_text_bytes=20_000))
    assert [r.url for _, r in load.good] == ["https://e.org/small"]
    [skipped] = load.bad
    assert skipped.reason.startswith("oversized_record:") and "ingest.max_line_bytes (80000)" in skipped.reason


def test_content_and_transfer_codings_are_undone(tmp_path):
    page = web_page("codings", DOCS[2], ["x"]).encode()
    gzipped = gzip.compress(page, mtime=0)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(gzipped[i:i + 500]), gzipped[i:i + 500])
                       for i in range(0, len(gzipped), 500)) + b"0\r\n\r\n"
    deflated = zlib.compress(page)
    records = [
        warc_record("response", "https://e.org/gz", WHEN, http_response(gzipped, headers={"Content-Encoding": "gzip"})),
        warc_record("response", "https://e.org/chunked", WHEN, http_response(
            chunked, headers={"Content-Encoding": "gzip", "Transfer-Encoding": "chunked"})),
        warc_record("response", "https://e.org/deflate", WHEN, http_response(
            deflated, headers={"Content-Encoding": "deflate"})),
        warc_record("response", "https://e.org/zz", WHEN, http_response(page, headers={"Content-Encoding": "zz"})),
    ]
    load = _read(write_warc(tmp_path / "crawl.warc", records))
    assert [r.url for _, r in load.good] == ["https://e.org/gz", "https://e.org/chunked", "https://e.org/deflate"]
    assert all(_words(DOCS[2]) in _words(r.text) for _, r in load.good)
    assert [q.reason for q in load.bad] == ["bad_encoding: content coding 'zz' is not supported"]


def test_source_is_the_file_name_up_to_the_first_dash_or_dot():
    assert warc_source("webcrawl-2026.warc.gz") == "webcrawl"
    assert warc_source("/inbox/2026-11-01/commoncrawl.wet") == "commoncrawl"
    for name in ("a.warc", "a.warc.gz", "a.wet", "a.wet.gz"):
        assert is_inbox_file(Path(name))


def test_ingest_drop_conserves_every_warc_record(tmp_path):
    drop = "2026-11-01"
    folder = tmp_path / "inbox" / drop
    records = _crawl(3) + [warc_record("response", "https://e.org/a.pdf", WHEN,
                                       http_response(b"%PDF-1.7", "application/pdf"))]
    starts, data = _offsets(records, True)
    folder.mkdir(parents=True)
    (folder / "webcrawl-a.warc.gz").write_bytes(data)
    (folder / "webcrawl-b.warc.gz").write_bytes(data[: starts[6] + 40])  # cut inside the third response
    con = connect_store(tmp_path / "store.duckdb")
    try:
        init_schema(con)
        report = ingest_drop(con, tmp_path / "inbox", drop, IngestSettings())
        rows = con.execute("SELECT path, n_rows, n_loaded, n_quarantined, n_unread_bytes FROM ingested_files "
                           "ORDER BY path").fetchall()
        raw = con.execute("SELECT file, line, url, source FROM raw_records ORDER BY file, line").fetchall()
        quarantine = con.execute("SELECT file, line, reason FROM quarantine ORDER BY file, line").fetchall()
    finally:
        con.close()
    (a, seen_a, loaded_a, bad_a, unread_a), (b, seen_b, loaded_b, bad_b, unread_b) = rows
    assert (seen_a, loaded_a, bad_a, unread_a) == (4, 3, 1, 0)  # 3 pages + 1 PDF: every response accounted for
    # The second file repeats the first's records: the two whole ones are duplicate ids; the cut one is the tail.
    assert (seen_b, loaded_b, bad_b) == (3, 0, 3) and unread_b == starts[6] + 40 - starts[6]
    assert report.loaded == 3 and report.quarantined == 4
    assert [r[1] for r in raw] == [starts[2] + 1, starts[4] + 1, starts[6] + 1] and {r[3] for r in raw} == {"webcrawl"}
    codes = sorted(r[2].split(":")[0] for r in quarantine)
    assert codes == ["duplicate_id", "duplicate_id", "not_text", "truncated_file"]


def test_demo_night_1_holds_a_warc_crawl_that_ingests_whole(tmp_path):
    import tomllib

    from anchormix.demo.inbox import WARC_SOURCE, build_demo_inbox

    built = build_demo_inbox(tmp_path / "inbox", tmp_path / "sources.toml", tmp_path / "keys", scale=0.1)
    [warc] = [f for f in built.files if f.name.endswith(".warc.gz")]
    assert warc.parent.name == built.drops[0] and warc_source(warc.name) == WARC_SOURCE
    registry = tomllib.loads((tmp_path / "sources.toml").read_text())
    assert registry["sources"][WARC_SOURCE]["kind"] == "web_crawl"
    con = connect_store(tmp_path / "store.duckdb")
    try:
        init_schema(con)
        ingest_drop(con, tmp_path / "inbox", built.drops[0], IngestSettings())
        tally = con.execute("SELECT n_rows, n_loaded, n_quarantined, n_unread_bytes FROM ingested_files "
                            "WHERE path LIKE '%.warc.gz'").fetchone()
        texts = [r[0] for r in con.execute("SELECT text FROM raw_records WHERE source = ?", [WARC_SOURCE]).fetchall()]
    finally:
        con.close()
    assert tally == (built.counts["warc_pages"], built.counts["warc_pages"], 0, 0)
    assert texts and not any(b.lower() in t.lower() for t in texts for b in BOILERPLATE)
    from anchormix.demo.docstrings import harvest_stdlib

    docstrings = {_words(d.text) for d in harvest_stdlib()}
    assert all(_words(t.split("\n\n", 1)[1]) in docstrings for t in texts)  # the title, then a whole docstring
