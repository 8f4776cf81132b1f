"""Text signatures for stories: shingle hashes, paragraph anchors, MinHash bands, names, titles.

Everything here is vectorized over a batch with numpy and deterministic across processes (no
Python `hash`), because the signatures are persisted in the warehouse and compared with those
of later runs. Changing a constant below changes the persisted keys: old and new signatures no
longer match, so bump SIGNATURE_VERSION and re-sign the warehouse when you do.
"""

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SIGNATURE_VERSION = 1
# Words are lower-cased, a plural-like trailing 's' dropped, and cut to this many characters:
# a light stemmer under which 'defence'/'defense' and 'destabilise'/'destabilize' agree.
TOKEN_PREFIX = 5
SHINGLE_WORDS = 4
# A shingle is a paragraph anchor when its hash is divisible by this (Broder's mod-m sample:
# shared anchors over the union estimate the Jaccard similarity of the full shingle sets).
ANCHOR_SAMPLE = 4
# MinHash over a body's shingles, cut into LSH bands of BAND_ROWS values. The band collision
# curve 1 - (1 - J**4)**16 proposes about two thirds of pairs at Jaccard 0.5, all above 0.75.
MINHASH_PERMUTATIONS = 64
BAND_ROWS = 4
BANDS = MINHASH_PERMUTATIONS // BAND_ROWS
# At most this many distinct names per article (the most frequent ones).
NAMES_PER_ARTICLE = 24

_MASK32 = np.uint64(0xFFFFFFFF)
_TOKEN_RE = re.compile(r"[^\W_]+")
_INITIALISM_RE = re.compile(r"([A-Z])\.([A-Z])\.(?:([A-Z])\.)?")
# A capitalized word after a word (or a comma) and a space, up to an apostrophe or hyphen.
_NAME_RE = re.compile(r"[A-Z](?:(?<=[^\W_] [A-Z])|(?<=[^\W_], [A-Z]))[^\W_]*")
# Punctuation read as a space when splitting bodies into words (faster than a regex).
_PUNCTUATION = string.punctuation + "’‘“”„«»‹›—–‐‑…·•′″¡¿§¶†‡"
_SPACES = str.maketrans(dict.fromkeys(_PUNCTUATION, " "))
# A batch's paragraphs are joined with this character and split in one numpy pass: str.split
# reads it as whitespace, lower() keeps it, and cleaned paragraphs never hold it (checked:
# otherwise they are split one at a time, the reference way).
_JOIN = "\x1e"
# Code points from here on are neither whitespace nor split punctuation (a test checks).
_TABLE_END = 0x3001
_WHITESPACE = np.array([chr(code).isspace() for code in range(_TABLE_END)] + [False])
_WORD_BREAKS = _WHITESPACE.copy()
_WORD_BREAKS[[ord(character) for character in _PUNCTUATION]] = True


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


TITLE_STOPWORDS = _word_set(
    "a an and as at be by for from has have in is it its of on or over the to up with after "
    "amid against into new says said will than that this was were are"
)
# Capitalized words that are not names: sentence openers, titles, months and weekdays.
NAME_STOPWORDS = _word_set(
    "a an and as at but by for from he her his i if in it its mr mrs ms dr of on or she so "
    "that the their there these they this those to we what when where while who why with "
    "you our after before during since until although however meanwhile also according "
    "president minister prime secretary foreign defense defence state states chief officials "
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "may june july august september october november december jan feb mar apr jun jul aug "
    "sep sept oct nov dec"
)

_RANDOM = np.random.default_rng(20220107)
_PERMUTATION_A = _RANDOM.integers(1, 2**63, MINHASH_PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
_PERMUTATION_B = _RANDOM.integers(0, 2**63, MINHASH_PERMUTATIONS, dtype=np.uint64)
_BAND_SALT = _RANDOM.integers(0, 2**63, BANDS, dtype=np.uint64)
_NAME_SALT = np.uint64(0x6E616D65)
_TITLE_SALT = np.uint64(0x7469746C)


def mix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer: a fast, well-spread, deterministic uint64 -> uint64 hash."""
    values = np.asarray(values, dtype=np.uint64)
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def word_tokens(text: str) -> list[str]:
    """Lower-cased words ('U.S.' read as 'us')."""
    return _TOKEN_RE.findall(_INITIALISM_RE.sub(r"\1\2\3", text).lower())


def token_ids(tokens: Sequence[str]) -> np.ndarray:
    """uint64 ids of words: a trailing 's' of a 4- or 5-letter word dropped, then cut to
    TOKEN_PREFIX characters (numpy truncates fixed-width strings, vectorized)."""
    width = TOKEN_PREFIX + 1
    return _prefix_ids(np.array(tokens, dtype=f"<U{width}").view(np.uint32).reshape(-1, width))


def _prefix_ids(codes: np.ndarray) -> np.ndarray:
    """token_ids of words given as rows of their first TOKEN_PREFIX + 1 code points (zeros
    after a shorter word)."""
    codes = codes.copy()
    last = (codes != 0).sum(axis=1) - 1
    rows = np.arange(len(codes))
    plural = (last >= 3) & (last < TOKEN_PREFIX) & (codes[rows, np.maximum(last, 0)] == ord("s"))
    codes[rows[plural], last[plural]] = 0
    codes = codes[:, :TOKEN_PREFIX].astype(np.uint64)
    ids = np.zeros(len(codes), dtype=np.uint64)
    for column in range(TOKEN_PREFIX):
        ids = ids * np.uint64(1_000_003) + codes[:, column]
    return mix64(ids)


@dataclass(frozen=True, slots=True)
class Shingles:
    """Shingle hashes of many paragraphs, concatenated, with the paragraph each belongs to."""

    hashes: np.ndarray  # uint64
    paragraph: np.ndarray  # int64: index into the paragraphs given


@dataclass(frozen=True, slots=True)
class _Words:
    """The words of many paragraphs: code points of all of them, and per word where it starts
    and ends in those and which paragraph it is in."""

    codes: np.ndarray  # uint32
    start: np.ndarray
    end: np.ndarray
    paragraph: np.ndarray


def _split_words(texts: Sequence[str], breaks: np.ndarray, lower: bool) -> _Words | None:
    """The words of all paragraphs in one pass: text.split() (after lower() and reading
    punctuation as spaces, for _WORD_BREAKS) of each. None if a paragraph holds _JOIN."""
    joined = _JOIN.join(texts)
    if joined.count(_JOIN) != len(texts) - 1:
        return None
    if lower:
        joined = joined.lower()  # case rules look no further than _JOIN (not case-ignorable)
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    inside = ~breaks[np.minimum(codes, _TABLE_END)]
    edges = np.diff(inside.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    start, end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    joins = np.flatnonzero(codes == ord(_JOIN))
    return _Words(codes, start, end, np.searchsorted(joins, start))


def _word_ids(words: _Words) -> np.ndarray:
    """token_ids of the words, from their code points, one column (character) at a time."""
    length = words.end - words.start
    top = max(len(words.codes) - 1, 0)
    columns = [
        np.where(length > column, words.codes[np.minimum(words.start + column, top)], 0)
        for column in range(TOKEN_PREFIX + 1)
    ]
    # As token_ids: the last non-zero code point of the first TOKEN_PREFIX + 1 ...
    last = sum((column != 0).astype(np.int64) for column in columns) - 1
    for column in range(3, TOKEN_PREFIX):  # ... an 's' ending a 4- or 5-letter word is dropped
        plural = (last == column) & (columns[column] == ord("s"))
        columns[column] = np.where(plural, 0, columns[column])
    ids = np.zeros(len(length), dtype=np.uint64)
    for column in columns[:TOKEN_PREFIX]:
        ids = ids * np.uint64(1_000_003) + column.astype(np.uint64)
    return mix64(ids)


def paragraph_words_and_shingles(texts: Sequence[str]) -> tuple[np.ndarray, Shingles]:
    """Words of each paragraph (as paragraph_words counts them) and shingle_paragraphs(texts),
    from one pass over the text."""
    words = _split_words(texts, _WORD_BREAKS, lower=True) if texts else None
    if words is None:
        counts = np.fromiter(
            (len(text.split()) for text in texts), dtype=np.int64, count=len(texts)
        )
        return counts, _shingles(*_paragraph_token_ids(texts))
    # lower() turns no character into whitespace or back: the whitespace of the lower-cased
    # text splits it into the same words as the original.
    spaces = _WHITESPACE[np.minimum(words.codes, _TABLE_END)]
    starts = np.flatnonzero(~spaces & np.r_[True, spaces[:-1]])
    joins = np.flatnonzero(words.codes == ord(_JOIN))
    counts = np.bincount(np.searchsorted(joins, starts), minlength=len(texts))
    return counts, _shingles(_word_ids(words), words.paragraph)


def shingle_paragraphs(texts: Sequence[str]) -> Shingles:
    """Hashes of every run of SHINGLE_WORDS words inside each paragraph (none across two)."""
    return paragraph_words_and_shingles(texts)[1]


def _paragraph_token_ids(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, paragraph of each) one paragraph at a time: the reference for _split_words."""
    token_lists = [text.lower().translate(_SPACES).split() for text in texts]
    lengths = np.fromiter((len(tokens) for tokens in token_lists), dtype=np.int64, count=len(texts))
    ids = token_ids([token for tokens in token_lists for token in tokens])
    return ids, np.repeat(np.arange(len(texts), dtype=np.int64), lengths)


def _shingles(ids: np.ndarray, owner: np.ndarray) -> Shingles:
    """Hashes of every run of SHINGLE_WORDS consecutive ids of the same owner."""
    span = SHINGLE_WORDS - 1
    if len(ids) <= span:
        return Shingles(np.empty(0, np.uint64), np.empty(0, np.int64))
    hashes = mix64(ids[: len(ids) - span])
    for offset in range(1, SHINGLE_WORDS):
        hashes = mix64(hashes ^ ids[offset : len(ids) - span + offset])
    inside = owner[: len(ids) - span] == owner[span:]
    return Shingles(hashes[inside], owner[: len(ids) - span][inside])


def paragraph_anchors(shingles: Shingles) -> tuple[np.ndarray, np.ndarray]:
    """The sampled shingles of each paragraph, unique per paragraph: (paragraph, hash)."""
    keep = shingles.hashes % np.uint64(ANCHOR_SAMPLE) == 0
    paragraph, hashes = shingles.paragraph[keep], shingles.hashes[keep]
    order = np.lexsort((hashes, paragraph))
    paragraph, hashes = paragraph[order], hashes[order]
    first = np.ones(len(hashes), dtype=bool)
    first[1:] = (paragraph[1:] != paragraph[:-1]) | (hashes[1:] != hashes[:-1])
    return paragraph[first], hashes[first]


def minhash_signatures(hashes: np.ndarray, owner: np.ndarray, owners: int) -> np.ndarray:
    """MinHash signatures (owners x MINHASH_PERMUTATIONS, uint32) of the sets of `hashes`
    grouped by `owner` (sorted); owners without hashes get all-ones rows (never banded).

    Permutation j maps a hash x to the top 32 bits of a_j * x + b_j (multiply-shift hashing).
    Computed in chunks of whole owners of about 32,768 hashes (8 MB of values at a time).
    """
    signatures = np.full((owners, MINHASH_PERMUTATIONS), 0xFFFFFFFF, dtype=np.uint32)
    if len(hashes) == 0:
        return signatures
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    # Each chunk starts where the owner holding every 32,768th hash starts.
    holding = np.searchsorted(starts, np.arange(0, len(hashes), 32_768), side="right") - 1
    chunk_starts = np.unique(starts[holding])
    chunk_ends = np.r_[chunk_starts[1:], len(hashes)]
    for first, stop in zip(chunk_starts.tolist(), chunk_ends.tolist(), strict=True):
        mixed = hashes[first:stop, None] * _PERMUTATION_A[None, :] + _PERMUTATION_B[None, :]
        values = (mixed >> np.uint64(32)).astype(np.uint32)
        local = starts[(starts >= first) & (starts < stop)]
        signatures[owner[local]] = np.minimum.reduceat(values, local - first, axis=0)
    return signatures


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """LSH band keys (rows x BANDS, uint64): equal keys mean equal values in that band."""
    rows = signatures.astype(np.uint64).reshape(len(signatures), BANDS, BAND_ROWS)
    keys = mix64(_BAND_SALT[None, :] ^ (rows[:, :, 0] | (rows[:, :, 1] << np.uint64(32))))
    return mix64(keys ^ (rows[:, :, 2] | (rows[:, :, 3] << np.uint64(32))))


def _salted_groups(
    groups: Sequence[Sequence[str]], salt: np.uint64
) -> tuple[np.ndarray, np.ndarray]:
    """(owner, key) of each group's words, unique per owner, with one numpy pass for all."""
    owner = np.repeat(np.arange(len(groups), dtype=np.int64), [len(group) for group in groups])
    keys = mix64(token_ids([word for group in groups for word in group]) ^ salt)
    return _unique_per_owner(owner, keys)


def _unique_per_owner(owner: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, key) pairs sorted, each once."""
    order = np.lexsort((keys, owner))
    owner, keys = owner[order], keys[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = (owner[1:] != owner[:-1]) | (keys[1:] != keys[:-1])
    return owner[first], keys[first]


def title_words(title: str | None) -> list[str]:
    """The content words of a headline (stop words left out)."""
    return [word for word in word_tokens(title or "") if word not in TITLE_STOPWORDS]


def title_keys(titles: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(owner, key) of the headline words of each title, unique per title."""
    return _salted_groups([title_words(title) for title in titles], _TITLE_SALT)


def article_names(paragraphs: Sequence[str]) -> list[str]:
    """Capitalized words that do not open a sentence, most frequent first (a name heuristic).

    A word counts when a word or a comma and one space come before it: 'Antony Blinken said'
    gives 'antony' and 'blinken'; 'U.S.' gives 'us'. Titles, months, weekdays and common
    openers are left out; possessives are cut ("China’s" -> 'china').
    """
    text = _INITIALISM_RE.sub(r"\1\2\3", "\n".join(paragraphs))
    counts = Counter(word.lower() for word in _NAME_RE.findall(text) if len(word) > 1)
    for word in NAME_STOPWORDS & counts.keys():
        del counts[word]
    return [word for word, _count in counts.most_common(NAMES_PER_ARTICLE)]


def name_keys(names: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """(owner, key) of each article's names, unique per article."""
    return _salted_groups(names, _NAME_SALT)


def body_name_keys(bodies: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """name_keys of the article_names of bodies (paragraphs joined by newlines), counting the
    names of all articles at once: the most frequent NAMES_PER_ARTICLE of each, the first
    seen on a tie (as Counter.most_common picks them)."""
    found = [_NAME_RE.findall(_INITIALISM_RE.sub(r"\1\2\3", body)) for body in bodies]
    owner = np.repeat(np.arange(len(bodies), dtype=np.int64), [len(words) for words in found])
    # Number the words as found (first seen first), then their lower-cased forms.
    spelled, spellings = pd.factorize(
        np.array([word for words in found for word in words], dtype=object)
    )
    lowered, vocabulary = pd.factorize(np.array([word.lower() for word in spellings], dtype=object))
    ids = lowered[spelled].astype(np.int64)
    vocabulary = list(vocabulary)
    dropped = np.array(
        [len(word) < 2 or word in NAME_STOPWORDS for word in vocabulary] + [True], dtype=bool
    )
    kept = ~dropped[ids]
    owner, ids = owner[kept], ids[kept]
    # Per (article, name): how often, and where first (a stable sort keeps first ones first).
    order = np.argsort((owner << 32) | ids, kind="stable")
    code = ((owner << 32) | ids)[order]
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]]) if len(code) else code
    frequency = np.diff(np.r_[starts, len(code)])
    name_owner, name_id, first_seen = owner[order][starts], ids[order][starts], order[starts]
    ranked = np.lexsort((first_seen, -frequency, name_owner))
    name_owner, name_id = name_owner[ranked], name_id[ranked]
    owner_start = np.searchsorted(name_owner, name_owner)
    top = np.arange(len(name_owner)) - owner_start < NAMES_PER_ARTICLE
    keys = mix64(token_ids(vocabulary)[name_id[top]] ^ _NAME_SALT)
    return _unique_per_owner(name_owner[top], keys)


def as_signed(keys: np.ndarray) -> np.ndarray:
    """uint64 keys as the int64 a BIGINT column holds (same bits)."""
    return np.asarray(keys, dtype=np.uint64).view(np.int64)


def as_unsigned(keys: np.ndarray) -> np.ndarray:
    """int64 keys read from the warehouse back as uint64 (same bits)."""
    return np.asarray(keys, dtype=np.int64).view(np.uint64)


def paragraph_words(text: str) -> int:
    """Words in a paragraph, as word_count counts them (split on whitespace)."""
    return len(text.split())
