/**
 * Where data files come from. Every perspective names its files relative to a data root that has
 * the layout of ../shared/data and public/offline-data:
 *
 *   decodingtrust/<perspective>/…    advglue/dev.json    mmlu/{dev,test}/<subject>_{dev,test}.csv
 *
 * A root can be a URL (the dev server, the built-in offline set at `offline-data/`, any mirror) or
 * files the user picked; either way the loaders only see `{ path, text }`.
 */
import type { DataFile, DataFileRef, PerspectiveId } from './types';
import { normPath } from './parse-util';
import { encodePath } from '../util/url';

/** public/offline-data/manifest.json */
export interface DataManifest {
  name: string;
  description: string;
  license: string;
  files: Array<{ path: string; perspective: PerspectiveId; bytes: number; binary?: boolean }>;
}

/** URL (relative to the page) of the built-in offline set. */
export const OFFLINE_DATA_BASE = 'offline-data/';

export function isManifest(v: unknown): v is DataManifest {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Partial<DataManifest>;
  return Array.isArray(m.files) && m.files.every((f) => typeof f?.path === 'string' && typeof f?.perspective === 'string');
}

/** The manifest's files of one perspective, as refs. */
export function manifestFiles(manifest: DataManifest, perspective: PerspectiveId): DataFileRef[] {
  return manifest.files
    .filter((f) => f.perspective === perspective)
    .map((f) => ({ path: f.path, binary: f.binary ?? f.path.endsWith('.npy') }));
}

export interface FetchedFiles {
  files: DataFile[];
  /** Optional files that were not there. */
  missing: string[];
  /** Required files that could not be fetched, with the reason. */
  failed: Array<{ path: string; reason: string }>;
}

export type FetchLike = (
  url: string,
) => Promise<{ ok: boolean; status: number; text(): Promise<string>; arrayBuffer(): Promise<ArrayBuffer> }>;

/** Fetches refs from a base URL (`…/data/` or `…/offline-data/`). */
export async function fetchDataFiles(
  baseUrl: string,
  refs: readonly DataFileRef[],
  fetchFn: FetchLike = (url) => fetch(url),
): Promise<FetchedFiles> {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const out: FetchedFiles = { files: [], missing: [], failed: [] };
  await Promise.all(
    refs.map(async (ref) => {
      const url = base + encodePath(ref.path);
      try {
        const res = await fetchFn(url);
        if (!res.ok) {
          if (ref.optional) out.missing.push(ref.path);
          else out.failed.push({ path: ref.path, reason: `HTTP ${res.status}` });
          return;
        }
        out.files.push({ path: ref.path, text: ref.binary ? new Uint8Array(await res.arrayBuffer()) : await res.text() });
      } catch (e) {
        if (ref.optional) out.missing.push(ref.path);
        else out.failed.push({ path: ref.path, reason: (e as Error).message });
      }
    }),
  );
  // Promise.all settles in completion order; keep the refs' order so loading is deterministic.
  const order = new Map(refs.map((r, i) => [r.path, i]));
  out.files.sort((a, b) => (order.get(a.path) ?? 0) - (order.get(b.path) ?? 0));
  return out;
}

/**
 * Path of a user-picked file relative to the data root, when its path shows one
 * (`…/data/decodingtrust/ood/style.json` → `decodingtrust/ood/style.json`); else the path as given.
 */
export function relativeToDataRoot(path: string): string {
  const p = normPath(path);
  const m = /(?:^|\/)((?:decodingtrust|advglue|adv-glue-plus-plus|mmlu)\/.*)$/.exec(p);
  return m ? m[1] : p;
}

/** Files whose path ends with `suffix` (data-root relative paths match any prefix). */
export function findFile(files: readonly DataFile[], suffix: string): DataFile | undefined {
  return files.find((f) => normPath(f.path) === suffix || normPath(f.path).endsWith(`/${suffix}`));
}
