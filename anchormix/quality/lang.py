"""Which language a record is in, so that English-only rules are applied to English only.

The Gopher, C4 and FineWeb rules were written for English web text. Run on
French or Chinese text, an English stop-word rule drops it for not being
English, which is not a quality judgement. So each record's language is
resolved first:

1. ``metadata.lang`` (or datatrove's ``metadata.language``), when its confidence
   (``metadata.lang_confidence`` or ``language_score``) is absent or at least
   ``[quality] min_lang_confidence``. Codes are read loosely: ``en``, ``EN``,
   ``en-US``, ``eng`` and ``eng_Latn`` are all English.
2. Otherwise, with ``[quality] detect_language`` (on by default), a cheap
   detector: the dominant script of the letters (Han, Kana, Hangul, Thai,
   Cyrillic, ...) and, for Latin and Cyrillic text, which language's common
   function words it uses most. This needs no model and runs in microseconds.
3. What it cannot tell is ``und`` (unknown). English-only rules are skipped for
   an unknown language unless ``[quality] unknown_language = "english"``: a
   document is never dropped by an English rule on a guess.

Detection by function words cannot tell a keyword list from an unknown
language: both have none. Such text is ``und`` and meets only the
language-neutral rules (repetition, symbols, lines), which is the documented
price of never dropping unknown languages by English rules.
"""

from __future__ import annotations

from functools import lru_cache

import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ENGLISH = "en"
UNKNOWN = "und"

# Gopher's stop words (Rae et al. 2021, section A.1.1): a document must hold at least two of them.
GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")

# The most frequent function words of each language anchormix can detect. They serve both the
# detector and, for a non-English document, as its stop-word list (a document must hold
# ``min_stop_words`` distinct ones). Override or add languages with [quality.stop_words].
FUNCTION_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("the", "of", "and", "to", "in", "is", "that", "for", "it", "with", "as", "was", "on", "be",
           "by", "this", "are", "or", "from", "at", "an", "not", "have", "which", "you", "if", "can",
           "will", "has", "its"),
    "fr": ("le", "la", "les", "de", "des", "du", "et", "est", "un", "une", "en", "que", "qui", "dans",
           "pour", "pas", "sur", "au", "aux", "par", "plus", "ce", "cette", "il", "ne", "se", "sont",
           "avec", "ou", "vous"),
    "de": ("der", "die", "das", "und", "ist", "nicht", "ein", "eine", "zu", "den", "dem", "mit", "von",
           "auf", "für", "sich", "des", "im", "auch", "es", "wird", "werden", "oder", "kann", "bei",
           "wenn", "sie", "aus", "nur", "als"),
    "es": ("el", "la", "los", "las", "de", "del", "y", "que", "en", "un", "una", "es", "por", "para",
           "con", "no", "se", "al", "lo", "como", "más", "o", "su", "sus", "este", "esta", "puede",
           "si", "ya", "pero"),
    "it": ("il", "lo", "la", "gli", "le", "di", "del", "della", "e", "che", "è", "un", "una", "per",
           "non", "con", "da", "in", "si", "sono", "al", "dei", "alla", "come", "più", "questo",
           "questa", "nel", "o", "se"),
    "pt": ("o", "a", "os", "as", "de", "do", "da", "dos", "das", "e", "que", "em", "um", "uma", "não",
           "para", "com", "no", "na", "por", "se", "é", "ao", "mais", "como", "ser", "foi", "seu",
           "sua", "ou"),
    "nl": ("de", "het", "een", "en", "van", "is", "dat", "niet", "op", "te", "in", "voor", "met",
           "zijn", "er", "ook", "aan", "als", "bij", "door", "wordt", "kan", "worden", "naar", "of",
           "om", "dit", "die", "deze", "uit"),
    "sv": ("och", "i", "att", "det", "som", "en", "på", "är", "av", "för", "med", "till", "den",
           "inte", "har", "de", "ett", "om", "kan", "var", "från", "eller", "vid", "så", "men", "sig",
           "ska", "detta", "finns", "vara"),
    "pl": ("i", "w", "na", "nie", "z", "się", "do", "to", "że", "jest", "o", "jak", "ale", "po", "co",
           "tak", "za", "od", "przez", "dla", "jeśli", "lub", "może", "być", "ten", "ta", "są", "czy",
           "tym", "już"),
    "ru": ("и", "в", "не", "на", "что", "с", "по", "как", "для", "это", "из", "или", "к", "от", "при",
           "если", "быть", "он", "она", "так", "а", "но", "у", "же", "только", "можно", "будет",
           "все", "его", "нет"),
    "uk": ("і", "в", "не", "на", "що", "з", "до", "це", "як", "для", "або", "та", "за", "від", "по",
           "якщо", "бути", "у", "ви", "його", "й", "але", "при", "буде", "може", "вже", "цей", "ця",
           "немає", "також"),
    "da": ("og", "i", "at", "det", "er", "en", "til", "af", "for", "på", "med", "ikke", "den", "som",
           "de", "et", "har", "kan", "om", "der", "eller", "fra", "ved", "så", "men", "sig", "skal",
           "var", "denne", "vil"),
    "cs": ("a", "se", "na", "je", "v", "z", "to", "že", "do", "o", "s", "jako", "pro", "k", "by",
           "ale", "jsou", "nebo", "jeho", "i", "tak", "od", "po", "při", "není", "jen", "ve", "už",
           "lze", "být"),
    "fi": ("ja", "on", "ei", "se", "että", "ole", "tai", "kun", "jos", "voi", "ovat", "mutta", "kuin",
           "myös", "sen", "tämä", "oli", "joka", "niin", "vain", "olla", "mitä", "jo", "nyt", "sitä",
           "siitä", "kanssa", "tämän", "jotka", "eikä"),
    "tr": ("ve", "bir", "bu", "için", "ile", "da", "de", "olarak", "değil", "olan", "çok", "daha",
           "gibi", "ne", "ya", "veya", "kadar", "sonra", "her", "şu", "ise", "mı", "mi", "tüm", "bunu",
           "eğer", "zaten", "yok", "var", "göre"),
}
_BUILT_IN_KEY = tuple((code, tuple(v)) for code, v in FUNCTION_WORDS.items())

# Short English words that are also function words elsewhere ("a", "do", "no", "as"): they say
# nothing about a text being in another language, so detection ignores them for non-English lists.
_ENGLISH_HOMOGRAPHS = frozenset({"a", "i", "o", "e", "as", "do", "no", "on", "in", "is", "to", "an",
                                 "or", "at", "be", "by", "it", "of", "so", "me", "he", "we", "am",
                                 "den", "die", "van", "var", "men", "for", "per", "con", "come",
                                 "had", "has", "her", "will", "son", "are", "ten", "ta", "us"})

# Scripts written without spaces between words: whitespace "words" mean nothing there, so the
# word-based rules (counts, lengths, n-grams) are skipped.
UNSPACED_SCRIPTS = frozenset({"Han", "Kana", "Thai", "Lao", "Khmer", "Myanmar", "Tibetan"})
UNSPACED_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "yue", "wuu"})
_SCRIPT_LANGUAGE = {"Hangul": "ko", "Kana": "ja", "Han": "zh", "Thai": "th", "Greek": "el",
                    "Hebrew": "he", "Armenian": "hy", "Georgian": "ka", "Lao": "lo", "Khmer": "km",
                    "Myanmar": "my", "Tibetan": "bo"}
_SCRIPT_RANGES = (
    (0x0041, 0x024F, "Latin"), (0x0370, 0x03FF, "Greek"), (0x0400, 0x052F, "Cyrillic"),
    (0x0530, 0x058F, "Armenian"), (0x0590, 0x05FF, "Hebrew"), (0x0600, 0x08FF, "Arabic"),
    (0x0900, 0x097F, "Devanagari"), (0x0980, 0x0DFF, "Indic"), (0x0E00, 0x0E7F, "Thai"),
    (0x0E80, 0x0EFF, "Lao"), (0x0F00, 0x0FFF, "Tibetan"), (0x1000, 0x109F, "Myanmar"),
    (0x10A0, 0x10FF, "Georgian"), (0x1100, 0x11FF, "Hangul"), (0x1780, 0x17FF, "Khmer"),
    (0x1E00, 0x1EFF, "Latin"), (0x1F00, 0x1FFF, "Greek"), (0x3040, 0x30FF, "Kana"),
    (0x3130, 0x318F, "Hangul"), (0x3400, 0x4DBF, "Han"), (0x4E00, 0x9FFF, "Han"),
    (0xAC00, 0xD7AF, "Hangul"), (0xF900, 0xFAFF, "Han"), (0xFB50, 0xFEFF, "Arabic"),
    (0xFF66, 0xFF9F, "Kana"), (0x20000, 0x3134F, "Han"),
)
_ISO639_3 = {"eng": "en", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "spa": "es", "ita": "it",
             "por": "pt", "nld": "nl", "dut": "nl", "swe": "sv", "pol": "pl", "rus": "ru", "ukr": "uk",
             "zho": "zh", "chi": "zh", "cmn": "zh", "jpn": "ja", "kor": "ko", "tha": "th", "ell": "el",
             "gre": "el", "heb": "he", "ara": "ar", "hin": "hi", "tur": "tr", "ces": "cs", "cze": "cs"}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@dataclass(frozen=True)
class Language:
    """A record's resolved language: ``code`` (``und`` if unknown), where it came from
    (``metadata``, ``detected`` or ``none``), its dominant script and whether the script
    separates words with spaces."""

    code: str
    source: str
    script: str | None
    spaced: bool

    @property
    def is_english(self) -> bool:
        return self.code == ENGLISH


def normalize_code(value: Any) -> str | None:
    """``en``/``EN``/``en-US``/``eng``/``eng_Latn`` -> ``en``; None for anything not a code."""
    if not isinstance(value, str):
        return None
    primary = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    if not primary.isalpha() or not 2 <= len(primary) <= 3:
        return None
    if primary == "english":
        return ENGLISH
    return _ISO639_3.get(primary, primary)


def parse_metadata(metadata: Any) -> Mapping[str, Any]:
    """A record's metadata as a mapping: a dict, a JSON object string, or nothing."""
    if isinstance(metadata, Mapping):
        return metadata
    if isinstance(metadata, (str, bytes)) and metadata:
        try:
            value = json.loads(metadata)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def declared_language(metadata: Mapping[str, Any], min_confidence: float) -> str | None:
    """The language ``metadata`` declares with enough confidence, or None."""
    code = normalize_code(metadata.get("lang", metadata.get("language")))
    if code is None:
        return None
    confidence = metadata.get("lang_confidence", metadata.get("language_score"))
    if isinstance(confidence, (int, float)) and not isinstance(confidence, bool):
        if not math.isfinite(confidence) or confidence < min_confidence:
            return None
    return code


def _script_of(ch: str) -> str | None:
    code = ord(ch)
    for lo, hi, name in _SCRIPT_RANGES:
        if lo <= code <= hi:
            return name
    return None


_ASCII_LETTER_BYTES = bytes(range(65, 91)) + bytes(range(97, 123))
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def dominant_script(text: str, sample: int = 4000) -> str | None:
    """The script of most letters in the first ``sample`` characters (Japanese: Kana if any)."""
    head = text[:sample]
    # Every ASCII letter is Latin: count them in C (in UTF-8 an ASCII byte only ever stands for itself), and look
    # up only the other letters.
    raw = head.encode("utf-8", "surrogatepass")
    ascii_letters = len(raw) - len(raw.translate(None, _ASCII_LETTER_BYTES))
    counts: dict[str, int] = {"Latin": ascii_letters} if ascii_letters else {}
    for ch in _NON_ASCII.findall(head):
        if ch.isalpha():
            script = _script_of(ch) or "Other"
            counts[script] = counts.get(script, 0) + 1
    if not counts:
        return None
    if counts.get("Kana", 0) and counts.get("Kana", 0) + counts.get("Han", 0) >= max(counts.values()):
        return "Kana"  # Japanese mixes Kana and Han; Chinese has no Kana
    return max(counts, key=counts.get)


@lru_cache(maxsize=256)
def _scoring_vocabulary(code: str, vocabulary: tuple[str, ...], script: str) -> frozenset[str] | None:
    """The words of ``code``'s list that count as evidence in a ``script`` text; None for a list in another
    script. Built once per language and script, not once per text."""
    if not vocabulary or _script_of(vocabulary[0][0]) != script:
        return None
    # One-letter Latin words ("v", "z", "a") are mostly option names and variables in technical text.
    vocab = {w for w in vocabulary if len(w) > 1 or script != "Latin"}
    if code != ENGLISH:
        vocab -= _ENGLISH_HOMOGRAPHS
    return frozenset(vocab)


@lru_cache(maxsize=64)
def _vocabulary_index(lists: tuple[tuple[str, tuple[str, ...]], ...], script: str) -> tuple[dict, dict]:
    """``(zero score per language whose list is in script, word -> the languages whose list holds it)``."""
    zero: dict[str, int] = {}
    index: dict[str, list[str]] = {}
    for code, vocabulary in lists:
        vocab = _scoring_vocabulary(code, vocabulary, script)
        if vocab is None:
            continue  # a Latin-script list says nothing about a Cyrillic text, and vice versa
        zero[code] = 0
        for word in vocab:
            index.setdefault(word, []).append(code)
    return zero, index


def _lists_key(function_words: Mapping[str, tuple[str, ...]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``function_words`` as a hashable key; the built-in lists' key is built once, not per text."""
    if function_words is FUNCTION_WORDS:
        return _BUILT_IN_KEY
    return tuple((code, tuple(v)) for code, v in function_words.items())


def detect_language(text: str, function_words: Mapping[str, tuple[str, ...]] = FUNCTION_WORDS,
                    sample: int = 4000, script: str | None = None) -> tuple[str, str | None]:
    """(language code or ``und``, dominant script) of ``text``, from its letters alone.

    ``script`` is the text's :func:`dominant_script` when the caller already has it."""
    if script is None:
        script = dominant_script(text, sample)
    if script is None:
        return UNKNOWN, None
    if script in _SCRIPT_LANGUAGE:
        return _SCRIPT_LANGUAGE[script], script
    if script not in ("Latin", "Cyrillic"):
        return UNKNOWN, script
    head = text[:sample]
    # Lower-casing ASCII text first finds the same words; elsewhere a lower-cased letter can change length.
    counts = Counter(_WORD.findall(head.lower()) if head.isascii() else map(str.lower, _WORD.findall(head)))
    if not counts:
        return UNKNOWN, script
    n_words = counts.total()
    zero, index = _vocabulary_index(_lists_key(function_words), script)
    scores = dict(zero)
    for word in counts.keys() & index.keys():  # only the function words met are visited
        for code in index[word]:
            scores[code] += counts[word]
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    if not ranked:
        return UNKNOWN, script
    best, best_score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    # At least two function words, at least 5 % of the words, and clearly ahead of the next language.
    if best_score < 2 or best_score < 0.05 * n_words or best_score <= runner_up:
        return UNKNOWN, script
    return best, script


def resolve_language(text: str, metadata: Any, *, min_confidence: float, detect: bool,
                     function_words: Mapping[str, tuple[str, ...]] = FUNCTION_WORDS) -> Language:
    """The language the rules should assume for ``text`` (see the module docstring)."""
    declared = declared_language(parse_metadata(metadata), min_confidence)
    script = dominant_script(text)
    if declared is not None:
        code, source = declared, "metadata"
    elif detect:
        code, script = detect_language(text, function_words, script=script)
        source = "detected" if code != UNKNOWN else "none"
    else:
        code, source = UNKNOWN, "none"
    spaced = code not in UNSPACED_LANGUAGES and script not in UNSPACED_SCRIPTS
    return Language(code, source, script, spaced)
