"""A compact set of keys that is cheap to send to every batch."""

import hashlib
import uuid
from collections.abc import Iterable

Key = str | tuple[str, ...]
_SEPARATOR = "\x1f"  # unit separator: never in a path or a hex digest
_WIDTH = 16
# The lookup sets of the last few key sets this process saw, by token: a worker process gets
# the same key set with every batch of a run and builds its lookup set once.
_LOOKUPS: dict[str, frozenset[bytes]] = {}
_LOOKUPS_KEPT = 4


def _digest(key: Key) -> bytes:
    text = _SEPARATOR.join(key) if isinstance(key, tuple) else key
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=_WIDTH).digest()


class KeySet:
    """Membership of strings (or tuples of strings) by their 128-bit BLAKE2b digests.

    Pickles as one bytes object: a run ships the keys it already landed with every batch, and
    300,000 content hashes pickle as 4.8 MB in milliseconds, where a frozenset of the strings
    takes 20 MB and a second. The lookup set is built on first use, once per process. A false
    match needs a 128-bit collision.
    """

    __slots__ = ("_lookup", "_packed", "_token")

    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._packed = b"".join(sorted({_digest(key) for key in keys}))
        self._token = uuid.uuid4().hex
        self._lookup: frozenset[bytes] | None = None

    def _lookup_set(self) -> frozenset[bytes]:
        lookup = _LOOKUPS.get(self._token)
        if lookup is None:
            packed = self._packed
            lookup = frozenset(packed[at : at + _WIDTH] for at in range(0, len(packed), _WIDTH))
            while len(_LOOKUPS) >= _LOOKUPS_KEPT:
                del _LOOKUPS[next(iter(_LOOKUPS))]
            _LOOKUPS[self._token] = lookup
        return lookup

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str | tuple):
            return False
        if self._lookup is None:
            self._lookup = self._lookup_set()
        return _digest(key) in self._lookup

    def __len__(self) -> int:
        return len(self._packed) // _WIDTH

    def __getstate__(self) -> tuple[bytes, str]:
        return self._packed, self._token

    def __setstate__(self, state: tuple[bytes, str]) -> None:
        self._packed, self._token = state
        self._lookup = None
