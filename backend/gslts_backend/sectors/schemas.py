"""Response and request schemas of the sector routes (``/api/sectors/...``).

The names are part of the dashboard's generated client (``frontend/src/api``): the
sector page reads ``SectorRecommendationsOut``, ``SectorUsMovesOut``, ``SectorLinksOut``
and ``SectorBacktestOut``. Returns are fractions (0.012 = +1.2 %); NaN is ``null``.
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Confidence = Literal["H", "M", "L"]
InstrumentKind = Literal["etf", "index", "market"]

#: a US ticker (ETF, index such as ^SOX, or a class share such as BRK.B)
US_SYMBOL_PATTERN = r"^[A-Z0-9^][A-Z0-9.^-]{0,15}$"
#: a KRX stock code as the link map holds them (6 characters, e.g. 005930, 0126Z0)
KR_CODE_PATTERN = r"^[0-9A-Z]{6}$"
#: the longest rationale a link may carry
RATIONALE_MAX = 500


class SectorDriverOut(BaseModel):
    """One link's part of a recommendation: which US move drove it and by how much."""

    us_symbol: str
    us_name: str = ""
    us_return: float | None = Field(
        description="the instrument's return compounded over the US sessions since the "
        "previous KRX session"
    )
    signal: float | None = Field(description="us_return net of the market factor (EWY)")
    beta: float | None = Field(description="shrunk gap beta of the link (posterior mean)")
    beta_se: float | None = Field(description="its uncertainty (posterior SD)")
    beta_ols: float | None = Field(description="the unshrunk walk-forward OLS beta")
    beta_day: float | None = Field(description="shrunk day-session (open → close) beta")
    beta_day_se: float | None
    contribution: float | None = Field(description="beta × signal: its share of expected_gap")
    confidence: str = Field(description="the link's confidence tag H/M/L")
    history_days: int = Field(description="rows (KRX sessions with a signal) the fit used")


class SectorRecommendationOut(BaseModel):
    """One Korean stock of the morning's ranked watch list."""

    kr_code: str
    kr_name: str
    kr_sector: str | None = Field(
        default=None, description="the stock master's industry group (업종), when listed"
    )
    rank: int = Field(description="1 = the largest expected gap")
    score: float | None
    expected_gap: float | None = Field(
        description="forecast of the previous close → open return (a forecast: the gap "
        "cannot be bought with this signal except in the 08:30–08:40 장전 시간외 session)"
    )
    expected_day: float | None = Field(description="forecast of the open → close return")
    beta_gap: float | None = Field(description="gap beta of the main driver")
    beta_gap_se: float | None
    beta_day: float | None
    history_days: int
    hit_rate: float | None = Field(
        description="how often the sign of this stock's past walk-forward forecasts matched "
        "the gap's (None before any)"
    )
    hit_days: int
    drivers: list[SectorDriverOut]
    explanation: str


class SectorRecommendationsOut(BaseModel):
    """The ranked list for one KRX session (stored, or computed now and stored)."""

    date: dt.date
    us_sessions: list[dt.date] = Field(
        description="the US sessions compounded into the signal (empty after a US holiday: "
        "no signal, no list)"
    )
    computed: bool = Field(description="computed by this request (else read back as stored)")
    stored: bool = Field(
        description="held in sector_recommendations (not stored: the US data for the day "
        "is not complete yet, or nothing could be ranked)"
    )
    created_at: datetime | None
    model_version: str
    note: str | None = Field(description="why the list is empty or provisional, if it is")
    items: list[SectorRecommendationOut]


class SectorUsMoveOut(BaseModel):
    """One US instrument's move since the previous KRX session (the heat map's cell)."""

    symbol: str
    name: str
    kind: InstrumentKind
    change: float | None = Field(
        description="close-to-close return compounded over the US sessions since the "
        "previous KRX session (None: a bar is missing)"
    )
    last_close: float | None
    last_date: date | None = Field(description="the last US session stored on or before then")
    links: int = Field(description="active links from this instrument")


class SectorUsMovesOut(BaseModel):
    """Last night's US moves for a KRX session."""

    date: dt.date
    us_sessions: list[dt.date]
    items: list[SectorUsMoveOut]


class SectorLinkOut(BaseModel):
    us_symbol: str
    us_name: str
    kr_code: str
    kr_name: str
    kr_sector: str | None = Field(
        default=None, description="the stock master's industry group (업종), when listed"
    )
    confidence: Confidence
    rationale: str
    active: bool


class SectorLinksOut(BaseModel):
    count: int
    items: list[SectorLinkOut]


class SectorLinkIn(BaseModel):
    """One link of the map. ``kr_name`` may be left empty: the stock master's name is
    used when it is loaded."""

    model_config = ConfigDict(strict=True)

    us_symbol: str = Field(pattern=US_SYMBOL_PATTERN, examples=["SOXX"])
    kr_code: str = Field(pattern=KR_CODE_PATTERN, examples=["005930"])
    kr_name: str = Field(default="", max_length=100)
    confidence: Confidence = Field(examples=["H"])
    rationale: str = Field(default="", max_length=RATIONALE_MAX)
    active: bool = True
    us_name: str = Field(
        default="", max_length=100, description="the instrument's name (a new one is added)"
    )


class SectorLinksIn(BaseModel):
    """The whole map: it replaces the stored one (links left out are deleted)."""

    model_config = ConfigDict(strict=True)

    links: list[SectorLinkIn] = Field(
        min_length=1,
        max_length=2000,
        examples=[
            [
                {
                    "us_symbol": "SOXX",
                    "kr_code": "005930",
                    "kr_name": "삼성전자",
                    "confidence": "H",
                    "rationale": "[H] 반도체; the US chip basket",
                    "active": True,
                }
            ]
        ],
    )


class SectorStatOut(BaseModel):
    """A headline figure and its permutation p-value (None: not tested)."""

    value: float | None
    p_value: float | None


class SectorBacktestDayOut(BaseModel):
    date: dt.date
    ic_gap: float | None
    ic_day: float | None
    top_gap: float | None
    top_day_net: float | None
    universe_gap: float | None
    universe_day: float | None
    cum_gap: float | None
    cum_day_net: float | None
    stocks: int


class SectorLinkTestOut(BaseModel):
    us_symbol: str
    kr_code: str
    n: int
    corr: float | None
    p_value: float | None
    p_holm: float | None


class SectorMultipleTestingOut(BaseModel):
    links_tried: int
    alpha: float
    significant_raw: int
    significant_bonferroni: int
    significant_holm: int
    links: list[SectorLinkTestOut]
    note: str


class SectorBacktestOut(BaseModel):
    """The walk-forward backtest on the stored data (:class:`~gslts_backend.sectors.
    backtest.BacktestResult`): every headline figure beside its permutation p-value."""

    start: date
    end: date
    days: int
    top_n: int
    permutations: int
    seed: int
    ic_gap: SectorStatOut
    icir_gap: SectorStatOut
    ic_gap_t: float | None
    ic_day: SectorStatOut
    icir_day: SectorStatOut
    ic_day_model: SectorStatOut
    hit_rate_gap: SectorStatOut
    top_gap: SectorStatOut = Field(description="theoretical bound: the gap cannot be bought")
    top_gap_excess: SectorStatOut
    universe_gap: float | None
    top_day_gross: float | None
    top_day_net: SectorStatOut = Field(description="the tradable strategy, after costs")
    top_day_excess: SectorStatOut
    universe_day: float | None
    mean_cost: float | None
    quantiles_gap: list[float | None]
    quantiles_day: list[float | None]
    multiple_testing: SectorMultipleTestingOut
    daily: list[SectorBacktestDayOut]
    config: dict[str, Any]
    costs: dict[str, Any]
    notes: list[str]
    cached: bool = Field(description="served from the in-memory cache of this data version")
    elapsed_s: float = Field(description="how long the computation took")
    data_version: str


class SectorImportOut(BaseModel):
    """What an import or fetch stored."""

    kind: Literal["us", "kr"]
    rows: int
    symbols: int
    first_date: date | None
    last_date: date | None
