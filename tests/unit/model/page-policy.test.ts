import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allowedByPagePolicy, assertAllowedByPagePolicy, HUB_CONNECT_SOURCES } from '../../../src/lib/model/page-policy';

function pagePolicy(): Map<string, string[]> {
  const html = readFileSync(new URL('../../../index.html', import.meta.url), 'utf8');
  const content = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
  if (!content) throw new Error('index.html has no Content-Security-Policy meta tag');
  return new Map(
    content.split(';').map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name, values] as const;
    }),
  );
}

describe("the page's Content-Security-Policy", () => {
  it('lets the page contact its own origin and the hub hosts the download code uses, nothing else', () => {
    const p = pagePolicy();
    expect(p.get('connect-src')).toEqual(["'self'", 'data:', 'blob:', ...HUB_CONNECT_SOURCES]);
    expect(p.get('default-src')).toEqual(["'self'"]);
    // No inline, eval'd or remote script; WASM compilation only.
    expect(p.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    expect(p.get('worker-src')).toEqual(["'self'", 'blob:']);
    expect(p.get('object-src')).toEqual(["'none'"]);
  });

  it('knows which model URLs it would block, and says so with the way out', () => {
    const page = 'http://127.0.0.1:4173';
    for (const ok of [
      'http://127.0.0.1:4173/models/stories260k',
      'https://huggingface.co/HuggingFaceTB/SmolLM2-135M/resolve/main/config.json',
      'https://cdn-lfs-us-1.hf.co/repos/ab/cd',
      'https://cas-bridge.xethub.hf.co/xet-bridge-us/x',
      'https://cdn-lfs.huggingface.co/x',
    ])
      expect(allowedByPagePolicy(ok, page), ok).toBe(true);
    for (const bad of [
      'https://example.com/model',
      'http://huggingface.co/x',
      'https://huggingface.co.evil.example/x',
      'https://evilhf.co/x',
      'http://127.0.0.1:5173/models/x',
      'https://huggingface.co:8443/x',
    ])
      expect(allowedByPagePolicy(bad, page), bad).toBe(false);
    expect(() => assertAllowedByPagePolicy('https://example.com/m', page)).toThrow(
      /https:\/\/example\.com is not a host this page may contact: its Content-Security-Policy allows downloads only from http:\/\/127\.0\.0\.1:4173 and the Hugging Face hub/,
    );
  });
});
