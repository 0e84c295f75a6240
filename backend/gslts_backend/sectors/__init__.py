"""Global sector link: last night's US sector moves → this morning's Korean watch list.

Pure computation (no database, no HTTP); storage, API and the page build on it.

**Model** (:mod:`.model`). A map of links US instrument → Korean stock (many-to-many,
each with a confidence ``H``/``M``/``L`` and a rationale; the default map ships as
package data, :func:`load_default_links`). For each KRX session ``D`` and link, the
signal is the US instrument's return compounded over the US sessions since the previous
KRX session, net of the market factor (EWY: minus the instrument's walk-forward market
beta × EWY's return over the same sessions). Per link, walk-forward OLS of the stock's
**gap** (previous close → open) and, separately, its **day session** (open → close) on
that signal, each shrunk toward zero (or the mean of the same US instrument's links) by
a normal prior whose width is set by the link's confidence; the posterior mean is the
beta used and the posterior SD its uncertainty; a stock with several links is fit as one
regression on all of them, so links that move together (SOXX, SMH) share the credit. A
stock's score is its expected gap: Σ over its links of shrunk gap beta × signal.

**Timing** (:mod:`.calendars`). XNYS and XKRX calendars (``exchange_calendars``, plus a
small table of what its data lacks). The US closes at 05:00 KST in US summer time and
06:00 otherwise (earlier on early-close days); KRX opens at 09:00, 10:00 on the first
trading day of the year and on 수능 day. The recommendation for ``D`` uses only what was
known at 08:30 KST on ``D``: the US sessions that closed after the previous KRX close and
before then (none after a US holiday: no signal; several after a KRX holiday), KR bars
before ``D``, and estimates fit on rows dated before ``D``.

**Evaluation** (:mod:`.backtest`). Walk-forward over the history: daily rank IC and
ICIR against the gap and the day session, hit rate, top-N and quantile baskets against
the equal-weight linked universe; the gap as a forecast (its P&L is a theoretical bound),
the day session as the tradable strategy after brokerage, the sell tax of the trade's
year and a spread; a permutation test (US dates shuffled against KR dates) beside every
headline figure and a multiple-testing summary over the links tried.

``docs/sectors.md`` explains the choices and what the numbers do not promise.
"""

# ``backtest()`` itself is not re-exported: the name would hide the ``backtest`` module
# (``import gslts_backend.sectors.backtest`` must give the module); import it from there.
from gslts_backend.sectors.backtest import BacktestResult, Costs, DailyPoint, Stat
from gslts_backend.sectors.calendars import (
    kr_sessions,
    krx_open_kst,
    us_close_kst,
    us_sessions,
    us_sessions_for,
)
from gslts_backend.sectors.model import (
    AlignedSample,
    Bar,
    Driver,
    Link,
    ModelConfig,
    Recommendation,
    align,
    bars_from_rows,
    build_panel,
    load_default_links,
    recommend,
)

__all__ = [
    "AlignedSample",
    "BacktestResult",
    "Bar",
    "Costs",
    "DailyPoint",
    "Driver",
    "Link",
    "ModelConfig",
    "Recommendation",
    "Stat",
    "align",
    "bars_from_rows",
    "build_panel",
    "kr_sessions",
    "krx_open_kst",
    "load_default_links",
    "recommend",
    "us_close_kst",
    "us_sessions",
    "us_sessions_for",
]
