import { describe, expect, it } from "vitest";
import {
  changePct,
  countdown,
  direction,
  eokMan,
  kstDateTime,
  kstTime,
  kstToday,
  num,
  pct,
  signed,
  won,
} from "./format";

describe("numbers", () => {
  it("separates thousands and keeps integers", () => {
    expect(num(72000)).toBe("72,000");
    expect(num(1234567)).toBe("1,234,567");
    expect(num(0)).toBe("0");
    expect(num(null)).toBe("-");
    expect(num(Number.NaN)).toBe("-");
    expect(won(72000)).toBe("72,000원");
    expect(won(undefined)).toBe("-");
  });

  it("signs", () => {
    expect(signed(1200)).toBe("+1,200");
    expect(signed(-1200)).toBe("-1,200");
    expect(signed(0)).toBe("0");
  });

  it("억/만", () => {
    expect(eokMan(123_456_789)).toBe("1억 2,345만");
    expect(eokMan(500_000_000)).toBe("5억");
    expect(eokMan(1_234_500_000_000)).toBe("1조 2,345억");
    expect(eokMan(2_000_000_000_000)).toBe("2조");
    expect(eokMan(35_000)).toBe("3만 5,000");
    expect(eokMan(10_000)).toBe("1만");
    expect(eokMan(9_999)).toBe("9,999");
    expect(eokMan(-250_000_000)).toBe("-2억 5,000만");
    expect(eokMan(123_499_999_999)).toBe("1,234억 9,999만"); // truncated, never rounded up
  });

  it("percentages keep the backend's decimal string", () => {
    expect(pct("1.24")).toBe("+1.24%");
    expect(pct("-0.50")).toBe("-0.50%");
    expect(pct("0.00")).toBe("0.00%");
    expect(pct(null)).toBe("-");
    expect(pct(2.5)).toBe("+2.50%");
    expect(changePct(72000, 70000)).toBe("2.86");
    expect(changePct(69000, 70000)).toBe("-1.43");
    expect(changePct(70000, 70000)).toBe("0.00");
  });

  it("direction: red up, blue down", () => {
    expect(direction(72000, 70000)).toBe("up");
    expect(direction(69000, 70000)).toBe("down");
    expect(direction(70000, 70000)).toBe("flat");
    expect(direction("-1.2")).toBe("down");
  });
});

describe("Korean time whatever the viewer's zone", () => {
  it("formats ISO and epoch seconds in KST", () => {
    expect(kstTime("2026-03-03T01:15:02Z")).toBe("10:15:02");
    expect(kstTime("2026-03-03T10:15:02+09:00")).toBe("10:15:02");
    expect(kstTime(1772500502)).toBe(kstTime(new Date(1772500502 * 1000)));
    expect(kstDateTime("2026-03-03T15:30:00Z")).toBe("2026-03-04 00:30");
    expect(kstToday(new Date("2026-03-03T16:00:00Z"))).toBe("2026-03-04");
  });

  it("countdowns", () => {
    expect(countdown(86390)).toBe("23시간 59분");
    expect(countdown(303)).toBe("5분 3초");
    expect(countdown(7)).toBe("7초");
    expect(countdown(0)).toBe("만료");
  });
});
