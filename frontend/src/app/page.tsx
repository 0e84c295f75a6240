"use client";
import { useRouter } from "next/navigation";
import { useEffect } from "react";

const LAST = "gslts.lastCode";

/** The trading view of the stock last looked at (삼성전자 the first time). */
export default function Home() {
  const router = useRouter();
  useEffect(() => {
    let code = "005930";
    try {
      code = localStorage.getItem(LAST) || code;
    } catch {
      /* no storage */
    }
    router.replace(`/stock/?code=${code}`);
  }, [router]);
  return <div className="center-note">불러오는 중…</div>;
}
