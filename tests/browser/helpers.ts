import { ShardCache, type ShardCacheOptions } from '../../src/lib/storage/shard-cache';
import { openCacheStores } from '../../src/lib/storage/stores';

/** A cache in databases of its own, so tests never see each other's records. */
export function freshCache(opts: Omit<ShardCacheOptions, 'stores'> = {}): ShardCache {
  return new ShardCache({ stores: openCacheStores(`test-${crypto.randomUUID()}`), chunkSize: 64 * 1024, retryDelayMs: 10, ...opts });
}

export interface LoggedRequest {
  url: string;
  range: string | null;
  ifRange: string | null;
  method: string;
}

/** What the test server saw since the last reset. */
export async function serverRequests(reset = false): Promise<LoggedRequest[]> {
  const res = await fetch(`/__test/requests${reset ? '?reset=1' : ''}`, { cache: 'no-store' });
  return res.json();
}

/** Stores a file the test server then serves at /fixtures/MODEL/FILE; `mtime` (seconds) sets its modification time. */
export async function putFixture(model: string, file: string, body: Uint8Array | string, mtime?: number): Promise<void> {
  const query = mtime === undefined ? '' : `?mtime=${mtime}`;
  const res = await fetch(`/__test/fixtures/${model}/${file}${query}`, { method: 'PUT', body: body as BodyInit });
  if (!res.ok) throw new Error(`fixture upload failed: ${res.status}`);
}

export async function fetchBytes(path: string): Promise<Uint8Array> {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

export async function fetchJson<T = unknown>(path: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await fetchBytes(path))) as T;
}

export const STORIES = '/models/stories260k';
export const SMOLLM_TOKENIZER = '/models/smollm2-135m-instruct-tokenizer';

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
