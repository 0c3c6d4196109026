import { expect, test, type Page } from '@playwright/test';
import { chooseVariants } from './planner-helpers';
import type { CtlabApi } from '../../src/state/automation';
import { mkdirSync, readFileSync } from 'node:fs';

const SHOTS = 'tests/e2e/screenshots';
mkdirSync(SHOTS, { recursive: true });

/** Every request the page makes, to check nothing leaves for a host the user did not choose. */
function watch(page: Page): { errors: string[]; urls: string[] } {
  const errors: string[] = [];
  const urls: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => urls.push(r.url()));
  page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && errors.push(m.text())));
  return { errors, urls };
}

async function downloadStories(page: Page) {
  await page.goto('/');
  await page.locator('li.choice[data-model="stories260k"]').getByRole('button', { name: 'Download stories260k' }).click();
  await expect(page.locator('table.cache tr[data-model="stories260k"]')).toHaveAttribute('data-status', 'complete', { timeout: 60_000 });
}

test('dense, RTN-4, GPTQ-3, AWQ-4 and Wanda-2:4 on the smoke preset run to the end in the page: dashboard, explorer, exports', async ({
  page,
}) => {
  test.setTimeout(900_000);
  const { errors, urls } = watch(page);
  // The whole run happens under the page's Content-Security-Policy: not one violation may occur.
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __csp: string[] }).__csp = seen;
    document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.effectiveDirective} ${e.blockedURI}`));
  });
  await downloadStories(page);
  await page.getByRole('tab', { name: 'Plan & run' }).click();
  await chooseVariants(page, ['rtn4', 'gptq3', 'awq4', 'wanda2:4']);
  await page.locator('#plan-model').selectOption({ label: 'stories260k' });
  await page.getByLabel('Samples').fill('16');
  await page.getByLabel('Tokens each').fill('128');
  await page.getByLabel('Plan a run').getByLabel('Device').selectOption('wasm');
  await expect(page.getByTestId('plan-estimate')).toContainText('5 variants');
  await page.screenshot({ path: `${SHOTS}/6-planner.png`, fullPage: true });
  await page.getByRole('button', { name: 'Start run' }).click();
  await expect(page.locator('.run-progress')).toBeVisible();
  await expect(page.locator('.run-progress')).toContainText('compress', { timeout: 120_000 });
  await page.screenshot({ path: `${SHOTS}/7-run-progress.png`, fullPage: true });
  await expect(page.locator('table[data-testid="run-history"] tr[data-status="done"]')).toHaveCount(1, { timeout: 800_000 });

  await page.getByRole('tab', { name: 'Results' }).click();
  await expect(page.getByTestId('dashboard')).toBeVisible();
  for (const v of ['dense', 'rtn4', 'gptq3', 'awq4', 'wanda2:4']) {
    await expect(page.locator(`[data-testid="results-table"] tr[data-variant="${v}"]`)).toBeVisible();
  }
  for (const chart of ['heatmap', 'bits', 'radar']) await expect(page.locator(`[data-chart="${chart}"] canvas`).first()).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/8-dashboard.png`, fullPage: true });
  await expect(page.getByTestId('explorer')).toBeVisible();
  await page.getByTestId('explorer').getByLabel('Perspective').selectOption({ label: 'Privacy' });
  await expect(page.locator('.explorer article.item').first()).toBeVisible();
  await expect(page.locator('.explorer article.item').first().locator('.answer')).toHaveCount(5);
  await page.locator('.explorer article.item').first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}/9-explorer.png`, fullPage: false });

  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'CSV' }).click()]);
  const csvText = readFileSync(await csv.path(), 'utf8');
  expect(csvText.split('\n')[0]).toContain('variant,perspective,mode,score');
  const [html] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'HTML report' }).click()]);
  const report = readFileSync(await html.path(), 'utf8');
  expect(report).toContain('<svg');
  expect(report).not.toMatch(/<script/i);
  await expect(page.getByTestId('exports')).toBeVisible();
  await expect(page.getByRole('button', { name: /GPTQ-3 .*model folder/ })).toBeVisible();

  const origin = new URL(page.url()).origin;
  expect(urls.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:'))).toEqual([]);
  expect(errors).toEqual([]);
  expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
});

test('a reload in the middle of the evaluation resumes the run without recomputing finished items', async ({ page }) => {
  test.setTimeout(600_000);
  const { errors } = watch(page);
  await downloadStories(page);
  await page.getByRole('tab', { name: 'Plan & run' }).click();
  await chooseVariants(page, []);
  await page.getByLabel('Plan a run').getByLabel('Device').selectOption('wasm');
  await page.getByRole('button', { name: 'Start run' }).click();
  const privacy = page.locator('.bar-row[data-cell="dense · privacy (generate)"] progress');
  await expect.poll(async () => Number(await privacy.getAttribute('value')), { timeout: 120_000 }).toBeGreaterThanOrEqual(10);

  type Api = { ctlab: CtlabApi };
  const runId = await page.evaluate(async () => (await (window as unknown as Api).ctlab.runs())[0].id);
  const before = await page.evaluate((id) => (window as unknown as Api).ctlab.runRecordCount({ runId: id }), runId);
  await page.reload();

  // The interrupted run picks itself up; the finished stereotype cell is not run again, privacy reuses its records.
  await expect(page.locator('.bar-row[data-cell="dense · privacy (generate)"]')).toContainText('reused', { timeout: 120_000 });
  const reusedText = await page.locator('.bar-row[data-cell="dense · privacy (generate)"]').innerText();
  const reused = Number(/(\d+) reused/.exec(reusedText)?.[1]);
  expect(reused).toBeGreaterThanOrEqual(10);
  // Until the run ends, the step line never names the cell finished before the reload.
  const steps = new Set<string>();
  const until = Date.now() + 500_000;
  while ((await page.locator('table[data-testid="run-history"] tr[data-status="done"]').count()) === 0) {
    expect(Date.now(), 'the resumed run finishes').toBeLessThan(until);
    const cell = await page
      .locator('[data-testid="run-step"][data-cell]')
      .getAttribute('data-cell', { timeout: 1_000 })
      .catch(() => null);
    if (cell) steps.add(cell);
    await page.waitForTimeout(500);
  }
  expect(steps.size).toBeGreaterThan(0);
  expect(steps.has('dense · stereotype (generate)')).toBe(false);
  const after = await page.evaluate((id) => (window as unknown as Api).ctlab.runRecordCount({ runId: id }), runId);
  // The run goes on between the count and the reload, so `before` is a floor, not the reused count.
  expect(after).toBeGreaterThan(before);
  expect(after).toBeGreaterThanOrEqual(reused);
  expect(errors).toEqual([]);
});
