"""The typo tier runs its edit checks on candidates only (entries sharing one of the
query's first two jamo in their first two): the answers must be those of checking every
entry. Checked on the simulator's whole KRX list with typos at every position, the first
one included (a substituted, dropped or added first jamo), and other queries of every tier.
"""

from __future__ import annotations

import random

from gslts_backend.market.search import (
    _BASE,
    _CHO,
    _LAST,
    SearchIndex,
    chosung,
    decompose,
)
from gslts_kiwoom.sim._universe import load_universe


def _brute(index: SearchIndex, q: str, limit: int) -> list[tuple[str, int]]:
    """``search`` with the edit check on every entry (the definition)."""
    query = q.strip().upper()
    compact = query.replace(" ", "")
    all_initials = bool(compact) and all(c in _CHO for c in compact)
    has_initials = any(c in _CHO for c in compact)
    qjamo = decompose(query)
    hits = []
    for e in index.entries:
        tier = index._tier(e, query, compact, all_initials, has_initials, qjamo, len(qjamo) >= 4)
        if tier is not None:
            hits.append((tier, -e.weight, e.code))
    hits.sort()
    return [(code, tier) for tier, _w, code in hits[:limit]]


def _typos(name: str, rng: random.Random) -> list[str]:
    """One-syllable changes of ``name`` a trader makes: its first consonant swapped, the
    vowel or the final changed, a syllable dropped or doubled."""
    out = []
    spots = [i for i, ch in enumerate(name) if _BASE <= ord(ch) <= _LAST]
    for i in spots[:3]:
        o = ord(name[i]) - _BASE
        cho, rest = divmod(o, 588)
        swapped = chr(_BASE + ((cho + rng.randint(1, 18)) % 19) * 588 + rest)
        vowel = chr(_BASE + cho * 588 + ((rest // 28 + 1) % 21) * 28 + rest % 28)
        final = chr(_BASE + cho * 588 + (rest // 28) * 28 + (rest % 28 + 4) % 28)
        out += [name[:i] + c + name[i + 1 :] for c in (swapped, vowel, final)]
    if len(name) >= 3:
        out += [name[1:], name[0] + name]
    return out


def test_candidates_give_the_answers_of_every_entry() -> None:
    listed = [s for s in load_universe() if s.market != "KONEX"]
    index = SearchIndex((s.code, s.name, s.market, s.base_price * s.listed_shares) for s in listed)
    rng = random.Random(5)
    queries: list[str] = []
    for s in rng.sample(listed, 40):
        queries += _typos(s.name, rng)
        queries += [s.name, s.name[:2], chosung(s.name)[:3], s.code[:3]]
    typo_hits = 0
    for q in queries:
        got = [(h.entry.code, h.tier) for h in index.search(q, 50)]
        assert got == _brute(index, q, 50), q
        typo_hits += sum(1 for _c, tier in got if tier == 6)
    assert typo_hits > 30  # the typo tier was exercised
