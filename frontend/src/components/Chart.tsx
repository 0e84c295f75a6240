"use client";
/**
 * Candles + a volume pane (lightweight-charts v5). The first page of GET /api/charts, older
 * pages loaded when the view nears the left edge (the visible logical range is shifted by
 * the bars added, so the view does not jump), the forming candle from /ws `candle`.
 * Times: see lib/candles.ts (KST wall clock as UTC; the axis therefore reads KST).
 */
import {
  CandlestickSeries,
  ColorType,
  CrosshairMode,
  HistogramSeries,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type SeriesMarker,
  type Time,
  createChart,
  createSeriesMarkers,
} from "lightweight-charts";
import { useEffect, useRef, useState } from "react";
import { api, unwrap } from "@/api/client";
import type { ChartPage } from "@/api/types";
import {
  type Bar,
  INTERVALS,
  INTERVAL_LABEL,
  type Interval,
  KST_OFFSET_S,
  SeriesModel,
  bucketOf,
  chartMinuteNow,
} from "@/lib/candles";
import { changePct, kstToday, num, pct } from "@/lib/format";
import { useOrders } from "@/lib/hooks";
import { live } from "@/lib/live";

const UP = "#e0314b";
const DOWN = "#2f6fde";

type Candle = { time: Time; open: number; high: number; low: number; close: number };
type Vol = { time: Time; value: number; color: string };

function toCandle(b: Bar): Candle {
  return { time: b.time as Time, open: b.open, high: b.high, low: b.low, close: b.close };
}
function toVol(b: Bar): Vol {
  return { time: b.time as Time, value: b.volume, color: b.close >= b.open ? `${UP}88` : `${DOWN}88` };
}

/** First pages asked for before the chart mounted (see prefetchChart), by code+interval. */
const early = new Map<string, { at: number; page: Promise<ChartPage> }>();
const EARLY_MAX_AGE_MS = 5_000;

/**
 * Start loading a stock's first chart page now (the trading view calls it as soon as its
 * code is known, in parallel with the auth check), so the chart does not wait for three
 * round trips in a row. The chart takes it if it is fresh, else fetches anew.
 */
export function prefetchChart(code: string, interval: Interval): void {
  const key = `${code}/${interval}`;
  const hit = early.get(key);
  if (hit && Date.now() - hit.at < EARLY_MAX_AGE_MS) return;
  const page = fetchPage(code, interval);
  page.catch(() => early.delete(key)); // a failure (e.g. not logged in yet) is not kept
  early.set(key, { at: Date.now(), page });
}

function firstPage(code: string, interval: Interval): Promise<ChartPage> {
  const key = `${code}/${interval}`;
  const hit = early.get(key);
  early.delete(key);
  if (hit && Date.now() - hit.at < EARLY_MAX_AGE_MS) return hit.page.catch(() => fetchPage(code, interval));
  return fetchPage(code, interval);
}

async function fetchPage(code: string, interval: Interval, before?: number | string | null) {
  const query: { interval: Interval; limit: string; before?: string } = { interval, limit: "500" };
  if (before !== undefined && before !== null) query.before = String(before);
  const page: ChartPage = await unwrap(
    api.GET("/api/charts/{code}", { params: { path: { code }, query } }),
  );
  return page;
}

interface Legend {
  bar: Bar;
  prevClose: number | null;
}

export function Chart({ code }: { code: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [interval, setIntervalState] = useState<Interval>("1m");
  const [legend, setLegend] = useState<Legend | null>(null);
  const [status, setStatus] = useState<string>("불러오는 중…");
  const [count, setCount] = useState(0);
  const markersRef = useRef<ISeriesMarkersPluginApi<Time> | null>(null);
  const [loadedAt, setLoadedAt] = useState(0);
  const today = kstToday();
  const filled = useOrders("all", code, { from: today, to: today });

  useEffect(() => {
    try {
      const saved = localStorage.getItem("gslts.interval") as Interval | null;
      if (saved && INTERVALS.includes(saved)) setIntervalState(saved);
    } catch {
      /* no storage */
    }
  }, []);

  useEffect(() => {
    const node = box.current;
    if (!node) return;
    const el: HTMLDivElement = node;
    let disposed = false;
    const chart: IChartApi = createChart(el, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: "#ffffff" },
        textColor: "#333",
        fontFamily: "'Noto Sans CJK KR', 'Noto Sans KR', sans-serif",
        panes: { separatorColor: "#e5e7eb" },
      },
      localization: { locale: "ko-KR" },
      grid: { vertLines: { color: "#f1f3f5" }, horzLines: { color: "#f1f3f5" } },
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderColor: "#dee2e6" },
      timeScale: {
        borderColor: "#dee2e6",
        timeVisible: interval !== "1d" && interval !== "1w",
        secondsVisible: false,
        rightOffset: 5,
      },
    });
    const candles: ISeriesApi<"Candlestick"> = chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      borderUpColor: UP,
      borderDownColor: DOWN,
      wickUpColor: UP,
      wickDownColor: DOWN,
      priceFormat: { type: "price", precision: 0, minMove: 1 },
    });
    const volume: ISeriesApi<"Histogram"> = chart.addSeries(
      HistogramSeries,
      { priceFormat: { type: "volume" }, priceLineVisible: false, lastValueVisible: false },
      1,
    );
    chart.panes()[1]?.setHeight(90);
    markersRef.current = createSeriesMarkers(candles, []);

    const model = new SeriesModel(interval, chartMinuteNow(Date.now()));
    let nextBefore: number | string | null = null;
    let loadingOlder = false;
    let ready = false;

    const redraw = () => {
      candles.setData(model.bars.map(toCandle));
      volume.setData(model.bars.map(toVol));
      setCount(model.bars.length);
      el.dataset.bars = String(model.bars.length);
    };

    const showLegend = (bar: Bar | undefined, index: number) => {
      if (!bar) return;
      const prev = index > 0 ? model.bars[index - 1] : undefined;
      setLegend({ bar, prevClose: prev ? prev.close : null });
    };

    async function loadOlder() {
      if (loadingOlder || nextBefore === null || disposed) return;
      loadingOlder = true;
      try {
        const page = await fetchPage(code, interval, nextBefore);
        if (disposed) return;
        const range = chart.timeScale().getVisibleLogicalRange();
        const added = model.prepend(page.candles);
        nextBefore = page.next_before ?? null;
        if (added > 0) {
          redraw();
          if (range) {
            chart
              .timeScale()
              .setVisibleLogicalRange({ from: range.from + added, to: range.to + added });
          }
        }
        el.dataset.history = nextBefore === null ? "start" : "more";
      } catch {
        /* the next scroll tries again */
      } finally {
        loadingOlder = false;
      }
    }

    chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
      if (ready && range && range.from < 30) void loadOlder();
    });
    chart.subscribeCrosshairMove((param) => {
      if (!param.time) {
        const n = model.bars.length;
        showLegend(model.bars[n - 1], n - 1);
        return;
      }
      const i = model.bars.findIndex((b) => b.time === param.time);
      showLegend(model.bars[i], i);
    });

    const offLive = live().onMessage((m) => {
      if (m.type !== "candle" && m.type !== "snapshot") return;
      const c = m.type === "candle" ? m : m.candle;
      if (!ready || !c || c.code !== code) return;
      const change = model.applyMinute(c);
      if (change.kind === "none") return;
      const historical = change.kind === "historical";
      candles.update(toCandle(change.bar), historical);
      volume.update(toVol(change.bar), historical);
      setCount(model.bars.length);
      el.dataset.bars = String(model.bars.length);
      el.dataset.lastClose = String(change.bar.close);
      el.dataset.liveUpdates = String(Number(el.dataset.liveUpdates ?? "0") + 1);
      const n = model.bars.length;
      showLegend(model.bars[n - 1], n - 1);
    });

    setStatus("불러오는 중…");
    firstPage(code, interval)
      .then((page) => {
        if (disposed) return;
        model.setFirstPage(page.candles);
        nextBefore = page.next_before ?? null;
        redraw();
        const n = model.bars.length;
        if (n > 150) chart.timeScale().setVisibleLogicalRange({ from: n - 150, to: n + 5 });
        else chart.timeScale().fitContent();
        showLegend(model.bars[n - 1], n - 1);
        setStatus(n ? "" : "차트 데이터가 없습니다");
        ready = true;
        el.dataset.ready = "1";
        // for a chart-ready benchmark: ms since navigation start when the first page showed
        const w = window as unknown as { __gslts?: { chartReadyMs?: number } };
        (w.__gslts ??= {}).chartReadyMs ??= Math.round(performance.now());
        setLoadedAt(Date.now());
      })
      .catch((e: unknown) => {
        if (!disposed) setStatus(`차트를 불러오지 못했습니다: ${String(e instanceof Error ? e.message : e)}`);
      });

    return () => {
      disposed = true;
      offLive();
      markersRef.current = null;
      chart.remove();
      delete el.dataset.ready;
      delete el.dataset.liveUpdates;
    };
  }, [code, interval]);

  // the user's own fills of today as markers (▲ buy under the bar, ▼ sell above it)
  useEffect(() => {
    const plugin = markersRef.current;
    if (!plugin) return;
    const markers: SeriesMarker<Time>[] = [];
    for (const o of filled.data?.orders ?? []) {
      if (!o.filled_quantity || !o.updated_at) continue;
      const minute = Math.floor((Date.parse(o.updated_at) / 1000 + KST_OFFSET_S) / 60) * 60;
      const buy = o.side === "buy";
      markers.push({
        time: bucketOf(minute, interval) as Time,
        position: buy ? "belowBar" : "aboveBar",
        shape: buy ? "arrowUp" : "arrowDown",
        color: buy ? UP : DOWN,
        text: `${buy ? "매수" : "매도"} ${num(o.filled_quantity)}@${num(o.avg_fill_price)}`,
      });
    }
    markers.sort((x, y) => (String(x.time) < String(y.time) ? -1 : 1));
    plugin.setMarkers(markers);
  }, [filled.data, interval, loadedAt]);

  const b = legend?.bar;
  const base = legend?.prevClose ?? b?.open ?? 0;
  const cls = b ? (b.close > base ? "up" : b.close < base ? "down" : "flat") : "flat";
  return (
    <section className="panel chart-panel" data-testid="chart-panel">
      <div className="chart-toolbar">
        {INTERVALS.map((iv) => (
          <button
            key={iv}
            type="button"
            className={iv === interval ? "chip active" : "chip"}
            onClick={() => {
              setIntervalState(iv);
              try {
                localStorage.setItem("gslts.interval", iv);
              } catch {
                /* no storage */
              }
            }}
          >
            {INTERVAL_LABEL[iv]}
          </button>
        ))}
        <span className="legend" data-testid="chart-legend">
          {b && (
            <>
              시 <b className={cls}>{num(b.open)}</b> 고 <b className={cls}>{num(b.high)}</b> 저{" "}
              <b className={cls}>{num(b.low)}</b> 종 <b className={cls}>{num(b.close)}</b> 거래량{" "}
              <b>{num(b.volume)}</b>{" "}
              <span className={cls}>{base ? pct(changePct(b.close, base)) : ""}</span>
            </>
          )}
        </span>
        <span className="muted small">{count ? `${count}봉 · KST` : ""}</span>
      </div>
      <div className="chart-box" ref={box} data-testid="chart" />
      {status && <div className="chart-status muted">{status}</div>}
    </section>
  );
}
