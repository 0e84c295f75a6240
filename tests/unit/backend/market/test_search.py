"""The search index: tiers and ranking (code, prefix, 초성, mixed, substring, typo)."""

from __future__ import annotations

from gslts_backend.market.search import (
    CODE_PREFIX,
    EXACT_CODE,
    INITIALS,
    NAME_PREFIX,
    SUBSTRING,
    TYPO,
    SearchIndex,
    chosung,
    decompose,
)

ROWS = [
    ("005930", "삼성전자", "KOSPI", 500),
    ("005935", "삼성전자우", "KOSPI", 100),
    ("006400", "삼성SDI", "KOSPI", 200),
    ("028260", "삼성물산", "KOSPI", 150),
    ("000660", "SK하이닉스", "KOSPI", 400),
    ("035420", "NAVER", "KOSPI", 300),
    ("009150", "삼성전기", "KOSPI", 120),
    ("373220", "LG에너지솔루션", "KOSPI", 350),
]


def idx() -> SearchIndex:
    return SearchIndex(ROWS)


def codes(q: str, limit: int = 10) -> list[str]:
    return [h.entry.code for h in idx().search(q, limit)]


def test_decomposition() -> None:
    assert chosung("삼성전자") == "ㅅㅅㅈㅈ"
    assert decompose("삼") == "ㅅㅏㅁ"
    assert chosung("SK하이닉스") == "SKㅎㅇㄴㅅ"


def test_exact_code_first_then_code_prefix() -> None:
    hits = idx().search("005930", 5)
    assert hits[0].entry.code == "005930"
    assert hits[0].tier == EXACT_CODE
    hits = idx().search("00593", 5)
    assert [h.entry.code for h in hits] == ["005930", "005935"]  # by value within a tier
    assert {h.tier for h in hits} == {CODE_PREFIX}


def test_name_prefix_ranked_by_value() -> None:
    hits = idx().search("삼성", 10)
    assert [h.entry.code for h in hits] == ["005930", "006400", "028260", "009150", "005935"]
    assert {h.tier for h in hits} == {NAME_PREFIX}


def test_live_value_overrides_the_proxy() -> None:
    hits = idx().search("삼성", 2, lambda c: 10**9 if c == "009150" else None)
    assert hits[0].entry.code == "009150"


def test_chosung_and_mixed() -> None:
    assert codes("ㅅㅅㅈㅈ") == ["005930", "005935"]
    assert idx().search("ㅅㅅㅈㅈ", 1)[0].tier == INITIALS
    assert codes("삼ㅅㅈㄱ") == ["009150"]
    assert codes("ㅎㅇㄴㅅ") == ["000660"]


def test_substring_and_case() -> None:
    hits = idx().search("하이닉", 5)
    assert [h.entry.code for h in hits] == ["000660"]
    assert hits[0].tier == SUBSTRING
    assert codes("naver") == ["035420"]


def test_one_jamo_typo() -> None:
    hits = idx().search("삼성전좌", 3)  # ㅈㅏ → ㅈㅘ
    assert hits
    assert hits[0].entry.code == "005930"
    assert hits[0].tier == TYPO
    assert "373220" in codes("LG에너지솔류션")  # ㄹㅜ → ㄹㅠ
    assert codes("삼송전자")[0] == "005930"


def test_no_match() -> None:
    assert codes("현대차") == []
