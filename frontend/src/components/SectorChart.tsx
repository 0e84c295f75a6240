"use client";
/**
 * A small line chart of the backtest (lightweight-charts v5 line series, daily times
 * "YYYY-MM-DD", values in percent). Loaded in the browser only (a canvas), like the
 * trading chart. `data-points` on the box tells a test how many points it drew.
 */
import {
  ColorType,
  type IChartApi,
  LineSeries,
  LineStyle,
  type Time,
  createChart,
} from "lightweight-charts";
import { useEffect, useRef } from "react";
import type { LinePoint } from "@/lib/sector";

export interface ChartLine {
  name: string;
  color: string;
  points: LinePoint[];
  dashed?: boolean;
  width?: 1 | 2 | 3;
}

interface Props {
  lines: ChartLine[];
  testId: string;
  /** digits of the values' labels (percent) */
  precision?: number;
  /** a horizontal zero line */
  zero?: boolean;
  /** after each value label ("%" by default) */
  unit?: string;
}

export function SectorChart({ lines, testId, precision = 2, zero = true, unit = "%" }: Props) {
  const box = useRef<HTMLDivElement | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const chart: IChartApi = createChart(el, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: "#ffffff" },
        textColor: "#333",
        fontFamily: "'Noto Sans CJK KR', 'Noto Sans KR', sans-serif",
        attributionLogo: false,
      },
      localization: { locale: "ko-KR", priceFormatter: (v: number) => `${v.toFixed(precision)}${unit}` },
      grid: { vertLines: { color: "#f1f3f5" }, horzLines: { color: "#f1f3f5" } },
      rightPriceScale: { borderColor: "#dee2e6" },
      timeScale: { borderColor: "#dee2e6", timeVisible: false },
      handleScroll: false,
      handleScale: false,
    });
    let drawn = 0;
    lines.forEach((l, i) => {
      const s = chart.addSeries(LineSeries, {
        color: l.color,
        lineWidth: l.width ?? 2,
        lineStyle: l.dashed ? LineStyle.Dashed : LineStyle.Solid,
        priceLineVisible: false,
        lastValueVisible: true,
        title: l.name,
        crosshairMarkerVisible: true,
      });
      s.setData(l.points.map((p) => ({ time: p.time as Time, value: p.value })));
      if (zero && i === 0) {
        s.createPriceLine({ price: 0, color: "#9ca3af", lineWidth: 1, lineStyle: LineStyle.Dotted, axisLabelVisible: false, title: "" });
      }
      drawn += l.points.length;
    });
    chart.timeScale().fitContent();
    el.dataset.points = String(drawn);
    return () => chart.remove();
  }, [lines, precision, zero, unit]);
  return <div ref={box} className="bt-chart-box" data-testid={testId} />;
}

export default SectorChart;
