/**
 * The one app-wide WebSocket (/ws, docs/backend.md "Browser stream") and the live state it
 * feeds: latest price, book and forming candle per stock.
 *
 * * Visible state (`connecting` / `open` / `reconnecting` / `closed`), shown in the header.
 * * Reconnects with an exponential back-off (0.5 s doubling to 10 s, with jitter) after a
 *   network loss or a 4008 (slow consumer); a 4401 (no session) goes to the login page.
 * * Subscriptions are reference-counted per stock and channel and sent again after every
 *   reconnect (the server's snapshot makes the page current); `onResync` listeners then
 *   refetch orders and positions (nothing is replayed by the server).
 * * Updates reach React at most once per animation frame (the store batches notifications),
 *   so a 10k ticks/s market never blocks the main thread with renders.
 */
import { notifyUnauthorized } from "@/api/client";
import type { Channel, WsBook, WsCandle, WsMessage, WsVi } from "@/api/types";

export type SocketState = "connecting" | "open" | "reconnecting" | "closed";

export interface LastTrade {
  price: number;
  /** + buy-initiated, − sell-initiated */
  volume: number;
  cumVolume: number;
  /** epoch seconds */
  time: number;
  /** performance.now() when it arrived (tick-to-screen measurement) */
  receivedAt: number;
}

export interface TapeEntry {
  price: number;
  volume: number;
  time: number;
}

type Listener = () => void;

const ALL: Channel[] = ["trades", "book", "candle"];
const TAPE_MAX = 50;

export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(10_000, 500 * 2 ** Math.max(0, attempt));
  return Math.round(base * (0.75 + 0.5 * random()));
}

class LiveStore {
  readonly last = new Map<string, LastTrade>();
  readonly books = new Map<string, WsBook>();
  readonly candles = new Map<string, WsCandle>();
  readonly tapes = new Map<string, TapeEntry[]>();
  /** each stock's latest VI state (from the book channel's snapshot and `vi` pushes),
   * stamped with when it arrived (epoch ms: its expiry runs on this clock) */
  readonly vi = new Map<string, WsVi & { received_ms: number }>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private dirty = new Set<string>();
  private scheduled = false;
  /** bumped per key on every change, for useSyncExternalStore snapshots */
  readonly versions = new Map<string, number>();

  subscribe(key: string, fn: Listener): () => void {
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  version(key: string): number {
    return this.versions.get(key) ?? 0;
  }

  touch(key: string): void {
    this.versions.set(key, this.version(key) + 1);
    this.dirty.add(key);
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = () => {
      this.scheduled = false;
      const keys = this.dirty;
      this.dirty = new Set();
      for (const k of keys) for (const fn of this.listeners.get(k) ?? []) fn();
    };
    if (typeof requestAnimationFrame === "function" && !document.hidden) {
      requestAnimationFrame(flush);
    } else {
      setTimeout(flush, 50);
    }
  }
}

export class LiveSocket {
  readonly store = new LiveStore();
  state: SocketState = "closed";
  /** reconnects so far (shown as a hint next to the state) */
  reconnects = 0;
  lastError: string | null = null;
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pinger: ReturnType<typeof setInterval> | null = null;
  private running = false;
  private readonly subs = new Map<string, Map<Channel, number>>();
  private readonly messageListeners = new Set<(m: WsMessage) => void>();
  private readonly stateListeners = new Set<Listener>();
  private readonly resyncListeners = new Set<Listener>();

  constructor(private readonly url: () => string) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
    this.setState("closed");
  }

  onMessage(fn: (m: WsMessage) => void): () => void {
    this.messageListeners.add(fn);
    return () => this.messageListeners.delete(fn);
  }

  onState(fn: Listener): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  /** Called after every reconnect (not the first connect): refetch what may have changed. */
  onResync(fn: Listener): () => void {
    this.resyncListeners.add(fn);
    return () => this.resyncListeners.delete(fn);
  }

  /** Reference-counted subscription; the returned function releases it. */
  subscribe(code: string, channels: Channel[] = ALL): () => void {
    let per = this.subs.get(code);
    if (!per) this.subs.set(code, (per = new Map()));
    const added: Channel[] = [];
    for (const ch of channels) {
      const n = per.get(ch) ?? 0;
      per.set(ch, n + 1);
      if (n === 0) added.push(ch);
    }
    if (added.length) this.send({ op: "subscribe", codes: [code], channels: added });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const p = this.subs.get(code);
      if (!p) return;
      const removed: Channel[] = [];
      for (const ch of channels) {
        const n = (p.get(ch) ?? 1) - 1;
        if (n <= 0) {
          p.delete(ch);
          removed.push(ch);
        } else p.set(ch, n);
      }
      if (p.size === 0) this.subs.delete(code);
      if (removed.length) this.send({ op: "unsubscribe", codes: [code], channels: removed });
    };
  }

  private send(msg: unknown): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private setState(s: SocketState): void {
    if (this.state === s) return;
    this.state = s;
    for (const fn of this.stateListeners) fn();
  }

  private connect(): void {
    if (!this.running) return;
    this.setState(this.reconnects === 0 && this.attempt === 0 ? "connecting" : "reconnecting");
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url());
    } catch (e) {
      this.lastError = String(e);
      this.schedule();
      return;
    }
    this.ws = ws;
    const isReconnect = this.reconnects > 0 || this.attempt > 0;
    ws.onopen = () => {
      this.attempt = 0;
      this.lastError = null;
      this.setState("open");
      for (const [code, per] of this.subs) {
        this.send({ op: "subscribe", codes: [code], channels: [...per.keys()] });
      }
      if (this.pinger) clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send({ op: "ping" }), 25_000);
      if (isReconnect) for (const fn of this.resyncListeners) fn();
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== "string") return;
      let msg: WsMessage;
      try {
        msg = JSON.parse(ev.data) as WsMessage;
      } catch {
        return;
      }
      this.apply(msg);
      for (const fn of this.messageListeners) fn(msg);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.pinger) clearInterval(this.pinger);
      this.pinger = null;
      if (ev.code === 4401) {
        this.lastError = "로그인이 필요합니다";
        this.running = false;
        this.setState("closed");
        notifyUnauthorized();
        return;
      }
      this.lastError = ev.reason || `code ${ev.code}`;
      this.schedule();
    };
  }

  private schedule(): void {
    if (!this.running) return;
    this.setState("reconnecting");
    const wait = backoffMs(this.attempt);
    this.attempt += 1;
    this.reconnects += 1;
    this.timer = setTimeout(() => this.connect(), wait);
  }

  private apply(msg: WsMessage): void {
    const s = this.store;
    const now = typeof performance !== "undefined" ? performance.now() : Date.now();
    switch (msg.type) {
      case "snapshot": {
        if (msg.last) {
          s.last.set(msg.code, {
            price: msg.last.price,
            volume: msg.last.volume,
            cumVolume: msg.last.cum_volume,
            time: Date.parse(msg.last.time) / 1000,
            receivedAt: now,
          });
          s.touch(`last:${msg.code}`);
        }
        if (msg.book) {
          s.books.set(msg.code, { type: "book", ...msg.book });
          s.touch(`book:${msg.code}`);
        }
        if (msg.candle) {
          s.candles.set(msg.code, msg.candle);
          s.touch(`candle:${msg.code}`);
        }
        if (msg.vi !== undefined) {
          if (msg.vi) s.vi.set(msg.code, { ...msg.vi, received_ms: Date.now() });
          else s.vi.delete(msg.code);
          s.touch(`book:${msg.code}`);
        }
        break;
      }
      case "vi": {
        const { type: _type, ...vi } = msg;
        void _type;
        s.vi.set(msg.code, { ...vi, received_ms: Date.now() });
        s.touch(`book:${msg.code}`);
        break;
      }
      case "trades": {
        const i = msg.n - 1;
        const price = msg.price[i];
        if (i < 0 || price === undefined) break;
        s.last.set(msg.code, {
          price,
          volume: msg.volume[i] ?? 0,
          cumVolume: msg.cum_volume[i] ?? 0,
          time: msg.time[i] ?? 0,
          receivedAt: now,
        });
        const tape = s.tapes.get(msg.code) ?? [];
        for (let k = 0; k < msg.n; k++) {
          tape.push({ price: msg.price[k] ?? 0, volume: msg.volume[k] ?? 0, time: msg.time[k] ?? 0 });
        }
        s.tapes.set(msg.code, tape.slice(-TAPE_MAX));
        s.touch(`last:${msg.code}`);
        break;
      }
      case "book":
        s.books.set(msg.code, msg);
        s.touch(`book:${msg.code}`);
        break;
      case "candle":
        s.candles.set(msg.code, msg);
        s.touch(`candle:${msg.code}`);
        break;
      default:
        break;
    }
  }
}

function wsUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss" : "ws"}://${host}/ws`;
}

let singleton: LiveSocket | null = null;

/** The app's one socket (created on first use in the browser). */
export function live(): LiveSocket {
  if (!singleton) singleton = new LiveSocket(wsUrl);
  return singleton;
}

/** What a benchmark reads in the page: when each trade's price was on screen. */
export interface PaintSample {
  code: string;
  cumVolume: number;
  price: number;
  /** ms from the socket message to the commit that showed it */
  latencyMs: number;
  /** epoch ms of that commit (performance.timeOrigin based) */
  paintedAt: number;
}

const PAINT_MAX = 10_000;

/** Record that the last price of ``code`` is on screen (called from the book's effect). */
export function recordPaint(code: string, t: LastTrade): void {
  if (typeof window === "undefined") return;
  const w = window as unknown as { __gslts?: { paints?: PaintSample[] } };
  const box = (w.__gslts ??= {});
  const paints = (box.paints ??= []);
  const now = performance.now();
  paints.push({
    code,
    cumVolume: t.cumVolume,
    price: t.price,
    latencyMs: now - t.receivedAt,
    paintedAt: performance.timeOrigin + now,
  });
  if (paints.length > PAINT_MAX) paints.splice(0, paints.length - PAINT_MAX);
}
