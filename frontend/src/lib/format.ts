/**
 * Every number, sign, colour and time the dashboard shows goes through this module.
 *
 * Prices and quantities are integers end to end (KRW, shares); percentages come from the
 * backend as decimal strings ("1.24") and are shown as they are, never re-derived from
 * floats. Korean conventions: red for up, blue for down, 원 with thousands separators,
 * 억/만 for large amounts, Korean time (KST) whatever the viewer's zone.
 */

const INT = new Intl.NumberFormat("ko-KR", { maximumFractionDigits: 0 });

/** 72000 → "72,000" (no unit). Non-finite → "-". */
export function num(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "-";
  return INT.format(Math.trunc(n));
}

/** 72000 → "72,000원". */
export function won(n: number | null | undefined): string {
  const s = num(n);
  return s === "-" ? s : `${s}원`;
}

/** 1200 → "+1,200", -1200 → "-1,200", 0 → "0". */
export function signed(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "-";
  if (n > 0) return `+${num(n)}`;
  return num(n); // Intl puts the minus sign
}

const MAN = 10_000;
const EOK = 100_000_000;
const JO = 1_000_000_000_000;

/**
 * Large KRW amounts the Korean way: 123,456,789 → "1억 2,345만", 500,000,000 → "5억",
 * 1,234,500,000,000 → "1조 2,345억", 35,000 → "3만 5,000", 9,999 → "9,999".
 * The lower unit is truncated (never rounded up into a wrong higher unit); negative
 * amounts keep their sign in front.
 */
export function eokMan(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "-";
  const sign = n < 0 ? "-" : "";
  const a = Math.trunc(Math.abs(n));
  let body: string;
  if (a >= JO) {
    const jo = Math.floor(a / JO);
    const eok = Math.floor((a % JO) / EOK);
    body = eok ? `${INT.format(jo)}조 ${INT.format(eok)}억` : `${INT.format(jo)}조`;
  } else if (a >= EOK) {
    const eok = Math.floor(a / EOK);
    const man = Math.floor((a % EOK) / MAN);
    body = man ? `${INT.format(eok)}억 ${INT.format(man)}만` : `${INT.format(eok)}억`;
  } else if (a >= MAN) {
    const man = Math.floor(a / MAN);
    const rest = a % MAN;
    body = rest ? `${INT.format(man)}만 ${INT.format(rest)}` : `${INT.format(man)}만`;
  } else {
    body = INT.format(a);
  }
  return sign + body;
}

/** A decimal-string or number percentage with its sign: "1.24" → "+1.24%". */
export function pct(p: string | number | null | undefined): string {
  if (p === null || p === undefined || p === "") return "-";
  const v = typeof p === "number" ? p : Number(p);
  if (!Number.isFinite(v)) return "-";
  const text = typeof p === "number" ? p.toFixed(2) : p.replace(/^[+]/, "");
  if (v > 0) return `+${text}%`;
  return `${text}%`;
}

/** Change % of ``price`` against ``base``, 2 decimals, as the string the backend uses. */
export function changePct(price: number, base: number): string {
  if (!base) return "0.00";
  // integer arithmetic in basis points, rounded half away from zero
  const bp = Math.round((Math.abs(price - base) * 10000) / base);
  const sign = price < base && bp !== 0 ? "-" : "";
  return `${sign}${Math.floor(bp / 100)}.${String(bp % 100).padStart(2, "0")}`;
}

export type Direction = "up" | "down" | "flat";

/** Direction of ``value`` against ``base`` (or of a signed number without ``base``). */
export function direction(value: number | string | null | undefined, base = 0): Direction {
  const v = typeof value === "string" ? Number(value) : value;
  if (v === null || v === undefined || !Number.isFinite(v)) return "flat";
  if (v > base) return "up";
  if (v < base) return "down";
  return "flat";
}

/** CSS class of a direction: red up, blue down (globals.css). */
export function dirClass(d: Direction): string {
  return d === "up" ? "up" : d === "down" ? "down" : "flat";
}

const KST_TIME = new Intl.DateTimeFormat("ko-KR", {
  timeZone: "Asia/Seoul",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const KST_DATETIME = new Intl.DateTimeFormat("ko-KR", {
  timeZone: "Asia/Seoul",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

function toDate(t: string | number | Date): Date {
  if (t instanceof Date) return t;
  if (typeof t === "number") return new Date(t * 1000); // epoch seconds
  return new Date(t);
}

function parts(f: Intl.DateTimeFormat, d: Date): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of f.formatToParts(d)) out[p.type] = p.value;
  return out;
}

/** "10:15:02" in Korean time, from an ISO string, epoch seconds or a Date. */
export function kstTime(t: string | number | Date | null | undefined): string {
  if (t === null || t === undefined) return "-";
  const d = toDate(t);
  if (Number.isNaN(d.getTime())) return "-";
  const p = parts(KST_TIME, d);
  return `${p.hour}:${p.minute}:${p.second}`;
}

/** "2026-03-03 10:15" in Korean time. */
export function kstDateTime(t: string | number | Date | null | undefined): string {
  if (t === null || t === undefined) return "-";
  const d = toDate(t);
  if (Number.isNaN(d.getTime())) return "-";
  const p = parts(KST_DATETIME, d);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** Today's date in Korea, "YYYY-MM-DD". */
export function kstToday(now: Date = new Date()): string {
  const p = parts(KST_DATETIME, now);
  return `${p.year}-${p.month}-${p.day}`;
}

/** "23시간 59분" / "5분 3초" / "만료" for a countdown in seconds. */
export function countdown(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "-";
  if (seconds <= 0) return "만료";
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}시간 ${m}분`;
  if (m > 0) return `${m}분 ${s % 60}초`;
  return `${s}초`;
}
