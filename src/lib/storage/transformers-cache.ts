import { env } from '@huggingface/transformers';
import type { ShardCache } from './shard-cache';

/**
 * transformers.js reads every model file through this bridge from our IndexedDB cache, never
 * from the network: remote loading is switched off and local paths are virtual keys under
 * PREFIX that only this bridge's `env.fetch` understands. (Its `customCache` seam cannot say
 * "this optional file does not exist": any cached answer counts as a hit.)
 */
const PREFIX = '/ctlab-cache/';
const byId = new Map<string, { cache: ShardCache; key: string }>();
let installed = false;

/** The id transformers.js is given for a cached model; valid as a hub-style `org/name` id. */
export function transformersIdFor(cache: ShardCache, modelKey: string): string {
  const slug =
    modelKey
      .replace(/[^A-Za-z0-9._]+/g, '_')
      .replace(/_+/g, '_')
      .replace(/^[_.]+|[_.]+$/g, '')
      .slice(0, 90) || 'model';
  const id = `ctlab/${slug}`;
  byId.set(id, { cache, key: modelKey });
  installTransformersCache();
  return id;
}

function installTransformersCache(): void {
  if (installed) return;
  installed = true;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = PREFIX;
  env.useBrowserCache = false;
  env.useCustomCache = false;
  // In Node, transformers.js reads local paths from disk itself unless told otherwise: they too go through env.fetch.
  env.useFS = false;
  env.useFSCache = false;
  const networkFetch = env.fetch;
  // transformers.js asks for local files through env.fetch: answer PREFIX paths from IndexedDB
  // (a 404 for files the model lacks, which it treats as absent) and pass anything else on.
  env.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const at = url.indexOf(PREFIX);
    if (at < 0) return (networkFetch as typeof fetch)(input, init);
    const [org, name, ...rest] = url.slice(at + PREFIX.length).split('/');
    const target = byId.get(`${org}/${name}`);
    const file = decodeURIComponent(rest.join('/'));
    const manifest = target ? await target.cache.manifest(target.key) : undefined;
    if (!target || !manifest?.files[file]?.complete) {
      return new Response(null, { status: 404, statusText: `${file} is not in the cache` });
    }
    const blob = await target.cache.fileBlob(target.key, file);
    return new Response(blob, {
      status: 200,
      headers: {
        'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        'content-length': String(blob.size),
      },
    });
  };
}
