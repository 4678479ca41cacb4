"""The data card's sections a buyer reads before using the data: licenses and how to verify the files."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from anchormix.publish._render import md_table
from anchormix.publish.layout import MANIFEST, SIGNATURE


def license_section(attribution: pd.DataFrame | None, policy: Mapping[str, Any] | None = None) -> list[str]:
    """``## Licenses``: the attribution table (source, license, rights holder, creator, records) and the policy."""
    if attribution is None or not len(attribution):
        return []
    rows = [[r["source"], f"`{r['license']}`", r.get("rights_holder") or "—", r.get("creator") or "—",
             int(r["records"])] for r in attribution.to_dict(orient="records")]
    out = ["## Licenses", "",
           "Each record carries its source's SPDX license expression (`license` in the shards and in "
           f"`{MANIFEST}`). Attribution:", "",
           md_table(rows, ["source", "license", "rights holder", "creator", "records"]), ""]
    allowed = list((policy or {}).get("allowed_licenses") or [])
    denied = list((policy or {}).get("denied_licenses") or [])
    if allowed or denied:
        parts = ([f"allowed: {', '.join(f'`{p}`' for p in allowed)}"] if allowed else []) + (
            [f"denied: {', '.join(f'`{p}`' for p in denied)}"] if denied else [])
        out += ["License policy (gate `gx_licenses`): " + "; ".join(parts) + ".", ""]
    return out


def verification_section(key_id: str | None, public_key_b64: str | None = None) -> list[str]:
    """``## Verifying this generation``: which key signed it, and the command that checks it."""
    out = ["## Verifying this generation", ""]
    if not key_id:
        return out + [f"This generation is **not signed**: `{MANIFEST}` lists every file's sha256, but nothing "
                      "proves who wrote it, so `anchormix verify` does not report it as verified.", ""]
    return out + [
        f"`{MANIFEST}` lists the sha256 of every file of this generation (shards, `croissant.json`, this card, "
        f"plots, probe set); `{SIGNATURE}` holds the ed25519 signature of the manifest by key **`{key_id}`**"
        + (f" (public key `{public_key_b64}`; get it from the publisher, not from this card, to trust it)"
           if public_key_b64 else "") + ". Check every hash and the signature with:",
        "",
        "```bash",
        "anchormix verify <this directory> --public-key <the publisher's public key>",
        "```",
        "",
    ]
