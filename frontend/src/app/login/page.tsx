"use client";
import { useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { type FormEvent, useState } from "react";
import { api, rememberCsrf, toErrorBody } from "@/api/client";

function safeNext(): string {
  const next = new URLSearchParams(window.location.search).get("next") ?? "/";
  // only a path of this site (never //host or a scheme)
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export default function LoginPage() {
  const router = useRouter();
  const qc = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { data, error: err, response } = await api.POST("/api/auth/login", {
        body: { username, password, token: "cookie" },
      });
      if (!response.ok || !data) {
        const body = toErrorBody(response.status, err);
        setError(
          response.status === 401
            ? "아이디 또는 비밀번호가 올바르지 않습니다"
            : body.detail_ko || body.detail,
        );
        return;
      }
      rememberCsrf(data.csrf_token);
      await qc.invalidateQueries({ queryKey: ["me"] });
      router.replace(safeNext());
    } catch {
      setError("서버에 연결할 수 없습니다");
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="login">
      <form onSubmit={submit} className="login-box" data-testid="login-form">
        <h1>GSLTS</h1>
        <p className="muted">키움 REST 트레이딩</p>
        <label>
          아이디
          <input
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </label>
        <label>
          비밀번호
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        {error && (
          <p className="error" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "로그인 중…" : "로그인"}
        </button>
      </form>
    </div>
  );
}
