"""IPTC ``digitalSourceType`` vocabulary and which terms are human-origin.

Terms come from the IPTC NewsCodes scheme
``http://cv.iptc.org/newscodes/digitalsourcetype/`` (plus the C2PA extension
``http://c2pa.org/digitalsourcetype/trainedAlgorithmicData``). A term is
accepted as its short name or its full URI (http or https).

Human-origin means a person captured or authored the content, possibly with
non-generative or minor algorithmic edits. Everything else, including
composites that *may* hold generated elements, counts as synthetic: a human
share must not be inflated by content that cannot vouch for being human.
"""

from __future__ import annotations

IPTC_BASE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
C2PA_BASE = "http://c2pa.org/digitalsourcetype/"

HUMAN_ORIGIN = frozenset({
    "digitalCapture",          # original digital capture sampled from real life
    "computationalCapture",    # capture processed by computational methods
    "negativeFilm",            # digitised from a film negative
    "positiveFilm",            # digitised from a film positive
    "print",                   # digitised from a print
    "minorHumanEdits",         # original with minor human edits
    "humanEdits",              # augmented by human edits
    "compositeCapture",        # composite of captured elements only
    "algorithmicallyEnhanced", # minor algorithmic (non-generative) enhancement
    "digitalArt",              # made by a human with non-generative digital tools
    "digitalCreation",         # former name of digitalArt
    "screenCapture",           # capture of a screen
})

SYNTHETIC = frozenset({
    "trainedAlgorithmicMedia",               # created by a trained (generative) model
    "compositeWithTrainedAlgorithmicMedia",  # edited / composited with generative AI
    "compositeSynthetic",                    # composite including synthetic elements
    "algorithmicMedia",                      # pure algorithmic media, no training data
    "dataDrivenMedia",                       # rendered from data by a program
    "virtualRecording",                      # recording of a virtual (synthetic) scene
    "composite",                             # may or may not hold generated elements
    "trainedAlgorithmicData",                # C2PA extension: generated data
})

KNOWN_TERMS = HUMAN_ORIGIN | SYNTHETIC

_PREFIXES = (IPTC_BASE, IPTC_BASE.replace("http://", "https://"),
             C2PA_BASE, C2PA_BASE.replace("http://", "https://"))


def short_name(term: object) -> str | None:
    """The short IPTC name of ``term`` (short name or full URI), or None if unknown."""
    if not isinstance(term, str):
        return None
    name = term.strip()
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    else:
        if "/" in name or ":" in name:
            return None
    return name if name in KNOWN_TERMS else None


def full_uri(term: str) -> str:
    """The canonical URI of a known term; raise ValueError for an unknown one."""
    name = short_name(term)
    if name is None:
        raise ValueError(f"unknown digitalSourceType {term!r}")
    return (C2PA_BASE if name == "trainedAlgorithmicData" else IPTC_BASE) + name


def origin(term: object) -> str | None:
    """``"human"`` or ``"synthetic"`` for a known term, None for an unknown one."""
    name = short_name(term)
    if name is None:
        return None
    return "human" if name in HUMAN_ORIGIN else "synthetic"
