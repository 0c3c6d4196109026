import { HUB_HOST, type ModelSource } from './sources';

/** At most this many pages of the hub's file listing are read (the hub pages at 1,000 entries). */
const MAX_PAGES = 20;

interface TreeEntry {
  type?: unknown;
  path?: unknown;
  lfs?: { oid?: unknown } | null;
}

/**
 * The SHA-256 of each LFS file of a hub revision (weights, large tokenizers), from the hub's
 * tree API. The browser follows the hub's redirect to its CDN and never sees the redirect's
 * `X-Linked-Etag`, so this listing is where a download learns the hash to check the file
 * against. An empty map when the host has no such API (a mirror) or does not answer: the
 * files are then checked by size and validators only. Other sources give an empty map.
 */
export async function hubLfsHashes(src: ModelSource, signal?: AbortSignal): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  if (src.kind !== 'hub') return hashes;
  let url: string | null =
    `${src.host ?? HUB_HOST}/api/models/${src.repo}/tree/${encodeURIComponent(src.revision ?? 'main')}?recursive=true`;
  for (let page = 0; url && page < MAX_PAGES; page++) {
    let res: Response;
    try {
      res = await fetch(url, { signal, cache: 'no-store' });
    } catch {
      if (signal?.aborted) throw signal.reason;
      return hashes;
    }
    if (!res.ok) return hashes;
    let entries: unknown;
    try {
      entries = await res.json();
    } catch {
      return hashes;
    }
    if (!Array.isArray(entries)) return hashes;
    for (const e of entries as TreeEntry[]) {
      const oid = e?.lfs?.oid;
      if (e?.type === 'file' && typeof e.path === 'string' && typeof oid === 'string' && /^[0-9a-f]{64}$/i.test(oid)) {
        hashes.set(e.path, oid.toLowerCase());
      }
    }
    url = nextPage(res.headers.get('link'), url);
  }
  return hashes;
}

/** The `rel="next"` target of a `Link` header, resolved against the page it came with. */
function nextPage(link: string | null, base: string): string | null {
  const next = link?.split(',').find((part) => /rel="?next"?/.test(part));
  const target = next && /<([^>]+)>/.exec(next)?.[1];
  return target ? new URL(target, base).href : null;
}
