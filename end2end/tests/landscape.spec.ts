// Journey: from a finished toy run (d = 2), compute its loss landscape from the run page, watch
// it finish, and read both contour maps with the trajectory, the minima curve and w_mn on them.
import { test, expect } from "@playwright/test";

test("a finished run's loss landscape shows train and test maps with the trajectory", async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  const run = await page.request.post("/api/runs", {
    data: {
      name: "landscape journey",
      experiment: { kind: "toy", d: 2, n: 1, gamma: 1.0, label_noise: 0.5, batch: 1, steps: 2000, eval_every: 20 },
      schedule: { kind: "constant", lr: 0.05 },
      seed: 4,
    },
  });
  expect(run.status()).toBe(201);
  const { id } = await run.json();
  await page.goto(`/runs/${id}`);
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect(page.locator("#run-status")).toContainText("completed", { timeout: 60_000 });

  // A bad grid is refused in the form, next to the field.
  await page.fill("#ls-grid", "99");
  await page.click("#ls-start");
  await expect(page.locator(".landscape-launcher .field-error")).toContainText("between 3 and 51");
  await page.fill("#ls-grid", "31");
  await page.click("#ls-start");
  await page.waitForURL(/\/landscapes\/\d+$/);
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect(page.locator("#landscape-status")).toHaveText("completed", { timeout: 60_000 });

  for (const div of ["landscape-train", "landscape-test"]) {
    await expect(page.locator(`#${div}.js-plotly-plot`)).toBeVisible();
    const traces = await page.evaluate((d) => {
      const el = document.getElementById(d) as any;
      return (el?.data ?? []).map((t: any) => ({ type: t.type, meta: t.meta, n: (t.x ?? []).length }));
    }, div);
    const contour = traces.find((t: any) => t.type === "contour");
    expect(contour.n).toBe(31);
    const path = traces.find((t: any) => t.meta === "trajectory");
    expect(path.n).toBeGreaterThan(50);
    expect(traces.some((t: any) => t.meta === "final")).toBe(true);
    expect(traces.some((t: any) => t.meta === "manifold")).toBe(true);
    expect(traces.some((t: any) => t.meta === "w_mn")).toBe(true);
  }
  // Same axes on both maps.
  const ranges = await page.evaluate(() =>
    ["landscape-train", "landscape-test"].map((d) => (document.getElementById(d) as any).layout.xaxis.range));
  expect(ranges[0]).toEqual(ranges[1]);
  await expect(page.locator("#landscape-reading")).toContainText("test-loss minimum");
  await page.screenshot({ path: "test-results/landscape.png", fullPage: true });

  // Listed on the run's page (reached in the browser, so the list comes over HTTP), and
  // reopening is instant (stored, not recomputed).
  await page.click("#landscape-title ~ p.meta a");
  await page.waitForURL(new RegExp(`/runs/${id}$`));
  await expect(page.locator(".landscapes tbody tr")).toHaveCount(1);
  expect(errors).toEqual([]);
});
