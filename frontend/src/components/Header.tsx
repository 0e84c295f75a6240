"use client";
/**
 * Always visible: the mode (SIM / 모의 / 실전 — 실전 red and loud), the live socket, the
 * hub connection, the Kiwoom token's expiry, the user and logout.
 */
import { useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { api, rememberCsrf } from "@/api/client";
import type { Me } from "@/api/types";
import { countdown } from "@/lib/format";
import { useSession, useSocketState } from "@/lib/hooks";
import { live } from "@/lib/live";
import { StockSearch } from "./StockSearch";

const MODE_LABEL = { sim: "SIM", mock: "모의", real: "실전" } as const;
const SOCKET_LABEL = {
  connecting: "연결중",
  open: "실시간",
  reconnecting: "재연결중",
  closed: "끊김",
} as const;

function useNow(periodMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(t);
  }, [periodMs]);
  return now;
}

export function Header({ me }: { me: Me }) {
  const session = useSession();
  const socket = useSocketState();
  const now = useNow(1000);
  const router = useRouter();
  const qc = useQueryClient();
  const s = session.data;
  const mode = s?.mode;
  const expires = s?.kiwoom_token_expires_at ? Date.parse(s.kiwoom_token_expires_at) : null;

  async function logout() {
    try {
      await api.POST("/api/auth/logout");
    } finally {
      rememberCsrf(null);
      live().stop();
      qc.clear();
      router.replace("/login/");
    }
  }

  return (
    <header className={`header${mode === "real" ? " header-real" : ""}`}>
      <Link href="/" className="brand">
        GSLTS
      </Link>
      <span
        className={`mode mode-${mode ?? "unknown"}`}
        data-testid="mode"
        title={mode === "real" ? "실계좌 — 실제 돈으로 주문됩니다" : undefined}
      >
        {mode ? MODE_LABEL[mode] : "…"}
        {mode === "real" && !s?.real_orders_enabled ? " (주문 잠김)" : ""}
      </span>
      <StockSearch />
      <nav className="nav">
        <Link href="/">트레이딩</Link>
        <Link href="/sector/">섹터</Link>
        <Link href="/settings/">설정</Link>
      </nav>
      <div className="status">
        <span className={`dot dot-${socket === "open" ? "ok" : "bad"}`} data-testid="ws-state">
          {SOCKET_LABEL[socket]}
        </span>
        <span
          className={`dot dot-${s?.hub.connected ? "ok" : "bad"}`}
          data-testid="hub-state"
          title={s?.hub.last_error ?? s?.hub.source ?? ""}
        >
          허브 {s ? (s.hub.connected ? "연결" : "끊김") : "…"}
        </span>
        <span className="token" data-testid="token-expiry" title={s?.kiwoom_token_expires_at ?? ""}>
          토큰 {expires === null ? "미발급" : countdown((expires - now) / 1000)}
        </span>
        <span className="user">
          {me.username} <small>({me.role})</small>
        </span>
        <button type="button" className="btn-link" onClick={logout} data-testid="logout">
          로그아웃
        </button>
      </div>
    </header>
  );
}
