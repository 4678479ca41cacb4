"""Run a bench with the fast embedder in MiniLM's place, without touching the pipeline's code.

``use_fast_embedder(path)`` routes ``anchormix.embed``'s ``model_id``,
``load_model`` and ``encode`` (and every module that imported them by name)
through ``anchormix.fast_embed.FastEmbedder``, so ``embed_texts``, its cache
(under the fast model id), the detector and the diversity stage all see the fast
vectors; ``bench/_corpus.embed`` encodes with it too, uncached. The collapse
demo's settings get the artifact's semantic tau, as a configured pipeline would.
For benches only: the integration into ``EmbeddingSettings`` is the real switch.
"""

from __future__ import annotations

import sys

from anchormix.fast_embed import FastEmbedder


def use_fast_embedder(path) -> FastEmbedder:
    import anchormix.embed as emb
    import anchormix.runner  # noqa: F401 - import the stages now, so their bindings are patched below
    from anchormix.demo import collapse

    fast = FastEmbedder.load(path)

    def model_id(settings=None):
        return fast.model_id

    def load_model(settings=None):
        return fast

    def encode(model, texts, settings=None):
        return fast.encode(list(texts))

    patched = {"model_id": model_id, "load_model": load_model, "encode": encode}
    originals = {name: getattr(emb, name) for name in patched}
    for module in list(sys.modules.values()):
        for name, original in originals.items():
            if getattr(module, name, None) is original:
                setattr(module, name, patched[name])

    corpus = sys.modules.get("_corpus")
    if corpus is not None:
        corpus.embed = lambda texts, name: fast.encode(list(texts))

    original_settings = collapse.collapse_settings

    def replaced(obj, **changes):
        if hasattr(obj, "model_copy"):  # pydantic settings
            return obj.model_copy(update=changes)
        import dataclasses

        return dataclasses.replace(obj, **changes)

    def collapse_settings(root, mode):
        settings = original_settings(root, mode)
        return replaced(settings, dedup=replaced(settings.dedup, semantic_tau=fast.tau))

    collapse.collapse_settings = collapse_settings
    return fast
