"""A name index for the public search: prefix and fuzzy look-ups of companies and services.

A parent types part of a name ("tikt", "Pixel Stream", "pixelstrem", "Éclair"): names are
*folded* (:func:`fold`: Unicode compatibility decomposition, accents dropped, case folded, every
run of non-letters and non-digits one space), and each folded name is indexed under every suffix
that starts a word ("my tube kids", "tube kids", "kids"), so that a prefix of any word matches.

- **Prefix** look-ups bisect one sorted list of ``(suffix, item)`` keys: O(log n) to the first
  match, then one step per result, never a pass over all names.
- **Fuzzy** look-ups (when no prefix matches are left) find candidates through a trigram index
  (trigram -> items): a name within ``d`` edits of the query shares at least ``t - 4d`` of its
  ``t`` trigrams, so posting lists are counted rarest first (bounded), and only the candidates
  sharing the most are measured: optimal string alignment (insert, delete, substitute,
  transpose) against a word's prefix of about the query's length. ``d`` is 1 for queries of 3
  to 8 characters and 2 from 9 on; shorter queries are prefix only.

The index is fed incrementally (:meth:`NameIndex.add`, once per new name); new keys wait in a
short pending list and are merged into the sorted list by the next look-up (a sort of an
already sorted list plus a few keys). Its state is plain lists, dicts and slotted classes, so a
snapshot of the views can serialise it.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ledger._pickling import dumps, loads_lasting
from ledger.errors import CorruptionError

__all__ = ["LazyNames", "NameHit", "NameIndex", "SearchItem", "SortedKeys", "fold"]

# Letters that compatibility decomposition leaves whole but a reader types without the stroke.
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ħ": "h",
        "ŧ": "t",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "\u0131": "i",
    }
)
FUZZY_CANDIDATES = 100
"""Most candidates a fuzzy look-up measures (those sharing the most trigrams with the query)."""
FUZZY_POSTINGS = 20_000
"""Most trigram postings a fuzzy look-up reads beyond its rarest lists."""
FUZZY_RESULTS = 100
"""Most fuzzy results a query has (over all its pages)."""


def fold(text: str) -> str:
    """``text`` as the index compares it: no accents, case folded, words split by one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = bare.casefold().translate(_LETTERS)
    return " ".join("".join(c if c.isalnum() else " " for c in folded).split())


def _suffixes(folded: str) -> list[str]:
    """Every suffix of ``folded`` that starts a word, the whole name first."""
    out = [folded]
    for i, c in enumerate(folded):
        if c == " ":
            out.append(folded[i + 1 :])
    return out


def _trigrams(folded: str) -> set[str]:
    padded = f" {folded} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def prefix_distance(query: str, text: str, bound: int) -> int:
    """The fewest edits (optimal string alignment) that turn ``query`` into a prefix of ``text``
    about as long (``len(query) ± bound``), or ``bound + 1`` once it is above ``bound``.

    One table, only its diagonal band ``|i - j| <= bound`` (cells outside cost more): its last
    row holds the distance to every prefix of ``text`` at once.
    """
    n = len(query)
    b = text[: n + bound]
    m = len(b)
    over = bound + 1
    if m < n - bound:
        return over
    prev2: list[int] = []
    prev = [j if j <= bound else over for j in range(m + 1)]
    for i in range(1, n + 1):
        a = query[i - 1]
        cur = [over] * (m + 1)
        cur[0] = i if i <= bound else over
        low = cur[0]
        for j in range(max(1, i - bound), min(m, i + bound) + 1):
            v = prev[j - 1] + (a != b[j - 1])
            x = prev[j] + 1
            if x < v:
                v = x
            x = cur[j - 1] + 1
            if x < v:
                v = x
            if i > 1 and j > 1 and a == b[j - 2] and query[i - 2] == b[j - 1]:
                x = prev2[j - 2] + 1
                if x < v:
                    v = x
            if v > over:
                v = over
            cur[j] = v
            if v < low:
                low = v
        if low > bound:
            return over
        prev2, prev = prev, cur
    return min(prev[max(n - bound, 0) :])


def max_edits(query: str) -> int:
    """How many edits a fuzzy match of ``query`` (folded) may be away: none below 3 characters,
    1 up to 8, 2 from 9 (fewer would leave too few trigrams in common to find candidates by)."""
    n = len(query)
    return 0 if n < 3 else 1 if n < 9 else 2


class SortedKeys:
    """Keys kept sorted, added one at a time: new keys wait in ``pending`` until the next read.

    Attributes:
        keys: the sorted keys (read them after :meth:`settle`).
        pending: keys added since the last read, in arrival order.
    """

    __slots__ = ("keys", "pending")

    def __init__(self) -> None:
        self.keys: list[tuple[Any, ...]] = []
        self.pending: list[tuple[Any, ...]] = []

    def add(self, key: tuple[Any, ...]) -> None:
        """Add ``key`` (once: the caller keeps keys unique)."""
        self.pending.append(key)

    def settle(self) -> list[tuple[Any, ...]]:
        """The keys, sorted, with the pending ones merged in."""
        if self.pending:
            self.keys.extend(self.pending)
            self.pending.clear()
            self.keys.sort()  # two sorted runs: a merge, O(n)
        return self.keys

    def __len__(self) -> int:
        return len(self.keys) + len(self.pending)


@dataclass(frozen=True, slots=True)
class SearchItem:
    """One name the search finds.

    Attributes:
        kind: ``company`` (a provider's registered name) or ``service`` (a service a provider's
            claim names).
        provider: the provider's party id.
        name: the name as written (the company's name, or the service's).
        folded: :func:`fold` of ``name``.
        first_index: the log index of the entry that first named it.
    """

    kind: str
    provider: str
    name: str
    folded: str
    first_index: int


@dataclass(frozen=True, slots=True)
class NameHit:
    """An item found, how (``prefix`` or ``fuzzy``), its edit distance, and the key it sorts by."""

    item: SearchItem
    match: str
    distance: int
    key: tuple[str, int]


class NameIndex:
    """Companies' and services' names, by word-prefix and by trigram (see the module docstring)."""

    __slots__ = ("_ids", "_keys", "_trigrams", "items")

    def __init__(self) -> None:
        self.items: list[SearchItem] = []
        self._ids: dict[tuple[str, str, str], int] = {}
        self._keys = SortedKeys()
        self._trigrams: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, kind: str, provider: str, name: str, index: int) -> bool:
        """Index ``name`` (once per ``(kind, provider, name)``); whether it was new."""
        ident = (kind, provider, name)
        if ident in self._ids:
            return False
        folded = fold(name)
        item_id = len(self.items)
        self.items.append(SearchItem(kind, provider, name, folded, index))
        self._ids[ident] = item_id
        if not folded:
            return True
        for suffix in _suffixes(folded):
            self._keys.add((suffix, item_id))
        for t in _trigrams(folded):
            self._trigrams.setdefault(t, []).append(item_id)
        return True

    def settle(self) -> None:
        """Merge the keys added since the last look-up into the sorted list now."""
        self._keys.settle()

    def get(self, kind: str, provider: str, name: str) -> SearchItem | None:
        """The item of ``(kind, provider, name)``, if indexed."""
        i = self._ids.get((kind, provider, name))
        return None if i is None else self.items[i]

    def prefix(
        self, query: str, *, after: tuple[str, int] | None, limit: int
    ) -> tuple[list[NameHit], bool]:
        """Items with a word starting with ``query`` (folded), in key order after ``after``.

        Returns:
            at most ``limit`` hits, and whether more follow.
        """
        keys = self._keys.settle()
        start = (query, -1) if after is None else after
        i = bisect_left(keys, start)
        if after is not None and i < len(keys) and keys[i] == after:
            i += 1
        out: list[NameHit] = []
        while i < len(keys):
            key = keys[i]
            suffix = str(key[0])
            if not suffix.startswith(query):
                return out, False
            item = self.items[int(key[1])]
            # An item with two matching words is listed once, under the first in key order.
            if min(s for s in _suffixes(item.folded) if s.startswith(query)) == suffix:
                if len(out) == limit:
                    return out, True
                out.append(NameHit(item, "prefix", 0, (suffix, int(key[1]))))
            i += 1
        return out, False

    def fuzzy(self, query: str) -> list[NameHit]:
        """Items within :func:`max_edits` of ``query`` (folded) and with no word starting with it,
        best first (fewest edits, then by name), at most :data:`FUZZY_RESULTS`.

        Candidates share at least ``t - 4d`` of the query's ``t`` trigrams (an edit changes at
        most three, a transposition four): the posting lists are read rarest first, the rarest
        ``4d + 1`` always (one of them survives ``d`` edits), the rest while under
        :data:`FUZZY_POSTINGS`; the :data:`FUZZY_CANDIDATES` sharing the most are then measured.
        """
        bound = max_edits(query)
        if bound == 0:
            return []
        grams = [t for t in _trigrams(query) if not t.endswith(" ")]
        lists = sorted((self._trigrams.get(t, []) for t in grams), key=len)
        counts: Counter[int] = Counter()
        read = used = 0
        for ids in lists:
            if used > 4 * bound and read + len(ids) > FUZZY_POSTINGS:
                break
            counts.update(ids)
            read += len(ids)
            used += 1
        need = max(1, used - 4 * bound)
        ranked = [i for i, c in counts.most_common(FUZZY_CANDIDATES) if c >= need]
        own = set(grams)
        word_need = max(1, len(own) - 4 * bound)
        hits: list[NameHit] = []
        for item_id in ranked:
            item = self.items[item_id]
            best = bound + 1
            best_suffix = ""
            for suffix in _suffixes(item.folded):
                if suffix.startswith(query):
                    best = bound + 1  # a prefix match: listed by prefix()
                    break
                head = " " + suffix[: len(query) + bound]
                shared = own.intersection(head[k : k + 3] for k in range(len(head) - 2))
                if len(shared) < word_need:
                    continue  # too far from this word to be worth measuring
                d = prefix_distance(query, suffix, bound)
                if d < best:
                    best, best_suffix = d, suffix
            if best <= bound:
                hits.append(NameHit(item, "fuzzy", best, (best_suffix, item_id)))
        hits.sort(key=lambda h: (h.distance, h.item.folded, h.key[1]))
        return hits[:FUZZY_RESULTS]


class LazyNames:
    """The name index as a snapshot holds it: pickled apart (bytes inside the core's pickle,
    covered by its digest), and read only when first searched (a third of the time an open from
    a snapshot of 100,000 companies took went to reading it). Names added before that wait, in
    order, and are added as it is read; a snapshot taken meanwhile copies the bytes as they are.
    """

    __slots__ = ("_adds", "_data", "_index")

    def __init__(self, data: bytes | None = None) -> None:
        self._data = data
        self._index: NameIndex | None = NameIndex() if data is None else None
        self._adds: list[tuple[str, str, str, int]] = []

    @property
    def loaded(self) -> bool:
        """Whether the index is in memory."""
        return self._index is not None

    def add(self, kind: str, provider: str, name: str, index: int) -> None:
        """Index ``name`` (see :meth:`NameIndex.add`), now or when the index is read."""
        if self._index is None:
            self._adds.append((kind, provider, name, index))
        else:
            self._index.add(kind, provider, name, index)

    def index(self) -> NameIndex:
        """The index, read now if it was not.

        Raises:
            CorruptionError: the bytes do not hold a name index (they came with the core the
                log key signed, and stayed in memory since: only a bug gets here).
        """
        if self._index is None:
            try:
                index = loads_lasting(self._data or b"")
            except Exception as exc:  # any failure to read is the same refusal
                raise CorruptionError(f"the snapshot's name index is unreadable ({exc})") from None
            if not isinstance(index, NameIndex):
                raise CorruptionError("the snapshot's name index is not a name index")
            for added in self._adds:
                index.add(*added)
            self._index, self._data, self._adds = index, None, []
        return self._index

    def settle(self) -> None:
        """Sort what the index gathered since it was last read, if it is in memory."""
        if self._index is not None:
            self._index.settle()

    def __reduce__(self) -> tuple[type[LazyNames], tuple[bytes]]:
        if self._data is not None and not self._adds:
            return LazyNames, (self._data,)  # unread and unchanged: the bytes as they are
        index = self.index()
        index.settle()
        return LazyNames, (dumps(index),)
