// Journey: launch the paper's toy sweep in one click, wait for it, and read the verdict:
// one point per branch on the final-metric-vs-k chart, with later decay ending closer to α_mn.
import { test, expect } from "@playwright/test";

test("toy sweep: later decay ends nearer the minimum-norm solution", async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto("/");
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await page.click("#preset-toy");
  await page.waitForURL(/\/sweeps\/\d+$/);
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect(page.locator("#lineage tbody tr")).toHaveCount(5);

  // Wait until every run has finished (the page polls and redraws).
  await expect(page.locator("#lineage .status.completed")).toHaveCount(5, { timeout: 240_000 });
  const chart = () => page.evaluate(() => {
    const el = document.getElementById("sweep-final-vs-k") as any;
    return (el?.data ?? []).map((t: any) => ({ name: t.name, x: Array.from(t.x), y: Array.from(t.y) }));
  });
  await expect.poll(async () => (await chart())[0]?.x.length ?? 0).toBe(4);
  const traces = await chart();
  const loss = traces.find((t: any) => t.name === "final test loss");
  const dist = traces.find((t: any) => t.name.includes("α_mn"));
  expect(loss.x).toEqual([1000, 5000, 20000, 40000]);
  // The paper's trend: decaying later ends closer to α_mn and at lower test loss.
  const d = dist.y as number[];
  expect(d[3]).toBeLessThan(d[0]);
  expect(d[2]).toBeLessThan(d[0]);
  const l = loss.y as number[];
  expect(l[3]).toBeLessThan(l[0]);
  await expect(page.locator("#sweep-pearson")).toContainText("Pearson r");
  await expect(page.locator("#sweep-conclusion")).toContainText("instead of 1000");
  // Chart controls: linear axis, smoothing that changes the drawn curve but not its length.
  const overlay = () => page.evaluate(() => {
    const el = document.getElementById("sweep-test-loss") as any;
    const main = el.data.find((t: any) => t.name === "main");
    return { type: el.layout.yaxis.type, y: Array.from(main.y) as number[] };
  });
  const raw = await overlay();
  expect(raw.type).toBe("log");
  await page.uncheck("#ctl-log");
  await expect.poll(async () => (await overlay()).type).toBe("linear");
  await page.locator("#ctl-smooth").fill("0.9");
  await expect.poll(async () => (await overlay()).y[5]).not.toBe(raw.y[5]);
  expect((await overlay()).y.length).toBe(raw.y.length);
  await page.check("#ctl-log");
  await page.screenshot({ path: "test-results/toy-sweep.png", fullPage: true });
  expect(errors).toEqual([]);
});

test("a sweep launched from the form uses the branches' own schedule", async ({ page }) => {
  await page.goto("/");
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await page.fill("#f-experiment-steps", "3000");
  await page.fill("#f-branch_at", "1000:3000:1000");
  await page.fill("#f-branch_length", "500");
  await page.selectOption("#after-sched-kind", "linear");
  await page.fill("#after-sched-total_iters", "500");
  await page.click("#start-sweep");
  await page.waitForURL(/\/sweeps\/\d+$/);
  await expect(page.locator("#lineage tbody tr")).toHaveCount(4);
  await expect(page.locator("#lineage .status.completed")).toHaveCount(4, { timeout: 60_000 });
  // The last branch's LR follows the linear decay after k = 3000.
  const lr = await page.evaluate(async () => {
    const s = await (await fetch(location.pathname.replace("/sweeps/", "/api/sweeps/"))).json();
    const last = s.runs[s.runs.length - 1].run;
    return last.spec.schedule;
  });
  expect(lr.kind).toBe("sequential");
  expect(lr.milestones).toEqual([3000]);
  expect(lr.parts[1].kind).toBe("linear");
});
