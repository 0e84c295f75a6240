/**
 * The typed API client: openapi-fetch over the paths generated from the backend's OpenAPI
 * (schema.d.ts, `npm run gen:api`; CI fails when it is stale). Same origin (the backend
 * serves this app), so the session cookie goes along by itself; every state-changing
 * request carries the CSRF token back in `X-CSRF-Token` (double submit: the backend set it
 * in the non-HttpOnly `gslts_csrf` cookie at login and in the login answer).
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

export const CSRF_COOKIE = "gslts_csrf";
export const CSRF_HEADER = "X-CSRF-Token";
const CSRF_STORE = "gslts.csrf";

/** The CSRF token: the cookie, else the one the login answer gave (kept for the tab). */
export function csrfToken(): string | null {
  if (typeof document === "undefined") return null;
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === CSRF_COOKIE) return decodeURIComponent(v.join("="));
  }
  try {
    return sessionStorage.getItem(CSRF_STORE);
  } catch {
    return null;
  }
}

export function rememberCsrf(token: string | null | undefined): void {
  try {
    if (token) sessionStorage.setItem(CSRF_STORE, token);
    else sessionStorage.removeItem(CSRF_STORE);
  } catch {
    /* private mode: the cookie is enough */
  }
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Header the backend wants on POST/PUT/PATCH/DELETE of a cookie session. */
export function csrfHeaders(method: string): Record<string, string> {
  const token = UNSAFE.has(method.toUpperCase()) ? csrfToken() : null;
  return token ? { [CSRF_HEADER]: token } : {};
}

/** The one error shape of the backend (gslts_common.errors). */
export interface ErrorBody {
  error: string;
  detail: string;
  field?: string | null;
  detail_ko?: string | null;
  kiwoom_code?: string | null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.detail_ko || body.detail || `HTTP ${status}`);
    this.name = "ApiError";
  }
  get field(): string | null {
    return this.body.field ?? null;
  }
}

/** Anything the backend answered with, as an ErrorBody (FastAPI's own 404 has only detail). */
export function toErrorBody(status: number, raw: unknown): ErrorBody {
  if (raw && typeof raw === "object") {
    const o = raw as Record<string, unknown>;
    const detail = typeof o.detail === "string" ? o.detail : JSON.stringify(o.detail ?? o);
    return {
      error: typeof o.error === "string" ? o.error : `HTTP${status}`,
      detail,
      field: typeof o.field === "string" ? o.field : null,
      detail_ko: typeof o.detail_ko === "string" ? o.detail_ko : null,
      kiwoom_code: typeof o.kiwoom_code === "string" ? o.kiwoom_code : null,
    };
  }
  return { error: `HTTP${status}`, detail: typeof raw === "string" ? raw : `HTTP ${status}` };
}

/** Listeners told when the session is gone (401): the app goes to the login page. */
const unauthorized = new Set<() => void>();
export function onUnauthorized(fn: () => void): () => void {
  unauthorized.add(fn);
  return () => unauthorized.delete(fn);
}
export function notifyUnauthorized(): void {
  for (const fn of unauthorized) fn();
}

const csrf: Middleware = {
  onRequest({ request }) {
    for (const [k, v] of Object.entries(csrfHeaders(request.method))) request.headers.set(k, v);
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !request.url.includes("/api/auth/login")) notifyUnauthorized();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(csrf);

/** openapi-fetch's result → its data, or an ApiError thrown. */
export async function unwrap<T>(
  p: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await p;
  if (!response.ok) throw new ApiError(response.status, toErrorBody(response.status, error));
  return data as T;
}

/** A plain JSON request for routes the generated schema does not have yet (orders). */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...csrfHeaders(method) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    if (response.status === 401) notifyUnauthorized();
    throw new ApiError(response.status, toErrorBody(response.status, parsed));
  }
  return parsed as T;
}
