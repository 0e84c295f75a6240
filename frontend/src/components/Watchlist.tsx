"use client";
/**
 * 관심종목: a short list kept in this browser (localStorage), each with its live price and
 * change % against its 기준가 (useReference).
 */
import Link from "next/link";
import { useEffect, useState } from "react";
import { changePct, direction, dirClass, num, pct } from "@/lib/format";
import { useLast, useLiveSubscription, useReference, useStock } from "@/lib/hooks";

const KEY = "gslts.watchlist";
const DEFAULT = ["005930", "000660", "035420", "005380", "035720"];

function Item({ code, active }: { code: string; active: boolean }) {
  useLiveSubscription(code, ["trades"]);
  const last = useLast(code);
  const stock = useStock(code);
  const price = last?.price ?? stock.data?.quote?.price ?? null;
  const reference = useReference(code, stock.isSuccess ? (stock.data?.quote?.base_price ?? null) : stock.isError ? null : undefined);
  const cls = price !== null && reference ? dirClass(direction(price, reference)) : "flat";
  return (
    <li className={active ? "active" : undefined} data-code={code}>
      <Link href={`/stock/?code=${code}`}>
        <span className="name">{stock.data?.name ?? code}</span>
        <span className={`num ${cls}`}>{price !== null ? num(price) : "-"}</span>
        <span className={`num pct ${cls}`}>
          {price !== null && reference ? pct(changePct(price, reference)) : ""}
        </span>
      </Link>
    </li>
  );
}

export function Watchlist({ current }: { current: string }) {
  const [codes, setCodes] = useState<string[]>(DEFAULT);
  useEffect(() => {
    try {
      const saved = JSON.parse(localStorage.getItem(KEY) ?? "null") as unknown;
      if (Array.isArray(saved)) setCodes(saved.filter((c): c is string => typeof c === "string").slice(0, 15));
    } catch {
      /* default list */
    }
  }, []);
  const save = (next: string[]) => {
    setCodes(next);
    try {
      localStorage.setItem(KEY, JSON.stringify(next));
    } catch {
      /* not kept */
    }
  };
  const has = codes.includes(current);
  return (
    <section className="panel watchlist" data-testid="watchlist">
      <div className="panel-title">
        관심종목
        <button type="button" className="btn-link" onClick={() => save(has ? codes.filter((c) => c !== current) : [...codes, current].slice(0, 15))}>
          {has ? "− 이 종목 빼기" : "+ 이 종목 추가"}
        </button>
      </div>
      <ul>
        {codes.map((c) => (
          <Item key={c} code={c} active={c === current} />
        ))}
      </ul>
    </section>
  );
}
