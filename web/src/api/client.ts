// The one door to the API: JSON in and out, the CSRF header on unsafe methods, errors as ApiError,
// and a 401 anywhere but the login itself sends the page to /login?next=... .
import { withCsrf } from "../lib/csrf";
import type { ApiErrorBody } from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly body: ApiErrorBody | null;

  constructor(status: number, body: ApiErrorBody | null, fallback: string) {
    super(body?.message ?? fallback);
    this.name = "ApiError";
    this.status = status;
    this.code = body?.error ?? String(status);
    this.body = body;
  }
}

export type QueryValue = string | number | boolean | null | undefined | (string | number)[];
export type Query = Record<string, QueryValue> | URLSearchParams;

export interface ClientOptions {
  fetch?: typeof fetch;
  cookies?: () => string;
  onUnauthorized?: () => void;
}

export function queryString(query: Query | undefined): string {
  if (!query) return "";
  const params = query instanceof URLSearchParams ? new URLSearchParams(query) : new URLSearchParams();
  if (!(query instanceof URLSearchParams)) {
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null || value === "") continue;
      if (Array.isArray(value)) value.forEach((v) => params.append(key, String(v)));
      else params.set(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

async function errorBody(response: Response): Promise<ApiErrorBody | null> {
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object" && "message" in body) return body as ApiErrorBody;
  } catch {
    // not JSON (a proxy's page): fall back to the status text
  }
  return null;
}

export class Client {
  private readonly fetchImpl: typeof fetch;
  private readonly cookies: () => string;
  onUnauthorized: () => void;

  constructor(options: ClientOptions = {}) {
    this.fetchImpl = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.cookies = options.cookies ?? (() => (typeof document === "undefined" ? "" : document.cookie));
    this.onUnauthorized = options.onUnauthorized ?? (() => undefined);
  }

  async request<T>(method: string, path: string, init: { query?: Query; json?: unknown; body?: BodyInit;
    signal?: AbortSignal } = {}): Promise<T> {
    const headers = withCsrf(method, { Accept: "application/json" }, this.cookies());
    let body = init.body;
    if (init.json !== undefined) {
      headers.set("Content-Type", "application/json");
      body = JSON.stringify(init.json);
    }
    const response = await this.fetchImpl(path + queryString(init.query), {
      method, headers, body, signal: init.signal, credentials: "same-origin",
    });
    if (!response.ok) {
      const parsed = await errorBody(response);
      if (response.status === 401 && !path.endsWith("/auth/login")) this.onUnauthorized();
      throw new ApiError(response.status, parsed, `${response.status} ${response.statusText}`);
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    const type = response.headers.get("content-type") ?? "";
    return (text && type.includes("json") ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, { query, signal });
  }
  post<T>(path: string, json?: unknown): Promise<T> {
    return this.request<T>("POST", path, { json });
  }
  put<T>(path: string, json?: unknown): Promise<T> {
    return this.request<T>("PUT", path, { json });
  }
  patch<T>(path: string, json?: unknown): Promise<T> {
    return this.request<T>("PATCH", path, { json });
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  /** A multipart upload with progress events (fetch has none for request bodies): XMLHttpRequest. */
  upload<T>(path: string, form: FormData, onProgress: (loaded: number, total: number) => void,
    signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      withCsrf("POST", { Accept: "application/json" }, this.cookies()).forEach((v, k) => xhr.setRequestHeader(k, v));
      xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0);
      xhr.onload = () => {
        let parsed: unknown = null;
        try {
          parsed = JSON.parse(xhr.responseText);
        } catch {
          parsed = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(parsed as T);
        else {
          if (xhr.status === 401) this.onUnauthorized();
          const body = parsed && typeof parsed === "object" && "message" in parsed ? parsed as ApiErrorBody : null;
          reject(new ApiError(xhr.status, body, `${xhr.status} ${xhr.statusText}`));
        }
      };
      xhr.onerror = () => reject(new ApiError(0, null, "network error"));
      xhr.onabort = () => reject(new DOMException("aborted", "AbortError"));
      signal?.addEventListener("abort", () => xhr.abort());
      xhr.send(form);
    });
  }
}

export const api = new Client();

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    const problems = error.body?.problems?.map((p) => `${p.field}: ${p.problem}`).join("; ");
    return problems ? `${error.message} (${problems})` : error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
