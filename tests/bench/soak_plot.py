"""The soak's day as a picture: trades/s (made by the market, stored by the hub), resident
memory of the hub and its writer, and the journal backlog, over simulated KRX time, with
the fault windows shaded and the auctions marked.

``python -m tests.bench.soak_plot SUMMARY.json OUT.png`` redraws a saved summary
(``tests/bench/soak.py`` writes one per run and draws it with :func:`plot`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

FAULT_COLORS = {
    "drop": "#bbbbbb",
    "stall": "#ff9f43",
    "garbage": "#a29bfe",
    "token": "#fd79a8",
    "db": "#d63031",
    "redis": "#e17055",
    "storm": "#fdcb6e",
    "disk": "#6c5ce7",
    "kill9": "#2d3436",
    "flood": "#00b894",
}


def _sim_at(samples: Sequence[Mapping[str, Any]], wall: float) -> datetime | None:
    """The simulated time of the sample nearest to ``wall`` (epoch s)."""
    best = None
    for s in samples:
        if s["sim"] is None:
            continue
        if best is None or abs(s["wall"] - wall) < abs(best["wall"] - wall):
            best = s
    return None if best is None else datetime.fromisoformat(best["sim"]).replace(tzinfo=None)


def _rates(
    samples: Sequence[Mapping[str, Any]], key: str, every_s: float = 5.0
) -> tuple[list[datetime], list[float]]:
    """Per-wall-second rate of a growing counter over ``every_s`` windows; a counter that
    restarts (a new hub process) starts a new window."""
    xs: list[datetime] = []
    ys: list[float] = []
    prev = None
    for s in samples:
        v = s.get(key) if key == "sim_trades" else (s["status"] or {}).get(key)
        if v is None or s["sim"] is None:
            continue
        if prev is not None and v < prev[1]:
            prev = None
        if prev is None:
            prev = (s["wall"], v)
            continue
        if s["wall"] - prev[0] >= every_s:
            xs.append(datetime.fromisoformat(s["sim"]).replace(tzinfo=None))
            ys.append(max(1.0, (v - prev[1]) / (s["wall"] - prev[0])))
            prev = (s["wall"], v)
    return xs, ys


def plot(summary: Mapping[str, Any], out: Path) -> None:
    """Draw ``summary`` (the soak's JSON) into ``out`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    day = summary["day"]
    cfg = summary["config"]
    x_end = datetime.fromisoformat(f"{day}T{cfg['end']}")
    samples = [
        s
        for s in summary["samples"]
        if s["sim"] is not None and datetime.fromisoformat(s["sim"]).replace(tzinfo=None) <= x_end
    ]
    fig, axes = plt.subplots(3, 1, figsize=(13, 9), sharex=True)
    ax_rate, ax_mem, ax_backlog = axes

    x, y = _rates(samples, "sim_trades")
    ax_rate.plot(x, y, lw=0.8, color="#0984e3", label="made by the market")
    x, y = _rates(samples, "ticks_written")
    ax_rate.plot(x, y, lw=0.8, color="#e84393", alpha=0.8, label="stored by the hub")
    ax_rate.set_ylabel("trades / wall s (5 s)")
    ax_rate.set_yscale("log")
    ax_rate.legend(loc="upper left", fontsize=8)

    for key, label, color in (
        ("hub_rss_kib", "hub RSS", "#2d3436"),
        ("writer_rss_kib", "writer RSS", "#00b894"),
    ):
        xs = [datetime.fromisoformat(s["sim"]).replace(tzinfo=None) for s in samples]
        ys = [(s[key] or float("nan")) / 1024 if s[key] else float("nan") for s in samples]
        ax_mem.plot(xs, ys, lw=0.9, color=color, label=label)
    ax_mem.set_ylabel("MB resident")
    ax_mem.set_ylim(bottom=0)
    ax_mem.legend(loc="upper left", fontsize=8)

    xs = [datetime.fromisoformat(s["sim"]).replace(tzinfo=None) for s in samples]
    ys = [(s["status"]["backlog_bytes"] / 2**20) if s["status"] else float("nan") for s in samples]
    ax_backlog.plot(xs, ys, lw=0.9, color="#6c5ce7")
    ax_backlog.set_ylabel("journal backlog MB")
    ax_backlog.set_ylim(bottom=0)

    # fault windows (simulated time of their wall start/end) and the auctions
    seen: set[str] = set()
    for f in summary["faults"]:
        t0, t1 = _sim_at(samples, f["wall_start"]), _sim_at(samples, f["wall_end"])
        if t0 is None or t1 is None:
            continue
        color = FAULT_COLORS.get(f["name"], "#999999")
        for ax in axes:
            if f["name"] == "drop":
                ax.axvline(t0, color=color, lw=0.6, ls=":")
            else:
                ax.axvspan(t0, max(t1, t0), color=color, alpha=0.25, lw=0)
        if f["name"] != "drop" and f["name"] not in seen:
            seen.add(f["name"])
            ax_rate.annotate(
                f["name"] + ("" if f["visible"] and f["survived"] else " FAILED"),
                (t0, 1.0),
                xycoords=("data", "axes fraction"),
                fontsize=8,
                rotation=90,
                va="top",
                ha="right",
            )
    for a, b, label in (("08:30", "09:00", "opening auction"), ("15:20", "15:30", "closing")):
        t0 = datetime.fromisoformat(f"{day}T{a}")
        t1 = datetime.fromisoformat(f"{day}T{b}")
        for ax in axes:
            ax.axvspan(t0, t1, color="#74b9ff", alpha=0.15, lw=0, hatch="//")
        ax_backlog.annotate(label, (t0, 0.9), xycoords=("data", "axes fraction"), fontsize=7)
    ax_backlog.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax_backlog.set_xlabel("simulated KST time (drops: dotted lines)")
    fig_ = summary["figures"]
    fig.suptitle(
        f"Soak {day}: {fig_['soak.ticks']:,} trades stored at time warp {cfg['warp']:g}, "
        f"lost {fig_['soak.lost']}, duplicates {fig_['soak.duplicates']}, faults survived "
        f"{fig_['soak.faults_survived']}/{fig_['soak.faults_total']}, RSS growth "
        f"{fig_['soak.rss_growth_pct']} %, FD growth {fig_['soak.fd_growth']}",
        fontsize=10,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    plot(json.loads(Path(sys.argv[1]).read_text("utf-8")), Path(sys.argv[2]))
