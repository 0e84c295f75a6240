"use client";
/**
 * Positions and cash (GET /api/account, replaced by /ws `balance` pushes and refetched after
 * a reconnect), revalued between pushes at the live prices of /ws `trades`; the totals are
 * sums of the rows (lib/pnl.ts), so they always add up.
 */
import Link from "next/link";
import { ApiError } from "@/api/client";
import type { Holding } from "@/api/types";
import { direction, dirClass, eokMan, num, pct, signed, won } from "@/lib/format";
import { useAccount, useLivePrices } from "@/lib/hooks";
import { totals, valueHoldings } from "@/lib/pnl";

export function Positions({ onPick }: { onPick?: (code: string) => void }) {
  const account = useAccount();
  const holdings: Holding[] = account.data?.holdings ?? [];
  const live = useLivePrices(holdings.map((h) => h.stock_code));
  const rows = valueHoldings(holdings, live);
  const t = totals(rows);

  if (account.isError) {
    const e = account.error;
    return (
      <section className="panel" data-testid="positions">
        <div className="panel-title">잔고</div>
        <p className="error">
          계좌를 불러오지 못했습니다: {e instanceof ApiError ? e.message : String(e)}
        </p>
      </section>
    );
  }
  const a = account.data;
  return (
    <section className="panel positions-panel" data-testid="positions">
      <div className="panel-title">잔고</div>
      <dl className="cash" data-testid="cash">
        <div>
          <dt>예수금</dt>
          <dd>{a ? won(a.cash) : "…"}</dd>
        </div>
        <div>
          <dt>주문가능</dt>
          <dd data-testid="orderable-cash">{a ? won(a.orderable_cash) : "…"}</dd>
        </div>
        <div>
          <dt>추정자산</dt>
          <dd title={a ? won(a.d2_cash + t.evaluation) : ""}>{a ? eokMan(a.d2_cash + t.evaluation) : "…"}</dd>
        </div>
        <div>
          <dt>평가손익</dt>
          <dd className={dirClass(direction(t.profit))} data-testid="total-profit">
            {a ? `${signed(t.profit)} (${pct(t.return_pct)})` : "…"}
          </dd>
        </div>
      </dl>
      <table className="grid positions" data-testid="positions-table">
        <thead>
          <tr>
            <th>종목</th>
            <th>수량</th>
            <th>평균가</th>
            <th>현재가</th>
            <th>평가금액</th>
            <th>손익</th>
            <th>수익률</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const cls = dirClass(direction(r.profit));
            return (
              <tr key={r.row.stock_code} data-code={r.row.stock_code}>
                <td>
                  <Link href={`/stock/?code=${r.row.stock_code}`} onClick={() => onPick?.(r.row.stock_code)}>
                    {r.row.name}
                  </Link>
                </td>
                <td className="num">{num(r.row.quantity)}</td>
                <td className="num">{num(r.row.avg_price)}</td>
                <td className={`num ${dirClass(direction(r.price, r.row.prev_close))}`}>{num(r.price)}</td>
                <td className="num">{num(r.evaluation)}</td>
                <td className={`num ${cls}`}>{signed(r.profit)}</td>
                <td className={`num ${cls}`}>{pct(r.return_pct)}</td>
              </tr>
            );
          })}
          {a && rows.length === 0 && (
            <tr>
              <td colSpan={7} className="muted center">
                보유 종목이 없습니다
              </td>
            </tr>
          )}
        </tbody>
        {rows.length > 0 && (
          <tfoot>
            <tr>
              <td>합계</td>
              <td />
              <td className="num">{num(t.purchase)}</td>
              <td />
              <td className="num">{num(t.evaluation)}</td>
              <td className={`num ${dirClass(direction(t.profit))}`}>{signed(t.profit)}</td>
              <td className={`num ${dirClass(direction(t.profit))}`}>{pct(t.return_pct)}</td>
            </tr>
          </tfoot>
        )}
      </table>
    </section>
  );
}
