import { expect, test, type Page } from '@playwright/test';
import { HUB_CONNECT_SOURCES } from '../../src/lib/model/page-policy';
import { HUB_HOST } from '../../src/lib/model/sources';
import type { CtlabApi } from '../../src/state/automation';

type Violation = { directive: string; blocked: string; source: string };
type Api = { ctlab: CtlabApi; __cspViolations: Violation[] };

/** CSP reports from the page (events) and from it and its workers (console lines). */
async function watchCsp(page: Page): Promise<{ console: string[]; workerScripts: Map<string, string | undefined> }> {
  await page.addInitScript(() => {
    const list: Array<{ directive: string; blocked: string; source: string }> = [];
    (window as unknown as { __cspViolations: typeof list }).__cspViolations = list;
    document.addEventListener('securitypolicyviolation', (e) =>
      list.push({ directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile }),
    );
  });
  const console: string[] = [];
  const isCsp = (text: string) => /Content Security Policy|Refused to (connect|load|execute|compile|create|evaluate)/i.test(text);
  page.on('console', (m) => isCsp(m.text()) && console.push(m.text()));
  page.on('worker', (w) => w.on('console', (m) => isCsp(m.text()) && console.push(`worker ${w.url()}: ${m.text()}`)));
  const workerScripts = new Map<string, string | undefined>();
  page.on('response', (r) => {
    if (/worker[^/]*\.js$/.test(new URL(r.url()).pathname)) workerScripts.set(r.url(), r.headers()['content-security-policy']);
  });
  return { console, workerScripts };
}

function directivesOf(policy: string): Map<string, string[]> {
  return new Map(
    policy.split(';').map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name, values] as const;
    }),
  );
}

test('the built page carries its CSP and a download, a WASM session and generation run without a single violation', async ({ page }) => {
  test.setTimeout(300_000);
  const seen = await watchCsp(page);
  await page.goto('/');

  const policy = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(policy, 'index.html has no CSP meta tag').toBeTruthy();
  const d = directivesOf(policy!);
  expect(d.get('default-src')).toEqual(["'self'"]);
  expect(d.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
  expect(d.get('object-src')).toEqual(["'none'"]);
  // The model hosts: our own origin, and the hub with the CDN hosts its downloads redirect to.
  expect(d.get('connect-src')).toEqual(["'self'", 'data:', 'blob:', ...HUB_CONNECT_SOURCES]);
  expect(HUB_CONNECT_SOURCES).toContain(HUB_HOST);

  // A small job in the page's own workers: download stories260k from the local models folder, then
  // an ONNX Runtime WASM session (its .wasm and glue from our origin) generating a few tokens.
  await page.locator('li.choice[data-model="stories260k"]').getByRole('button', { name: 'Download stories260k' }).click();
  await expect(page.locator('table.cache tr[data-model="stories260k"]')).toHaveAttribute('data-status', 'complete', { timeout: 60_000 });
  const out = await page.evaluate(
    (url) =>
      (window as unknown as Api).ctlab.generate({
        source: { kind: 'url', url },
        device: 'wasm',
        request: { prompt: 'Once upon a time', maxNewTokens: 5 },
      }),
    `${new URL(page.url()).origin}/models/stories260k`,
  );
  expect(out.newIds).toHaveLength(5);

  // A base URL on a host the policy blocks is refused up front, with the way out.
  await page.locator('#model-input').fill('https://example.com/models/tiny');
  await page.locator('form.typed').getByRole('button', { name: 'Download' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'https://example.com is not a host this page may contact' })).toBeVisible();

  expect(await page.evaluate(() => (window as unknown as Api).__cspViolations)).toEqual([]);
  expect(seen.console).toEqual([]);
  // The workers that ran the job were served with the same policy (a meta tag does not reach them).
  expect(seen.workerScripts.size).toBeGreaterThan(0);
  for (const [url, header] of seen.workerScripts) expect(header, url).toBe(policy);

  // And the policy is in force: onnxruntime-web's CDN default is refused before any request.
  const cdn = 'https://cdn.jsdelivr.net/npm/onnxruntime-web/dist/ort-wasm-simd-threaded.jsep.wasm';
  const blocked = await page.evaluate(async (u) => {
    try {
      await fetch(u);
      return 'fetched';
    } catch (e) {
      return (e as Error).name;
    }
  }, cdn);
  expect(blocked).toBe('TypeError');
  // The violation event is queued as a task of its own and may arrive after fetch has rejected.
  const violations = () => page.evaluate(() => (window as unknown as Api).__cspViolations);
  // One report per policy in force (the header and the meta tag carry the same one).
  await expect.poll(async () => (await violations()).length, { timeout: 5_000 }).toBeGreaterThan(0);
  const v = await violations();
  for (const x of v) expect([x.directive, x.blocked]).toEqual(['connect-src', cdn]);
});
