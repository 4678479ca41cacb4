"""Shared fixtures: real human text from stdlib docstrings, machine text, keys, a registry.

Human samples are never written by hand here (text written in this project is
machine-generated): they are the standard library's own docstrings. Text made
by the Markov chain below is machine text and is only ever labelled synthetic.
"""

from __future__ import annotations

import importlib
import inspect
import random
from collections import defaultdict

import pytest

from anchormix.provenance.manifest import generate_keypair
from anchormix.provenance.registry import Registry

_STDLIB_MODULES = (
    "argparse", "asyncio", "base64", "bisect", "calendar", "codecs", "collections", "configparser",
    "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "email.message",
    "enum", "fractions", "ftplib", "functools", "gettext", "glob", "gzip", "heapq", "hmac",
    "http.client", "http.cookiejar", "imaplib", "inspect", "io", "ipaddress", "json", "logging",
    "mailbox", "nntplib", "optparse", "os", "pathlib", "pickle", "pprint", "queue", "random", "re",
    "shutil", "smtplib", "socket", "statistics", "string", "subprocess", "tarfile", "tempfile",
    "textwrap", "threading", "tkinter", "typing", "unittest", "urllib.parse", "urllib.request",
    "uuid", "wave", "xml.dom.minidom", "zipfile",
)


def harvest_stdlib_docstrings(min_words: int = 40, limit: int = 400) -> list[str]:
    """Real human-written docstrings from the standard library (deduplicated, deterministic order)."""
    seen, docs = set(), []
    for name in _STDLIB_MODULES:
        try:
            module = importlib.import_module(name)
        except Exception:
            continue
        objects = [module] + [getattr(module, attr, None) for attr in sorted(vars(module))
                              if not attr.startswith("_")]
        for obj in objects:
            try:
                doc = inspect.getdoc(obj)
            except Exception:
                continue
            if not doc or doc in seen or len(doc.split()) < min_words:
                continue
            if getattr(obj, "__module__", name) not in (None, name) and obj is not module:
                continue  # re-exported objects would repeat another module's text
            seen.add(doc)
            docs.append(doc)
            if len(docs) >= limit:
                return docs
    return docs


def markov_text(corpus: list[str], n_docs: int, seed: int = 0, words: tuple[int, int] = (60, 160)) -> list[str]:
    """Machine text: an order-1 word Markov chain over ``corpus`` (label it synthetic, always)."""
    chain: dict[str, list[str]] = defaultdict(list)
    for doc in corpus:
        tokens = doc.split()
        for a, b in zip(tokens, tokens[1:]):
            chain[a].append(b)
    rng = random.Random(seed)
    starts = sorted(chain)
    out = []
    for _ in range(n_docs):
        word, tokens = rng.choice(starts), []
        for _ in range(rng.randint(*words)):
            tokens.append(word)
            word = rng.choice(chain[word]) if chain.get(word) else rng.choice(starts)
        out.append(" ".join(tokens))
    return out


@pytest.fixture(scope="session")
def human_docs() -> list[str]:
    docs = harvest_stdlib_docstrings()
    if len(docs) < 120:
        pytest.skip(f"only {len(docs)} stdlib docstrings of 40+ words found; need 120")
    return docs


@pytest.fixture(scope="session")
def machine_docs(human_docs) -> list[str]:
    return markov_text(human_docs, 150, seed=3)


@pytest.fixture(scope="session")
def keys() -> dict[str, tuple[bytes, str]]:
    """Two key pairs: one registered for the archive, one for another source."""
    return {"archive": generate_keypair(), "other": generate_keypair()}


@pytest.fixture(scope="session")
def registry(keys) -> Registry:
    return Registry.model_validate({"sources": {
        "archive": {"kind": "licensed_human_archive", "license": "PSF-2.0", "trust_tier": "high",
                    "public_keys": [{"key_id": "archive-1", "ed25519": keys["archive"][1]}]},
        "other": {"kind": "licensed_human_archive", "license": "CC-BY-4.0", "trust_tier": "medium",
                  "public_keys": [{"key_id": "other-1", "ed25519": keys["other"][1]}]},
        "crawl": {"kind": "web_crawl", "license": "LicenseRef-mixed-crawl", "trust_tier": "medium"},
        "gen": {"kind": "generator", "license": "Apache-2.0", "trust_tier": "high"},
    }})


def make_cert_chain() -> dict[str, bytes]:
    """A test CA and an ES256 signing certificate it issued, with the extensions C2PA requires.

    C2PA rejects self-signed signers; the signer needs digitalSignature key usage,
    an allowed extended key usage (emailProtection here), and key identifiers.
    """
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "anchormix tests")])

    def usage(**on):
        flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                     encipher_only=False, decipher_only=False)
        return x509.KeyUsage(**{**flags, **on})

    ca_key = ec.generate_private_key(ec.SECP256R1())
    root = (x509.CertificateBuilder().subject_name(name("anchormix test root")).issuer_name(name("anchormix test root"))
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = (x509.CertificateBuilder().subject_name(name("anchormix test signer")).issuer_name(root.subject)
              .public_key(signer_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(usage(digital_signature=True), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return {
        "root_pem": root.public_bytes(pem),
        "chain_pem": signer.public_bytes(pem) + root.public_bytes(pem),
        "key_pem": signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    }


@pytest.fixture(scope="session")
def cert_chain() -> dict[str, bytes]:
    return make_cert_chain()


@pytest.fixture(scope="session")
def foreign_cert_chain() -> dict[str, bytes]:
    """A second, unrelated CA: signers of ``cert_chain`` do not chain to it."""
    return make_cert_chain()


@pytest.fixture(scope="session")
def sign_png(cert_chain):
    """``sign_png(term) -> bytes``: a fresh PNG with a C2PA manifest declaring ``term``, signed by ``cert_chain``."""
    c2pa = pytest.importorskip("c2pa")
    image = pytest.importorskip("PIL.Image")
    import io

    from anchormix.provenance.sourcetypes import IPTC_BASE

    def sign(term: str) -> bytes:
        buf = io.BytesIO()
        image.new("RGB", (24, 16), (30, 120, 200)).save(buf, "PNG")
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, cert_chain["chain_pem"],
                                                           cert_chain["key_pem"], None))
        manifest = {
            "claim_generator_info": [{"name": "anchormix-tests", "version": "0"}],
            "title": "test.png", "format": "image/png",
            "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created", "digitalSourceType": IPTC_BASE + term}]}}],
        }
        out = io.BytesIO()
        with c2pa.Builder(manifest) as builder:
            builder.sign(signer, "image/png", io.BytesIO(buf.getvalue()), out)
        return out.getvalue()

    return sign
