"""Language identification: py3langid's model and answers, in less time per text.

Imported on first use (numpy and the model take about a second to load).
"""

import logging
from collections import Counter
from functools import lru_cache

import numpy as np
from py3langid import langid

LOGGER = logging.getLogger(__name__)
# Texts the faster walk is checked on when the model loads (scripts, digits, punctuation).
_CHECK_TEXTS = (
    "The council voted on Tuesday to expand the programme across the city.",
    "Le conseil municipal a voté mardi pour étendre le programme à toute la ville.",
    "Der Stadtrat stimmte am Dienstag für die Ausweitung des Programms: 42 % dafür!",
    "東京都議会は火曜日、計画の拡大を承認した。",
    "Совет проголосовал во вторник за расширение программы.",
    "",
)


class ArrayWalkIdentifier(langid.LanguageIdentifier):
    """py3langid's LanguageIdentifier with the same scores, computed faster.

    The model's tokenizer is an Aho-Corasick automaton over byte n-grams: the state after a byte
    depends only on the last `depth` bytes (the longest n-gram). So the states at all positions
    come from `depth` array lookups over every position at once, instead of one Python step per
    byte; the features are counted in the order they first occur, as py3langid counts them.
    Scoring reads the model's float16 rows as float32, converted once per row and kept, where
    numpy converted the gathered rows again on every text (the products are the same).
    """

    __slots__ = ("_converted", "_depth", "_next_state", "_outputs", "_row_starts", "_rows32")

    def prepare(self) -> bool:
        """Set up the arrays; False (and py3langid's own walk kept) when a check fails."""
        self._depth = 0
        next_state = np.frombuffer(self.tk_nextmove, dtype=np.dtype(self.tk_nextmove.typecode))
        rows = np.asarray(self.tk_row, dtype=np.intp)
        self._next_state = next_state  # a view of the model's table, not a copy
        self._row_starts = rows << 8
        self._outputs = np.asarray(self.tk_output, dtype=np.intp)
        self._rows32 = np.empty(self.nb_ptc.shape, dtype=np.float32)  # pages touched when used
        self._converted = np.zeros(len(self.nb_ptc), dtype=bool)
        depth = _automaton_depth(next_state.reshape(-1, 256), rows)
        if depth is None:
            return False
        self._depth = depth
        for text in _CHECK_TEXTS:
            data = self._encode(text)
            expected = langid.visit_counts(self.tk_nextmove, self._rowbase, self.tk_output, data)
            found = self._feature_counts(data)
            if (expected is None) != (found is None) or (
                expected is not None and list(expected.items()) != list(found.items())
            ):
                self._depth = 0
                return False
        return True

    def _feature_counts(self, data: bytes) -> Counter[int] | None:
        codes = np.frombuffer(data, dtype=np.uint8)
        states = np.zeros(len(codes), dtype=np.intp)
        for offset in range(min(self._depth, len(codes)) - 1, -1, -1):
            previous = states[offset:]
            states[offset:] = self._next_state[
                self._row_starts[previous] + codes[: len(codes) - offset]
            ]
        features = self._outputs[states]
        features = features[features >= 0]
        return Counter(features.tolist()) if len(features) else None

    def _raw_score(self, text: bytes) -> np.ndarray:
        if not self._depth:
            return super()._raw_score(text)
        visits = self._feature_counts(text)
        if not visits:
            return super()._raw_score(b"")  # py3langid's score of a text without features
        return self._sparse_score(visits, self.nb_ptc)

    def _sparse_score(self, visits: Counter[int], table: np.ndarray) -> np.ndarray:
        if not self._depth or table is not self.nb_ptc:
            return super()._sparse_score(visits, table)
        features = np.fromiter(visits.keys(), dtype=np.intp, count=len(visits))
        counts = np.fromiter(visits.values(), dtype=np.float32, count=len(visits))
        new = features[~self._converted[features]]
        if len(new):
            self._rows32[new] = table[new]
            self._converted[new] = True
        return np.log1p(counts) @ self._rows32[features] + self.nb_pc


def _automaton_depth(table: np.ndarray, rows: np.ndarray) -> int | None:
    """Length of the longest n-gram: the most bytes from the start state to any state (a
    breadth-first walk; states share rows of `table`, and each row is expanded once)."""
    seen = np.zeros(len(rows), dtype=bool)
    expanded = np.zeros(len(table), dtype=bool)
    seen[0] = True
    frontier, depth = np.array([0]), 0
    while True:
        new_rows = np.unique(rows[frontier])
        new_rows = new_rows[~expanded[new_rows]]
        expanded[new_rows] = True
        targets = table[new_rows].ravel()
        new = np.unique(targets[~seen[targets]])
        if not len(new):
            return depth if seen.all() else None
        seen[new] = True
        frontier, depth = new, depth + 1


@lru_cache(maxsize=1)
def _identifier() -> langid.LanguageIdentifier:
    identifier = ArrayWalkIdentifier.from_model_file(langid.MODEL_FILE)
    try:
        prepared = identifier.prepare()
    except Exception:  # another py3langid: its own walk, same answers
        identifier._depth, prepared = 0, False
    if not prepared:
        LOGGER.warning("py3langid's model is not as expected: language found the slower way")
    return identifier


def classify_language(text: str) -> str:
    """py3langid.classify(text)'s language."""
    language, _score = _identifier().classify(text)
    return language
