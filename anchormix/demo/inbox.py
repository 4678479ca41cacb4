"""Build the demo inbox: dated drops shaped like a web scrape, from real text.

Night 1 holds signed standard-library docstrings, package docstrings under each
package's license, declared output of the project's Markov generator, an
undeclared web-crawl mixture for the detector, duplicates, a tampered signed
record, a file of malformed rows, and a WARC crawl of a documentation mirror
whose pages hold real docstrings inside generated navigation, header, sidebar
and footer boilerplate (so that main-text extraction matters). Night 2 is a
flood of a 5th recursive generation of the generator: the collapse scenario
the gates exist for.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from anchormix.demo.docstrings import Docstring, harvest_package, harvest_stdlib
from anchormix.demo.markov import MarkovModel, recursive_generations

# (distribution, import name): packages that anchormix itself installs, so they
# are present wherever the demo runs.
DEMO_PACKAGES = [
    ("pandas", "pandas"), ("pyarrow", "pyarrow"), ("jinja2", "jinja2"),
    ("click", "click"), ("requests", "requests"), ("numpy", "numpy"),
]
GENERATOR_SOURCE = "markov-generator"
STDLIB_SOURCE = "python-stdlib"
CRAWL_SOURCE = "web-crawl"
WARC_SOURCE = "docsmirror"  # a WARC file's source is its file name up to the first "-" or "."
DEMO_KEY_ID = "python-stdlib-demo"
# The demo publisher's key, which signs each generation's manifest ([publish] signing_key in anchormix.toml).
PUBLISHER_KEY_ID = "anchormix-demo-publisher"


@dataclass
class DemoInbox:
    """What :func:`build_demo_inbox` wrote."""

    inbox: Path
    registry: Path
    drops: list[str]
    files: list[Path]
    counts: dict[str, int]


def _source_name(distribution: str) -> str:
    return f"pypi-{distribution.lower()}"


def _record(rid: str, text: str, source: str, fetched: datetime, url: str, **extra) -> dict:
    row = {"id": rid, "url": url, "fetched_at": fetched.isoformat(), "text": text, "source": source}
    row.update(extra)
    return row


def _write_jsonl(path: Path, rows: list[dict], gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    if gz:
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return path


def _write_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _write_csv(path: Path, rows: list[dict]) -> Path:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["id", "url", "fetched_at", "text", "source"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row[c] for c in columns})
    return path


def _registry_toml(packages: dict[str, str], public_key_b64: str) -> str:
    lines = [
        "# Source registry for the demo inbox, written by `anchormix demo-inbox`.",
        "",
        f'[sources.{STDLIB_SOURCE}]',
        'kind = "licensed_human_archive"',
        'license = "PSF-2.0"',
        'trust_tier = "high"',
        'description = "Docstrings of the Python standard library, signed by the archive"',
        'rights_holder = "Python Software Foundation"',
        'creator = "CPython contributors"',
        f'public_keys = [ {{ key_id = "{DEMO_KEY_ID}", ed25519 = "{public_key_b64}" }} ]',
        "",
        f"[sources.{GENERATOR_SOURCE}]",
        'kind = "generator"',
        'license = "Apache-2.0"',
        'trust_tier = "high"',
        'description = "anchormix word-level Markov generator (declared synthetic output)"',
        "",
        f"[sources.{CRAWL_SOURCE}]",
        'kind = "web_crawl"',
        # Terms of an undeclared crawl are not one SPDX license: a LicenseRef names them.
        'license = "LicenseRef-anchormix-demo-mixed-crawl"',
        'trust_tier = "medium"',
        'description = "Undeclared crawl: human docstrings mixed with unlabelled generator output"',
        "",
        f"[sources.{WARC_SOURCE}]",
        'kind = "web_crawl"',
        'license = "PSF-2.0"',
        'trust_tier = "medium"',
        'description = "WARC crawl of a documentation mirror: docstring pages in generated site boilerplate"',
        'rights_holder = "Python Software Foundation"',
    ]
    for dist, license in sorted(packages.items()):
        lines += [
            "",
            f"[sources.{_source_name(dist)}]",
            'kind = "licensed_human_archive"',
            f"license = {json.dumps(license)}",
            'trust_tier = "medium"',
            f'description = "Docstrings of the {dist} package"',
            f"creator = {json.dumps(f'{dist} contributors')}",
        ]
    return "\n".join(lines) + "\n"


# --- WARC ------------------------------------------------------------------------------------------

_NAV = ("Home", "Library", "Tutorials", "Downloads", "Community", "Search")


def web_page(title: str, text: str, related: list[str], site: str = "Docs mirror") -> str:
    """An HTML page whose main content is ``text`` (paragraphs split on blank lines), inside generated
    site boilerplate: header with navigation and search, cookie banner, sidebar of ``related`` links, footer."""
    paragraphs = "".join(f"<p>{html.escape(p)}</p>\n" for p in text.split("\n\n") if p.strip())
    nav = "".join(f'<li><a href="/{n.lower()}/">{n}</a></li>' for n in _NAV)
    side = "".join(f'<li><a href="/library/{html.escape(r)}.html">{html.escape(r)}</a></li>' for r in related)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} | {site}'
            f'</title>\n<link rel="stylesheet" href="/static/site.css"><script src="/static/analytics.js"></script>'
            f'</head>\n<body><header class="site-header"><div class="logo">{site}</div>\n<nav class="menu"><ul>{nav}'
            f'</ul></nav><form class="search" action="/search"><input type="text" name="q" placeholder="Search the '
            f'docs"></form></header>\n<div class="cookie-banner">This site uses cookies to remember your preferences. '
            f'<button>Accept all</button> <a href="/cookies">Manage settings</a></div>\n<div class="container">'
            f'<aside class="sidebar"><h3>Related pages</h3><ul>{side}</ul></aside>\n<main><article><h1>'
            f'{html.escape(title)}</h1>\n{paragraphs}</article></main></div>\n<footer class="site-footer"><p>Mirror '
            f'of the documentation, updated nightly.</p><ul><li><a href="/privacy">Privacy policy</a></li><li><a '
            f'href="/terms">Terms of use</a></li><li><a href="/contact">Contact us</a></li></ul></footer>\n'
            f'</body></html>\n')


def http_response(body: bytes, content_type: str = "text/html; charset=utf-8", status: str = "200 OK",
                  headers: dict[str, str] | None = None) -> bytes:
    """The bytes of an HTTP/1.1 response as a WARC ``response`` record stores them."""
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def warc_record(kind: str, uri: str | None, date: datetime | str, block: bytes, record_id: str | None = None,
                content_type: str | None = None) -> bytes:
    """One WARC/1.1 record, written by fastwarc (with block and payload digests).

    ``kind`` is the WARC-Type; ``response`` and ``request`` blocks are HTTP messages. The record id is a
    UUID derived from ``record_id`` (default: kind, uri and date), so a rebuilt file is byte-identical.
    """
    from fastwarc.warc import WarcRecord, WarcRecordType

    stamp = date if isinstance(date, str) else date.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    urn = uuid.uuid5(uuid.NAMESPACE_URL, record_id or f"{kind} {uri} {stamp}")
    record = WarcRecord()
    record.init_headers(record_type=getattr(WarcRecordType, kind), record_urn=f"uuid:{urn}".encode())
    record.headers["WARC-Date"] = stamp
    if uri is not None:
        record.headers["WARC-Target-URI"] = uri
    record.set_bytes_content(block)
    if kind in ("response", "request"):
        record.is_http = True
        if kind == "request":
            record.headers["Content-Type"] = "application/http; msgtype=request"
    elif content_type:
        record.headers["Content-Type"] = content_type
    out = io.BytesIO()
    record.write(out, checksum_data=True)
    return out.getvalue()


def write_warc(path: Path, records: list[bytes], gz: bool = False) -> Path:
    """Write WARC records to ``path``; with ``gz`` each record is its own gzip member, as the WARC spec asks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        for record in records:
            handle.write(gzip.compress(record, mtime=0) if gz else record)
    return path


def _docs_mirror_warc(path: Path, docs: list[Docstring], others: list[Docstring], fetched: datetime) -> Path:
    """A crawl of a documentation mirror: warcinfo, then a request and an HTML response per docstring page."""
    rng = random.Random(len(docs))
    info = (f"software: anchormix demo\r\nformat: WARC File Format 1.1\r\nhostname: docs.example.org\r\n"
            f"description: pages of a documentation mirror, {len(docs)} docstrings\r\n").encode()
    records = [warc_record("warcinfo", None, fetched, info, record_id=f"warcinfo {path.name}",
                           content_type="application/warc-fields")]
    names = [d.qualname for d in others] or [d.qualname for d in docs]
    for i, doc in enumerate(docs):
        url = f"https://docs.example.org/library/{doc.qualname}.html"
        when = fetched + timedelta(seconds=7 * i)
        request = (f"GET /library/{doc.qualname}.html HTTP/1.1\r\nHost: docs.example.org\r\n"
                   f"User-Agent: anchormix-demo\r\n\r\n").encode()
        page = web_page(doc.qualname, doc.text, rng.sample(names, min(8, len(names))))
        records.append(warc_record("request", url, when, request))
        records.append(warc_record("response", url, when, http_response(page.encode("utf-8"))))
    return write_warc(path, records, gz=True)


def _malformed_rows(good: list[dict], max_text_bytes: int) -> bytes:
    """Defects made by damaging real rows; one line per quarantine reason."""
    base = good[0]
    lines = [
        json.dumps(good[1]).encode(),  # a good row in a bad file still loads
        json.dumps(base)[:-7].encode(),  # truncated JSON
        json.dumps({k: v for k, v in good[2].items() if k != "text"}).encode(),  # missing field
        json.dumps({**good[3], "fetched_at": 20260101}).encode(),  # wrong type
        json.dumps({**good[4], "fetched_at": "last tuesday"}).encode(),  # bad timestamp
        json.dumps(good[5]).encode().replace(b'"text": "', b'"text": "\xff\xfe', 1),  # invalid UTF-8
        json.dumps({**good[6], "id": good[6]["id"] + "-big",
                    "text": (good[6]["text"] + " ") * (max_text_bytes // max(1, len(good[6]["text"])) + 2)}).encode(),
        json.dumps(good[7]).encode(),  # same id as a row of another file: duplicate id
        b"[1, 2, 3]",  # not an object
    ]
    return b"\n".join(lines) + b"\n"


def ensure_publisher_key(keys_dir: Path) -> Path:
    """The demo publisher's private key, ``keys_dir/anchormix-demo-publisher.pem``, made once (mode 0600).

    Made on the machine at demo setup, never committed; kept when present, since
    a new key would stop earlier generations from verifying against the configured one.
    """
    from anchormix.publish.signing import ensure_key

    path = Path(keys_dir) / f"{PUBLISHER_KEY_ID}.pem"
    ensure_key(path)
    return path


def build_demo_inbox(inbox: Path, registry_path: Path, keys_dir: Path, nights: list[date] | None = None,
                     seed: int = 7, max_text_bytes: int = 200_000, scale: float = 1.0) -> DemoInbox:
    """Write the demo drops into ``inbox``, the matching source registry, and the demo keys into ``keys_dir``.

    The archive's signing key is made anew each time; the publisher's
    (:func:`ensure_publisher_key`) only when it is missing.

    ``scale`` shrinks or grows every group of records (tests use about 0.5).
    Returns the drop names (``YYYY-MM-DD``), the files written and per-kind counts.
    """

    def n(count: int) -> int:
        return max(1, int(round(count * scale)))

    from anchormix.provenance.manifest import generate_keypair, sign_text
    from anchormix.provenance.sign_cli import write_private_key

    rng = random.Random(seed)
    if nights is None:
        today = datetime.now(timezone.utc).date()
        nights = [today - timedelta(days=2), today - timedelta(days=1)]
    drops = [n.isoformat() for n in nights]
    stdlib = harvest_stdlib()
    rng.shuffle(stdlib)
    packages: dict[str, list[Docstring]] = {}
    for dist, module in DEMO_PACKAGES:
        docs = harvest_package(dist, module)
        rng.shuffle(docs)
        if docs:
            packages[dist] = docs[:n(60)]
    if len(stdlib) < 600:
        raise RuntimeError(f"only {len(stdlib)} standard-library docstrings found; the demo needs 600")

    keys_dir.mkdir(parents=True, exist_ok=True)
    private_pem, public_b64 = generate_keypair()
    write_private_key(keys_dir / f"{DEMO_KEY_ID}.pem", private_pem, replace=True)
    ensure_publisher_key(keys_dir)
    registry_path.parent.mkdir(parents=True, exist_ok=True)
    registry_path.write_text(_registry_toml({d: docs[0].license for d, docs in packages.items()}, public_b64))

    night1 = datetime.combine(nights[0], datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=1)
    signed_docs, crawl_human, held_back = stdlib[:n(360)], stdlib[n(360):n(440)], stdlib[n(440):n(440) + 160]
    files: list[Path] = []
    counts: dict[str, int] = {}

    signed = []
    for i, doc in enumerate(signed_docs):
        manifest = sign_text(doc.text, source=STDLIB_SOURCE, creator="CPython contributors",
                             capture_time=night1.isoformat(), digital_source_type="digitalCapture",
                             private_key=private_pem, key_id=DEMO_KEY_ID)
        signed.append(_record(f"stdlib-{i:05d}", doc.text, STDLIB_SOURCE, night1,
                              f"https://docs.python.org/3/library/{doc.qualname}", manifest=manifest,
                              metadata={"qualname": doc.qualname, "license": doc.license}))
    # Tampered after signing: the text no longer matches the signed hash.
    for row in signed[-4:]:
        row["text"] = row["text"].replace(" the ", " a ", 1) if " the " in row["text"] else row["text"] + "."
    files.append(_write_jsonl(inbox / drops[0] / "stdlib-signed.jsonl", signed))
    counts["stdlib_signed"] = len(signed)
    counts["tampered"] = 4

    pkg_rows = []
    for dist, docs in packages.items():
        for j, doc in enumerate(docs[:n(45)]):
            pkg_rows.append(_record(f"{_source_name(dist)}-{j:04d}", doc.text, _source_name(dist), night1,
                                    f"https://pypi.org/project/{dist}/#{doc.qualname}",
                                    metadata={"qualname": doc.qualname, "license": doc.license}))
    files.append(_write_parquet(inbox / drops[0] / "packages.parquet", pkg_rows))
    counts["package_docstrings"] = len(pkg_rows)

    human_texts = [d.text for d in stdlib[:600]] + [d.text for docs in packages.values() for d in docs]
    model = MarkovModel.train(human_texts, order=2)
    n_declared, n_undeclared = n(200), n(60)
    gen1 = model.generate(n_declared + n_undeclared, seed=seed)
    declared = [_record(f"gen1-{i:05d}", t, GENERATOR_SOURCE, night1, f"generator://markov/gen1/{i}",
                        metadata={"generation": 1}) for i, t in enumerate(gen1[:n_declared])]
    files.append(_write_jsonl(inbox / drops[0] / "generator-gen1.jsonl.gz", declared, gz=True))
    counts["synthetic_declared"] = len(declared)

    crawl = [_record(f"crawl-h-{i:04d}", d.text, CRAWL_SOURCE, night1, f"https://example.org/crawl/h{i}")
             for i, d in enumerate(crawl_human)]
    crawl += [_record(f"crawl-s-{i:04d}", t, CRAWL_SOURCE, night1, f"https://example.org/crawl/s{i}")
              for i, t in enumerate(gen1[n_declared:])]
    # Exact and near copies of signed records, re-crawled under new ids.
    for i, row in enumerate(signed[:10]):
        crawl.append(_record(f"crawl-dup-{i:02d}", row["text"], CRAWL_SOURCE, night1, f"https://mirror.example.org/{i}"))
    for i, row in enumerate(signed[10:20]):
        words = row["text"].split()
        near = " ".join(words[:-1]) if len(words) > 40 else row["text"] + " " + words[0]
        crawl.append(_record(f"crawl-near-{i:02d}", near, CRAWL_SOURCE, night1, f"https://mirror.example.org/n{i}"))
    rng.shuffle(crawl)
    files.append(_write_csv(inbox / drops[0] / "webcrawl.csv", crawl))
    counts["web_crawl"] = len(crawl)

    bad_source = [_record(f"bad-{i}", d.text, CRAWL_SOURCE, night1, f"https://example.org/bad/{i}")
                  for i, d in enumerate(held_back[:8])]
    bad_source[7]["id"] = signed[0]["id"]
    bad_path = inbox / drops[0] / "webcrawl-malformed.jsonl"  # sorts after stdlib-signed: its duplicate id loses
    bad_path.write_bytes(_malformed_rows(bad_source, max_text_bytes))
    files.append(bad_path)
    counts["malformed_lines"] = 9

    # A WARC crawl of a documentation mirror: held-back docstrings no other file of the drop holds.
    start = 8 + n(60)
    mirrored = held_back[start:start + n(24)]
    if mirrored:
        warc = _docs_mirror_warc(inbox / drops[0] / f"{WARC_SOURCE}-{drops[0]}.warc.gz", mirrored,
                                 held_back[:start], night1)
        files.append(warc)
        counts["warc_pages"] = len(mirrored)

    if len(drops) > 1:
        night2 = night1 + timedelta(days=1)
        generations = recursive_generations(human_texts, generations=5, per_generation=n(400), seed=seed)
        flood = [_record(f"gen5-{i:05d}", t, GENERATOR_SOURCE, night2, f"generator://markov/gen5/{i}",
                         metadata={"generation": 5}) for i, t in enumerate(generations[-1])]
        files.append(_write_jsonl(inbox / drops[1] / "generator-gen5.jsonl", flood))
        fresh = [_record(f"stdlib-n2-{i:05d}", d.text, STDLIB_SOURCE, night2,
                         f"https://docs.python.org/3/library/{d.qualname}") for i, d in enumerate(held_back[8:8 + n(60)])]
        files.append(_write_jsonl(inbox / drops[1] / "stdlib-unsigned.jsonl", fresh))
        counts["night2_generator_gen5"] = len(flood)
        counts["night2_stdlib_unsigned"] = len(fresh)
    return DemoInbox(inbox, registry_path, drops, files, counts)
