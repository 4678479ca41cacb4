"""Words, lines and sentences as the published filters count them.

datatrove (the reference implementation of the Gopher, C4 and FineWeb rules)
splits English words and sentences with spaCy's rule-based English tokenizer
and sentencizer. Their thresholds were tuned on those counts: punctuation is a
token of its own, so "foo(a, b)." is six words, not two. anchormix does not
depend on spaCy at run time, so this module re-implements the same kind of
splitting with the standard library: whitespace, then leading and trailing
punctuation, then infixes (hyphens, slashes and commas between letters), with
the common English abbreviations and contractions kept as spaCy keeps them.
It is an approximation; ``tests/anchormix/quality/test_matches_datatrove.py``
measures how often the filter decisions agree with datatrove's on real text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Unicode's Sentence_Terminal property (PropList.txt, Unicode 16), as code point ranges. FineWeb's
# line-punctuation rule counts a line ending in any of these.
_STERM_RANGES = (
    (0x0021, 0x0021), (0x002E, 0x002E), (0x003F, 0x003F), (0x0589, 0x0589), (0x061D, 0x061F),
    (0x06D4, 0x06D4), (0x0700, 0x0702), (0x07F9, 0x07F9), (0x0837, 0x0837), (0x0839, 0x0839),
    (0x083D, 0x083E), (0x0964, 0x0965), (0x104A, 0x104B), (0x1362, 0x1362), (0x1367, 0x1368),
    (0x166E, 0x166E), (0x1735, 0x1736), (0x17D4, 0x17D5), (0x1803, 0x1803), (0x1809, 0x1809),
    (0x1944, 0x1945), (0x1AA8, 0x1AAB), (0x1B4E, 0x1B4F), (0x1B5A, 0x1B5B), (0x1B5E, 0x1B5F),
    (0x1B7D, 0x1B7F), (0x1C3B, 0x1C3C), (0x1C7E, 0x1C7F), (0x2024, 0x2024), (0x203C, 0x203D),
    (0x2047, 0x2049), (0x2CF9, 0x2CFB), (0x2E2E, 0x2E2E), (0x2E3C, 0x2E3C), (0x2E53, 0x2E54),
    (0x2E60, 0x2E61), (0x3002, 0x3002), (0xA4FF, 0xA4FF), (0xA60E, 0xA60F), (0xA6F3, 0xA6F3),
    (0xA6F7, 0xA6F7), (0xA876, 0xA877), (0xA8CE, 0xA8CF), (0xA92F, 0xA92F), (0xA9C8, 0xA9C9),
    (0xAA5D, 0xAA5F), (0xAAF0, 0xAAF1), (0xABEB, 0xABEB), (0xFE12, 0xFE12), (0xFE15, 0xFE16),
    (0xFE52, 0xFE52), (0xFE56, 0xFE57), (0xFF01, 0xFF01), (0xFF0E, 0xFF0E), (0xFF1F, 0xFF1F),
    (0xFF61, 0xFF61), (0x10A56, 0x10A57), (0x10F55, 0x10F59), (0x10F86, 0x10F89), (0x11047, 0x11048),
    (0x110BE, 0x110C1), (0x11141, 0x11143), (0x111C5, 0x111C6), (0x111CD, 0x111CD), (0x111DE, 0x111DF),
    (0x11238, 0x11239), (0x1123B, 0x1123C), (0x112A9, 0x112A9), (0x113D4, 0x113D5), (0x1144B, 0x1144C),
    (0x115C2, 0x115C3), (0x115C9, 0x115D7), (0x11641, 0x11642), (0x1173C, 0x1173E), (0x11944, 0x11944),
    (0x11946, 0x11946), (0x11A42, 0x11A43), (0x11A9B, 0x11A9C), (0x11C41, 0x11C42), (0x11EF7, 0x11EF8),
    (0x11F43, 0x11F44), (0x16A6E, 0x16A6F), (0x16AF5, 0x16AF5), (0x16B37, 0x16B38), (0x16B44, 0x16B44),
    (0x16D6E, 0x16D6F), (0x16E98, 0x16E98), (0x1BC9F, 0x1BC9F), (0x1DA88, 0x1DA88),
)
TERMINAL_PUNCTUATION = tuple(chr(c) for a, b in _STERM_RANGES for c in range(a, b + 1))


@lru_cache(maxsize=4096)
def is_symbol_char(ch: str) -> bool:
    """Punctuation, symbol or control character (Unicode categories P*, S*, Cc)."""
    cat = unicodedata.category(ch)
    return cat[0] in "PS" or cat == "Cc"


def is_symbol_word(word: str) -> bool:
    """A word made only of punctuation or symbols ("," "..." "->"); Gopher does not count these."""
    if word.isalnum():  # letters and digits only: the common case, answered in C
        return False
    return all(is_symbol_char(ch) for ch in word)


# -- word splitting ---------------------------------------------------------------------------
_QUOTES = "'\"”“`‘´’‚„»«「」『』（）〔〕【】《》〈〉⟦⟧"
_PUNCT = "…,:;!?¿؟¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪"
_CURRENCY = "$£€¥฿₽﷼₴₠₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₵₶₷₸₹₺₻₼₾₿"
_LOWER = "a-zß-öø-ÿα-ωа-яё"
_UPPER = "A-ZÀ-ÖØ-ÞΑ-ΩА-ЯЁ"
_LETTER = r"[^\W\d_]"
_ALNUM = r"[^\W_]"

_PREFIX = re.compile(
    r"^(?:\.\.+|…|[§%=—–]|\+(?![0-9])|[" + re.escape(_PUNCT + _QUOTES + _CURRENCY) + "])"
)
_SUFFIX = re.compile(
    r"(?:\.\.+|…|['’][sS]|[—–]|[" + re.escape(_PUNCT + _QUOTES) + "]"
    r"|(?<=[0-9])\+|(?<=[0-9])[" + re.escape(_CURRENCY) + r"%°]"
    r"|(?<=[0-9" + _LOWER + r"%²\-+" + re.escape(_PUNCT + _QUOTES) + r"])\."
    r"|(?<=[" + _UPPER + "][" + _UPPER + r"])\.)$"
)
_SUFFIX_LAST = frozenset(_PUNCT + _QUOTES + _CURRENCY + ".…sS—–+%°")
_INFIX = re.compile(
    r"\.\.+|…"
    r"|(?<=[0-9])[+\-*^](?=[0-9-])"
    r"|(?<=[" + _LOWER + re.escape(_QUOTES) + r"])\.(?=[" + _UPPER + re.escape(_QUOTES) + "])"
    r"|(?<=" + _LETTER + r"),(?=" + _LETTER + ")"
    r"|(?<=" + _ALNUM + r")(?:---|--|——|[-–—~])(?=" + _LETTER + ")"
    r"|(?<=" + _ALNUM + r")[:<>=/](?=" + _LETTER + ")"
)
_URL = re.compile(
    r"^(?:[\w+.\-]{2,}://(?:\S*[^\s.,;:!?)\]}>'\"])?|www\.[\w\-]+(?:\.[\w\-]+)+(?:/\S*[^\s.,;:!?)\]}>'\"])?"
    r"|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+|(?:[\w\-]+\.)+(?:com|org|net|edu|gov|io|html?)(?:/\S*[^\s.,;:!?)\]}>'\"])?)$",
    re.IGNORECASE,
)


def _english_exceptions() -> dict[str, list[str]]:
    """Chunks the English tokenizer splits (or keeps) by rule rather than by punctuation."""
    out: dict[str, list[str]] = {}

    def add(parts: list[str], bare: bool = True) -> None:
        for apostrophe in ("'", "’"):
            word = [p.replace("'", apostrophe) for p in parts]
            for cased in (word, [word[0][:1].upper() + word[0][1:]] + word[1:]):
                out["".join(cased)] = cased
        if bare:  # also written without the apostrophe: "dont" -> "do" "nt"
            plain = [p.replace("'", "") for p in parts]
            for cased in (plain, [plain[0][:1].upper() + plain[0][1:]] + plain[1:]):
                out["".join(cased)] = cased

    negated = ("ai", "are", "ca", "could", "dare", "did", "does", "do", "had", "has", "have", "is", "may", "might",
               "must", "need", "ought", "sha", "should", "was", "were", "wo", "would")
    for stem in negated:
        add([stem, "n't"])
        add([stem, "n't", "'ve"])
    for stem in ("could", "might", "must", "should", "would"):
        add([stem, "'ve"])
    subjects = {
        "i": ("'m", "'d", "'ll", "'ve"), "you": ("'d", "'ll", "'re", "'ve"), "he": ("'d", "'ll", "'s"),
        "she": ("'d", "'ll", "'s"), "it": ("'d", "'ll", "'s"), "we": ("'d", "'ll", "'re", "'ve"),
        "they": ("'d", "'ll", "'re", "'ve"),
    }
    for stem in ("that", "there", "this", "what", "when", "where", "who", "why", "how"):
        subjects[stem] = ("'d", "'ll", "'re", "'s", "'ve")
    for stem in ("these", "those"):
        subjects[stem] = ("'d", "'ll", "'re", "'ve")
    real_words = {"ill", "hell", "shell", "well", "were", "its", "shed", "whore", "thiss"}
    for stem, tails in subjects.items():
        for tail in tails:
            add([stem, tail], bare=(stem + tail.strip("'")) not in real_words)
            if tail in ("'d", "'ll"):
                add([stem, tail, "'ve"])
    for word, parts in {"cannot": ["can", "not"], "gonna": ["gon", "na"], "gotta": ["got", "ta"],
                        "y'all": ["y'", "all"], "yall": ["y", "all"]}.items():
        out[word] = parts
        out[word.capitalize()] = [parts[0].capitalize()] + parts[1:]
    for word in ("and/or", "a.m.", "p.m.", "e.g.", "i.e.", "vs.", "v.s.", "co.", "Co.", "Corp.", "Inc.",
                 "Ltd.", "Bros.", "Jr.", "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.", "Mt.", "Gen.", "Gov.",
                 "Rep.", "Sen.", "Rev.", "Adm.", "Messrs.", "Ph.D.", "D.C.", "N.Y.", "E.g.", "E.G.", "I.e.",
                 "I.E.", "Jan.", "Feb.", "Mar.", "Apr.", "Jun.", "Jul.", "Aug.", "Sep.", "Sept.", "Oct.",
                 "Nov.", "Dec.", "o'clock", "ma'am", "C++"):
        out[word] = [word]
    for letter in "abcdefghijklmnopqrstuvwxyzäöü":
        out[letter + "."] = [letter + "."]
    return out


_EXCEPTIONS = _english_exceptions()
# Emoticons and doubled quotes: kept as one token even when written against other punctuation.
_EMOTICONS = frozenset(
    """'' ): (: (; (= :( :) :(( :)) :((( :))) :() :* :/ :> :] :| :} :'( :') :-( :-) :-/ :-] :-| :-}
    :-* :-> ;) ;-) ;_; =( =) =/ =[ =] =| [: [= ]= [-: (-: (-; )-: -_- -__- ^_^ ._. <.< >.< >.> >:( @_@""".split()
)


def _special(chunk: str) -> list[str] | None:
    if chunk in _EXCEPTIONS:
        return list(_EXCEPTIONS[chunk])
    if chunk in _EMOTICONS:
        return [chunk]
    return None


def _merge_emoticons(tokens: list[str]) -> list[str]:
    if len(tokens) < 2:
        return tokens
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for j in range(min(len(tokens), i + 5), i + 1, -1):
            if "".join(tokens[i:j]) in _EMOTICONS:
                out.append("".join(tokens[i:j]))
                i = j
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def _whole(chunk: str) -> bool:
    return _special(chunk) is not None or bool(_URL.match(chunk))


def _split_chunk(chunk: str) -> tuple[str, ...]:
    """One whitespace-delimited chunk: strip prefixes and suffixes, then split infixes.

    A dozen regex calls: :func:`split_words` keeps each chunk's tokens, so a chunk met again is not split again.
    """
    prefixes: list[str] = []
    suffixes: list[str] = []
    last = -1
    while chunk and len(chunk) != last and not _whole(chunk):
        last = len(chunk)
        pre = _PREFIX.match(chunk)
        pre_len = pre.end() if pre else 0
        if pre_len and chunk[pre_len:] and _whole(chunk[pre_len:]):
            prefixes.append(chunk[:pre_len])
            chunk = chunk[pre_len:]
            break
        suf = None
        if chunk[-1] in _SUFFIX_LAST:
            suf = _SUFFIX.search(chunk, pre_len)
        suf_len = len(chunk) - suf.start() if suf else 0
        if suf_len and chunk[:-suf_len] and _whole(chunk[:-suf_len]):
            suffixes.append(chunk[-suf_len:])
            chunk = chunk[:-suf_len]
            break
        if pre_len and suf_len and pre_len + suf_len <= len(chunk):
            prefixes.append(chunk[:pre_len])
            suffixes.append(chunk[-suf_len:])
            chunk = chunk[pre_len:-suf_len]
        elif pre_len:
            prefixes.append(chunk[:pre_len])
            chunk = chunk[pre_len:]
        elif suf_len:
            suffixes.append(chunk[-suf_len:])
            chunk = chunk[:-suf_len]
    middle: list[str] = []
    if chunk:
        special = _special(chunk)
        if special is not None:
            middle = special
        elif _URL.match(chunk):
            middle = [chunk]
        else:
            start = 0
            for m in _INFIX.finditer(chunk):
                if m.start() == 0:  # an infix at the very start is not split off
                    continue
                if m.start() > start:
                    middle.append(chunk[start:m.start()])
                if m.end() > m.start():
                    middle.append(chunk[m.start():m.end()])
                start = m.end()
            if start < len(chunk):
                middle.append(chunk[start:])
    return tuple(_merge_emoticons(prefixes + middle + suffixes[::-1]))


_INFIX_CHARS = frozenset(".…+-*^,–—~:<>=/@'’\"")
_OPENERS = frozenset("([{\"`")
_CLOSERS = frozenset(",;:)]}!?\"")


def _plain(chunk: str) -> bool:
    """An ASCII chunk no rule splits: it starts and ends with a letter or digit and holds none of the
    characters an infix, a URL or an exception needs ("foo_bar", "utf8", "x2")."""
    return chunk[0].isalnum() and chunk[-1].isalnum() and _INFIX_CHARS.isdisjoint(chunk) and _special(chunk) is None


# Tokens of each chunk seen, so that a chunk met again ("the", "value.", "(default:") costs one lookup; emptied
# when it outgrows the bound.
_CHUNK_TOKENS: dict[str, tuple[str, ...]] = {}
_CHUNK_TOKENS_MAX = 1 << 18


def _chunk_tokens(chunk: str) -> tuple[str, ...]:
    if chunk.isascii():
        # Most chunks are plain ASCII words: no prefix, suffix or infix rule can split them,
        # only a tokenizer exception ("cannot") can.
        if _plain(chunk):
            return (chunk,)
        # A plain core with one opening bracket or quote before it and one closing mark after it ("(value",
        # "value," "value)."): those marks come off whatever the core, and a period comes off after a
        # lowercase letter or a digit, unless the core with its marks is an exception ("(vs.").
        if _special(chunk) is None and len(chunk) > 1:
            head = chunk[0] in _OPENERS
            tail = chunk[-1] in _CLOSERS or (chunk[-1] == "." and (chunk[-2].islower() or chunk[-2].isdigit()))
            core = chunk[head:len(chunk) - tail]
            if (head or tail) and core and _plain(core) and _special(chunk[head:]) is None \
                    and _special(chunk[:len(chunk) - tail]) is None:
                return (*chunk[:head], core, *chunk[len(chunk) - tail:])
        return _split_chunk(chunk)
    # "Other symbols" (dingbats, box drawing, emoji) are tokens of their own wherever they stand.
    out: list[str] = []
    start = 0
    for i, ch in enumerate(chunk):
        if ch > "\xa5" and unicodedata.category(ch) == "So":
            if i > start:
                out.extend(_split_chunk(chunk[start:i]))
            out.append(ch)
            start = i + 1
    if start < len(chunk):
        out.extend(_split_chunk(chunk[start:]))
    return tuple(out)


def split_words(text: str) -> tuple[str, ...]:
    """Words and punctuation tokens of ``text``, in order (whitespace dropped)."""
    out: list[str] = []
    known = _CHUNK_TOKENS
    for chunk in text.split():
        tokens = known.get(chunk)
        if tokens is None:
            if len(known) >= _CHUNK_TOKENS_MAX:
                known.clear()
            tokens = known[chunk] = _chunk_tokens(chunk)
        out += tokens
    return tuple(out)


# -- sentences ----------------------------------------------------------------------------------
# A sentence ends at a token that is one of these marks; the next token that is not punctuation
# starts a new one (how spaCy's rule-based sentencizer splits).
_SENTENCE_MARKS = frozenset(
    "! . ? ։ ؟ ۔ ܀ ܁ ܂ ߹ । ॥ ၊ ။ ። ፧ ፨ ᙮ ᜵ ᜶ ᠃ ᠉ ᥄ ᥅ ᪨ ᪩ ᪪ ᪫ ᭚ ᭛ ᭞ ᭟ ᰻ ᰼ ᱾ ᱿ ‼ ‽ ⁇ ⁈ ⁉ ⸮ ⸼ ꓿ ꘎ ꘏ ꛳ ꛷ ꡶ "
    "꡷ ꣎ ꣏ ꤯ ꧈ ꧉ ꩝ ꩞ ꩟ ꫰ ꫱ ꯫ ﹒ ﹖ ﹗ ！ ． ？ ｡ 。".split()
)


def count_sentences(text: str) -> int:
    """Number of sentences in ``text`` (at least 1 when it has any token)."""
    return count_sentences_in(split_words(text))


_MARK_CHAR = re.compile("[" + re.escape("".join(sorted(_SENTENCE_MARKS))) + "]")


def count_line_sentences(line: str) -> int:
    """:func:`count_sentences` of one line, without splitting it when every sentence mark stands in the line's
    closing run of punctuation and symbols.

    Every mark is a single symbol character, so a mark token then lies in that run, and every token after it
    too: none of them starts a sentence, and the line is one sentence. Most lines C4 keeps end so.
    """
    if not line or line.isspace():
        return 0
    end = len(line)
    while end and is_symbol_char(line[end - 1]):
        end -= 1
    if _MARK_CHAR.search(line, 0, end) is None:
        return 1
    return count_sentences(line)


def count_sentences_in(tokens: tuple[str, ...]) -> int:
    """Number of sentences in a token sequence from :func:`split_words`."""
    if not tokens:
        return 0
    n, seen_mark = 1, False
    for token in tokens:
        is_mark = token in _SENTENCE_MARKS
        if seen_mark and not is_mark and not is_symbol_word(token):
            n += 1
            seen_mark = False
        elif is_mark:
            seen_mark = True
    return n
