// Journey: a 3-seed toy sweep from the form. The page draws each curve as a mean with a band,
// the final metrics with 95% intervals and every seed faintly, and a verdict that names its
// interval; one more seed is added later; then the runs of one seed are compared.
import { test, expect } from "@playwright/test";

test("replicated toy sweep: bands, intervals and a verdict with its uncertainty", async ({ page }) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto("/");
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await page.fill("#f-experiment-steps", "3000");
  await page.fill("#f-branch_at", "1000:3000:1000");
  await page.fill("#f-branch_length", "500");
  await page.fill("#f-seeds", "0:2:1");
  await page.click("#start-sweep");
  await page.waitForURL(/\/sweeps\/\d+$/);
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect(page.locator("#lineage tbody tr")).toHaveCount(12);
  await expect(page.locator("#lineage .status.completed")).toHaveCount(12, { timeout: 120_000 });

  // The verdict names the paired effect and its interval over the 3 seeds.
  const verdict = page.locator("#sweep-conclusion");
  await expect(verdict).toContainText("95% CI");
  await expect(verdict).toContainText("3 seeds");
  await expect(verdict).toContainText("instead of 1000");
  await expect(page.locator("#sweep-method")).toContainText("paired by seed");
  await expect(page.locator("#branch-stats tbody tr")).toHaveCount(3);
  await expect(page.locator("#branch-stats tbody tr").first()).toContainText("[");

  // Curves: per role a band (two edge traces, the upper filled) under a mean of 3.
  const overlay = () => page.evaluate(() => {
    const el = document.getElementById("sweep-test-loss") as any;
    return (el?.data ?? []).map((t: any) => ({ name: t.name, fill: t.fill ?? null, opacity: t.opacity ?? 1, n: t.y.length }));
  });
  await expect.poll(async () => (await overlay()).filter((t: any) => t.fill === "tonexty").length).toBe(4);
  expect((await overlay()).some((t: any) => t.name === "main (mean of 3)")).toBe(true);
  // Each seed on demand, faintly.
  await page.check("#ctl-seeds");
  await expect.poll(async () => (await overlay()).filter((t: any) => t.opacity < 1).length).toBe(12);
  // min–max band instead of ±1 sd: the band edges change.
  const edge = () => page.evaluate(() => {
    const el = document.getElementById("sweep-test-loss") as any;
    const t = el.data.find((t: any) => t.fill === "tonexty");
    return Array.from(t.y) as number[];
  });
  const sd = await edge();
  await page.selectOption("#ctl-band", "minmax");
  await expect.poll(async () => (await edge())[3]).not.toBe(sd[3]);

  // Final metrics: 95% error bars and each seed's point.
  const finals = () => page.evaluate(() => {
    const el = document.getElementById("sweep-final-vs-k") as any;
    return (el?.data ?? []).map((t: any) => ({ name: t.name, x: Array.from(t.x), err: t.error_y ? Array.from(t.error_y.array) : null }));
  });
  await expect.poll(async () => (await finals()).length).toBeGreaterThan(1);
  const f = await finals();
  const mean = f.find((t: any) => t.name === "mean final test loss");
  expect(mean.x).toEqual([1000, 2000, 3000]);
  expect((mean.err as number[]).every((e) => e > 0)).toBe(true);
  expect(f.find((t: any) => t.name === "test_loss per seed").x.length).toBe(9);
  await page.screenshot({ path: "test-results/replicated-sweep.png", fullPage: true });

  // Add a seed later: 4 more runs; the summary then counts 4 seeds.
  await page.fill("#add-seeds", "3");
  await page.click("#add-seeds-go");
  await expect(page.locator("#add-seeds-done")).toContainText("4 more runs");
  await expect(page.locator("#lineage tbody tr")).toHaveCount(16, { timeout: 10_000 });
  await expect(page.locator("#lineage .status.completed")).toHaveCount(16, { timeout: 120_000 });
  await expect(verdict).toContainText("4 seeds");
  // A seed already there is refused by field.
  await page.fill("#add-seeds", "1");
  await page.click("#add-seeds-go");
  await expect(page.locator("#add-seeds-error")).toContainText("seed 1 is given twice");

  // Lineage on a branch's page, then compare the seed's runs.
  const branch = page.locator("#lineage tbody tr").nth(2).locator("a");
  await branch.click();
  await page.waitForURL(/\/runs\/\d+$/);
  await expect(page.locator("#lineage")).toContainText("branch of");
  await expect(page.locator(".config")).not.toContainText("Toy {");
  await page.click("#lineage-compare");
  await page.waitForURL(/\/compare\?runs=/);
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect(page.locator("#cmp-readout tbody tr")).toHaveCount(4);
  await page.selectOption("#cmp-x", "lr");
  await expect(page).toHaveURL(/x=lr/);
  await page.selectOption("#cmp-x", "step");
  await page.locator("#cmp-smooth").fill("0.8");
  await page.locator("#cmp-smooth").dispatchEvent("change");
  await expect(page).toHaveURL(/smooth=0.8/);
  const traces = () => page.evaluate(() => {
    const el = document.getElementById("compare-chart") as any;
    return (el?.data ?? []).map((t: any) => ({ name: t.name, opacity: t.opacity ?? 1 }));
  });
  await expect.poll(async () => (await traces()).filter((t: any) => t.opacity < 1).length).toBe(4);
  await page.fill("#cmp-at", "1500");
  await page.locator("#cmp-at").dispatchEvent("change");
  await expect(page).toHaveURL(/at=1500/);
  await expect(page.locator("#cmp-readout tbody tr").first()).toContainText("1500");
  // The URL is the view: a reload shows the same.
  await page.reload();
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect(page.locator("#cmp-readout tbody tr")).toHaveCount(4);
  await expect.poll(async () => (await traces()).filter((t: any) => t.opacity < 1).length).toBe(4);
  await page.screenshot({ path: "test-results/compare.png", fullPage: true });
  expect(errors).toEqual([]);
});
