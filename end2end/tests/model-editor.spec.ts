// Journey: a network of one's own. On Fashion-MNIST (1×28×28, 10 classes), build a small
// residual network in the model editor layer by layer, watching the shapes and the parameter
// count follow each edit; provoke two shape errors (a kernel larger than the map, a residual
// conv whose width breaks the identity shortcut), see each at its layer and fix it; then run a
// 2-seed decay sweep on it and wait for the verdict.
import { test, expect, Page } from "@playwright/test";

const hydrated = (page: Page) => page.waitForFunction(() => (window as any).__anneal_hydrated === true);
const input = (page: Page, field: string) => page.locator(`#model-editor input[data-field="experiment.model.layers${field}"]`);
const error = (page: Page, field: string) => page.locator(`#model-editor .field-error[data-field="experiment.model.layers${field}"]`);
const row = (page: Page, path: string) => page.locator(`#model-table tr[data-path="${path}"]`);
const params = (page: Page) => page.locator("#model-params");
// Counts are grouped with U+202F (narrow no-break space).
const grouped = (n: number) => n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");

async function add(page: Page, kind: string) {
  await page.selectOption("#layer-kind", kind);
  await page.click("#add-layer");
}

test("a residual network built in the editor trains a 2-seed sweep with a verdict", async ({ page }) => {
  test.setTimeout(480_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto("/?experiment=net");
  await hydrated(page);
  await expect(page.locator("#net-fields")).toBeVisible();

  // The editor opens on the model chosen before (the MLP), as layers.
  await page.selectOption("#f-experiment-model", "layers");
  await expect(page.locator("#model-editor")).toBeVisible();
  await expect(row(page, "0")).toContainText("flatten");
  await expect(row(page, "5")).toContainText("linear");
  // 784·512 + 512 + 512·512 + 512 + 512·10 + 10.
  await expect(params(page)).toHaveText(grouped(669_706));

  // Start from nothing, through the JSON box; a typo there is refused with its place.
  await page.click("#model-editor details.model-json summary");
  await expect(page.locator("#model-json")).toHaveValue(/"kind": "flatten"/);
  await page.fill("#model-json", '[\n  {"kind": "cnv", "out": 8}\n]');
  await page.click("#model-json-apply");
  await expect(page.locator("#model-json-error")).toContainText("line 2, column");
  await expect(page.locator("#model-json-error")).toContainText("cnv");
  await expect(row(page, "5")).toHaveCount(1); // the list is left as it was
  await page.fill("#model-json", "[]");
  await page.click("#model-json-apply");
  await expect(page.locator("#model-json-error")).toHaveText("");
  await expect(page.locator("#model-editor")).toContainText("No layers yet");
  await expect(page.locator('#model-editor .field-error[data-field="experiment.model.layers"]')).toContainText("at least one layer");
  await page.click("#model-editor details.model-json summary");

  // conv 8, 3×3, padding 1: 1·9·8 + 8 = 80 parameters.
  await add(page, "conv");
  await input(page, "[0].out").fill("8");
  await expect(row(page, "0")).toContainText("8×28×28");
  await expect(params(page)).toHaveText("80");
  // Until it ends in 10 class scores, its last layer says so, and the totals are so far.
  await expect(error(page, "[0]")).toContainText("10 class scores");
  await add(page, "batch_norm");
  await expect(params(page)).toHaveText("96");
  await add(page, "relu");
  await expect(row(page, "2")).toContainText("8×28×28");
  // A residual block keeps the 8 channels arriving at it: two 3×3 convs (no bias) with BN.
  await add(page, "residual");
  await expect(page.locator('li[data-layer="3"] li.layer')).toHaveCount(5);
  await expect(row(page, "3.3")).toContainText("8×28×28");
  await expect(row(page, "3")).toContainText("identity");
  await expect(params(page)).toHaveText(grouped(96 + 2 * 576 + 2 * 16));
  // Reorder inside the block: take its ReLU out, add one at its end, move it up twice.
  await page.locator('li[data-layer="3.2"] button.remove').click();
  await expect(page.locator('li[data-layer="3"] li.layer')).toHaveCount(4);
  await expect(row(page, "3.2")).toContainText("convolution");
  await page.selectOption("#block-kind-3", "relu");
  await page.click("#block-add-3");
  await expect(row(page, "3.4")).toContainText("ReLU");
  await page.locator('li[data-layer="3.4"] button[title^="move"][title$="up"]').click();
  await page.locator('li[data-layer="3.3"] button[title^="move"][title$="up"]').click();
  await expect(row(page, "3.2")).toContainText("ReLU");
  await expect(row(page, "3.3")).toContainText("convolution");
  await add(page, "relu");
  await add(page, "global_avg_pool");
  await expect(row(page, "5")).toContainText(/global average pool\s*8/);
  await add(page, "linear");
  await expect(row(page, "6")).toContainText("10");
  const total = 96 + 2 * 576 + 2 * 16 + 8 * 10 + 10;
  await expect(params(page)).toHaveText(grouped(total));
  await expect(page.locator("#model-editor .field-error[data-field]")).toHaveCount(0);
  await expect(page.locator("#model-flops")).not.toHaveText("—");

  // A 31×31 kernel cannot fit the 28×28 map (padding 1): said at that setting, row marked.
  await input(page, "[0].kernel").fill("31");
  await expect(error(page, "[0].kernel")).toContainText("does not fit the 28×28 input");
  await expect(row(page, "0")).toHaveClass(/invalid/);
  await expect(input(page, "[0].kernel")).toHaveClass(/invalid/);
  await input(page, "[0].kernel").fill("3");
  await expect(error(page, "[0].kernel")).toHaveCount(0);
  await expect(params(page)).toHaveText(grouped(total));
  // A typo is no value: it stays in its input with a message, and the form will not submit it.
  await input(page, "[0].kernel").fill("3x");
  await expect(error(page, "[0].kernel")).toContainText("whole number");
  await input(page, "[0].kernel").fill("3");
  // 16 channels out of the block's last conv break its identity shortcut.
  await input(page, "[3].layers[3].out").fill("16");
  await expect(error(page, "[3].shortcut")).toContainText("identity shortcut");
  await expect(row(page, "3")).toHaveClass(/invalid/);
  await expect(row(page, "2")).toContainText("8×28×28");
  await input(page, "[3].layers[3].out").fill("8");
  await expect(page.locator("#model-editor .field-error[data-field]")).toHaveCount(0);
  await expect(params(page)).toHaveText(grouped(total));
  await page.screenshot({ path: "test-results/model-editor.png", fullPage: true });

  // A 2-seed decay sweep on it: 10 images per class, decays after epoch 1 or 2.
  await page.fill("#f-experiment-train_per_class", "10");
  await page.fill("#f-experiment-batch", "10");
  await page.fill("#f-experiment-epochs", "3");
  await expect(page.locator("#model-memory")).toContainText("B");
  await page.fill("#f-branch_at", "1:2:1");
  await page.fill("#f-branch_length", "1");
  await page.fill("#f-seeds", "0:1:1");
  await page.click("#start-sweep");
  await page.waitForURL(/\/sweeps\/\d+$/, { timeout: 30_000 });
  await hydrated(page);
  const model = await page.evaluate(async () => {
    const s = await (await fetch(location.pathname.replace("/sweeps/", "/api/sweeps/"))).json();
    return s.runs[0].run.spec.experiment.model;
  });
  expect(model.kind).toBe("layers");
  expect(model.layers.map((l: any) => l.kind)).toEqual(["conv", "batch_norm", "relu", "residual", "relu", "global_avg_pool", "linear"]);
  expect(model.layers[3].layers.map((l: any) => l.kind)).toEqual(["conv", "batch_norm", "relu", "conv", "batch_norm"]);
  await expect(page.locator("#lineage tbody tr")).toHaveCount(6);
  await expect(page.locator("#lineage .status.completed")).toHaveCount(6, { timeout: 400_000 });
  await expect(page.locator("#sweep-conclusion")).toContainText("2 seeds");
  await expect(page.locator("#sweep-conclusion")).toContainText("95% CI");
  await page.screenshot({ path: "test-results/model-editor-sweep.png", fullPage: true });
  expect(errors).toEqual([]);
});

test("the editor reads at phone width", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/?experiment=net");
  await hydrated(page);
  await page.selectOption("#f-experiment-model", "layers");
  await page.selectOption("#model-preset", "resnet20");
  // Fashion-MNIST's 1×28×28: the ResNet-20 layers with a 1-channel stem.
  await expect(row(page, "22")).toContainText("10");
  await expect(params(page)).toHaveText(grouped(269_722 - 2 * 9 * 16));
  await page.locator("#model-editor").screenshot({ path: "test-results/model-editor-phone.png" });
  await page.locator('li[data-layer="9"]').screenshot({ path: "test-results/model-editor-phone-block.png" });
  await page.locator(".model-table-pane").screenshot({ path: "test-results/model-editor-phone-table.png" });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});
