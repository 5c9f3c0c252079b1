// Journey: a toy sweep from the form; once its main path and earliest branch have finished, the
// page fits each loss law on them, draws its predictions of the other branches dashed beside
// the real curves (or says that it fits badly) with the errors; then, in the schedule editor,
// the same sweep is the what-if reference and the predicted loss follows the knobs.
import { test, expect, Page } from "@playwright/test";

const traces = (page: Page, div: string) =>
  page.evaluate((div) => {
    const el = document.getElementById(div) as any;
    return (el?.data ?? []).map((t: any) => ({
      name: t.name, meta: t.meta ?? null, dash: t.line?.dash ?? null, yaxis: t.yaxis ?? null,
      x: Array.from(t.x) as number[], y: Array.from(t.y) as number[],
    }));
  }, div);

test("a sweep's loss-law prediction, and the what-if preview", async ({ page }) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto("/");
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await page.fill("#f-experiment-steps", "4000");
  await page.fill("#f-branch_at", "500:4000:500");
  await page.fill("#f-branch_length", "1000");
  await page.click("#start-sweep");
  await page.waitForURL(/\/sweeps\/\d+$/);
  const sweepId = page.url().split("/").pop();
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect(page.locator("#lineage .status.completed")).toHaveCount(9, { timeout: 150_000 });

  // One table per law, a row per held-out decay point (all but the fitted k = 500), each error
  // shown as a signed percentage.
  await expect(page.locator("#prediction")).toBeVisible({ timeout: 30_000 });
  for (const law of ["tissue", "multi_power"]) {
    const rows = page.locator(`#prediction-${law} tbody tr`);
    await expect(rows).toHaveCount(7);
    await expect(rows.first().locator("td").first()).toHaveText("1000");
    await expect(rows.first().locator(".rel-error")).toHaveText(/^[+-]\d+\.\d\d%$/);
    await expect(page.locator(`#law-${law} .law-errors`)).toContainText("Mean |error|: final test loss");
    await expect(page.locator(`#law-${law} .law-recommendation`)).toHaveText(/recommends (decaying at|not decaying)/);
  }
  await expect(page.locator("#prediction-method")).toContainText("cannot be fitted from it");

  // Dashed curves: one per held-out branch for every law that fits; none for one that fits
  // badly, which says so with its error instead.
  let drawn = 0;
  for (const law of ["tissue", "multi_power"]) {
    const verdict = (await page.locator(`#law-${law} .law-assessment`).textContent()) ?? "";
    expect(verdict).toMatch(/\d+\.\d%/);
    const poor = verdict.includes("fits badly");
    const dashed = () => traces(page, "sweep-test-loss").then((ts) => ts.filter((t: any) => t.meta === "prediction" && t.name.startsWith(law)).length);
    if (poor) {
      await expect(page.locator(`#law-${law} .law-assessment.poor`)).toBeVisible();
      expect(await dashed()).toBe(0);
    } else {
      await expect.poll(dashed).toBe(7);
      drawn += 1;
    }
  }
  expect(drawn, "at least one law predicts this sweep well enough to be drawn").toBeGreaterThan(0);
  const pred = (await traces(page, "sweep-test-loss")).find((t: any) => t.meta === "prediction");
  expect(pred.dash === "dash" || pred.dash === "dot").toBe(true);
  expect(pred.y.every((v: number) => Number.isFinite(v) && v > 0)).toBe(true);
  // The toggle hides them.
  await page.uncheck("#ctl-predict");
  await expect.poll(async () => (await traces(page, "sweep-test-loss")).filter((t: any) => t.meta === "prediction").length).toBe(0);
  await page.check("#ctl-predict");
  await page.screenshot({ path: "test-results/prediction.png", fullPage: true });

  // The API answers the same numbers the page shows.
  const api = await (await page.request.get(`/api/sweeps/${sweepId}/prediction`)).json();
  expect(api.laws.map((l: any) => l.law)).toEqual(["tissue", "multi_power"]);
  expect(api.laws[0].branches.length).toBe(7);
  expect(typeof api.laws[0].mean_abs_rel_error).toBe("number");

  // What-if: the sweep as reference; the predicted loss is drawn on the right-hand axis of the
  // LR preview, labelled as a prediction with its held-out error, and follows the knobs.
  await page.goto("/");
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await page.selectOption("#sched-kind", "decay_at");
  await page.fill("#sched-decay_step", "1000");
  await expect(page.locator(`#whatif-source option[value="sweep:${sweepId}"]`)).toHaveCount(1);
  await page.selectOption("#whatif-source", `sweep:${sweepId}`);
  await expect(page.locator("#whatif-status")).toContainText("A prediction, not a measurement", { timeout: 30_000 });
  await expect(page.locator("#whatif-status")).toContainText("Held-out error");
  // The form's 20,000 steps run past the reference's 5,000: the status says it extrapolates.
  await expect(page.locator("#whatif-status")).toContainText("extrapolates");
  await page.fill("#f-experiment-steps", "5000");
  await expect(page.locator("#whatif-status")).not.toContainText("extrapolates");
  const predicted = async () => (await traces(page, "lr-preview")).find((t: any) => t.yaxis === "y2");
  await expect.poll(async () => (await predicted())?.name ?? "").toContain("held-out error");
  const early = (await predicted()).y.slice();
  await page.fill("#sched-decay_step", "3500");
  await expect.poll(async () => JSON.stringify((await predicted()).y)).not.toBe(JSON.stringify(early));
  const late = (await predicted()).y;
  // Before either decay the two schedules are the same, so are their predictions.
  expect(late[0]).toBeCloseTo(early[0], 12);
  // Another law from the same reference.
  await page.selectOption("#whatif-law", "tissue");
  await expect(page.locator("#whatif-status")).toContainText("Tissue");
  await page.screenshot({ path: "test-results/whatif.png", fullPage: true });
  // No reference: the prediction goes away.
  await page.selectOption("#whatif-source", "");
  await expect.poll(async () => (await predicted()) ?? null).toBeNull();
  expect(errors).toEqual([]);
});
