"use client";
/**
 * Stock search with autocomplete (GET /api/stocks/search: code, name, 초성, typos).
 * Keyboard: `/` anywhere focuses it, ↑/↓ choose, Enter opens /stock/?code=…, Esc closes.
 */
import { useRouter } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { useSearch } from "@/lib/hooks";

const ALLOWED = /^[\p{Script=Hangul}A-Za-z0-9 &().,_+-]{1,40}$/u;

export function StockSearch() {
  const router = useRouter();
  const input = useRef<HTMLInputElement>(null);
  const [text, setText] = useState("");
  const [debounced, setDebounced] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);

  useEffect(() => {
    const t = setTimeout(() => setDebounced(text), 120);
    return () => clearTimeout(t);
  }, [text]);

  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      const el = document.activeElement;
      const typing =
        el instanceof HTMLInputElement ||
        el instanceof HTMLTextAreaElement ||
        el instanceof HTMLSelectElement;
      if (e.key === "/" && !typing) {
        e.preventDefault();
        input.current?.focus();
        input.current?.select();
      }
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const q = ALLOWED.test(debounced.trim()) ? debounced : "";
  const search = useSearch(q);
  const results = q ? (search.data?.results ?? []) : [];

  function go(code: string) {
    setOpen(false);
    setText("");
    input.current?.blur();
    router.push(`/stock/?code=${encodeURIComponent(code)}`);
  }

  function onKeyDown(e: React.KeyboardEvent<HTMLInputElement>) {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      setOpen(true);
      setActive((a) => Math.min(a + 1, Math.max(results.length - 1, 0)));
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      setActive((a) => Math.max(a - 1, 0));
    } else if (e.key === "Enter") {
      e.preventDefault();
      const pick = results[active] ?? results[0];
      if (pick) go(pick.code);
      else if (/^[0-9A-Z]{6}$/.test(text.trim())) go(text.trim());
    } else if (e.key === "Escape") {
      setOpen(false);
      input.current?.blur();
    }
  }

  return (
    <div className="search">
      <input
        ref={input}
        type="search"
        value={text}
        placeholder="종목 검색 (/)  코드·이름·초성"
        aria-label="종목 검색"
        data-testid="search-input"
        autoComplete="off"
        spellCheck={false}
        onChange={(e) => {
          setText(e.target.value);
          setActive(0);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={onKeyDown}
      />
      {open && results.length > 0 && (
        <ul className="search-results" role="listbox" data-testid="search-results">
          {results.map((r, i) => (
            <li
              key={r.code}
              role="option"
              aria-selected={i === active}
              className={i === active ? "active" : undefined}
              onMouseDown={(e) => {
                e.preventDefault();
                go(r.code);
              }}
              onMouseEnter={() => setActive(i)}
            >
              <span className="name">{r.name}</span>
              <span className="code">{r.code}</span>
              <span className="market">{r.market}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
