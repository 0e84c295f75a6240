"use client";
/**
 * App-wide plumbing: the query cache, the auth gate (no session → /login/), the one
 * WebSocket (started once logged in; `balance` and `order` pushes written into the cache;
 * after a reconnect orders and positions are refetched) and the header.
 */
import { QueryClient, QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import { usePathname, useRouter } from "next/navigation";
import { type ReactNode, useEffect, useState } from "react";
import { onUnauthorized } from "@/api/client";
import type { Account, Order, OrderPage } from "@/api/types";
import { useMe } from "@/lib/hooks";
import { live } from "@/lib/live";
import { Header } from "./Header";

function isLogin(path: string | null): boolean {
  return !!path && path.replace(/\/+$/, "") === "/login";
}

function mergeOrder(page: OrderPage | null | undefined, o: Order): OrderPage | null | undefined {
  if (!page) return page;
  const i = page.orders.findIndex((x) => x.id === o.id);
  if (i < 0) return page; // a new order: the list refetches (it may not belong to this filter)
  const orders = page.orders.slice();
  orders[i] = o;
  return { ...page, orders };
}

function LiveBridge() {
  const qc = useQueryClient();
  useEffect(() => {
    const sock = live();
    const offMsg = sock.onMessage((m) => {
      if (m.type === "balance") {
        const { type: _t, ...doc } = m;
        qc.setQueryData<Account>(["account"], doc as Account);
      } else if (m.type === "order") {
        const { type: _t, ...doc } = m;
        const order = doc as Order;
        qc.setQueriesData<OrderPage | null>({ queryKey: ["orders"] }, (p) => mergeOrder(p, order));
        void qc.invalidateQueries({ queryKey: ["orders"] });
      }
    });
    const offResync = sock.onResync(() => {
      void qc.invalidateQueries({ queryKey: ["account"] });
      void qc.invalidateQueries({ queryKey: ["orders"] });
    });
    sock.start();
    return () => {
      offMsg();
      offResync();
      sock.stop();
    };
  }, [qc]);
  return null;
}

function Gate({ children }: { children: ReactNode }) {
  const path = usePathname();
  const router = useRouter();
  const qc = useQueryClient();
  const me = useMe();
  const login = isLogin(path);

  useEffect(
    () =>
      onUnauthorized(() => {
        qc.removeQueries({ queryKey: ["me"] });
        live().stop();
        if (!isLogin(window.location.pathname)) {
          const next = window.location.pathname + window.location.search;
          router.replace(`/login/?next=${encodeURIComponent(next)}`);
        }
      }),
    [qc, router],
  );

  useEffect(() => {
    if (!login && me.isError) {
      const next = window.location.pathname + window.location.search;
      router.replace(`/login/?next=${encodeURIComponent(next)}`);
    }
  }, [login, me.isError, router]);

  if (login) return <>{children}</>;
  if (!me.data) {
    return (
      <div className="center-note" data-testid="auth-wait">
        {me.isError ? "로그인 페이지로 이동합니다…" : "불러오는 중…"}
      </div>
    );
  }
  return (
    <>
      <LiveBridge />
      <Header me={me.data} />
      <main className="main">{children}</main>
    </>
  );
}

export function Providers({ children }: { children: ReactNode }) {
  const [client] = useState(
    () =>
      new QueryClient({
        defaultOptions: { queries: { refetchOnWindowFocus: false } },
      }),
  );
  return (
    <QueryClientProvider client={client}>
      <Gate>{children}</Gate>
    </QueryClientProvider>
  );
}
