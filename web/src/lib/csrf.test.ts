import { describe, expect, it } from "vitest";
import { Client, ApiError, queryString } from "../api/client";
import { CSRF_HEADER, probablySignedIn, readCookie, withCsrf } from "./csrf";

describe("CSRF header", () => {
  const cookies = "theme=dark; pava_csrf=abc%3D123; other=1";

  it("reads the readable cookie", () => {
    expect(readCookie(cookies, "pava_csrf")).toBe("abc=123");
    expect(readCookie(cookies, "missing")).toBeNull();
    expect(readCookie("", "pava_csrf")).toBeNull();
    expect(probablySignedIn(cookies)).toBe(true);
    expect(probablySignedIn("x=1")).toBe(false);
  });

  it("adds the token on unsafe methods only", () => {
    for (const m of ["POST", "put", "PATCH", "DELETE"]) expect(withCsrf(m, {}, cookies).get(CSRF_HEADER)).toBe("abc=123");
    for (const m of ["GET", "HEAD", "OPTIONS"]) expect(withCsrf(m, {}, cookies).has(CSRF_HEADER)).toBe(false);
    expect(withCsrf("POST", {}, "").has(CSRF_HEADER)).toBe(false);
  });

  it("is sent by the client, with JSON bodies and errors as ApiError", async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const fake: typeof fetch = async (url, init) => {
      calls.push({ url: String(url), init: init ?? {} });
      if (String(url).includes("/missing")) {
        return new Response(JSON.stringify({ error: "not_found", message: "no such item" }),
          { status: 404, headers: { "content-type": "application/json" } });
      }
      return new Response(JSON.stringify({ ok: true }), { status: 200, headers: { "content-type": "application/json" } });
    };
    let unauthorized = 0;
    const client = new Client({ fetch: fake, cookies: () => cookies, onUnauthorized: () => unauthorized++ });
    await client.post("/api/albums", { name: "Trip" });
    const headers = new Headers(calls[0]!.init.headers);
    expect(headers.get(CSRF_HEADER)).toBe("abc=123");
    expect(headers.get("content-type")).toBe("application/json");
    expect(calls[0]!.init.body).toBe('{"name":"Trip"}');
    await client.get("/api/media", { q: "cat", person: [1, 2], empty: "", none: null });
    expect(calls[1]!.url).toBe("/api/media?q=cat&person=1&person=2");
    expect(new Headers(calls[1]!.init.headers).has(CSRF_HEADER)).toBe(false);
    const error = await client.get("/api/media/missing").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe("not_found");
    expect((error as ApiError).message).toBe("no such item");
    expect(unauthorized).toBe(0);
  });

  it("sends a 401 to the login page, except from the login itself", async () => {
    const fake: typeof fetch = async () => new Response(JSON.stringify({ error: "not_authenticated", message: "log in" }),
      { status: 401, headers: { "content-type": "application/json" } });
    let unauthorized = 0;
    const client = new Client({ fetch: fake, cookies: () => "", onUnauthorized: () => unauthorized++ });
    await expect(client.get("/api/media")).rejects.toThrow("log in");
    expect(unauthorized).toBe(1);
    await expect(client.post("/api/auth/login", { name: "a", password: "b" })).rejects.toThrow();
    expect(unauthorized).toBe(1);
  });

  it("returns nothing for 204", async () => {
    const client = new Client({ fetch: async () => new Response(null, { status: 204 }), cookies: () => "" });
    await expect(client.delete("/api/comments/1")).resolves.toBeUndefined();
  });

  it("builds query strings from URLSearchParams too", () => {
    expect(queryString(new URLSearchParams("a=1&a=2"))).toBe("?a=1&a=2");
    expect(queryString({})).toBe("");
  });
});
