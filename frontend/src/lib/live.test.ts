// The app's socket with a stand-in WebSocket: subscriptions are reference-counted, sent
// again after a reconnect (and a resync is announced), a 4401 stops it, back-off grows.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

class FakeSocket {
  static OPEN = 1;
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  drop(code = 1006, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
  vi.stubGlobal("WebSocket", FakeSocket);
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

async function socket() {
  const { LiveSocket } = await import("./live");
  return new LiveSocket(() => "ws://test/ws");
}

describe("backoff", () => {
  it("doubles from 0.5 s to a 10 s cap, with ±25 % jitter", async () => {
    const { backoffMs } = await import("./live");
    expect(backoffMs(0, () => 0.5)).toBe(500);
    expect(backoffMs(3, () => 0.5)).toBe(4000);
    expect(backoffMs(10, () => 0.5)).toBe(10_000);
    expect(backoffMs(0, () => 0)).toBe(375);
    expect(backoffMs(0, () => 1)).toBe(625);
  });
});

describe("LiveSocket", () => {
  it("reference-counts subscriptions", async () => {
    const s = await socket();
    s.start();
    const ws = FakeSocket.all[0]!;
    ws.open();
    const a = s.subscribe("005930");
    const b = s.subscribe("005930", ["trades"]);
    expect(ws.sent).toEqual([
      { op: "subscribe", codes: ["005930"], channels: ["trades", "book", "candle"] },
    ]); // the second adds no channel
    b();
    expect(ws.sent).toHaveLength(1); // trades still wanted by the first
    a();
    expect(ws.sent[1]).toEqual({
      op: "unsubscribe",
      codes: ["005930"],
      channels: ["trades", "book", "candle"],
    });
    s.stop();
  });

  it("reconnects with back-off, subscribes again and announces a resync", async () => {
    const s = await socket();
    const resync = vi.fn();
    s.onResync(resync);
    s.start();
    FakeSocket.all[0]!.open();
    s.subscribe("000660", ["book"]);
    expect(resync).not.toHaveBeenCalled(); // the first connect is no resync
    FakeSocket.all[0]!.drop(4008, "slow consumer");
    expect(s.state).toBe("reconnecting");
    expect(s.lastError).toBe("slow consumer");
    vi.advanceTimersByTime(10_000);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1]!.open();
    expect(s.state).toBe("open");
    expect(FakeSocket.all[1]!.sent).toContainEqual({
      op: "subscribe",
      codes: ["000660"],
      channels: ["book"],
    });
    expect(resync).toHaveBeenCalledTimes(1);
    s.stop();
  });

  it("stops on 4401 (no session) instead of retrying", async () => {
    const s = await socket();
    s.start();
    FakeSocket.all[0]!.open();
    FakeSocket.all[0]!.drop(4401, "log in first");
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(s.state).toBe("closed");
  });

  it("keeps the newest price, book and candle per stock from the messages", async () => {
    const s = await socket();
    s.start();
    const ws = FakeSocket.all[0]!;
    ws.open();
    const msg = (m: unknown) => ws.onmessage?.({ data: JSON.stringify(m) });
    msg({
      type: "trades",
      code: "005930",
      n: 2,
      time: [1, 2],
      price: [72000, 72100],
      volume: [5, -3],
      cum_volume: [10, 13],
      venue: ["KRX", "KRX"],
    });
    expect(s.store.last.get("005930")).toMatchObject({ price: 72100, volume: -3, cumVolume: 13 });
    expect(s.store.tapes.get("005930")).toHaveLength(2);
    msg({ type: "book", code: "005930", venue: "KRX", time: "t", asks: [[72100, 1]], bids: [[72000, 2]], total_ask: 1, total_bid: 2 });
    expect(s.store.books.get("005930")?.bids).toEqual([[72000, 2]]);
    msg("not json {");
    expect(s.state).toBe("open");
    s.stop();
  });
});
