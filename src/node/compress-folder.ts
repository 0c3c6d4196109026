import { mkdir, open, readdir, stat } from 'node:fs/promises';
import { openAsBlob } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { settingsFromText } from '../lib/compress/reference/settings';
import { describeAdapter, isSoftwareAdapter } from '../lib/gpu/device';
import { OPTIONAL_FILES, REQUIRED_FILES, SINGLE_WEIGHTS, WEIGHTS_INDEX, downloadModel } from '../lib/model/download';
import type { ModelSource } from '../lib/model/sources';
import type { ProgressEvent } from '../lib/storage/shard-cache';
import { compressCachedModel, type CompressCommand, type CompressProgress, type CompressRequest } from '../lib/variants/compress-model';
import type { VariantReport } from '../lib/variants/report';
import { exportVariantFiles, readExportChunk, type VariantFile } from '../lib/variants/store';
import { memoryCache } from './memory-cache';

/** Progress in the shapes the page sends the CLI (`bin/lib/page-progress.mjs` prints them), plus each file written. */
export type FolderProgress =
  | ProgressEvent
  | { phase: 'status'; message: string }
  | { phase: 'compress'; progress: CompressProgress }
  | { phase: 'graph'; done: number; total: number }
  | { phase: 'written'; path: string; bytes: number };

/** Files of a Hugging Face folder the cache takes (the rest, e.g. a shipped `onnx/`, is never read). */
const TAKEN = new Set<string>([...REQUIRED_FILES, ...OPTIONAL_FILES, WEIGHTS_INDEX, SINGLE_WEIGHTS]);

/**
 * A model folder on disk as the page's picked-folder source: each file a disk-backed Blob, so
 * the cache streams it in like a file the user picked. Shards named by an index are taken too.
 */
export async function folderSource(dir: string): Promise<ModelSource> {
  const files: File[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (!TAKEN.has(name) && !name.endsWith('.safetensors')) continue;
    const path = join(dir, name);
    const st = await stat(path);
    if (!st.isFile()) continue;
    files.push(new File([await openAsBlob(path)], name, { lastModified: st.mtimeMs }));
  }
  return { kind: 'files', name: basename(dir), files };
}

/**
 * The block forward a Node run uses: ORT's WASM build does not load in the Node bundle, so
 * `auto` is the WGSL forward on a hardware adapter and TypeScript elsewhere (as in the page).
 */
async function nodeForward(forward: CompressRequest['forward'], kernels: CompressRequest['kernels']): Promise<CompressRequest['forward']> {
  if (forward === 'ort-wasm' || forward === 'ort-webgpu')
    throw new Error(
      `--forward ${forward} needs onnxruntime-web, which runs only in the page; use --forward typescript, webgpu or --runtime browser`,
    );
  if (forward !== undefined && forward !== 'auto') return forward;
  if (kernels === 'typescript') return 'typescript';
  const adapter = await describeAdapter();
  return adapter.available && !isSoftwareAdapter(adapter) ? 'webgpu' : 'typescript';
}

/**
 * Compresses a local model folder in this Node process and writes the variant into `out` as
 * the page's export does (Hugging Face folder with `onnx/` and `ctlab-variant.json`): the same
 * calibration, engine, variant writer and export code, over a cache that lives in memory.
 */
export async function compressFolder(
  dir: string,
  request: CompressCommand,
  out: string,
  onProgress: (e: FolderProgress) => void = () => undefined,
): Promise<{ report: VariantReport; files: VariantFile[] }> {
  // Before the folder is read: a mistyped setting should not wait for the weights.
  const settings = settingsFromText(request.settings);
  if (request.calibration.kind === 'self')
    throw new Error(
      '--calib self samples text with the dense model through onnxruntime-web, which runs only in the page; use --runtime browser',
    );
  const req: CompressRequest = { ...request, settings, forward: await nodeForward(request.forward, request.kernels) };
  const cache = memoryCache();
  const model = await downloadModel(cache, await folderSource(dir), { onProgress });
  const report = await compressCachedModel(cache, model.key, req, {
    onProgress: (progress) => onProgress({ phase: 'compress', progress }),
  });
  const files = await exportVariantFiles(cache, report.key, (done, total) => onProgress({ phase: 'graph', done, total }));
  const slice = 8 * 1024 * 1024;
  for (const f of files) {
    const target = join(out, f.path);
    await mkdir(dirname(target), { recursive: true });
    const handle = await open(target, 'w');
    try {
      for (let offset = 0; offset < f.bytes; offset += slice)
        await handle.write(await readExportChunk(cache, report.key, f.path, offset, Math.min(slice, f.bytes - offset)));
    } finally {
      await handle.close();
    }
    onProgress({ phase: 'written', path: target, bytes: f.bytes });
  }
  return { report, files };
}
