// Journey: bring your own data. Upload a generated image-folder archive, check its counts and
// thumbnails, launch a 2-seed decay sweep on it from the form and read the verdict; then two
// bad uploads (a corrupt image, a `../` entry) are refused at the file field and leave nothing.
import { test, expect } from "@playwright/test";
import { imageFolderArchive, png } from "./gen-dataset";

const hydrated = (page: any) => page.waitForFunction(() => (window as any).__anneal_hydrated === true);

test("an uploaded image folder trains a 2-seed sweep with a verdict", async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto("/datasets");
  await hydrated(page);
  await page.fill("#f-name", "shapes");
  await page.setInputFiles("#f-file", { name: "shapes.tar.gz", mimeType: "application/gzip", buffer: imageFolderArchive(12) });
  await page.click("#upload-start");
  await page.waitForURL(/\/datasets\/shapes$/, { timeout: 60_000 });
  await hydrated(page);
  await expect(page.locator("#dataset-train")).toContainText("36");
  await expect(page.locator("#dataset-test")).toContainText("36");
  for (const c of ["circles", "squares", "stars"]) await expect(page.locator("#class-counts")).toContainText(c);
  await expect(page.locator("#normalisation")).toContainText("R");
  await expect(page.getByText("computed on the training split")).toBeVisible();
  // The thumbnails are a real picture: one row per class.
  const img = page.locator("#samples img");
  await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBeGreaterThan(0);
  expect(await img.evaluate((el: HTMLImageElement) => el.naturalHeight)).toBeGreaterThan(3 * 8);

  // A sweep on it, from the form: 10 images per class, decay after epoch 1 or 2, two seeds.
  await page.click("#train-on-it");
  await page.waitForURL(/\/\?dataset=shapes/);
  await hydrated(page);
  await page.fill("#f-experiment-train_per_class", "10");
  await page.fill("#f-experiment-batch", "10");
  await page.fill("#f-experiment-epochs", "3");
  await page.fill("#f-branch_at", "1:2:1");
  await page.fill("#f-branch_length", "1");
  await page.fill("#f-seeds", "0:1:1");
  await page.click("#start-sweep");
  await page.waitForURL(/\/sweeps\/\d+$/, { timeout: 30_000 });
  await hydrated(page);
  await expect(page.locator("#lineage tbody tr")).toHaveCount(6);
  await expect(page.locator("#lineage .status.completed")).toHaveCount(6, { timeout: 240_000 });
  await expect(page.locator("#sweep-conclusion")).toContainText("2 seeds");
  await expect(page.locator("#sweep-conclusion")).toContainText("95% CI");
  const spec = await page.evaluate(async () => {
    const s = await (await fetch(location.pathname.replace("/sweeps/", "/api/sweeps/"))).json();
    return s.runs[0].run.spec.experiment.dataset;
  });
  expect(spec.registered.name).toBe("shapes");
  expect(spec.registered.hash).toMatch(/^[0-9a-f]{64}$/);
  await page.screenshot({ path: "test-results/dataset-sweep.png", fullPage: true });
  expect(errors).toEqual([]);
});

test("a corrupt image or a `../` entry is refused at the file and leaves no dataset", async ({ page }) => {
  await page.goto("/datasets");
  await hydrated(page);
  const bad: [string, [string, Buffer][]][] = [
    ["broken.png", [["train/stars/broken.png", Buffer.from("not a png at all")]]],
    ["../evil.png", [["../evil.png", png(8, 0, 0)]]],
  ];
  for (const [needle, extra] of bad) {
    await page.fill("#f-name", "bad");
    await page.setInputFiles("#f-file", { name: "bad.tar.gz", mimeType: "application/gzip", buffer: imageFolderArchive(3, 8, extra) });
    await page.click("#upload-start");
    await expect(page.locator('.field-error[data-field="file"]')).toContainText(needle, { timeout: 30_000 });
    expect(page.url()).toMatch(/\/datasets$/);
  }
  const names = await page.evaluate(async () => (await (await fetch("/api/datasets")).json()).map((d: any) => d.name));
  expect(names).not.toContain("bad");
  await page.screenshot({ path: "test-results/dataset-refused.png", fullPage: true });
});
