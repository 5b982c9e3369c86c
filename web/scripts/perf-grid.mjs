// How the gallery grid copes with 100,000 items: the API is answered here with made-up pages (200 per
// page, a tiny thumbnail), every page is loaded by scrolling, then the whole list is scrolled through
// and frame times, long tasks and the number of cells in the page are reported.
//
//   BASE=http://localhost:5173 PAVA_USER=admin PAVA_PASSWORD=... N=100000 node scripts/perf-grid.mjs
import { chromium } from "playwright-core";

const base = process.env.BASE ?? "http://localhost:5173";
const total = Number(process.env.N ?? 100_000);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run"] });
const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");

await page.goto(`${base}/login`);
await page.getByLabel("User name").fill(process.env.PAVA_USER ?? "admin");
await page.getByLabel("Password").fill(process.env.PAVA_PASSWORD ?? "admin-password");
await page.getByRole("button", { name: "Log in" }).click();
await page.waitForURL((u) => !u.pathname.startsWith("/login"));

await page.route(/\/api\/media\/\d+\/thumbnail/, (r) => r.fulfill({ body: png, contentType: "image/png" }));
await page.route(/\/api\/media\?/, (route) => {
  const url = new URL(route.request().url());
  const start = Number(url.searchParams.get("cursor") ?? 0);
  const limit = Number(process.env.PAGE ?? 5000); // bigger pages than the page asks for: the grid is measured, not the network
  const items = [];
  for (let i = start; i < Math.min(total, start + limit); i++) {
    items.push({ id: i + 1, kind: i % 10 ? "photo" : "video", format: "jpeg", mime_type: "image/jpeg", width: 100, height: 100,
      duration_s: i % 10 ? null : 12, name: `img_${i}.jpg`, original_path: `perf/img_${i}.jpg`, taken_at: null, taken_at_local: null,
      time_source: null, lat: null, lon: null, position_source: null, place: null, favourite: i % 7 === 0, make: null, model: null,
      ingested_at: "2024-01-01T00:00:00Z", thumbnail_url: `/api/media/${i + 1}/thumbnail`, rank: null });
  }
  const next = start + limit < total ? String(start + limit) : null;
  route.fulfill({ json: { items, next_cursor: next, total } });
});

await page.goto(`${base}/?q=perf&step=${process.env.STEP ?? 1}`);
await page.waitForSelector(".cell");
const t0 = Date.now();
// Load every page: jump to the end of the grid until the status says all are loaded.
for (let i = 0; i < 2000; i++) {
  const loaded = await page.evaluate(() => {
    const s = document.querySelector(".grid-scroller");
    s.scrollTop = s.scrollHeight;
    return document.querySelectorAll(".cell").length && document.querySelector(".results-head")?.textContent;
  });
  if (loaded && !String(loaded).includes("loaded")) break;
  await page.waitForTimeout(20);
}
const loadSeconds = (Date.now() - t0) / 1000;
const metrics = await page.context().newCDPSession(page);
await metrics.send("Performance.enable");
const read = async () => Object.fromEntries((await metrics.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
const m0 = await read();
const cdp = process.env.PROFILE ? await page.context().newCDPSession(page) : null;
if (cdp) { await cdp.send("Profiler.enable"); await cdp.send("Profiler.start"); }
const result = await page.evaluate(async () => {
  const s = document.querySelector(".grid-scroller");
  const longTasks = [];
  const obs = new PerformanceObserver((list) => list.getEntries().forEach((e) => longTasks.push(e.duration)));
  obs.observe({ entryTypes: ["longtask"] });
  s.scrollTop = 0;
  await new Promise((r) => requestAnimationFrame(() => r()));
  // The machine's own frame time with nothing to do, to read the numbers against.
  const idle = [];
  let t = performance.now();
  for (let i = 0; i < 60; i++) {
    await new Promise((r) => requestAnimationFrame(() => r()));
    const now = performance.now();
    idle.push(now - t);
    t = now;
  }
  idle.sort((a, b) => a - b);
  const frames = [];
  let last = performance.now();
  const step = s.clientHeight * Number(new URLSearchParams(location.search).get("step") ?? 1); // screens a frame
  while (s.scrollTop + s.clientHeight < s.scrollHeight - 1) {
    s.scrollTop += step;
    await new Promise((r) => requestAnimationFrame(() => r()));
    const now = performance.now();
    frames.push(now - last);
    last = now;
  }
  obs.disconnect();
  frames.sort((a, b) => a - b);
  const p = (q) => frames[Math.min(frames.length - 1, Math.floor(q * frames.length))];
  return { idleP50: idle[30], frames: frames.length, p50: p(0.5), p95: p(0.95), max: frames[frames.length - 1], longTasks: longTasks.length,
    cells: document.querySelectorAll(".cell").length, status: document.querySelector(".results-head")?.textContent,
    heightPx: s.scrollHeight };
});
if (cdp) {
  const { profile } = await cdp.send("Profiler.stop");
  const self = new Map();
  const dt = profile.timeDeltas;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const n = byId.get(id);
    const key = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0) / 1000);
  });
  console.log([...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${v.toFixed(0).padStart(7)} ms ${k}`).join("\n"));
}
const m1 = await read();
// Main-thread time per frame of the scroll pass, split the way DevTools does.
const per = (k) => Math.round(((m1[k] - m0[k]) * 1000 / result.frames) * 10) / 10;
result.msPerFrame = { script: per("ScriptDuration"), style: per("RecalcStyleDuration"), layout: per("LayoutDuration"),
  task: per("TaskDuration") };
console.log(JSON.stringify({ total, loadSeconds, ...result, errors }, null, 1));
await browser.close();
