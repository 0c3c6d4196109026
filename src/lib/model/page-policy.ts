import { HUB_HOST, ModelSourceError } from './sources';

/**
 * The hosts besides its own origin that the page and its workers may contact: the hub and the
 * CDN hosts its downloads redirect to. index.html's Content-Security-Policy lists exactly these
 * in connect-src (tests/unit/model/page-policy.test.ts holds the two together).
 */
export const HUB_CONNECT_SOURCES = [HUB_HOST, 'https://*.huggingface.co', 'https://*.hf.co'] as const;

/** Whether the page's policy lets it fetch `url` (an absolute http(s) URL). */
export function allowedByPagePolicy(url: string, pageOrigin: string): boolean {
  const u = new URL(url);
  if (u.origin === pageOrigin) return true;
  if (u.protocol !== 'https:' || u.port !== '') return false;
  return HUB_CONNECT_SOURCES.some((src) => {
    const host = src.slice('https://'.length);
    return host.startsWith('*.') ? u.hostname.endsWith(host.slice(1)) : u.hostname === host;
  });
}

/**
 * Refuses a model or data URL the page's policy would block, with the way out, instead of
 * letting the browser fail the download with a bare "Failed to fetch".
 */
export function assertAllowedByPagePolicy(url: string, pageOrigin: string): void {
  if (allowedByPagePolicy(url, pageOrigin)) return;
  throw new ModelSourceError(
    `${new URL(url).origin} is not a host this page may contact: its Content-Security-Policy allows downloads only from ${pageOrigin} and the Hugging Face hub. Put the model in the local models folder (served under /models/) or drop its files on the page (or pick its folder).`,
  );
}
