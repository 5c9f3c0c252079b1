// Journey: share a finished sweep from its page, open the link as a reader without JavaScript
// (conclusion, data table and server-drawn charts), then with JavaScript (interactive Plotly
// charts), then revoke it from the owner's list and see the link die at once.
import { test, expect } from "@playwright/test";

test("a shared sweep reads without JavaScript, gains charts with it, and dies when revoked", async ({ page, browser }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // A small toy sweep through the API; the journey is about sharing, not launching.
  const sweep = await page.request.post("/api/sweeps", {
    data: {
      name: "share journey",
      main: {
        experiment: { kind: "toy", d: 20, n: 5, gamma: 1.0, label_noise: 0.3, batch: 1, steps: 3000, eval_every: 100 },
        schedule: { kind: "constant", lr: 0.05 },
        seed: 3,
      },
      branch_at: [1000, 2000, 3000],
      after: { kind: "constant", lr: 0.005 },
      branch_length: 500,
    },
  });
  expect(sweep.status()).toBe(201);
  const { id } = await sweep.json();
  await page.goto(`/sweeps/${id}`);
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect(page.locator("#lineage .status.completed")).toHaveCount(4, { timeout: 120_000 });

  await page.selectOption("#share-expiry", "168");
  await page.click("#share");
  const link = page.locator("#share-url");
  await expect(link).toBeVisible();
  const url = (await link.getAttribute("href"))!;
  expect(url).toMatch(/^\/s\/[0-9a-f]{64}$/);

  // A reader without JavaScript gets the whole result from the server.
  const noJs = await browser.newContext({ javaScriptEnabled: false, baseURL: page.url() });
  const reader = await noJs.newPage();
  const res = await reader.goto(url);
  expect(res!.status()).toBe(200);
  await expect(reader.locator("#share-title")).toContainText("share journey");
  await expect(reader.locator("#share-conclusion")).toContainText("instead of 1000");
  await expect(reader.locator("#share-data tbody tr")).toHaveCount(3);
  expect(await reader.locator(".static-chart svg polyline").count()).toBeGreaterThan(3);
  await expect(reader.locator('meta[property="og:title"]')).toHaveAttribute("content", /share journey/);
  expect(await reader.locator("#share").count()).toBe(0); // nothing to act on
  await reader.screenshot({ path: "test-results/share-nojs.png", fullPage: true });
  const csv = await reader.request.get(`${url}/export?format=csv&table=summary`);
  expect(await csv.text()).toMatch(/^row,seed,k,vs_k,n,length,seconds,test_loss/);
  await noJs.close();

  // With JavaScript the same page hydrates into Plotly charts.
  const withJs = await browser.newPage({ baseURL: page.url() });
  withJs.on("pageerror", (e) => errors.push(String(e)));
  await withJs.goto(url);
  await withJs.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect(withJs.locator("#sweep-final-vs-k.js-plotly-plot")).toBeVisible();
  await expect(withJs.locator("#sweep-test-loss.js-plotly-plot")).toBeVisible();
  await expect(withJs.locator(".static-chart").first()).toBeHidden();
  await withJs.screenshot({ path: "test-results/share-js.png", fullPage: true });

  // The owner revokes it; the link answers 404 at once.
  await page.goto("/shares");
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  const row = page.locator("#shares tbody tr").first();
  await expect(row.locator(".share-state")).toHaveText("active");
  await row.locator("button.revoke").click();
  await expect(row.locator(".share-state")).toHaveText("revoked");
  const gone = await withJs.goto(url);
  expect(gone!.status()).toBe(404);
  await withJs.close();
  expect(errors).toEqual([]);
});
