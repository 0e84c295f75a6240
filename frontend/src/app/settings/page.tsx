"use client";
/**
 * Settings / connection: the mode, the Kiwoom token (issued/expiry countdown; re-issue and
 * revoke for an admin), the hub's connection with a link to its monitoring page, users
 * (admin). The app key is never sent to the browser, so it is not shown here.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { ApiError, api, unwrap } from "@/api/client";
import { countdown, kstDateTime } from "@/lib/format";
import { useMe, useSession } from "@/lib/hooks";

function Token({ admin }: { admin: boolean }) {
  const qc = useQueryClient();
  const [now, setNow] = useState(() => Date.now());
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const token = useQuery({
    queryKey: ["kiwoomToken"],
    queryFn: () => unwrap(api.GET("/api/kiwoom/token")),
    enabled: admin,
    retry: false,
  });
  async function run(kind: "POST" | "DELETE") {
    setError(null);
    try {
      const data =
        kind === "POST"
          ? await unwrap(api.POST("/api/kiwoom/token"))
          : await unwrap(api.DELETE("/api/kiwoom/token"));
      qc.setQueryData(["kiwoomToken"], data);
      void qc.invalidateQueries({ queryKey: ["session"] });
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  }
  if (!admin) return <p className="muted">토큰 관리는 관리자만 할 수 있습니다.</p>;
  const t = token.data;
  const expires = t?.expires_at ? Date.parse(t.expires_at) : null;
  return (
    <>
      <dl className="kv">
        <dt>보유</dt>
        <dd>{t ? (t.held ? "예" : "아니오") : "…"}</dd>
        <dt>공유 캐시</dt>
        <dd>{t ? `${t.cache} (${t.cached ? "유효" : "없음"})` : "…"}</dd>
        <dt>만료</dt>
        <dd data-testid="token-expires">
          {expires ? `${kstDateTime(t?.expires_at)} (${countdown((expires - now) / 1000)})` : "미발급"}
        </dd>
      </dl>
      <button type="button" className="btn" onClick={() => run("POST")}>
        토큰 재발급
      </button>{" "}
      <button type="button" className="btn" onClick={() => run("DELETE")}>
        토큰 폐기
      </button>
      {error && <p className="error">{error}</p>}
    </>
  );
}

function Users() {
  const users = useQuery({ queryKey: ["users"], queryFn: () => unwrap(api.GET("/api/users")), retry: false });
  return (
    <table className="grid">
      <thead>
        <tr>
          <th>아이디</th>
          <th>역할</th>
          <th>활성</th>
          <th>마지막 로그인</th>
        </tr>
      </thead>
      <tbody>
        {(users.data ?? []).map((u) => (
          <tr key={u.id}>
            <td>{u.username}</td>
            <td>{u.role}</td>
            <td>{u.is_active ? "예" : "아니오"}</td>
            <td>{u.last_login_at ? kstDateTime(u.last_login_at) : "-"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export default function SettingsPage() {
  const me = useMe();
  const session = useSession();
  const admin = me.data?.role === "admin";
  const s = session.data;
  return (
    <div className="settings">
      <section className="panel">
        <h2>연결</h2>
        <dl className="kv">
          <dt>모드</dt>
          <dd>{s?.mode ?? "…"}</dd>
          <dt>실전 주문</dt>
          <dd>{s ? (s.orders_allowed ? "허용" : (s.orders_refused_reason ?? "차단")) : "…"}</dd>
          <dt>허브</dt>
          <dd>
            {s ? (s.hub.connected ? "연결" : `끊김 ${s.hub.last_error ?? ""}`) : "…"}{" "}
            {s?.hub.source?.startsWith("http") ? (
              <a href={`${s.hub.source}/`} target="_blank" rel="noreferrer">
                모니터링 페이지
              </a>
            ) : null}
          </dd>
          <dt>허브 전송</dt>
          <dd>{s?.hub.transport ?? "-"}</dd>
        </dl>
      </section>
      <section className="panel">
        <h2>키움 토큰</h2>
        <Token admin={admin} />
      </section>
      {admin && (
        <section className="panel">
          <h2>사용자</h2>
          <Users />
        </section>
      )}
    </div>
  );
}
