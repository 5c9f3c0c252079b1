// Journey: launch a toy run from the form, watch live points arrive, reload mid-run.
import { test, expect, Page } from "@playwright/test";

async function tracePoints(page: Page, div: string, trace = 0): Promise<number> {
  return page.evaluate(([d, t]) => {
    const el = document.getElementById(d as string) as any;
    return el && el.data && el.data[t as number] ? el.data[t as number].x.length : -1;
  }, [div, trace]);
}

test("launch a toy run and watch live curves, across a reload", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });

  await page.goto("/");
  await expect(page).toHaveTitle("Anneal");
  // Wait for hydration: the form only submits through the wasm handler.
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);

  // A bad value is flagged next to its field before anything is sent.
  await page.fill("#f-experiment-n", "80");
  await page.click("#start");
  await expect(page.locator('.field-error[data-field="experiment.n"]')).toContainText("smaller than d");

  await page.fill("#f-experiment-n", "10");
  await page.fill("#f-experiment-steps", "1000000");
  await page.click("#start");
  await page.waitForURL(/\/runs\/\d+$/);
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);

  await expect(page.locator("#run-status")).toHaveText("running");
  await expect(page.locator("#run-backend")).toHaveText("flex");
  await expect(page.locator("#run-device")).toContainText("cpu");

  // Live points arrive and keep arriving.
  await expect.poll(() => tracePoints(page, "chart-loss")).toBeGreaterThan(5);
  const before = await tracePoints(page, "chart-loss");
  await expect.poll(() => tracePoints(page, "chart-loss")).toBeGreaterThan(before);
  // Every chart gets data, and the values are real numbers.
  for (const div of ["chart-lr", "chart-norms"]) {
    await expect.poll(() => tracePoints(page, div)).toBeGreaterThan(0);
  }
  const lr = await page.evaluate(() => (document.getElementById("chart-lr") as any).data[0].y[0]);
  expect(lr).toBeCloseTo(0.05, 10);

  // Reload mid-run: the curve comes back complete (replayed from the start) and keeps growing.
  const beforeReload = await tracePoints(page, "chart-loss");
  await page.reload();
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect.poll(() => tracePoints(page, "chart-loss")).toBeGreaterThanOrEqual(beforeReload);
  const steps = await page.evaluate(() => (document.getElementById("chart-loss") as any).data[0].x as number[]);
  expect(steps[0]).toBe(0);
  for (let i = 1; i < steps.length; i++) expect(steps[i]).toBeGreaterThan(steps[i - 1]);
  const afterReload = await tracePoints(page, "chart-loss");
  await expect.poll(() => tracePoints(page, "chart-loss")).toBeGreaterThan(afterReload);

  await page.screenshot({ path: "test-results/live-run.png", fullPage: true });

  // Cancel so the suite doesn't wait for the whole run.
  await page.click("#cancel");
  await expect(page.locator("#run-status")).toHaveText("cancelled");
  expect(errors).toEqual([]);
});

test("launch a network run on Fashion-MNIST and see accuracy arrive", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto("/");
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await page.selectOption("#f-mode", "net");
  await expect(page.locator("#net-fields")).toBeVisible();
  await page.fill("#f-experiment-train_per_class", "20");
  await page.fill("#f-experiment-batch", "20");
  await page.fill("#f-experiment-epochs", "3");
  await page.selectOption("#sched-kind", "constant");
  await page.fill("#sched-lr", "0.1");
  await page.click("#start");
  await page.waitForURL(/\/runs\/\d+$/);
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect(page.locator("h1")).toContainText("Fashion-MNIST");
  await expect(page.locator("#run-status")).toHaveText("completed", { timeout: 90_000 });
  const acc = () => page.evaluate(() => {
    const el = document.getElementById("chart-acc") as any;
    return el?.data?.[1]?.y ?? [];
  });
  await expect.poll(async () => (await acc()).length).toBe(4);
  const last = (await acc())[3];
  expect(last).toBeGreaterThan(0.4);
  expect(errors).toEqual([]);
});
