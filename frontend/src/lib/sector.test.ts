import { describe, expect, it } from "vitest";
import {
  betaPm,
  canEditLinks,
  compound,
  dec,
  fracDir,
  fracPct,
  heatColour,
  heatTiles,
  hitRateText,
  daysBefore,
  isoDay,
  kstClose,
  latestUsDate,
  linkErrorAt,
  noteKo,
  usCloseIso,
  pText,
  percentSeries,
  ratePct,
  rollingMean,
  significanceStatement,
  splitExplanation,
  stripTag,
  syncTag,
  verdict,
} from "./sector";

describe("numbers", () => {
  it("shows fractions as signed percentages", () => {
    expect(fracPct(0.0404)).toBe("+4.04%");
    expect(fracPct(-0.0012)).toBe("-0.12%");
    expect(fracPct(0.00004)).toBe("0.00%"); // rounds to zero: no sign
    expect(fracPct(-0.00004)).toBe("0.00%");
    expect(fracPct(0)).toBe("0.00%");
    expect(fracPct(0.12345, 1)).toBe("+12.3%");
    expect(fracPct(null)).toBe("-");
    expect(fracPct(Number.NaN)).toBe("-");
    expect(ratePct(0.583)).toBe("58%");
    expect(ratePct(undefined)).toBe("-");
  });

  it("formats betas with their uncertainty", () => {
    expect(betaPm(0.142, 0.031)).toBe("0.14 ± 0.03");
    expect(betaPm(-0.05, -0.02)).toBe("-0.05 ± 0.02");
    expect(betaPm(0.1, null)).toBe("0.10");
    expect(betaPm(null, 0.1)).toBe("-");
    expect(dec(-0.0001, 2)).toBe("0.00"); // no "-0.00"
    expect(dec(0.0812, 3)).toBe("0.081");
  });

  it("gives red up / blue down directions", () => {
    expect(fracDir(0.01)).toBe("up");
    expect(fracDir(-0.01)).toBe("down");
    expect(fracDir(0)).toBe("flat");
    expect(fracDir(null)).toBe("flat");
  });

  it("counts hit rates with their days", () => {
    expect(hitRateText(0.583, 120)).toBe("58% (120일)");
    expect(hitRateText(0.5)).toBe("50%");
    expect(hitRateText(null, 0)).toBe("기록 없음");
  });
});

describe("heat map colours", () => {
  const rgb = (s: string) => s.match(/\d+/g)!.map(Number) as [number, number, number];

  it("is red for a rise and blue for a fall (Korean convention)", () => {
    const up = rgb(heatColour(0.02).background);
    const down = rgb(heatColour(-0.02).background);
    expect(up[0]).toBeGreaterThan(up[2]); // more red than blue
    expect(down[2]).toBeGreaterThan(down[0]); // more blue than red
  });

  it("grows with the size of the move and saturates at the cap", () => {
    const a = heatColour(0.001).intensity;
    const b = heatColour(0.01).intensity;
    const c = heatColour(0.03).intensity;
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a);
    expect(c).toBe(1);
    expect(heatColour(0.5).intensity).toBe(1);
    expect(heatColour(0.03).background).toBe("rgb(224, 49, 75)"); // --up
    expect(heatColour(-0.03).background).toBe("rgb(47, 111, 222)"); // --down
    expect(heatColour(0.01, 0.01).intensity).toBe(1); // own cap
  });

  it("is neutral when flat and grey without data; white text on strong tiles", () => {
    expect(heatColour(0).intensity).toBe(0);
    expect(heatColour(0).background).toBe("rgb(243, 244, 246)");
    expect(heatColour(null).background).toBe("rgb(229, 231, 235)");
    expect(heatColour(Number.NaN).color).toBe("#6b7280");
    expect(heatColour(0.03).color).toBe("#ffffff");
    expect(heatColour(0.0005).color).toBe("#1f2937");
    // symmetric: the same move up or down has the same intensity
    expect(heatColour(0.007).intensity).toBe(heatColour(-0.007).intensity);
  });

  it("orders tiles from the strongest rise to the strongest fall, market factors first", () => {
    const counts: Record<string, number> = { SOXX: 9, XBI: 5, LIT: 2 };
    const tiles = heatTiles(
      [
        { symbol: "LIT", name: "Lithium", ret: -0.02 },
        { symbol: "SOXX", name: "Semis", ret: 0.031 },
        { symbol: "EWY", name: "Korea", ret: 0.001 },
        { symbol: "TAN", ret: null },
        { symbol: "XBI", ret: 0.004 },
      ],
      (s) => counts[s] ?? 0,
    );
    expect(tiles.map((t) => t.symbol)).toEqual(["EWY", "SOXX", "XBI", "LIT", "TAN"]);
    expect(tiles[0]?.market).toBe(true);
    expect(tiles.find((t) => t.symbol === "SOXX")?.size).toBe(3);
    expect(tiles.find((t) => t.symbol === "XBI")?.size).toBe(2);
    expect(tiles.find((t) => t.symbol === "LIT")?.size).toBe(1);
    expect(tiles.find((t) => t.symbol === "TAN")?.ret).toBeNull();
  });
});

describe("times", () => {
  it("shows a US close in KST with the weekday, whatever the viewer's zone", () => {
    // NYSE close 2026-12-03 16:00 New York = 2026-12-04 06:00 KST (winter)
    expect(kstClose("2026-12-03T21:00:00Z")).toBe("12/04(금) 06:00");
    // summer: 16:00 EDT = 05:00 KST next day
    expect(kstClose("2026-07-01T20:00:00Z")).toBe("07/02(목) 05:00");
    expect(kstClose("2026-12-04T06:00:00+09:00")).toBe("12/04(금) 06:00");
    expect(kstClose(null)).toBe("-");
    expect(kstClose("not a time")).toBe("-");
  });
});

describe("US closes", () => {
  it("puts the NYSE close at 05:00 KST in US summer time and 06:00 otherwise", () => {
    expect(kstClose(usCloseIso("2026-12-03"))).toBe("12/04(금) 06:00");
    expect(kstClose(usCloseIso("2026-07-01"))).toBe("07/02(목) 05:00");
    // 2026 DST: from Sunday 03-08 to Sunday 11-01
    expect(kstClose(usCloseIso("2026-03-06"))).toBe("03/07(토) 06:00");
    expect(kstClose(usCloseIso("2026-03-09"))).toBe("03/10(화) 05:00");
    expect(kstClose(usCloseIso("2026-10-30"))).toBe("10/31(토) 05:00");
    expect(kstClose(usCloseIso("2026-11-02"))).toBe("11/03(화) 06:00");
    // a Friday's close is Saturday morning in Korea: it feeds Monday's list
    expect(usCloseIso("2026-12-04")).toBe("2026-12-04T21:00:00.000Z");
    expect(usCloseIso("12/04")).toBeNull();
  });
});

describe("notes and dates", () => {
  it("says the API's notes in Korean first", () => {
    expect(noteKo("no US session since the previous KRX session (a US holiday): no signal")?.ko).toContain("미국 휴장");
    const p = noteKo("US data not complete for this day (missing 2026-12-03): provisional, not stored");
    expect(p?.provisional).toBe(true);
    expect(p?.ko).toContain("잠정");
    expect(noteKo("no link has enough history yet (min_history rows) to rank anything")?.ko).toContain("이력");
    expect(noteKo("something else")).toEqual({ ko: "something else", en: "", provisional: false });
    expect(noteKo(null)).toBeNull();
  });

  it("finds the latest stored US session", () => {
    expect(latestUsDate([{ last_date: "2026-11-20" }, { last_date: null }, { last_date: "2026-11-23" }])).toBe(
      "2026-11-23",
    );
    expect(latestUsDate([{ last_date: null }])).toBeNull();
    expect(latestUsDate([])).toBeNull();
  });

  it("checks and shifts dates", () => {
    expect(daysBefore("2026-12-04", 730)).toBe("2024-12-04");
    expect(daysBefore("2026-03-01", 1)).toBe("2026-02-28");
    expect(isoDay("2026-12-04")).toBe("2026-12-04");
    expect(isoDay("2026-02-30")).toBeNull();
    expect(isoDay("20261204")).toBeNull();
    expect(isoDay(null)).toBeNull();
  });
});

describe("explanations and links", () => {
  it("splits the model's explanation into Korean and English", () => {
    const e = splitExplanation("예상 갭 +0.46%: XLB +4.04%\nExpected gap +0.46%: XLB +4.04%");
    expect(e.ko).toBe("예상 갭 +0.46%: XLB +4.04%");
    expect(e.en).toBe("Expected gap +0.46%: XLB +4.04%");
    expect(splitExplanation(null)).toEqual({ ko: "", en: "" });
  });

  it("lets admins and traders edit the links, not viewers", () => {
    expect(canEditLinks("admin")).toBe(true);
    expect(canEditLinks("trader")).toBe(true);
    expect(canEditLinks("viewer")).toBe(false);
    expect(canEditLinks(undefined)).toBe(false);
  });

  it("finds the row and field of a server validation error", () => {
    expect(linkErrorAt("links.3.confidence")).toEqual({ index: 3, key: "confidence" });
    expect(linkErrorAt("links[12].rationale")).toEqual({ index: 12, key: "rationale" });
    expect(linkErrorAt("body.links.0.kr_code")).toEqual({ index: 0, key: "kr_code" });
    expect(linkErrorAt("2.us_symbol")).toEqual({ index: 2, key: "us_symbol" });
    expect(linkErrorAt("kr_code")).toEqual({ index: null, key: "kr_code" });
    expect(linkErrorAt("links")).toBeNull();
    expect(linkErrorAt(null)).toBeNull();
  });

  it("drops the confidence tag from a rationale", () => {
    expect(stripTag("[H] 반도체/메모리반도체; memory cycle")).toBe("반도체/메모리반도체; memory cycle");
    expect(stripTag("no tag")).toBe("no tag");
    expect(syncTag("[L] 기계/로봇 (actuators)", "H")).toBe("[H] 기계/로봇 (actuators)");
    expect(syncTag("own words", "H")).toBe("own words");
  });
});

describe("significance", () => {
  it("writes p-values and verdicts", () => {
    expect(pText(0.005)).toBe("p=0.005");
    expect(pText(0.4234)).toBe("p=0.42");
    expect(pText(0.0004)).toBe("p<0.001");
    expect(pText(null)).toBe("검정 없음");
    expect(verdict(0.01)).toBe("significant");
    expect(verdict(0.05)).toBe("not");
    expect(verdict(null)).toBe("untested");
  });

  const base = {
    days: 480,
    permutations: 200,
    ic_gap: { value: 0.0812, p_value: 0.005 },
    top_gap: { value: 0.0031, p_value: 0.005 },
    top_day_net: { value: -0.0024, p_value: 0.61 },
    mean_cost: 0.0028,
    multiple_testing: { links_tried: 93, alpha: 0.05, significant_raw: 31, significant_holm: 12 },
  };

  it("says a significant gap forecast is still only a theoretical bound", () => {
    const s = significanceStatement(base);
    expect(s.ko[0]).toContain("IC 0.081");
    expect(s.ko[0]).toContain("p=0.005");
    expect(s.ko[0]).toContain("이론적 상한");
    expect(s.en[0]).toContain("theoretical bound");
    expect(s.ko[1]).toContain("-0.24%/일");
    expect(s.ko[1]).toContain("유의하지 않음");
    expect(s.ko[1]).toContain("0.28%");
    expect(s.en[1]).toContain("not significant");
  });

  it("adds the multiple-testing caution and what the numbers do not promise", () => {
    const s = significanceStatement(base);
    expect(s.ko[2]).toContain("93개");
    expect(s.ko[2]).toContain("약 4.7개");
    expect(s.ko[2]).toContain("Holm 보정 후 12개");
    expect(s.en[2]).toContain("about 4.7 pass at 5% by chance");
    expect(s.ko[3]).toContain("약속하지 않는 것");
    expect(s.ko[3]).toContain("0.005");
    expect(s.en[3]).toContain("Not investment advice");
  });

  it("calls an unsignificant gap chance", () => {
    const s = significanceStatement({ ...base, ic_gap: { value: 0.004, p_value: 0.38 }, multiple_testing: null });
    expect(s.ko[0]).toContain("우연과 구별되지 않습니다");
    expect(s.ko[0]).not.toContain("이론적 상한");
    expect(s.en[0]).toContain("not distinguishable from chance");
    expect(s.ko).toHaveLength(3);
  });
});

describe("chart series", () => {
  it("turns a daily fraction into a percent line, skipping missing days", () => {
    const daily = [
      { date: "2026-01-02", cum_gap: 0.01 },
      { date: "2026-01-05", cum_gap: null },
      { date: "2026-01-06", cum_gap: 0.0234567 },
    ];
    expect(percentSeries(daily, (d) => d.cum_gap)).toEqual([
      { time: "2026-01-02", value: 1 },
      { time: "2026-01-06", value: 2.3457 },
    ]);
  });

  it("compounds and averages", () => {
    const c = compound([0.01, 0.02, null]);
    expect(c[0]).toBeCloseTo(0.01);
    expect(c[1]).toBeCloseTo(0.0302);
    expect(c[2]).toBeCloseTo(0.0302);
    expect(rollingMean([1, 3, null, 5], 2)).toEqual([1, 2, 3, 5]);
    expect(rollingMean([null, null], 3)).toEqual([null, null]);
  });
});
