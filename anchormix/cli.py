"""The ``anchormix`` command: demo data, lineage, signing and summaries.

Dagster runs are started with ``make demo`` / ``make ui`` (see the README); this
command works on the store and files directly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _settings():
    from anchormix.config import load_settings

    return load_settings()


def cmd_demo_inbox(args) -> int:
    from anchormix.demo.inbox import build_demo_inbox

    s = _settings()
    built = build_demo_inbox(s.paths.inbox, s.paths.registry, s.paths.models.parent / "keys",
                             max_text_bytes=s.ingest.max_text_bytes)
    print(f"demo inbox: {built.inbox} drops {', '.join(built.drops)}")
    for name, n in built.counts.items():
        print(f"  {name}: {n}")
    return 0


def cmd_explain(args) -> int:
    from anchormix.lineage import explain
    from anchormix.store import connect_store

    with connect_store(_settings().paths.store, read_only=True) as con:
        result = explain(args.record_id, con)
    print(result.summary())
    return 0 if result.raw or result.quarantine else 1


def cmd_summary(args) -> int:
    from anchormix.report import drop_summary, format_summary
    from anchormix.store import connect_store

    with connect_store(_settings().paths.store, read_only=True) as con:
        drops = [args.drop] if args.drop else [r[0] for r in con.execute(
            "SELECT DISTINCT drop FROM candidates ORDER BY drop").fetchall()]
        for drop in drops:
            summary = drop_summary(con, drop)
            print(json.dumps(summary, indent=2, default=str) if args.json else format_summary(summary))
    return 0


def cmd_files(args) -> int:
    from anchormix.store import connect_store

    with connect_store(_settings().paths.store, read_only=True) as con:
        rows = con.execute(
            "SELECT path, n_rows, n_loaded, n_quarantined, coalesce(n_retracted, 0), superseded_by FROM ingested_files "
            "WHERE drop = ? ORDER BY path", [args.drop]).fetchall()
    for path, seen, loaded, bad, retracted, by in rows:
        state = f"retracted {retracted}, superseded by {by}" if by else "live"
        print(f"{path}: rows {seen} = loaded {loaded} + quarantined {bad}; {state}")
    return 0 if rows else 1


def cmd_retract(args) -> int:
    from anchormix.stages.ingest import display_path
    from anchormix.stages.retract import live_versions, retract_file
    from anchormix.store import connect_store, init_schema

    settings = _settings()
    display = display_path(Path(args.file).resolve()) if Path(args.file).exists() else args.file
    with connect_store(settings.paths.store) as con:
        init_schema(con)
        versions = live_versions(con, args.drop, display)
        if not versions:
            print(f"no live version of {display} in drop {args.drop} (see `anchormix files {args.drop}`)",
                  file=sys.stderr)
            return 1
        n = sum(len(retract_file(con, args.drop, key, display, None, f"retracted by hand: {args.reason}"))
                for key in versions)
    print(f"retracted {n} records of {display}; published generations are unchanged. Re-run the drop "
          f"(`make run DROP={args.drop}`) to build a candidate without them.")
    return 0


def cmd_resign_minhash(args) -> int:
    from anchormix.dedup.near import accepted_history, resign_history
    from anchormix.store import connect_store, init_schema

    settings = _settings()
    with connect_store(settings.paths.store) as con:
        init_schema(con)
        n = resign_history(con, accepted_history(con), settings.dedup)
    print(f"re-signed {n} accepted records with num_perm={settings.dedup.num_perm}, "
          f"shingle_size={settings.dedup.shingle_size}; later drops compare against these signatures")
    return 0


def cmd_relicense(args) -> int:
    """Correct the license kept for a source's records; a registry edit never does (it only licenses new ones)."""
    from anchormix.licenses import normalize_license
    from anchormix.provenance.licenses_kept import relicense
    from anchormix.store import connect_store, init_schema

    try:
        license = normalize_license(args.license)
    except ValueError as exc:
        print(f"--license: {exc}", file=sys.stderr)
        return 2
    with connect_store(_settings().paths.store) as con:
        init_schema(con)
        before = relicense(con, args.source, license, args.drops, args.reason)
    n = sum(before.values())
    if not n:
        print(f"no records of source {args.source}" + (f" in drops {', '.join(args.drops)}" if args.drops else ""),
              file=sys.stderr)
        return 1
    was = ", ".join(f"{lic}: {k}" for lic, k in sorted(before.items()))
    print(f"relicensed {n} records of {args.source} to {license} (were {was}); published generations keep the "
          "license they were published with, the next candidate carries the new one")
    return 0


def cmd_verify(args) -> int:
    """Exit 0 only when every file hash and the signature check out with the publisher's public key."""
    from anchormix.publish.layout import parse_generation_dir
    from anchormix.publish.verify import generation_dir, verify_generation

    settings = _settings()
    path = generation_dir(args.generation, settings.paths.published)
    key = args.public_key or settings.publish.verify_key()
    if key and Path(key).is_file():  # a file holding the base64 key or a PEM public key
        key = Path(key).read_text(encoding="utf-8").strip()
    # The number asked for: a genuinely signed generation copied under another number is a replay.
    expected = args.expect_generation or parse_generation_dir(Path(path).name)
    report = verify_generation(path, key, expected_generation=expected)
    print(report.summary())
    return 0 if report.ok else 1


def cmd_value(args) -> int:
    """Which human sources the latest candidate of a drop needs: each one's loss when left out."""
    from anchormix.stages.mix import latest_candidate
    from anchormix.store import connect_store
    from anchormix.value import value_frame, value_lines

    with connect_store(_settings().paths.store, read_only=True) as con:
        newest = con.execute("SELECT drop FROM candidates ORDER BY created_at DESC LIMIT 1").fetchone()
        drop = args.drop or (newest[0] if newest else None)
        candidate = latest_candidate(con, drop) if drop else None
    if candidate is None:
        print(f"no candidate mix for {drop or 'any drop'}: run the nightly job (`make run DROP=...`) first",
              file=sys.stderr)
        return 1
    value = candidate["report"].get("value")
    if value is None:
        print(f"candidate {candidate['fingerprint']} was built before value reports: rebuild mix_candidate",
              file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(value, indent=2, default=str))
        return 0
    print(f"drop {drop}, candidate {candidate['fingerprint']}: {value.get('n', 0)} records, "
          f"{value.get('human', 0)} human")
    print("\n".join(value_lines(value, top=len(value.get("sources", [])) or 1)))
    frame = value_frame(value)
    if len(frame):
        print()
        print(frame.to_string(index=False))
    return 0


def cmd_sign(args) -> int:
    from anchormix.provenance.sign_cli import main as sign_main

    return sign_main(args.rest)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``anchormix`` console script."""
    parser = argparse.ArgumentParser(prog="anchormix", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo-inbox", help="build the demo inbox and source registry from real text").set_defaults(
        func=cmd_demo_inbox)
    p = sub.add_parser("explain", help="trace a record from raw file and line to its class and publications")
    p.add_argument("record_id")
    p.set_defaults(func=cmd_explain)
    p = sub.add_parser("summary", help="terminal states, shares, gates and publication per drop")
    p.add_argument("drop", nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("files", help="every file version of a drop: rows seen, loaded, quarantined, retracted")
    p.add_argument("drop")
    p.set_defaults(func=cmd_files)
    p = sub.add_parser("retract", help="retract the records of one ingested file (the file may stay in the inbox)")
    p.add_argument("drop")
    p.add_argument("file", help="the file's path as ingested (see `anchormix files DROP`)")
    p.add_argument("--reason", default="no reason given")
    p.set_defaults(func=cmd_retract)
    sub.add_parser("resign-minhash", help="re-sign accepted history after changing [dedup] num_perm or "
                   "shingle_size").set_defaults(func=cmd_resign_minhash)
    p = sub.add_parser("relicense", help="correct the license kept for a source's records (a registry edit only "
                       "licenses records labelled after it)")
    p.add_argument("source")
    p.add_argument("--license", required=True, help="an SPDX license expression, or LicenseRef-<name>")
    p.add_argument("--drops", nargs="+", metavar="DROP", help="only these drops' records (default: every drop)")
    p.add_argument("--reason", default="", help="kept with the rows, e.g. where the correct terms come from")
    p.set_defaults(func=cmd_relicense)
    p = sub.add_parser("verify", help="check a published generation's file hashes and ed25519 signature")
    p.add_argument("generation", nargs="?", default="latest",
                   help="gen-N, N, a generation directory, or latest (default)")
    p.add_argument("--public-key", help="the publisher's ed25519 public key: base64, or a file holding it or a PEM "
                   "public key (default: [publish] public_key, else the public half of [publish] signing_key)")
    p.add_argument("--expect-generation", type=int, metavar="N", help="the generation number the manifest must "
                   "carry (default: N of a gen-N directory; other directory names: not compared, the VERIFIED line "
                   "says which generation it is)")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("value", help="the value of each human source in a drop's candidate mix: its loss of "
                       "Vendi, effective rank and tail coverage when left out, against random removal")
    p.add_argument("drop", nargs="?", help="YYYY-MM-DD (default: the newest candidate's drop)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_value)
    p = sub.add_parser("sign", help="sign records / make keys (see `anchormix sign -- --help`)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_sign)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
