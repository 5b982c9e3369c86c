// Shared pieces of the end-to-end tests: Debian's Chromium driven by playwright-core (no browser
// download), a logged-in page, a screenshot per check, and a watch on the console.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { chromium } from "playwright-core";

export const BASE = (process.env.PAVA_E2E_BASE ?? "http://localhost:5173").replace(/\/$/, "");
export const USER = process.env.PAVA_E2E_USER ?? "admin";
export const PASSWORD = process.env.PAVA_E2E_PASSWORD ?? "admin-password";
export const OUT = process.env.PAVA_E2E_OUT ?? "test-output/e2e";
mkdirSync(OUT, { recursive: true });

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
  });
}

/** A new page with its own cookies; `problems` collects console errors, page errors and failed
 * requests to this site (a test ends by asserting there were none). */
export async function newPage(browser, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, ignoreHTTPSErrors: true, acceptDownloads: true });
  if (process.env.PAVA_E2E_TILE_URL !== undefined) {
    // The tile server is a setting of the page (/config.json); an offline run sets it empty.
    await context.route("**/config.json", (r) => r.fulfill({ json: { tileUrl: process.env.PAVA_E2E_TILE_URL } }));
  }
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()} (${page.url()})`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message} (${page.url()})`));
  page.on("response", (r) => {
    if (r.status() >= 400 && r.url().startsWith(BASE)) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return { context, page, problems };
}

export async function login(page, { here = false } = {}) {
  if (!here) await page.goto(`${BASE}/login`);
  await page.getByLabel("User name").fill(USER);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
}

export async function shot(page, name) {
  const path = join(OUT, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** Waits until the grid shows the list the address asks for, loaded (aria-busy false): the grid
 * names its list in data-list, the search part of the address in canonical order. */
export async function settled(page) {
  await page.waitForFunction(() => {
    const grid = document.querySelector('[role="grid"]');
    if (!grid || grid.getAttribute("aria-busy") !== "false") return false;
    const norm = (q) => [...new URLSearchParams(q).entries()].map((e) => e.join("=")).sort().join("&");
    const page = new URLSearchParams(location.search);
    if (location.pathname.startsWith("/albums/")) page.set("album", location.pathname.split("/")[2]);
    return norm(grid.getAttribute("data-list") ?? "") === norm(page.toString());
  });
}

/** Opens an item found by a free-text search on its file name. */
export async function openByName(page, name) {
  await page.goto(`${BASE}/?q=${encodeURIComponent(`"${name.replace(/\.[^.]+$/, "")}"`)}`);
  await settled(page);
  const tile = page.getByRole("gridcell").getByRole("link", { name: new RegExp(`^${escape(name)}`) }).first();
  await tile.waitFor();
  await tile.click();
  await page.getByRole("heading", { level: 1, name }).waitFor();
}

export function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A small PNG no library has seen before (random colours), for an upload that must come out new. */
export function uniquePng(size = 64) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  const rows = [];
  const [r, g, b] = [Math.random() * 255, Math.random() * 255, Math.random() * 255].map(Math.floor);
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 3);
    for (let x = 0; x < size; x++) {
      row[1 + x * 3] = (r + x * 3) & 0xff;
      row[2 + x * 3] = (g + y * 3) & 0xff;
      row[3 + x * 3] = (b + ((x * y) >> 3)) & 0xff;
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header), chunk("IDAT", deflateSync(Buffer.concat(rows))), chunk("IEND", Buffer.alloc(0)),
  ]);
}
