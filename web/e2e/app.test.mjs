// End-to-end checks of the page against a running pava with the corpus ingested and analysed:
//
//   PAVA_E2E_BASE=https://localhost:8443 PAVA_E2E_USER=... PAVA_E2E_PASSWORD=... node --test e2e/
//
// Each test saves a screenshot of what it checked into PAVA_E2E_OUT (default test-output/e2e) and
// fails on any console error, page error or failed request to the site.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { BASE, launch, login, newPage, openByName, settled, shot, uniquePng } from "./support.mjs";

const RUN = Date.now().toString(36);
let browser;
let session;

before(async () => {
  browser = await launch();
  session = await newPage(browser);
  await login(session.page);
});

after(async () => {
  await browser?.close();
});

function clean() {
  const found = session.problems.splice(0);
  assert.deepEqual(found, [], "no console errors, page errors or failed requests");
}

describe("pava web", { concurrency: false }, () => {
  test("log in and out", async () => {
    const { page, problems } = await newPage(browser);
    await page.goto(`${BASE}/map`);
    await page.waitForURL(/\/login\?next=%2Fmap/);
    await login(page, { here: true });
    await page.waitForURL(/\/map$/);
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    await shot(page, "01-logged-in");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(/\/login/);
    await page.goto(`${BASE}/`);
    await page.waitForURL(/\/login/);
    await shot(page, "01-logged-out");
    await page.context().close();
    assert.deepEqual(problems, []);
  });

  test("search by text finds the text in a photo", async () => {
    const { page } = session;
    await page.goto(`${BASE}/`);
    await page.getByRole("searchbox", { name: "Search text" }).fill("quick brown fox");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.waitForURL(/q=quick\+brown\+fox/);
    await settled(page);
    const hit = page.getByRole("gridcell").getByRole("link", { name: /^pyt_test-european\.jpg/ });
    await hit.waitFor();
    await shot(page, "02-search-text");
    clean();
  });

  test("filter by an area drawn on the map", async () => {
    const { page } = session;
    // Start over Italy (the view follows an area in the address), then take the area away and draw
    // one around the pin of ia_DSCN0010.jpg, taken near Arezzo (43.467 N, 11.885 E).
    await page.goto(`${BASE}/map?bbox=5,36,19,48`);
    await page.getByRole("toolbar", { name: "Map tools" }).getByRole("button", { name: "Remove area" }).click();
    await page.waitForURL((u) => !u.searchParams.has("bbox"));
    const pin = page.locator(".leaflet-marker-icon").first();
    await pin.waitFor();
    const box = await pin.boundingBox();
    await page.getByRole("button", { name: /Draw an area/ }).click();
    await page.mouse.move(box.x - 40, box.y - 40);
    await page.mouse.down();
    await page.mouse.move(box.x + 10, box.y + 10, { steps: 4 });
    await page.mouse.move(box.x + box.width + 40, box.y + box.height + 40, { steps: 4 });
    await page.mouse.up();
    await page.waitForURL(/bbox=/);
    await settled(page);
    const bbox = new URL(page.url()).searchParams.get("bbox");
    const [w, s, e, n] = bbox.split(",").map(Number);
    assert.ok(w < 11.885 && e > 11.885 && s < 43.467 && n > 43.467, `the area ${bbox} holds Arezzo`);
    await page.getByRole("gridcell").getByRole("link", { name: /^ia_DSCN0010\.jpg/ }).waitFor();
    const total = await page.locator(".results-head [role=status]").first().textContent();
    assert.match(total ?? "", /^\d+ items?$/);
    await shot(page, "03-map-area");
    clean();
  });

  test("an item shows its object boxes", async () => {
    const { page } = session;
    await openByName(page, "dn_dog.jpg");
    const objects = page.getByRole("button", { name: /^Objects/ });
    await objects.waitFor();
    assert.equal(await objects.getAttribute("aria-pressed"), "true");
    const labels = page.locator(".box.object .box-label");
    await labels.first().waitFor();
    const text = (await labels.allTextContents()).join(" ");
    assert.match(text, /dog/);
    assert.match(text, /bicycle/);
    await shot(page, "04-object-boxes");
    await objects.click();
    assert.equal(await page.locator(".box.object").count(), 0, "the toggle hides the boxes");
    await objects.click();
    clean();
  });

  test("a video plays and the transcript seeks it", async () => {
    const { page } = session;
    await openByName(page, "derived_earth_with_jfk_speech.mp4");
    const video = page.locator("video");
    await video.waitFor();
    await page.waitForFunction(() => (document.querySelector("video")?.readyState ?? 0) >= 1);
    await video.evaluate((v) => v.play());
    await page.waitForFunction(() => (document.querySelector("video")?.currentTime ?? 0) > 0.2);
    const segments = page.getByRole("region", { name: /Transcript/ }).getByRole("button");
    await segments.first().waitFor();
    assert.match((await segments.allTextContents()).join(" "), /country/i, "the JFK quote is transcribed");
    // Move the player away from the segment first, then let the transcript bring it back.
    const target = segments.last();
    const stamp = (await target.locator("time").textContent()) ?? "0:00";
    const [m, s] = stamp.split(":").map(Number);
    const start = m * 60 + s;
    const duration = await video.evaluate((v) => v.duration);
    const away = start + 4 < duration ? start + 4 : Math.max(0, start - 4);
    await video.evaluate((v, t) => { v.currentTime = t; }, away);
    await page.waitForFunction((t) => Math.abs((document.querySelector("video")?.currentTime ?? -99) - t) < 1, away);
    await target.click();
    await page.waitForFunction((t) => Math.abs((document.querySelector("video")?.currentTime ?? -99) - t) < 1.5, start);
    assert.equal(await target.getAttribute("aria-current"), "true", "the segment being played is marked");
    await shot(page, "05-video-transcript");
    clean();
  });

  test("name a person", async () => {
    const { page } = session;
    await page.goto(`${BASE}/people`);
    const card = page.locator(".person-card").first();
    await card.waitFor();
    await card.click();
    const name = `Person ${RUN}`;
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByRole("button", { name: "Save name" }).click();
    await page.getByRole("heading", { level: 1, name }).waitFor();
    await page.goto(`${BASE}/people`);
    await page.getByText(name).waitFor();
    await shot(page, "06-person-named");
    clean();
  });

  test("comment on an item", async () => {
    const { page } = session;
    await openByName(page, "dn_dog.jpg");
    const body = `A red bus <b>not bold</b> ${RUN}`;
    await page.getByLabel("Add a comment").fill(body);
    await page.getByRole("button", { name: "Comment", exact: true }).click();
    await page.locator(".comment-body", { hasText: RUN }).waitFor();
    await page.reload();
    const shown = page.locator(".comment-body", { hasText: RUN });
    await shown.waitFor();
    assert.equal(await shown.textContent(), body, "shown as plain text, never as HTML");
    await shown.scrollIntoViewIfNeeded();
    await shot(page, "07-comment");
    clean();
  });

  test("make an album from a selection", async () => {
    const { page } = session;
    await page.goto(`${BASE}/?q=obama`);
    await settled(page);
    const cells = page.getByRole("gridcell");
    await cells.first().waitFor();
    await cells.nth(0).getByRole("checkbox").check({ force: true });
    await cells.nth(1).getByRole("checkbox").check({ force: true });
    await page.getByText("2 selected items").waitFor();
    const bulk = page.getByRole("region", { name: "Selected items" });
    await bulk.getByRole("button", { name: "Add to album…" }).click();
    const album = `Album ${RUN}`;
    await bulk.getByLabel("Name of the new album").fill(album);
    await bulk.getByRole("button", { name: "Add", exact: true }).click();
    await page.getByText(/Added to the album/).waitFor();
    await page.goto(`${BASE}/albums`);
    await page.getByRole("link", { name: new RegExp(album) }).click();
    await page.getByRole("heading", { level: 1, name: album }).waitFor();
    await settled(page);
    assert.equal(await page.getByRole("gridcell").count(), 2);
    await shot(page, "08-album");
    clean();
  });

  test("upload a file and find it", async () => {
    const { page } = session;
    await page.goto(`${BASE}/upload`);
    const name = `e2e-upload-${RUN}.png`;
    await page.getByLabel("Files to upload").setInputFiles({ name, mimeType: "image/png", buffer: uniquePng() });
    const row = page.getByRole("row", { name: new RegExp(name) });
    await row.getByText(/new:/).waitFor({ timeout: 60_000 });
    await shot(page, "09-upload");
    await row.getByRole("link", { name: "open" }).click();
    await page.getByRole("heading", { level: 1, name }).waitFor();
    await page.goto(`${BASE}/?q=${encodeURIComponent(`e2e-upload-${RUN}`)}`);
    await settled(page);
    await page.getByRole("gridcell").getByRole("link", { name: new RegExp(`^${name}`) }).waitFor();
    await shot(page, "09-upload-found");
    clean();
  });
});
