// Visits every view in headless Chromium (Debian's, driven by playwright-core: no browser download),
// logged in, and reports console errors, failed requests and page errors; screenshots go to OUT.
//
//   BASE=http://localhost:5173 PAVA_USER=admin PAVA_PASSWORD=... OUT=/tmp/smoke [TILE_URL=] node scripts/smoke.mjs [/path ...]
// (TILE_URL= with nothing after it: the map without tiles, as on an offline machine.)
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const base = process.env.BASE ?? "http://localhost:5173";
const out = process.env.OUT ?? "test-output/smoke";
const width = Number(process.env.WIDTH ?? 1280);
const height = Number(process.env.HEIGHT ?? 860);
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width, height }, ignoreHTTPSErrors: true });
if (process.env.TILE_URL !== undefined) {
  await context.route("**/config.json", (r) => r.fulfill({ json: { tileUrl: process.env.TILE_URL } }));
}
const page = await context.newPage();
const problems = [];
page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(`${page.url()} console.${m.type()}: ${m.text()}`); });
page.on("pageerror", (e) => problems.push(`${page.url()} pageerror: ${e.message}`));
page.on("response", (r) => { if (r.status() >= 400) problems.push(`${page.url()} HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });

await page.goto(`${base}/`);
await page.waitForURL(/\/login/);
await page.getByLabel("User name").fill(process.env.PAVA_USER ?? "admin");
await page.getByLabel("Password").fill(process.env.PAVA_PASSWORD ?? "admin-password");
await page.getByRole("button", { name: "Log in" }).click();
await page.waitForURL((u) => !u.pathname.startsWith("/login"));

const paths = process.argv.slice(2).length ? process.argv.slice(2)
  : ["/", "/map", "/timeline", "/people", "/albums", "/duplicates", "/stats", "/upload", "/admin"];
for (const path of paths) {
  await page.goto(`${base}${path}`);
  await page.waitForLoadState("networkidle").catch(() => undefined);
  await page.waitForTimeout(600);
  const name = path.replace(/[^a-z0-9]+/gi, "_").replace(/^_|_$/g, "") || "gallery";
  await page.screenshot({ path: `${out}/${name}.png` });
  console.log(`visited ${path}`);
}
await browser.close();
if (problems.length) {
  console.log(`${problems.length} problems:\n${problems.join("\n")}`);
  process.exitCode = 1;
} else console.log("no console errors");
