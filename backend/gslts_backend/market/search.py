"""The in-memory stock search index (built from ``stock_master``, rebuilt on refresh).

Matching, best first: exact code, code prefix, exact name, name prefix, 초성 (initials)
prefix/substring — a query may mix syllables and initials (``삼ㅅ`` → 삼성전자) — name
substring, and last a typo: one jamo-level edit (insert, delete or substitute one jamo of
the decomposed names, e.g. 삼성전좌 → 삼성전자). Within a tier stocks rank by trading value
(the hub's latest ``cum_value``, else ``last_price × listed_shares`` as a proxy).

Everything a query compares is precomputed per stock (upper-cased name, 초성 string,
decomposed jamo string), so a query is a linear scan of a few thousand short strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_BASE, _LAST = 0xAC00, 0xD7A3
_CHO = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_JUNG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_JONG = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")
_CHO_SET = frozenset(_CHO)
#: what a query may hold: Hangul syllables and jamo, Latin letters, digits, a few marks
QUERY_RE = re.compile(r"^[0-9A-Za-z가-힣ㄱ-ㅎㅏ-ㅣ &().,_+\-]+$")
MAX_QUERY_CHARS = 40

# tiers (lower is better)
EXACT_CODE, CODE_PREFIX, EXACT_NAME, NAME_PREFIX, INITIALS, SUBSTRING, TYPO = range(7)
TIER_NAMES = ("code", "code_prefix", "name", "name_prefix", "chosung", "substring", "typo")


def chosung(text: str) -> str:
    """The initial consonant of each syllable (삼성전자 → ㅅㅅㅈㅈ); other characters kept."""
    out = []
    for ch in text:
        o = ord(ch)
        out.append(_CHO[(o - _BASE) // 588] if _BASE <= o <= _LAST else ch)
    return "".join(out)


def decompose(text: str) -> str:
    """Each syllable as its jamo (삼 → ㅅㅏㅁ); other characters kept."""
    out = []
    for ch in text:
        o = ord(ch) - _BASE
        if 0 <= o <= _LAST - _BASE:
            out.append(_CHO[o // 588] + _JUNG[(o % 588) // 28] + _JONG[o % 28])
        else:
            out.append(ch)
    return "".join(out)


def _within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one insert, delete or substitution."""
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la > lb:
        a, b, la, lb = b, a, lb, la
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    if i == la:
        return True
    return a[i + 1 :] == b[i + 1 :] if la == lb else a[i:] == b[i + 1 :]


def _mixed_initials_match(q: str, name: str, initials: str) -> bool:
    """A query mixing syllables and initials (삼ㅅ): each query char matches the name's
    char at the same place, a lone initial consonant matching that syllable's initial; the
    query may start anywhere in the name (a contiguous run)."""
    n = len(q)
    for start in range(len(name) - n + 1):
        for k, c in enumerate(q):
            pos = start + k
            if c == name[pos] or (c in _CHO_SET and c == initials[pos]):
                continue
            break
        else:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Entry:
    code: str
    name: str
    market: str
    #: precomputed: upper-cased name, its 초성, its jamo
    key: str
    initials: str
    jamo: str
    #: ranking weight when no live trading value is known
    weight: int


@dataclass(frozen=True, slots=True)
class Hit:
    entry: Entry
    tier: int
    value: int


class SearchIndex:
    """An immutable index of the listed stocks (a refresh builds a new one)."""

    def __init__(self, rows: Iterable[tuple[str, str, str, int]]) -> None:
        """``rows``: (code, name, market, weight) per stock."""
        self.entries: list[Entry] = []
        self.by_code: dict[str, Entry] = {}
        #: the typo tier's candidates: entries by the first and by the second jamo of
        #: their jamo string (see :meth:`_typo_candidates`)
        self._by_jamo: tuple[dict[str, set[int]], dict[str, set[int]]] = ({}, {})
        for code, name, market, weight in rows:
            key = name.upper()
            e = Entry(code, name, market, key, chosung(key), decompose(key), weight)
            for pos, by in enumerate(self._by_jamo):
                if len(e.jamo) > pos:
                    by.setdefault(e.jamo[pos], set()).add(len(self.entries))
            self.entries.append(e)
            self.by_code[code] = e

    def __len__(self) -> int:
        return len(self.entries)

    def search(
        self, q: str, limit: int, value_of: Callable[[str], int | None] | None = None
    ) -> list[Hit]:
        """The best ``limit`` matches of the (validated) query ``q``."""
        query = q.strip().upper()
        compact = query.replace(" ", "")
        all_initials = bool(compact) and all(c in _CHO_SET for c in compact)
        has_initials = any(c in _CHO_SET for c in compact)
        qjamo = decompose(query)
        # one edit of a 1–3 jamo query matches too much
        typos = self._typo_candidates(qjamo) if len(qjamo) >= 4 else set()
        hits: list[tuple[int, int, str, Entry]] = []
        for i, e in enumerate(self.entries):
            tier = self._tier(e, query, compact, all_initials, has_initials, qjamo, i in typos)
            if tier is None:
                continue
            live = value_of(e.code) if value_of is not None else None
            value = live if live is not None else e.weight
            hits.append((tier, -value, e.code, e))
        hits.sort(key=lambda h: (h[0], h[1], h[2]))
        return [Hit(e, tier, -neg) for tier, neg, _, e in hits[:limit]]

    def _typo_candidates(self, qjamo: str) -> set[int]:
        """The entries that may be one jamo edit from ``qjamo`` (4+ jamo), whole or by
        their start: the compared strings share their first two jamo with the entry's, and
        one edit keeps the first jamo (an edit after it) or, at the first position, puts
        the query's first or second jamo first or second in the name (substitute: both
        second jamo equal; delete: the name's first is the query's second; insert: the
        name's second is the query's first). The edit checks run on these only (a few
        hundred of the list instead of all of it: the scan's main cost)."""
        out: set[int] = set()
        for by in self._by_jamo:
            for ch in set(qjamo[:2]):
                out |= by.get(ch, set())
        return out

    @staticmethod
    def _tier(
        e: Entry,
        query: str,
        compact: str,
        all_initials: bool,
        has_initials: bool,
        qjamo: str,
        typo_ok: bool,
    ) -> int | None:
        if e.code == query:
            return EXACT_CODE
        if e.code.startswith(query):
            return CODE_PREFIX
        if e.key == query:
            return EXACT_NAME
        if e.key.startswith(query):
            return NAME_PREFIX
        if all_initials:
            return INITIALS if compact in e.initials.replace(" ", "") else None
        if has_initials:
            return INITIALS if _mixed_initials_match(query, e.key, e.initials) else None
        if query in e.key:
            return SUBSTRING
        if typo_ok:
            # one jamo edit of the whole name, or of the name's start as long as the query
            ej = e.jamo
            if _within_one_edit(qjamo, ej) or any(
                _within_one_edit(qjamo, ej[: len(qjamo) + d]) for d in (-1, 0, 1)
            ):
                return TYPO
        return None
