import { describe, expect, it } from "vitest";
import type { WsVi } from "@/api/types";
import { VI_GRACE_MS, auctionOf, viLabel, viOf } from "./bookstate";

const vi: WsVi = {
  code: "005930",
  active: true,
  kind: "정적",
  trigger_price: 73_700,
  triggered_at: "2026-12-04T10:00:05+09:00",
  release_at: "2026-12-04T10:02:05+09:00",
  count: 1,
  direction: "up",
};

describe("the 동시호가 badge", () => {
  it("shows the live book's expected price and quantity during an auction", () => {
    expect(auctionOf({ expected_price: 72_100, expected_qty: 1_234 }, null)).toEqual({ price: 72_100, qty: 1_234 });
    expect(auctionOf({ expected_price: 72_100 }, null)).toEqual({ price: 72_100, qty: null });
  });

  it("the live book decides once there is one: a blank expected price ends the auction", () => {
    const snap = { expected_price: 72_100, expected_qty: 10 };
    expect(auctionOf({ expected_price: null, expected_qty: null }, snap)).toBeNull();
    expect(auctionOf({}, snap)).toBeNull();
    expect(auctionOf(undefined, snap)).toEqual({ price: 72_100, qty: 10 });
    expect(auctionOf(null, null)).toBeNull();
    expect(auctionOf({ expected_price: 0 }, null)).toBeNull();
  });
});

describe("the VI badge", () => {
  it("says kind, direction, trigger price and release time (KST) of an active VI", () => {
    const during = Date.parse(vi.triggered_at ?? "");
    expect(viLabel(vi, during)).toBe("VI 정적 ▲ · 73,700원 · 해제 10:02:05");
    expect(viLabel({ ...vi, direction: "down", kind: "", trigger_price: null, release_at: null }, during)).toBe("VI ▼");
  });

  it("is gone once released, or when none was seen", () => {
    expect(viLabel({ ...vi, active: false }, Date.parse(vi.triggered_at ?? ""))).toBeNull();
    expect(viLabel(null)).toBeNull();
    expect(viLabel(undefined)).toBeNull();
  });

  it("a VI whose release was lost ends a grace after its announced duration (browser clock)", () => {
    const got = 1_000_000; // when the browser received it: its own clock, not the exchange's
    const span = 120_000; // 10:00:05 → 10:02:05
    const r = { ...vi, received_ms: got };
    expect(viLabel(r, got)).not.toBeNull();
    expect(viLabel(r, got + span + VI_GRACE_MS)).not.toBeNull();
    expect(viLabel(r, got + span + VI_GRACE_MS + 1)).toBeNull();
    expect(viLabel({ ...r, release_at: null }, got + 100 * span)).not.toBeNull(); // none announced
    expect(viLabel(vi, Date.parse("2030-01-01T00:00:00Z"))).not.toBeNull(); // no receive time
  });

  it("the stream's state wins over the REST snapshot's", () => {
    const released = { ...vi, active: false };
    expect(viOf(released, vi)).toBe(released);
    expect(viOf(undefined, vi)).toBe(vi);
    expect(viOf(null, null)).toBeNull();
  });
});
