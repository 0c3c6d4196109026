// @ts-check
// Plain JavaScript so both vite.config.ts and the `ctlab` CLI (plain Node) can import it.
import { existsSync, readFileSync } from 'node:fs';

/**
 * The Content-Security-Policy of a page, read from its `<meta http-equiv>` tag, to be sent as a
 * response header too: a worker is held only to the policy its own script was served with, which
 * a meta tag cannot give it. Null when the file or the tag is missing.
 * @param {string} htmlPath
 * @returns {string | null}
 */
export function pagePolicy(htmlPath) {
  if (!existsSync(htmlPath)) return null;
  const html = readFileSync(htmlPath, 'utf8');
  return /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1] ?? null;
}
