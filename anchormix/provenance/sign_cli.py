"""Sign text records with a source's ed25519 key.

    python -m anchormix.provenance.sign_cli keygen --out DIR --key-id ID
    python -m anchormix.provenance.sign_cli sign --key PEM --key-id ID --source NAME \\
        --creator C --digital-source-type T IN.jsonl OUT.jsonl

``keygen`` writes ``DIR/<ID>.pem`` (private, mode 0600) and prints the
registry snippet holding the public key; ``ID`` must be a plain name that
stays inside ``DIR`` (no path separator, ``..`` or absolute path). ``sign`` adds a ``manifest`` field to
every JSONL record, over the hash of its normalized ``text``; capture time is
the record's ``fetched_at`` when present, else now (UTC).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from anchormix.provenance.manifest import generate_keypair, sign_text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anchormix.provenance.sign_cli", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    keygen = sub.add_parser("keygen", help="make an ed25519 key pair")
    keygen.add_argument("--out", required=True, type=Path)
    keygen.add_argument("--key-id", required=True)
    sign = sub.add_parser("sign", help="add signed manifests to a JSONL file")
    sign.add_argument("--key", required=True, type=Path)
    sign.add_argument("--key-id", required=True)
    sign.add_argument("--source", required=True)
    sign.add_argument("--creator", required=True)
    sign.add_argument("--digital-source-type", required=True)
    sign.add_argument("input", type=Path)
    sign.add_argument("output", type=Path)
    return parser


def check_key_id(key_id: str) -> None:
    """Raise ValueError unless ``key_id`` names a file directly inside ``--out``.

    The key id becomes the file name ``<key_id>.pem``: a separator, ``..`` or an
    absolute path would write the private key somewhere else.
    """
    bad = ("/", "\\", "\0") + ((os.sep, os.altsep) if os.altsep else (os.sep,))
    if key_id in ("", ".", "..") or any(c in key_id for c in bad) or os.path.isabs(key_id):
        raise ValueError(f"--key-id {key_id!r} must be a plain name (no path separator, '..' or absolute path): "
                         "it names the key file <key-id>.pem inside --out")


def write_private_key(path: Path, private_pem: bytes, *, replace: bool = False) -> None:
    """Write a private key readable by its owner only (mode 0600, whatever the umask).

    Without ``replace`` an existing file is an error, never overwritten.
    """
    if replace:
        path.unlink(missing_ok=True)  # a new file, so an old one's wider mode cannot carry over
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(private_pem)


def keygen(out: Path, key_id: str) -> str:
    """Write ``out/<key_id>.pem`` (mode 0600) and return the registry snippet for its public key."""
    check_key_id(key_id)
    private_pem, public_b64 = generate_keypair()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{key_id}.pem"
    if path.exists() or path.is_symlink():
        raise FileExistsError(f"{path} exists; refusing to overwrite a private key")
    write_private_key(path, private_pem)
    return f'public_keys = [ {{ key_id = "{key_id}", ed25519 = "{public_b64}" }} ]'


def sign_file(args: argparse.Namespace) -> int:
    """Sign every record of ``args.input`` into ``args.output``; return the count."""
    private_pem = args.key.read_bytes()
    now = datetime.now(timezone.utc).isoformat()
    n = 0
    tmp = args.output.with_name(args.output.name + ".tmp")
    try:
        with open(args.input, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as dst:
            for lineno, line in enumerate(src, 1):
                if not line.strip():
                    continue
                record = json.loads(line)
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    raise ValueError(f"{args.input}:{lineno}: record has no string 'text'")
                record["manifest"] = sign_text(
                    record["text"], source=args.source, creator=args.creator,
                    capture_time=record.get("fetched_at") or now, digital_source_type=args.digital_source_type,
                    private_key=private_pem, key_id=args.key_id)
                dst.write(json.dumps(record, ensure_ascii=False) + "\n")
                n += 1
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a half-signed file behind
        raise
    tmp.replace(args.output)
    return n


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "keygen":
            snippet = keygen(args.out, args.key_id)
            print(f"# private key written to {args.out / (args.key_id + '.pem')}; add to the source's registry entry:")
            print(snippet)
        else:
            n = sign_file(args)
            print(f"signed {n} record(s) -> {args.output}")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
