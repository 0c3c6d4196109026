import { matrix, type Matrix } from '../reference/types';
import type { Stats } from './backend';

/** Keeps the first `max` tokens of one block output across samples (the error measurement set). */
export class TokenSample {
  rows = 0;
  readonly data: Float32Array;
  constructor(
    readonly cols: number,
    readonly max: number,
  ) {
    this.data = new Float32Array(cols * max);
  }
  add(x: Float32Array, tokens: number): void {
    const take = Math.min(tokens, this.max - this.rows);
    if (take <= 0) return;
    this.data.set(x.subarray(0, take * this.cols), this.rows * this.cols);
    this.rows += take;
  }
  matrix(): Matrix {
    return matrix(this.rows, this.cols, this.data.subarray(0, this.rows * this.cols));
  }
}

/** Bytes of one tap's activations gathered before they go to its statistics in one batch. */
const STATS_BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Gathers whole samples of one tap and hands them to the statistics in batches (`add` with
 * `sequences` = samples in the batch, the running mean of the reference's `add_batch` with a
 * batch of that many sequences): one upload and one GEMM per batch instead of per sample.
 */
export class StatsBatcher {
  private readonly buf: Float32Array;
  private samples = 0;
  private readonly perSample: number;
  private readonly capacity: number;
  constructor(
    private readonly stats: Stats,
    private readonly cols: number,
    private readonly tokens: number,
  ) {
    this.perSample = tokens * cols;
    this.capacity = Math.max(1, Math.floor(STATS_BATCH_BYTES / (4 * this.perSample)));
    this.buf = new Float32Array(this.capacity * this.perSample);
  }
  add(x: Float32Array): void {
    this.buf.set(x.subarray(0, this.perSample), this.samples * this.perSample);
    if (++this.samples === this.capacity) this.flush();
  }
  flush(): void {
    if (this.samples === 0) return;
    this.stats.add(matrix(this.samples * this.tokens, this.cols, this.buf.subarray(0, this.samples * this.perSample)), this.samples);
    this.samples = 0;
  }
}
