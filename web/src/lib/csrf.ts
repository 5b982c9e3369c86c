// Cookie sessions must echo the readable pava_csrf cookie in X-CSRF-Token on every unsafe request
// (api/auth.py). The cookie is read at request time, so a login in another tab is picked up.

export const CSRF_COOKIE = "pava_csrf";
export const CSRF_HEADER = "X-CSRF-Token";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** The value of one cookie in a `document.cookie` string, or null. */
export function readCookie(cookies: string, name: string): string | null {
  for (const part of cookies.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    }
  }
  return null;
}

export function isUnsafe(method: string): boolean {
  return !SAFE.has(method.toUpperCase());
}

/** Headers for a request: the CSRF token is added on unsafe methods when the cookie is there. */
export function withCsrf(method: string, headers: HeadersInit | undefined, cookies: string): Headers {
  const out = new Headers(headers);
  if (isUnsafe(method)) {
    const token = readCookie(cookies, CSRF_COOKIE);
    if (token && !out.has(CSRF_HEADER)) out.set(CSRF_HEADER, token);
  }
  return out;
}

/** Whether the browser holds a session as far as the page can tell (the session cookie itself is
 * HttpOnly; the CSRF cookie is set and cleared with it). Saves a 401 on the first visit. */
export function probablySignedIn(cookies: string): boolean {
  return readCookie(cookies, CSRF_COOKIE) !== null;
}
