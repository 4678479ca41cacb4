"""A throwaway anchormix project for a bench: a registry of a signed archive, a declared generator and a crawl,
and an ``anchormix.toml`` pointing at folders beside it.

The benches that run the pipeline on their own data (``scale.py``, ``detector_e2e.py``) differ only in the
source names, their licenses and extra configuration lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sources:
    """Names of the three bench sources, the archive's signing key id, and each source's SPDX license."""

    archive: str
    generator: str
    crawl: str
    key_id: str
    archive_license: str = "Apache-2.0"
    generator_license: str = "Apache-2.0"
    crawl_license: str = "Apache-2.0"


def write_project(root: Path, sources: Sources, extra_toml: str = ""):
    """Write ``sources.toml`` (the archive's public key registered) and ``anchormix.toml`` under ``root``;
    return ``(settings, the archive's private key)``."""
    from anchormix.config import load_settings
    from anchormix.provenance.manifest import generate_keypair

    private, public = generate_keypair()
    s = sources
    (root / "sources.toml").write_text(
        f'[sources.{s.archive}]\nkind = "licensed_human_archive"\nlicense = "{s.archive_license}"\n'
        f'trust_tier = "high"\npublic_keys = [ {{ key_id = "{s.key_id}", ed25519 = "{public}" }} ]\n\n'
        f'[sources.{s.generator}]\nkind = "generator"\nlicense = "{s.generator_license}"\ntrust_tier = "high"\n\n'
        f'[sources.{s.crawl}]\nkind = "web_crawl"\nlicense = "{s.crawl_license}"\ntrust_tier = "medium"\n')
    (root / "anchormix.toml").write_text(
        '[paths]\ninbox = "inbox"\nstore = "store.duckdb"\npublished = "published"\nregistry = "sources.toml"\n'
        'models = "models"\nbaseline = "baseline"\nruns = "runs"\n' + extra_toml)
    return load_settings(root / "anchormix.toml"), private
