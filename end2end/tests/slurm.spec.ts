// Journey (run by the test command against a server whose executor is Slurm): a toy run
// started from the form trains as a Slurm job, streams live, and its page says where it ran.
// Against a server with another executor it is skipped.
import { test, expect } from "@playwright/test";

test("a toy run from the browser completes through Slurm", async ({ page }) => {
  test.skip(process.env.ANNEAL_EXPECT_EXECUTOR !== "slurm", "the server under test does not dispatch to Slurm");
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto("/");
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await page.fill("#f-experiment-steps", "20000");
  await page.click("#start");
  await page.waitForURL(/\/runs\/\d+$/);
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect(page.locator("#run-status")).toHaveText("completed", { timeout: 90_000 });
  const id = page.url().split("/").pop();
  const run = await (await page.request.get(`/api/runs/${id}`)).json();
  expect(run.executor).toBe("slurm");
  expect(run.executor_job_id).toMatch(/^\d+$/);
  await page.reload();
  await page.waitForFunction(() => (window as any).__anneal_hydrated === true);
  await expect(page.locator("#run-executor")).toContainText(`slurm, job ${run.executor_job_id} on`);
  // The stored rows replay into the chart, as for a local run.
  await expect
    .poll(() => page.evaluate(() => (document.getElementById("chart-loss") as any)?.data?.[0]?.x?.length ?? 0))
    .toBeGreaterThan(10);
  await page.screenshot({ path: "test-results/slurm-run.png", fullPage: true });
  expect(errors).toEqual([]);
});
