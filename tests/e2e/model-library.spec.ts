import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';

const SHOTS = 'tests/e2e/screenshots';
mkdirSync(SHOTS, { recursive: true });

function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

test('lists stories260k, downloads it with visible progress, shows it cached with its size, deletes it', async ({ page, context }) => {
  const errors = watchConsole(page);
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Compressed Trust Lab' })).toBeVisible();

  const choice = page.locator('li.choice[data-model="stories260k"]');
  await expect(choice).toBeVisible();
  await expect(page.locator('li.choice[data-model="SmolLM2-135M-Instruct"]')).toBeVisible();
  await expect(page.getByTestId('webgpu-adapter')).toBeVisible();
  await expect(page.getByTestId('cache-empty')).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/1-model-list.png`, fullPage: true });

  // Real network throttling (≈150 kB/s) so the progress of the 1 MB weights file can be seen.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 20,
    downloadThroughput: 150_000,
    uploadThroughput: 150_000,
  });

  await choice.getByRole('button', { name: 'Download stories260k' }).click();
  const weights = page.locator('li.file[data-file="model.safetensors"][data-phase="downloading"]');
  await expect(weights).toBeVisible({ timeout: 30_000 });
  await expect.poll(async () => Number(await weights.locator('progress').getAttribute('value')), { timeout: 30_000 }).toBeGreaterThan(5);
  await page.screenshot({ path: `${SHOTS}/2-downloading.png`, fullPage: true });
  const midway = Number(await weights.locator('progress').getAttribute('value'));
  expect(midway).toBeLessThan(100);

  await expect(page.locator('article.job[data-state="done"]')).toBeVisible({ timeout: 60_000 });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const row = page.locator('table.cache tr[data-model="stories260k"]');
  await expect(row).toBeVisible();
  await expect(row).toHaveAttribute('data-status', 'complete');
  await expect(row.locator('td.size')).toHaveText(/^1\.\d MB$/);
  await page.screenshot({ path: `${SHOTS}/3-cached.png`, fullPage: true });

  await row.getByRole('button', { name: 'Delete stories260k' }).click();
  await expect(row).toHaveCount(0);
  await expect(page.getByTestId('cache-empty')).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/4-deleted.png`, fullPage: true });

  // The deletion is real: a reload still shows an empty cache.
  await page.reload();
  await expect(page.getByTestId('cache-empty')).toBeVisible();
  expect(errors).toEqual([]);
});

test('a typo in a hub id is refused with a message, not a request', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Hugging Face id or base URL').fill('not a model id');
  await page.getByRole('button', { name: 'Download', exact: true }).last().click();
  await expect(page.getByRole('alert')).toContainText('is not a Hugging Face model id');
});

test('a folder picked from disk goes through the same cache', async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto('/');
  await expect(page.getByTestId('webgpu-adapter')).toBeVisible();
  await page.locator('input[type="file"][webkitdirectory]').setInputFiles('../shared/models/stories260k');
  await expect(page.locator('article.job[data-state="done"]')).toBeVisible({ timeout: 60_000 });
  const row = page.locator('table.cache tr[data-model="stories260k"]');
  await expect(row).toHaveAttribute('data-status', 'complete');
  await expect(row).toHaveAttribute('title', /^local:stories260k#[0-9a-f]{16}$/);
  await row.getByRole('button', { name: 'Delete stories260k' }).click();
  await expect(page.getByTestId('cache-empty')).toBeVisible();
  expect(errors).toEqual([]);
});

test('the prompt box streams a greedy reply from the cached model', async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto('/');
  await page.locator('li.choice[data-model="stories260k"]').getByRole('button', { name: 'Download stories260k' }).click();
  await expect(page.locator('table.cache tr[data-model="stories260k"]')).toHaveAttribute('data-status', 'complete', { timeout: 60_000 });
  await expect(page.locator('#prompt-model')).toHaveValue(/stories260k/);
  const box = page.getByRole('region', { name: 'Try a model' });
  await box.getByLabel('Device').selectOption('wasm');
  await box.getByLabel('Prompt').fill('Once upon a time');
  await box.getByRole('button', { name: 'Generate' }).click();
  await expect(page.locator('.reply[data-state="done"]')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('reply-text')).toContainText('there was a little girl named Lily');
  await page.screenshot({ path: `${SHOTS}/5-prompt-box.png`, fullPage: true });
  await page.locator('table.cache tr[data-model="stories260k"]').getByRole('button', { name: 'Delete stories260k' }).click();
  expect(errors).toEqual([]);
});
