"""No input crashes a drop or loses rows unseen.

One case per kind of malformed input: each is ingested next to good rows, and
the quarantine reason, the good rows and the file's conservation
(rows seen = loaded + quarantined) are checked. Then a 10,000-row fuzz drop,
decompression bombs, hostile drop-folder entries, media paths, and keys.

Test text is Python standard-library docstrings and structural strings only.
"""

from __future__ import annotations

import csv
import gzip
import inspect
import io
import json
import os
import random
import socket
import stat
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from anchormix.provenance.media import read_c2pa_evidence
from anchormix.provenance.sign_cli import main as sign_main
from anchormix.readers import IngestSettings, open_regular, read_file
from anchormix.stages.ingest import drop_files, ingest_drop, scan_drop

DROP = "2026-11-01"
DOCS = [inspect.getdoc(f) for f in (json.dumps, json.loads, gzip.open, csv.reader, io.open, os.path.join,
                                    os.walk, random.shuffle, socket.socket, threading.Thread)]
FIELDS = ["id", "url", "fetched_at", "text", "source"]


def _row(key: str, i: int = 0, **over) -> dict:
    row = {"id": key, "url": f"https://example.org/{key}", "fetched_at": "2026-11-01T00:00:00+00:00",
           "text": DOCS[i % len(DOCS)], "source": "python-stdlib"}
    row.update(over)
    return row


def _line(row) -> bytes:
    return json.dumps(row).encode()


def _jsonl(folder: Path, name: str, lines: list[bytes], gz: bool = False) -> Path:
    data = b"\n".join(lines) + b"\n"
    path = folder / name
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _csv_text(rows: list[dict], columns: list[str] = FIELDS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c) for c in columns})
    return out.getvalue()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@dataclass
class Expect:
    """What ingesting a case's drop should show."""

    reason: str | None  # a quarantine reason starts with this (None: nothing quarantined)
    good: set[str] = field(default_factory=set)
    line: int | None = None
    settings: IngestSettings | None = None


def _jsonl_case(bad_line: bytes, reason: str | None, settings: IngestSettings | None = None, name="a.jsonl"):
    """A JSONL file: good row, the bad line, good row; the bad line is line 2."""

    def build(folder: Path) -> Expect:
        _jsonl(folder, name, [_line(_row("g1", 1)), bad_line, _line(_row("g2", 2))], gz=name.endswith(".gz"))
        return Expect(reason, {"g1", "g2"}, 2 if reason else None, settings)

    return build


def _csv_case(body: bytes, reason: str | None, good: set[str], line: int | None = None, settings=None):
    def build(folder: Path) -> Expect:
        (folder / "a.csv").write_bytes(body)
        return Expect(reason, good, line, settings)

    return build


def _csv_lines(*lines: str) -> bytes:
    header = ",".join(FIELDS)
    return ("\n".join((header,) + lines) + "\n").encode("utf-8", "surrogateescape")


def _simple_csv(key: str) -> str:
    return f"{key},https://example.org/{key},2026-11-01T00:00:00Z,{DOCS[0].splitlines()[0].replace(',', ';')},src"


# --- JSONL row-level ----------------------------------------------------------------------------


def _surrogate(**over) -> bytes:
    return _line(_row("s1", 3, **over))


SMALL = IngestSettings(max_text_bytes=2_000, max_line_bytes=50_000)

JSONL_CASES = {
    "bad_json": _jsonl_case(_line(_row("b", 3))[:-6], "bad_json: "),
    "invalid_utf8": _jsonl_case(_line(_row("b", 3)).replace(b'"text": "', b'"text": "\xff', 1), "invalid_utf8: "),
    "missing_field": _jsonl_case(_line({k: v for k, v in _row("b", 3).items() if k != "text"}),
                                 "missing_field: text"),
    "null_field": _jsonl_case(_line(_row("b", 3, text=None)), "missing_field: text"),
    "wrong_type": _jsonl_case(_line(_row("b", 3, fetched_at=20261101)), "wrong_type: fetched_at"),
    "wrong_type_metadata": _jsonl_case(_line(_row("b", 3, metadata="k=v")), "wrong_type: metadata"),
    "wrong_type_media_path": _jsonl_case(_line(_row("b", 3, media_path=7)), "wrong_type: media_path"),
    "bad_timestamp": _jsonl_case(_line(_row("b", 3, fetched_at="2026-13-45")), "bad_timestamp: "),
    "oversized_text": _jsonl_case(_line(_row("b", 3, text=DOCS[3] * 40)), "oversized_text: ", SMALL),
    "empty_text": _jsonl_case(_line(_row("b", 3, text="  \n ")), "empty_field: text"),
    "empty_id": _jsonl_case(_line(_row("  ", 3)), "empty_field: id"),
    "not_an_object": _jsonl_case(b"[1, 2, 3]", "not_an_object: "),
    "not_an_object_string": _jsonl_case(b'"stdlib"', "not_an_object: "),
    "raw_control_char": _jsonl_case(_line(_row("b", 3)).replace(b'"text": "', b'"text": "\x00', 1), "bad_json: "),
    "nested_100k": _jsonl_case(_nested(100_000).encode(), "bad_json: nested too deep"),
    "nested_100k_in_metadata": _jsonl_case(
        _line(_row("b", 3))[:-1] + b', "metadata": {"k": ' + _nested(100_000).encode() + b"}}",
        "bad_json: nested too deep"),
    "nan_constant": _jsonl_case(_line(_row("b", 3))[:-1] + b', "metadata": {"score": NaN}}',
                                "bad_json: non-standard constant NaN"),
    "infinity_constant": _jsonl_case(_line(_row("b", 3))[:-1] + b', "metadata": {"score": -Infinity}}',
                                     "bad_json: non-standard constant -Infinity"),
    "float_overflow": _jsonl_case(_line(_row("b", 3))[:-1] + b', "metadata": {"score": 1e999}}',
                                  "bad_value: metadata.score is not a finite number"),
    "huge_integer": _jsonl_case(_line(_row("b", 3))[:-1] + b', "metadata": {"n": ' + b"9" * 5000 + b"}}",
                                "bad_json: "),
    "duplicate_key": _jsonl_case(_line(_row("b", 3))[:-1] + b', "id": "b2"}', "duplicate_key: 'id'"),
    "surrogate_id": _jsonl_case(_surrogate(id="s\ud800"), "invalid_unicode: id"),
    "surrogate_url": _jsonl_case(_surrogate(url="https://example.org/\udfff"), "invalid_unicode: url"),
    "surrogate_source": _jsonl_case(_surrogate(source="python-\ud800"), "invalid_unicode: source"),
    "surrogate_fetched_at": _jsonl_case(_surrogate(fetched_at="2026-11-01\ud800"), "invalid_unicode: fetched_at"),
    "surrogate_text": _jsonl_case(_surrogate(text=DOCS[3] + "\ud800"), "invalid_unicode: text"),
    "surrogate_media_path": _jsonl_case(_surrogate(media_path="a\ud800.png"), "invalid_unicode: media_path"),
    "surrogate_metadata_value": _jsonl_case(_surrogate(metadata={"tags": ["ok", "\udc80"]}),
                                            "invalid_unicode: metadata.tags[1]"),
    "surrogate_metadata_key": _jsonl_case(_surrogate(metadata={"\ud800": 1}), "invalid_unicode: a key in metadata"),
    "surrogate_manifest_field": _jsonl_case(_surrogate(manifest={"creator": "\ud800", "alg": "ed25519"}),
                                            "invalid_unicode: manifest.creator"),
    "surrogate_manifest_string": _jsonl_case(_surrogate(manifest="\ud800"), "invalid_unicode: manifest"),
    "surrogate_extra_field": _jsonl_case(_surrogate(crawl_note="\ud800"), "invalid_unicode: crawl_note"),
    "surrogate_field_name": _jsonl_case(_surrogate(**{"\ud800": "x"}), "invalid_unicode: a field name"),
    "line_too_long": _jsonl_case(_line(_row("b", 3, text=DOCS[3] * 200)), "line_too_long: ", SMALL),
    "gz_row_level": _jsonl_case(_surrogate(id="\ud800"), "invalid_unicode: id", name="a.jsonl.gz"),
}


def _blank_lines(folder: Path) -> Expect:
    body = b"\n\n  \t\n" + _line(_row("g1", 1)) + b"\r\n\n\n" + _line(_row("g2", 2)) + b"\n\n"
    (folder / "a.jsonl").write_bytes(body)
    return Expect(None, {"g1", "g2"})


def _bom_jsonl(folder: Path) -> Expect:
    (folder / "a.jsonl").write_bytes(b"\xef\xbb\xbf" + _line(_row("g1", 1)) + b"\n" + _line(_row("g2", 2)) + b"\n")
    return Expect(None, {"g1", "g2"})


def _bom_jsonl_gz(folder: Path) -> Expect:
    (folder / "a.jsonl.gz").write_bytes(gzip.compress(b"\xef\xbb\xbf" + _line(_row("g1", 1)) + b"\n"))
    return Expect(None, {"g1"})


def _utf16(folder: Path) -> Expect:
    (folder / "a.jsonl").write_bytes(("\ufeff" + json.dumps(_row("u1", 1)) + "\n").encode("utf-16-le"))
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("unreadable_file: UTF-16", {"g1"}, 1)


def _duplicate_id_in_file(folder: Path) -> Expect:
    _jsonl(folder, "a.jsonl", [_line(_row("g1", 1)), _line(_row("g1", 2)), _line(_row("g2", 3))])
    return Expect("duplicate_id: ", {"g1", "g2"}, 2)


# --- gzip -----------------------------------------------------------------------------------------


def _many(prefix: str, n: int) -> bytes:
    return b"".join(_line(_row(f"{prefix}{i}", i)) + b"\n" for i in range(n))


def _truncated_gz(folder: Path) -> Expect:
    data = gzip.compress(_many("t", 200))
    (folder / "a.jsonl.gz").write_bytes(data[: len(data) * 2 // 3])
    return Expect("truncated_file: gzip stream failed", {"t0", "t1"})


def _corrupt_gz(folder: Path) -> Expect:
    data = bytearray(gzip.compress(_many("c", 400), compresslevel=1))
    for k in range(len(data) * 3 // 4, len(data) * 3 // 4 + 32):
        data[k] ^= 0xA5
    (folder / "a.jsonl.gz").write_bytes(bytes(data))
    return Expect("truncated_file: gzip stream failed", {"c0", "c1"})


def _not_gzip(folder: Path) -> Expect:
    (folder / "a.jsonl.gz").write_bytes(_many("n", 3))
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("unreadable_file: gzip stream failed after 0", {"g1"})


def _gz_trailing_garbage(folder: Path) -> Expect:
    (folder / "a.jsonl.gz").write_bytes(gzip.compress(_many("t", 3)) + b"PK\x03\x04 trailing")
    return Expect("truncated_file: ", {"t0", "t1", "t2"})


def _gz_multi_member(folder: Path) -> Expect:
    (folder / "a.jsonl.gz").write_bytes(gzip.compress(_many("m", 2)) + b"\0\0\0" + gzip.compress(_many("k", 2)))
    return Expect(None, {"m0", "m1", "k0", "k1"})


def _gz_empty(folder: Path) -> Expect:
    (folder / "a.jsonl.gz").write_bytes(b"")
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect(None, {"g1"})


# --- CSV ------------------------------------------------------------------------------------------


def _csv_good_rows(*keys: str) -> list[str]:
    return [_simple_csv(k) for k in keys]


def _csv_bom(folder: Path) -> Expect:
    (folder / "a.csv").write_bytes(b"\xef\xbb\xbf" + _csv_text([_row("g1", 1), _row("g2", 2)]).encode())
    return Expect(None, {"g1", "g2"})


def _csv_big_field(folder: Path) -> Expect:
    text = (DOCS[0] + "\n") * (150_000 // len(DOCS[0]))  # over csv's default 131072-character field limit
    (folder / "a.csv").write_text(_csv_text([_row("g1", 1, text=text), _row("g2", 2)]), encoding="utf-8")
    return Expect(None, {"g1", "g2"})


def _csv_unbalanced(folder: Path) -> Expect:
    lines = _csv_good_rows("g1") + ['b1,https://example.org/b1,2026-11-01T00:00:00Z,"open cell,src'] \
        + _csv_good_rows("g2", "g3")
    (folder / "a.csv").write_bytes(_csv_lines(*lines))
    return Expect("unbalanced_quote: quote opened on line 3", {"g1", "g2", "g3"}, 3)


def _csv_unbalanced_before_quoted(folder: Path) -> Expect:
    body = _csv_text([_row("g1", 1)]) + 'b1,https://example.org/b1,2026-11-01T00:00:00Z,"open,src\n' \
        + _csv_text([_row("g2", 2, text=DOCS[2] + '\n"quoted"\n'), _row("g3", 3)]).split("\n", 1)[1]
    (folder / "a.csv").write_text(body, encoding="utf-8")
    line = body.split("\n").index('b1,https://example.org/b1,2026-11-01T00:00:00Z,"open,src') + 1
    return Expect(f"unbalanced_quote: quote opened on line {line}", {"g1", "g2", "g3"}, line)


def _csv_unbalanced_past_limit(folder: Path) -> Expect:
    settings = IngestSettings(max_text_bytes=2_000, max_line_bytes=4_000)
    lines = ['b1,https://example.org/b1,2026-11-01T00:00:00Z,"open,src'] + _csv_good_rows(*[f"g{i}" for i in range(80)])
    (folder / "a.csv").write_bytes(_csv_lines(*lines))
    return Expect("unbalanced_quote: quoted cell opened on line 2 still open", {f"g{i}" for i in range(80)}, 2,
                  settings)


def _csv_missing_columns(folder: Path) -> Expect:
    columns = ["id", "url", "text", "source"]
    (folder / "a.csv").write_text(_csv_text([_row("b1", 1)], columns), encoding="utf-8")
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("missing_field: fetched_at", {"g1"}, 2)


CSV_CASES = {
    "csv_more_cells": _csv_case(_csv_lines(_simple_csv("g1"), _simple_csv("b1") + ",extra", _simple_csv("g2")),
                                "bad_csv: more cells than header columns", {"g1", "g2"}, 3),
    "csv_fewer_cells": _csv_case(_csv_lines(_simple_csv("g1"), "b1,https://example.org/b1", _simple_csv("g2")),
                                 "missing_field: fetched_at", {"g1", "g2"}, 3),
    "csv_bad_quote": _csv_case(_csv_lines(_simple_csv("g1"), 'b1,https://example.org/b1,"2026"x,t,src',
                                          _simple_csv("g2")), "bad_csv: ", {"g1", "g2"}, 3),
    "csv_unbalanced_at_end": _csv_case(_csv_lines(_simple_csv("g1"), _simple_csv("g2"), 'b1,"https://example.org'),
                                       "unbalanced_quote: quote opened on line 4", {"g1", "g2"}, 4),
    "csv_invalid_utf8": _csv_case(_csv_lines(_simple_csv("g1"), _simple_csv("b1").replace(",src", ",s\udcffrc"),
                                             _simple_csv("g2")), "invalid_utf8: column source", {"g1", "g2"}, 3),
    "csv_metadata_not_json": _csv_case(
        ("id,url,fetched_at,text,source,metadata\n" + _simple_csv("g1") + ",\n" + _simple_csv("b1") + ",{nope\n"
         + _simple_csv("g2") + ',"{""k"": 1}"\n').encode(), "bad_json: metadata cell is not JSON", {"g1", "g2"}, 3),
    "csv_metadata_surrogate": _csv_case(
        ("id,url,fetched_at,text,source,metadata\n" + _simple_csv("b1") + ',"{""k"": ""\\ud800""}"\n'
         + _simple_csv("g1") + ",\n").encode(), "invalid_unicode: metadata.k", {"g1"}, 2),
    "csv_duplicate_header": _csv_case(("id,url,fetched_at,text,source,id\n" + _simple_csv("b1") + ",x\n").encode(),
                                      "bad_csv: header repeats column 'id'", set(), 1),
    "csv_line_too_long": _csv_case(_csv_lines(_simple_csv("g1"), "b1," + "x" * 60_000, _simple_csv("g2")),
                                   "line_too_long: ", {"g1", "g2"}, 3, SMALL),
    "csv_blank_lines": _csv_case(_csv_lines("", _simple_csv("g1"), "   ", "", _simple_csv("g2"), ""), None,
                                 {"g1", "g2"}),
    "csv_crlf": _csv_case(_csv_lines(_simple_csv("g1"), _simple_csv("g2")).replace(b"\n", b"\r\n"), None,
                          {"g1", "g2"}),
    "csv_empty_file": _csv_case(b"", None, set()),
}


# --- Parquet --------------------------------------------------------------------------------------


def _parquet(folder: Path, rows: list[dict], name="a.parquet", **kw) -> Path:
    path = folder / name
    pq.write_table(pa.Table.from_pylist(rows), path, **kw)
    return path


def _parquet_corrupt_file(folder: Path) -> Expect:
    data = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([_row("p1", 1)]), data)
    (folder / "a.parquet").write_bytes(data.getvalue()[:-20])
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("unreadable_file: ", {"g1"}, 0)


def _parquet_corrupt_page(folder: Path) -> Expect:
    rows = [_row(f"p{i}", i, text=f"{DOCS[i % len(DOCS)]} [{i}]") for i in range(200)]
    path = _parquet(folder, rows, row_group_size=100, compression="snappy")
    column = pq.ParquetFile(path).metadata.row_group(0).column(FIELDS.index("text"))
    data = bytearray(path.read_bytes())
    middle = (column.dictionary_page_offset or column.data_page_offset) + column.total_compressed_size // 2
    for k in range(middle, middle + 64):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))
    return Expect("corrupt_row_group: row group 0, 100 rows", {f"p{i}" for i in range(100, 200)}, 1)


def _parquet_binary_text(folder: Path) -> Expect:
    _parquet(folder, [_row("g1", 1, text=DOCS[1].encode()), _row("g2", 2, text=DOCS[2].encode())])
    _jsonl(folder, "b.jsonl", [_line(_row("g3", 1))])
    return Expect("wrong_type: text is bytes", {"g3"}, 1)


def _parquet_metadata_timestamp(folder: Path) -> Expect:
    from datetime import datetime

    rows = [_row("g1", 1, metadata={"seen": None}), _row("b1", 2, metadata={"seen": datetime(2026, 11, 1)})]
    _parquet(folder, rows)
    return Expect("bad_value: metadata.seen is datetime", {"g1"}, 2)


def _parquet_null_id(folder: Path) -> Expect:
    _parquet(folder, [_row("g1", 1), _row(None, 2), _row("g2", 3)])
    return Expect("missing_field: id", {"g1", "g2"}, 2)


def _parquet_no_record_columns(folder: Path) -> Expect:
    pq.write_table(pa.table({"a": [1, 2]}), folder / "a.parquet")
    return Expect("missing_field: id", set(), 1)


# --- Drop-folder entries --------------------------------------------------------------------------


def _fifo(folder: Path) -> Expect:
    os.mkfifo(folder / "a.jsonl")
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("not_a_regular_file: fifo", {"g1"}, 0)


def _fifo_any_name(folder: Path) -> Expect:
    os.mkfifo(folder / "pipe")
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("not_a_regular_file: fifo", {"g1"}, 0)


def _socket(folder: Path) -> Expect:
    server, cwd = socket.socket(socket.AF_UNIX), os.getcwd()
    os.chdir(folder)  # a relative name: AF_UNIX paths are limited to about 100 bytes
    try:
        server.bind("s.jsonl")
    finally:
        os.chdir(cwd)
        server.close()
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("not_a_regular_file: socket", {"g1"}, 0)


def _device(folder: Path) -> Expect:
    try:
        os.mknod(folder / "a.jsonl", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # what /dev/null is
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("not_a_regular_file: character device", {"g1"}, 0)


def _directory(folder: Path) -> Expect:
    (folder / "a.jsonl").mkdir()
    _jsonl(folder / "a.jsonl", "inner.jsonl", [_line(_row("x1", 1))])
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("not_a_regular_file: directory", {"g1"}, 0)


def _symlink_outside(folder: Path) -> Expect:
    secret = folder.parent.parent / "outside.jsonl"
    secret.write_bytes(_line(_row("SECRET-OUTSIDE", 1)) + b"\n")
    (folder / "a.jsonl").symlink_to(secret)
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("symlink_outside_inbox: ", {"g1"}, 0)


def _symlink_to_dev(folder: Path) -> Expect:
    (folder / "a.jsonl").symlink_to("/dev/zero")
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("symlink_outside_inbox: ", {"g1"}, 0)


def _symlink_inside(folder: Path) -> Expect:
    (folder.parent / "shared").mkdir()
    _jsonl(folder.parent / "shared", "x.jsonl", [_line(_row("g1", 1))])
    (folder / "a.jsonl").symlink_to(folder.parent / "shared" / "x.jsonl")
    return Expect(None, {"g1"})


def _symlink_dangling(folder: Path) -> Expect:
    (folder / "a.jsonl").symlink_to(folder / "gone.jsonl")
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("unreadable_file: ", {"g1"}, 0)


def _bad_file_name(folder: Path) -> Expect:
    name = os.fsdecode(b"caf\xe9-\xff.jsonl")
    _jsonl(folder, name, [_line(_row("x1", 1))])
    _jsonl(folder, "b.jsonl", [_line(_row("g1", 1))])
    return Expect("bad_file_name: ", {"g1"}, 0)


FILE_CASES = {
    "blank_lines": _blank_lines, "utf8_bom_jsonl": _bom_jsonl, "utf8_bom_jsonl_gz": _bom_jsonl_gz,
    "utf16_file": _utf16, "duplicate_id_in_file": _duplicate_id_in_file,
    "truncated_gz": _truncated_gz, "corrupt_gz": _corrupt_gz, "not_gzip": _not_gzip,
    "gz_trailing_garbage": _gz_trailing_garbage, "gz_multi_member": _gz_multi_member, "gz_empty": _gz_empty,
    "csv_utf8_bom": _csv_bom, "csv_field_over_default_limit": _csv_big_field, "csv_unbalanced_quote": _csv_unbalanced,
    "csv_unbalanced_before_quoted_row": _csv_unbalanced_before_quoted,
    "csv_unbalanced_past_line_limit": _csv_unbalanced_past_limit, "csv_missing_columns": _csv_missing_columns,
    "parquet_corrupt_file": _parquet_corrupt_file, "parquet_corrupt_page": _parquet_corrupt_page,
    "parquet_binary_text": _parquet_binary_text, "parquet_metadata_timestamp": _parquet_metadata_timestamp,
    "parquet_null_id": _parquet_null_id, "parquet_no_record_columns": _parquet_no_record_columns,
    "fifo": _fifo, "fifo_without_inbox_suffix": _fifo_any_name, "socket": _socket, "device": _device,
    "directory_named_like_a_file": _directory, "symlink_outside_inbox": _symlink_outside,
    "symlink_to_device_outside_inbox": _symlink_to_dev, "symlink_inside_inbox": _symlink_inside,
    "symlink_dangling": _symlink_dangling, "file_name_not_utf8": _bad_file_name,
}
CASES = {**JSONL_CASES, **CSV_CASES, **FILE_CASES}


def _ingest(con, inbox: Path, settings: IngestSettings | None = None):
    report = ingest_drop(con, inbox, DROP, settings or IngestSettings())
    quarantine = con.execute("SELECT file, line, reason, record_id, excerpt FROM quarantine").fetchall()
    loaded = {r[0] for r in con.execute("SELECT id FROM raw_records").fetchall()}
    return report, quarantine, loaded


def _check_conservation(con) -> None:
    files = con.execute("SELECT path, n_rows, n_loaded, n_quarantined FROM ingested_files").fetchall()
    for path, seen, loaded, quarantined in files:
        assert seen == loaded + quarantined, path
    n_records = con.execute("SELECT count(*) FROM raw_records").fetchone()[0]
    n_retracted = con.execute("SELECT count(*) FROM retracted_records").fetchone()[0]
    n_quarantine = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    # Rows loaded from a version since corrected or removed are retracted, not lost.
    assert sum(f[2] for f in files) == n_records + n_retracted and sum(f[3] for f in files) == n_quarantine


def test_there_are_at_least_forty_kinds():
    assert len(CASES) >= 40


@pytest.mark.parametrize("kind", sorted(CASES))
def test_malformed_input_is_quarantined_and_the_rest_loads(kind, tmp_path, con):
    inbox = tmp_path / "inbox"
    folder = inbox / DROP
    folder.mkdir(parents=True)
    expect = CASES[kind](folder)
    report, quarantine, loaded = _ingest(con, inbox, expect.settings)
    reasons = [q[2] for q in quarantine]
    if expect.reason is None:
        assert not quarantine, reasons
    else:
        hits = [q for q in quarantine if q[2].startswith(expect.reason)]
        assert hits, reasons
        if expect.line is not None:
            assert hits[0][1] == expect.line, hits
    assert expect.good <= loaded, (expect.good - loaded, reasons)
    assert not any(k.startswith(("b", "x", "u", "s", "SECRET")) for k in loaded), loaded
    _check_conservation(con)
    for file, _, reason, record_id, excerpt in quarantine:
        assert "SECRET" not in f"{file}{reason}{record_id}{excerpt}"  # nothing read from outside the inbox
        f"{file}{reason}{record_id}{excerpt}".encode("utf-8")  # storable text, no lone surrogates
    again = ingest_drop(con, inbox, DROP, expect.settings or IngestSettings())
    assert again.loaded == 0 and again.quarantined == 0  # a second run adds nothing


def test_truncated_tail_is_counted_as_unread(tmp_path, con):
    folder = tmp_path / "inbox" / DROP
    folder.mkdir(parents=True)
    _truncated_gz(folder)
    _ingest(con, tmp_path / "inbox")
    seen, loaded, quarantined, unread_bytes = con.execute(
        "SELECT n_rows, n_loaded, n_quarantined, n_unread_bytes FROM ingested_files").fetchone()
    reason = con.execute("SELECT reason FROM quarantine WHERE reason LIKE 'truncated_file%'").fetchone()[0]
    assert seen == loaded + quarantined and loaded > 0 and quarantined == 1
    assert unread_bytes > 0 and f"; {unread_bytes} bytes unread" in reason


def test_corrupt_row_group_counts_its_rows_as_unread(tmp_path, con):
    folder = tmp_path / "inbox" / DROP
    folder.mkdir(parents=True)
    _parquet_corrupt_page(folder)
    _ingest(con, tmp_path / "inbox")
    assert con.execute("SELECT n_rows, n_loaded, n_quarantined, n_unread_rows FROM ingested_files").fetchone() \
        == (101, 100, 1, 100)


# --- Fuzz -----------------------------------------------------------------------------------------


def _fuzz_row(rng: random.Random, key: str, fmt: str) -> tuple[object, bool]:
    """A row for ``fmt`` (dict, or raw bytes/str line) and whether it should load."""
    row = _row(key, rng.randrange(len(DOCS)))
    if rng.random() < 0.75:
        return row, True
    if fmt == "parquet":
        bad = rng.choice([{"id": None}, {"text": None}, {"fetched_at": "soon"}, {"source": " "},
                          {"text": "  "}, {"text": DOCS[0] * 50}])
        return {**row, **bad}, False
    if fmt == "csv":
        simple = _simple_csv(key)
        return rng.choice([simple + ",extra", simple.replace("2026-11-01T00:00:00Z", "soon"),
                           simple.replace(",src", ",s\udcffrc"), f'{key},"https://example.org/{key},x,y,src',
                           f"{key},https://example.org/{key}", f'{key},u,"2026"x,t,src']), False
    return rng.choice([
        _line(row)[:-3], _line({**row, "text": None}), _line({**row, "fetched_at": 5}),
        _line({**row, "id": key + "\ud800"}), _line({**row, "metadata": {"k": "\udfff"}}),
        _line(row).replace(b'"text": "', b'"text": "\xfe', 1), b"[" * 5000 + b"]" * 5000, b"[1, 2]",
        _line(row)[:-1] + b', "metadata": {"x": NaN}}', _line(row)[:-1] + b', "id": "again"}',
        _line({**row, "text": DOCS[0] * 50}),
    ]), False


def test_fuzz_drop_of_10000_rows_loses_nothing(tmp_path, con):
    rng = random.Random(20261101)
    inbox = tmp_path / "inbox"
    folder = inbox / DROP
    folder.mkdir(parents=True)
    formats = ["jsonl", "jsonl.gz", "csv", "parquet"]
    written: dict[str, list] = {f"f{i}.{fmt}": [] for i in range(3) for fmt in formats}
    expected_good: set[str] = set()
    names = sorted(written)
    for i in range(10_000):
        name = rng.choice(names)
        row, good = _fuzz_row(rng, f"z{i:05d}", name.split(".", 1)[1])
        written[name].append(row)
        if good:
            expected_good.add(f"z{i:05d}")
    for name, rows in written.items():
        if name.endswith("parquet"):
            _parquet(folder, rows, name=name, row_group_size=200)
        elif name.endswith("csv"):
            lines = [r if isinstance(r, str) else _simple_csv(r["id"]) for r in rows]
            (folder / name).write_bytes(_csv_lines(*lines))
        else:
            _jsonl(folder, name, [r if isinstance(r, bytes) else _line(r) for r in rows], gz=name.endswith(".gz"))
    settings = IngestSettings(max_text_bytes=20_000, max_line_bytes=80_000)
    report = ingest_drop(con, inbox, DROP, settings)
    per_file = {p.rsplit("/", 1)[1]: (s, l, q) for p, s, l, q in con.execute(
        "SELECT path, n_rows, n_loaded, n_quarantined FROM ingested_files").fetchall()}
    for name, rows in written.items():
        seen, loaded, quarantined = per_file[name]
        assert seen == loaded + quarantined == len(rows), name
    assert report.loaded + report.quarantined == 10_000
    loaded_ids = {r[0] for r in con.execute("SELECT id FROM raw_records").fetchall()}
    assert loaded_ids == expected_good
    _check_conservation(con)


def test_fuzz_with_damaged_files_accounts_for_every_unread_row(tmp_path, con):
    """A corrupt Parquet row group: loaded + row-level quarantine + unread rows = rows written."""
    inbox = tmp_path / "inbox"
    folder = inbox / DROP
    folder.mkdir(parents=True)
    _parquet_corrupt_page(folder)
    rows = [_row(f"q{i}", i) if i % 7 else _row(f"q{i}", i, fetched_at="soon") for i in range(300)]
    _parquet(folder, rows, name="b.parquet", row_group_size=50)
    ingest_drop(con, inbox, DROP, IngestSettings())
    faults = con.execute("SELECT count(*) FROM quarantine WHERE reason LIKE 'corrupt_row_group%'").fetchone()[0]
    loaded, quarantined, unread = con.execute(
        "SELECT sum(n_loaded), sum(n_quarantined), sum(n_unread_rows) FROM ingested_files").fetchone()
    assert loaded + (quarantined - faults) + unread == 200 + 300


# --- Bombs ----------------------------------------------------------------------------------------


def _load(path: Path, settings: IngestSettings):
    with open_regular(path) as handle:
        return read_file(handle, str(path), settings, name=path.name)


def test_gzip_single_line_bomb_is_quarantined_without_holding_it(tmp_path):
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"id": "' + b"a" * 5_000_000 + b'"}\n' + _line(_row("g1", 1)) + b"\n"))
    settings = IngestSettings(max_text_bytes=100_000, max_line_bytes=1_000_000)
    tracemalloc.start()
    started = time.monotonic()
    load = _load(path, settings)
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [q.reason.split(":")[0] for q in load.bad] == ["line_too_long"] and load.bad[0].line == 1
    assert [r.id for _, r in load.good] == ["g1"]
    assert peak < 3_000_000, peak  # the limit plus a read chunk, never the 5 MB line
    assert elapsed < 10


def test_plain_single_line_bomb_is_quarantined(tmp_path):
    path = tmp_path / "bomb.jsonl"
    path.write_bytes(b"x" * 5_000_000 + b"\n" + _line(_row("g1", 1)) + b"\n")
    load = _load(path, IngestSettings(max_text_bytes=100_000, max_line_bytes=1_000_000))
    assert load.bad[0].reason.startswith("line_too_long: 5000000 bytes") and [r.id for _, r in load.good] == ["g1"]


def test_gzip_of_newlines_stops_at_the_decompressed_cap(tmp_path):
    path = tmp_path / "newlines.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(_line(_row("g0", 0)) + b"\n")
        for _ in range(50):
            handle.write(b"\n" * 1_000_000)
    settings = IngestSettings(max_decompressed_bytes=10_000_000)
    started = time.monotonic()
    load = _load(path, settings)
    assert time.monotonic() - started < 10
    assert [r.id for _, r in load.good] == ["g0"]
    assert len(load.bad) == 1 and load.bad[0].reason.startswith("decompressed_size_limit: ")  # no row per blank line
    assert load.unread_bytes > 0 and f"; {load.unread_bytes} bytes unread" in load.bad[0].reason


def test_csv_newline_bomb_is_cheap(tmp_path):
    path = tmp_path / "newlines.csv"
    path.write_bytes(_csv_lines(_simple_csv("g1")) + b"\n" * 20_000_000)
    started = time.monotonic()
    load = _load(path, IngestSettings(max_decompressed_bytes=10_000_000))
    assert time.monotonic() - started < 10
    assert [r.id for _, r in load.good] == ["g1"]
    assert [q.reason.split(":")[0] for q in load.bad] == ["decompressed_size_limit"]
    assert load.unread_bytes >= 10_000_000


def test_parquet_over_the_decompressed_cap_is_not_read(tmp_path):
    path = _parquet(tmp_path, [_row(f"p{i}", i, text=f"{DOCS[i % 10]} [{i}]") for i in range(300)],
                    row_group_size=100)
    group = pq.ParquetFile(path).metadata.row_group(0)
    size = sum(group.column(j).total_uncompressed_size for j in range(group.num_columns))
    load = _load(path, IngestSettings(max_decompressed_bytes=size * 3 // 2))
    assert [q.reason.split(":")[0] for q in load.bad] == ["decompressed_size_limit"]
    assert len(load.good) == 100 and load.unread_rows == 200


# --- Media paths ----------------------------------------------------------------------------------


def _ingest_media(con, tmp_path, media_path: str) -> tuple[str, object]:
    inbox = tmp_path / "inbox"
    folder = inbox / DROP
    folder.mkdir(parents=True, exist_ok=True)
    _jsonl(folder, "m.jsonl", [_line(_row("m1", 1, media_path=media_path))])
    ingest_drop(con, inbox, DROP, IngestSettings())
    stored = con.execute("SELECT media_path FROM raw_records WHERE id = 'm1'").fetchone()[0]
    return stored, _evidence(stored)


def _evidence(path: str):
    result: list = []
    worker = threading.Thread(target=lambda: result.extend(read_c2pa_evidence("m1", path, None)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "reading the media file blocked"
    (evidence,) = result
    return evidence


@pytest.mark.parametrize("media_path", ["../../outside.png", "/etc/hostname", "sub/../../x.png"])
def test_media_path_outside_the_drop_is_unreadable_unopened(tmp_path, con, media_path):
    (tmp_path / "outside.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    stored, evidence = _ingest_media(con, tmp_path, media_path)
    assert stored.startswith("unreadable:outside_drop:")
    assert evidence.verdict == "unreadable" and "outside_drop" in evidence.ref


def test_media_path_symlinked_out_of_the_drop_is_unreadable(tmp_path, con):
    (tmp_path / "inbox" / DROP).mkdir(parents=True)
    (tmp_path / "outside.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "inbox" / DROP / "img.png").symlink_to(tmp_path / "outside.png")
    _, evidence = _ingest_media(con, tmp_path, "img.png")
    assert evidence.verdict == "unreadable" and "outside_drop" in evidence.ref


def test_media_path_fifo_is_not_opened_and_never_blocks(tmp_path, con):
    (tmp_path / "inbox" / DROP).mkdir(parents=True)
    os.mkfifo(tmp_path / "inbox" / DROP / "img.png")
    stored, evidence = _ingest_media(con, tmp_path, "img.png")
    assert stored == str((tmp_path / "inbox" / DROP / "img.png").resolve())
    assert evidence.verdict == "unreadable" and "not_a_regular_file: fifo" in evidence.ref


def test_media_path_directory_is_not_a_regular_file(tmp_path, con):
    (tmp_path / "inbox" / DROP / "img").mkdir(parents=True)
    _, evidence = _ingest_media(con, tmp_path, "img")
    assert evidence.verdict == "unreadable" and "not_a_regular_file: directory" in evidence.ref


def test_media_path_checked_against_a_given_drop_dir(tmp_path):
    (tmp_path / "drop").mkdir()
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (evidence,) = read_c2pa_evidence("m1", tmp_path / "x.png", None, drop_dir=tmp_path / "drop")
    assert evidence.verdict == "unreadable" and "outside_drop" in evidence.ref


# --- Scanning -------------------------------------------------------------------------------------


def test_drop_files_lists_only_what_will_be_read(tmp_path):
    folder = tmp_path / DROP
    (folder / "sub").mkdir(parents=True)
    _jsonl(folder, "a.jsonl", [b"{}"])
    _jsonl(folder / "sub", "b.jsonl", [b"{}"])
    (folder / "notes.txt").write_text("x")
    os.mkfifo(folder / "c.jsonl")
    (folder / "d.jsonl").symlink_to("/etc/hostname")
    assert [p.name for p in drop_files(tmp_path, DROP)] == ["a.jsonl", "b.jsonl"]
    problems = {e.path.name: e.problem.split(":")[0] for e in scan_drop(tmp_path, DROP) if e.problem}
    assert problems == {"c.jsonl": "not_a_regular_file", "d.jsonl": "symlink_outside_inbox"}


def test_drop_folder_symlinked_outside_the_inbox_is_not_read(tmp_path, con):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _jsonl(elsewhere, "a.jsonl", [_line(_row("SECRET-x", 1))])
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / DROP).symlink_to(elsewhere)
    _, quarantine, loaded = _ingest(con, tmp_path / "inbox")
    assert not loaded and [q[2].split(":")[0] for q in quarantine] == ["symlink_outside_inbox"]


def test_file_name_not_utf8_is_shown_backslash_escaped(tmp_path, con):
    folder = tmp_path / "inbox" / DROP
    folder.mkdir(parents=True)
    _bad_file_name(folder)
    _, quarantine, _ = _ingest(con, tmp_path / "inbox")
    (bad,) = [q for q in quarantine if q[2].startswith("bad_file_name")]
    assert bad[0].endswith("caf\\xe9-\\xff.jsonl")


def test_a_file_changed_in_place_is_a_correction_that_may_reuse_its_ids(tmp_path, con):
    folder = tmp_path / "inbox" / DROP
    folder.mkdir(parents=True)
    _jsonl(folder, "a.jsonl", [_line(_row("g1", 1))])
    _ingest(con, tmp_path / "inbox")
    _jsonl(folder, "a.jsonl", [_line(_row("g1", 1)), _line(_row("g2", 2))])
    report, _, loaded = _ingest(con, tmp_path / "inbox")
    assert loaded == {"g1", "g2"} and report.reasons == {}
    assert list(report.retracted.values()) == [1]
    [(rid, by)] = con.execute("SELECT id, superseded_by FROM retracted_records").fetchall()
    assert rid == "g1" and "a.jsonl [" in by  # the new version's key names it
    _check_conservation(con)


# --- Keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_id", ["../escape", "a/b", "/abs/key", "..", ".", "", "a\\b", "x\0y"])
def test_keygen_rejects_key_ids_that_escape_out(tmp_path, capsys, key_id):
    out = tmp_path / "keys"
    assert sign_main(["keygen", "--out", str(out), "--key-id", key_id]) == 1
    assert "--key-id" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.pem"))


def test_keygen_writes_the_private_key_0600_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        assert sign_main(["keygen", "--out", str(tmp_path), "--key-id", "k-2026.a"]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k-2026.a.pem").stat().st_mode) == 0o600


def test_demo_inbox_private_key_is_0600(tmp_path):
    from anchormix.demo.inbox import DEMO_KEY_ID, build_demo_inbox

    keys = tmp_path / "keys"
    keys.mkdir()
    stale = keys / f"{DEMO_KEY_ID}.pem"
    stale.write_bytes(b"old")
    stale.chmod(0o644)
    build_demo_inbox(tmp_path / "inbox", tmp_path / "sources.toml", keys, scale=0.1)
    assert stat.S_IMODE(stale.stat().st_mode) == 0o600 and stale.read_bytes() != b"old"
