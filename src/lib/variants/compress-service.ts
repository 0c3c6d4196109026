import { benchCompress, type CompressBenchOptions, type CompressBenchResult } from '../bench/compress';
import type { GraphProgressFn } from '../infer/graph-store';
import { startWebSimdHelpers } from '../compress/reference/simd-helpers';
import { ShardCache } from '../storage/shard-cache';
import { exportBlob } from './export-blob';
import { compressCachedModel, type CompressProgress, type CompressRequest } from './compress-model';
import type { VariantReport } from './report';
import { exportVariantFiles, readExportChunk, readVariantReport, type VariantFile } from './store';

/**
 * The compression engine for the page (`workers/compress.worker.ts`): compress a cached model
 * into a variant, cancel, read a variant's report, export its files. Compressing starts the CPU
 * kernels' helper threads first where the page is cross-origin isolated.
 */
export class CompressService {
  private readonly jobs = new Map<string, AbortController>();

  constructor(private readonly cache = new ShardCache()) {}

  /**
   * `jobId` lets `cancel` stop the run between kernels (an AbortSignal cannot cross to a worker);
   * with `reuse`, a complete variant of the same settings and calibration is returned as stored.
   */
  async compress(
    baseKey: string,
    request: CompressRequest,
    onProgress?: (p: CompressProgress) => void,
    jobId?: string,
    reuse = false,
  ): Promise<VariantReport> {
    const controller = new AbortController();
    if (jobId) this.jobs.set(jobId, controller);
    try {
      await startWebSimdHelpers();
      return await compressCachedModel(this.cache, baseKey, request, { signal: controller.signal, onProgress, reuse });
    } finally {
      if (jobId) this.jobs.delete(jobId);
    }
  }

  cancel(jobId: string): void {
    this.jobs.get(jobId)?.abort();
  }

  report(key: string): Promise<VariantReport> {
    return readVariantReport(this.cache, key);
  }

  /** The variant as a Hugging Face folder (with `onnx/`): paths and sizes. */
  exportFiles(key: string, onGraphProgress?: GraphProgressFn): Promise<VariantFile[]> {
    return exportVariantFiles(this.cache, key, onGraphProgress);
  }

  readExportChunk(key: string, path: string, offset: number, length: number): Promise<Uint8Array> {
    return readExportChunk(this.cache, key, path, offset, length);
  }

  /** One exported file as a Blob (the page hands it to the browser's download path). */
  exportBlob(key: string, path: string, stored = false): Promise<Blob> {
    return exportBlob(this.cache, key, path, stored);
  }

  async benchCompress(opts: Omit<CompressBenchOptions, 'onStatus'>, onStatus?: (msg: string) => void): Promise<CompressBenchResult> {
    await startWebSimdHelpers();
    return benchCompress({ ...opts, onStatus });
  }
}
