import { expect, test, type Page } from '@playwright/test';
import { chooseVariants } from './planner-helpers';
import { mkdirSync } from 'node:fs';

// The lesson in docs/classroom.md shows these screenshots; the test that checks what the lesson
// points at takes them, so they always show the page as it is.
const SHOTS = 'docs/classroom';
mkdirSync(SHOTS, { recursive: true });

const cellNumber = async (page: Page, variant: string, what: 'kl' | 'ppl' | 'agreement'): Promise<number> =>
  Number.parseFloat(
    await page.locator(`[data-testid="results-table"] tr[data-variant="${variant}"] [data-fidelity="${what}"]`).innerText(),
  );

test('the lesson: fidelity to dense tells the variants apart, the whole run has one bar with an ETA, finished variants show early', async ({
  page,
}) => {
  test.setTimeout(1_500_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

  await page.goto('/');
  await page.locator('li.choice[data-model="stories260k"]').getByRole('button', { name: 'Download stories260k' }).click();
  await expect(page.locator('table.cache tr[data-model="stories260k"]')).toHaveAttribute('data-status', 'complete', { timeout: 60_000 });

  // The default plan (every perspective, smoke preset, self-generated calibration), with the grid cut
  // to the variants the lesson compares so the test stays short.
  await page.getByRole('tab', { name: 'Plan & run' }).click();
  await chooseVariants(page, ['rtn3', 'rtn8', 'magnitude2:4']);
  await page.locator('#plan-model').selectOption({ label: 'stories260k' });
  await page.getByLabel('Samples').fill('16');
  await page.getByLabel('Tokens each').fill('128');
  await page.getByLabel('Plan a run').getByLabel('Device').selectOption('wasm');
  await expect(page.getByTestId('plan-estimate')).toContainText('4 variants');
  await page.screenshot({ path: `${SHOTS}/1-planner.png`, fullPage: true });
  await page.getByRole('button', { name: 'Start run' }).click();

  // Watch the overall bar for the whole run: it never moves back.
  const bar = page.getByTestId('run-overall');
  await expect(bar).toBeVisible({ timeout: 60_000 });
  const start = Date.now();
  const values: number[] = [];
  let etaAfterFirst: { text: string; at: number } | null = null;
  let partialSeen = false;
  let progressShot = false;
  for (;;) {
    if ((await page.locator('table[data-testid="run-history"] tr[data-status="done"]').count()) > 0) break;
    expect(Date.now() - start, 'the run finishes').toBeLessThan(1_350_000);
    const value = await bar.getAttribute('value', { timeout: 5_000 }).catch(() => null);
    if (value !== null) values.push(Number(value));
    const finished = await page.locator('[data-testid="run-finished"] li').count();
    if (finished >= 1 && !etaAfterFirst) {
      const text = await page.getByTestId('run-eta').innerText();
      etaAfterFirst = { text, at: Date.now() };
      await page.screenshot({ path: `${SHOTS}/2-progress.png`, fullPage: true });
      progressShot = true;
      // Results of the finished variant are there before the run ends, marked partial.
      await page.getByRole('tab', { name: 'Results' }).click();
      await expect(page.getByTestId('partial-results')).toBeVisible({ timeout: 30_000 });
      await expect(page.locator('[data-testid="results-table"] tr[data-variant="dense"]')).toBeVisible();
      partialSeen = (await page.locator('table[data-testid="run-history"] tr[data-status="done"]').count()) === 0;
      await page.screenshot({ path: `${SHOTS}/3-partial-results.png`, fullPage: true });
      await page.getByRole('tab', { name: 'Plan & run' }).click();
    }
    await page.waitForTimeout(2_000);
  }
  const end = Date.now();
  expect(values.length).toBeGreaterThan(5);
  for (let i = 1; i < values.length; i++) expect(values[i], `bar at sample ${i}`).toBeGreaterThanOrEqual(values[i - 1]);
  expect(progressShot).toBe(true);
  expect(partialSeen, 'partial results shown while the run was still going').toBe(true);
  expect(etaAfterFirst!.text).toMatch(/left/);
  const etaMatch = /about (\d+(?:\.\d+)?) (s|min|h)/.exec(etaAfterFirst!.text);
  if (etaMatch) {
    const eta = Number(etaMatch[1]) * ({ s: 1, min: 60, h: 3600 } as const)[etaMatch[2] as 's' | 'min' | 'h'];
    const actual = (end - etaAfterFirst!.at) / 1000;
    console.log(
      `ETA after the first variant: ${etaAfterFirst!.text} → ${eta} s; actual remaining ${actual.toFixed(0)} s; ratio ${(eta / actual).toFixed(2)}`,
    );
  } else console.log(`ETA after the first variant: ${etaAfterFirst!.text} (no figure to compare)`);

  // Fidelity to dense: RTN-3 and magnitude 2:4 move far from dense, RTN-8 hardly at all.
  await page.getByRole('tab', { name: 'Results' }).click();
  await expect(page.getByTestId('partial-results')).toHaveCount(0);
  await expect(page.getByTestId('dashboard')).toBeVisible();
  expect(await cellNumber(page, 'dense', 'kl')).toBe(0);
  const kl = {
    rtn3: await cellNumber(page, 'rtn3', 'kl'),
    rtn8: await cellNumber(page, 'rtn8', 'kl'),
    mag: await cellNumber(page, 'magnitude2:4', 'kl'),
  };
  const agree = {
    rtn3: await cellNumber(page, 'rtn3', 'agreement'),
    rtn8: await cellNumber(page, 'rtn8', 'agreement'),
    mag: await cellNumber(page, 'magnitude2:4', 'agreement'),
  };
  console.log(`KL to dense: ${JSON.stringify(kl)}; agreement with dense %: ${JSON.stringify(agree)}`);
  expect(kl.rtn3).toBeGreaterThan(0.05);
  expect(kl.mag).toBeGreaterThan(0.05);
  expect(kl.rtn8).toBeLessThan(0.01);
  expect(kl.rtn8).toBeLessThan(kl.rtn3 / 10);
  expect(agree.rtn3).toBeLessThan(100);
  expect(agree.mag).toBeLessThan(100);
  expect(agree.rtn8).toBeGreaterThan(agree.rtn3);
  await expect(page.getByTestId('fidelity-note')).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/4-dashboard.png`, fullPage: true });

  // The item explorer: where each answer parts from dense's.
  await page.getByTestId('explorer').getByLabel('Perspective').selectOption({ label: 'Toxicity' });
  // Every item, not only those whose verdicts differ: whether a sampled continuation crosses the
  // toxicity threshold is chance, while the texts of dense and a 3-bit variant always part.
  await page.getByTestId('explorer').getByLabel('only items where variants disagree').uncheck();
  const firstItem = page.locator('.explorer article.item').first();
  await expect(firstItem).toBeVisible();
  await expect(page.locator('.explorer [data-divergence="first"]').first()).toBeVisible();
  await firstItem.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}/6-explorer.png` });

  // The live demo: dense and RTN-3 side by side, the first token where they part marked.
  await page.getByRole('tab', { name: 'Live demo' }).click();
  const rightSelect = page.locator('#demo-right');
  const rtn3 = await rightSelect
    .locator('option')
    .evaluateAll((os) => (os as HTMLOptionElement[]).find((o) => /RTN-3/.test(o.text))?.value);
  expect(rtn3).toBeTruthy();
  await rightSelect.selectOption(rtn3!);
  await page.getByRole('button', { name: 'Ask both' }).click();
  await expect(page.locator('.reply[data-side="right"]')).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(page.locator('.reply[data-side="left"]')).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(page.getByTestId('demo-divergence')).toContainText('parts at token');
  await expect(page.locator('.side-by-side [data-divergence="first"]').first()).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/5-live-demo.png`, fullPage: true });

  expect(errors).toEqual([]);
});
