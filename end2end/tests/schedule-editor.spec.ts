// Journey: design a schedule on the launch form; the preview (the trainer's own Rust code,
// compiled to WASM) redraws as you type, and bad values are flagged next to their field.
import { test, expect, Page } from "@playwright/test";

const preview = (page: Page) =>
  page.evaluate(() => {
    const el = document.getElementById("lr-preview") as any;
    return (el?.data ?? []).map((t: any) => ({ name: t.name, x: Array.from(t.x) as number[], y: Array.from(t.y) as number[] }));
  });

test("edit a schedule, watch the preview, see field errors", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto("/");
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);

  // The default is the paper's constant LR.
  await expect.poll(async () => (await preview(page))[0]?.y[0]).toBeCloseTo(0.05, 12);

  // Switch to cosine and shorten T_max: the curve reaches η_min at T_max.
  await page.selectOption("#sched-kind", "cosine");
  await page.fill("#sched-t_max", "10000");
  await page.fill("#sched-eta_min", "0.001");
  await expect(page.locator("#preview-summary")).toContainText("cosine");
  await expect.poll(async () => {
    const [t] = await preview(page);
    const i = t ? t.x.indexOf(10000) : -1;
    return i >= 0 ? t.y[i] : null;
  }).toBeCloseTo(0.001, 9);
  const before = (await preview(page))[0].y.slice();

  // Typing changes the curve.
  await page.fill("#sched-lr", "0.2");
  await expect.poll(async () => (await preview(page))[0].y[0]).toBeCloseTo(0.2, 12);
  expect((await preview(page))[0].y).not.toEqual(before);

  // Pin it, switch to a step decay: two curves overlaid.
  await page.click("#preview-pin");
  await page.selectOption("#sched-kind", "decay_at");
  await page.fill("#sched-decay_step", "8000");
  await expect.poll(async () => (await preview(page)).length).toBe(2);
  const [pinned, current] = await preview(page);
  expect(pinned.name).toContain("pinned");
  const at = (t: any, step: number) => t.y[t.x.findIndex((x: number) => x >= step)];
  expect(at(current, 9000)).toBeCloseTo(0.05 * 0.1, 12);

  // Log axis.
  await page.check("#preview-log");
  await expect.poll(() => page.evaluate(() => (document.getElementById("lr-preview") as any).layout.yaxis.type)).toBe("log");

  // Bad values are flagged next to the field, and the run can't start.
  await page.fill("#sched-lr", "-1");
  await expect(page.locator('.field-error[data-field="schedule.lr"]')).not.toBeEmpty();
  await page.fill("#sched-lr", "NaN");
  await expect(page.locator('.field-error[data-field="schedule.lr"]')).toContainText("finite");
  await page.selectOption("#sched-kind", "multi_step");
  await page.fill("#sched-milestones", "8000, 3000");
  await expect(page.locator('.field-error[data-field="schedule.milestones"]')).not.toBeEmpty();
  await page.click("#start");
  await expect(page).toHaveURL(/\/$/);
  // The sweep's second editor, for the branches after k, has its own ids and preview.
  const after = () => page.evaluate(() => (document.getElementById("after-lr-preview") as any)?.data?.[0]?.y?.[0]);
  await expect.poll(after).toBeCloseTo(0.005, 12);
  await page.selectOption("#after-sched-kind", "cosine");
  await page.fill("#after-sched-lr", "0.01");
  await expect.poll(after).toBeCloseTo(0.01, 12);
  await page.fill("#after-sched-t_max", "0");
  await expect(page.locator('.field-error[data-field="after.t_max"]')).not.toBeEmpty();
  await page.screenshot({ path: "test-results/schedule-editor.png", fullPage: true });
  expect(errors).toEqual([]);
});
