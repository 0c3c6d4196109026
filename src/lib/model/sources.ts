import type { ModelSourceRecord } from '../storage/manifest';
import { encodePath } from '../util/url';

/** Where a model's files come from. Every kind ends in the same shard cache. */
export type ModelSource =
  | { kind: 'hub'; repo: string; revision?: string; host?: string }
  | { kind: 'url'; baseUrl: string; label?: string }
  | { kind: 'files'; name: string; files: File[]; fingerprint?: string };

export const HUB_HOST = 'https://huggingface.co';
const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export class ModelSourceError extends Error {
  override name = 'ModelSourceError';
}

export function hubSource(repo: string, revision = 'main', host?: string): ModelSource {
  const id = repo.trim();
  if (!REPO_ID.test(id) || id.includes('..')) {
    throw new ModelSourceError(
      `"${repo}" is not a Hugging Face model id; expected the form organisation/name, e.g. HuggingFaceTB/SmolLM2-135M-Instruct`,
    );
  }
  return { kind: 'hub', repo: id, revision, ...(host ? { host } : {}) };
}

export function urlSource(baseUrl: string, label?: string): ModelSource {
  let url: URL;
  try {
    url = new URL(baseUrl, typeof location !== 'undefined' ? location.href : undefined);
  } catch {
    throw new ModelSourceError(`"${baseUrl}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ModelSourceError(`Only http(s) model URLs are supported, not ${url.protocol}`);
  return { kind: 'url', baseUrl: url.href.replace(/\/+$/, ''), ...(label ? { label } : {}) };
}

/**
 * Files from a picked folder (`webkitRelativePath` = `folder/…`) or dropped files: the folder
 * name becomes the model name and paths inside it are kept (`onnx/model.onnx`).
 */
export function filesSource(files: File[], name?: string): ModelSource {
  if (files.length === 0) throw new ModelSourceError('No files were given');
  const first = files[0].webkitRelativePath;
  const folder = name ?? (first && first.includes('/') ? first.split('/')[0] : 'local-model');
  return { kind: 'files', name: folder, files };
}

/** Path of a picked file inside the model folder. */
export function relativePath(file: File): string {
  const rel = file.webkitRelativePath;
  return rel && rel.includes('/') ? rel.split('/').slice(1).join('/') : file.name;
}

/**
 * The cache key: stable for the same source, distinct across sources and revisions. Picked
 * files carry their content fingerprint in the key (`local:checkpoint-500#3fa2…`), so a second
 * folder of the same name is a model of its own; hub and URL sources keep one key and are
 * compared with their source whenever they are opened again (`model/source-identity.ts`).
 */
export function sourceKey(src: ModelSource): string {
  switch (src.kind) {
    case 'hub':
      return `hf:${src.repo}@${src.revision ?? 'main'}`;
    case 'url':
      return `url:${src.baseUrl}`;
    case 'files':
      return `local:${src.name}${src.fingerprint ? `#${src.fingerprint}` : ''}`;
  }
}

export function sourceLabel(src: ModelSource): string {
  switch (src.kind) {
    case 'hub':
      return src.revision && src.revision !== 'main' ? `${src.repo}@${src.revision}` : src.repo;
    case 'url':
      return src.label ?? (src.baseUrl.split('/').filter(Boolean).pop() || src.baseUrl);
    case 'files':
      return src.name;
  }
}

export function sourceDescriptor(src: ModelSource): ModelSourceRecord {
  switch (src.kind) {
    case 'hub':
      return { kind: 'hub', location: `${src.host ?? HUB_HOST}/${src.repo}`, revision: src.revision ?? 'main' };
    case 'url':
      return { kind: 'url', location: src.baseUrl };
    case 'files':
      return { kind: 'files', location: src.name, ...(src.fingerprint ? { fingerprint: src.fingerprint } : {}) };
  }
}

export function fileUrl(src: ModelSource, file: string): string {
  const path = encodePath(file);
  switch (src.kind) {
    case 'hub':
      return `${src.host ?? HUB_HOST}/${src.repo}/resolve/${encodeURIComponent(src.revision ?? 'main')}/${path}`;
    case 'url':
      return `${src.baseUrl}/${path}`;
    case 'files':
      throw new ModelSourceError('Local files have no URL');
  }
}

/** Rebuilds a resumable source from a manifest's descriptor; local files cannot be re-read. */
export function sourceFromDescriptor(d: ModelSourceRecord): ModelSource | null {
  if (d.kind === 'url') return urlSource(d.location);
  if (d.kind === 'hub') {
    const at = d.location.lastIndexOf('/', d.location.lastIndexOf('/') - 1);
    return hubSource(d.location.slice(at + 1), d.revision ?? 'main', d.location.slice(0, at));
  }
  return null;
}
