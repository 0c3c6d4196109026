import { env } from '@huggingface/transformers';
import type { ShardCache } from './shard-cache';

/**
 * transformers.js reads every model file through this bridge from our IndexedDB cache (its
 * `env.customCache` seam), never from the network: remote loading is switched off and local
 * paths are virtual keys under PREFIX that only this bridge understands.
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
  env.useCustomCache = true;
  env.customCache = {
    match: async (request: string | Request) => {
      const url = typeof request === 'string' ? request : request.url;
      const at = url.indexOf(PREFIX);
      if (at < 0) return undefined;
      const [org, name, ...rest] = url.slice(at + PREFIX.length).split('/');
      const target = byId.get(`${org}/${name}`);
      if (!target) return undefined;
      const file = decodeURIComponent(rest.join('/'));
      const manifest = await target.cache.manifest(target.key);
      if (!manifest?.files[file]?.complete) {
        // A 404 tells transformers.js the file does not exist, without any network lookup.
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
    },
    // Files reach the cache through ShardCache; transformers.js never writes here.
    put: async () => undefined,
  };
}
