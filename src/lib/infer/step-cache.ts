import { Tensor } from '@huggingface/transformers';
import type { ModelSpec } from '../model/spec';
import { pastKeyName, presentKeyName } from '../onnx';
import { emptyKv, newKeyNames } from './prefix-session';

/** What the batch decoder needs of an ORT tensor: host data on WASM, a GPU buffer it frees on WebGPU. */
export interface OrtTensor {
  readonly dims: readonly number[];
  readonly data: unknown;
  readonly location: string;
  dispose(): void;
}

export const ortOf = (t: Tensor) => t.ort_tensor as unknown as OrtTensor;

/**
 * The rows' own keys and values between the batch decoder's steps: the `past_key_values` feeds of
 * the next run, the outputs a run must hand back, and what a run's outputs add.
 */
export interface StepCache {
  /** Output names to fetch besides the logits. */
  readonly fetches: readonly string[];
  /** The next run's `past_key_values.*` feeds. */
  feeds(): Record<string, OrtTensor>;
  /** Takes in a run's outputs. */
  update(out: Record<string, OrtTensor>): void;
  /** Keeps the rows `rows` (ascending indices), in that order; false when it cannot, and then keeps all. */
  keep(rows: readonly number[]): boolean;
  dispose(): void;
}

const KINDS = ['key', 'value'] as const;

/**
 * The cache in host memory, in buffers allocated once for the batch's longest run: each step
 * fetches only the new tokens' keys and values (`new_key_values`) and appends them here, and the
 * past is fed as views of these buffers. ORT-web copies feeds into its heap and hands every output
 * back as a fresh buffer, so fetching `present` would pay for a fresh copy of the whole cache a
 * step; this pays for a move within pages already touched.
 */
export class HostStepCache implements StepCache {
  readonly fetches: readonly string[];
  private readonly buffers: Float32Array[];
  private readonly names: string[];
  private readonly newNames: string[];
  private rows: number;
  private length = 0;

  constructor(
    private readonly spec: ModelSpec,
    rows: number,
    capacity: number,
  ) {
    this.rows = rows;
    this.names = Array.from({ length: spec.numLayers }, (_, i) => KINDS.map((kind) => pastKeyName(i, kind))).flat();
    this.newNames = newKeyNames(spec);
    this.fetches = this.newNames;
    this.buffers = this.names.map(() => new Float32Array(rows * spec.numKvHeads * capacity * spec.headDim));
  }

  /**
   * Starts the cache at `length` positions a row, `fill` writing each block (tensor `n` in
   * `past_key_values` order, row, KV head) of `length` × head_dim; what it leaves is zero.
   */
  preset(length: number, fill: (n: number, row: number, head: number, block: Float32Array) => void): void {
    const { numKvHeads: KVH, headDim: D } = this.spec;
    this.length = length;
    this.buffers.forEach((buf, n) => {
      for (let r = 0; r < this.rows; r++)
        for (let h = 0; h < KVH; h++) {
          const at = (r * KVH + h) * length * D;
          fill(n, r, h, buf.subarray(at, at + length * D));
        }
    });
  }

  feeds(): Record<string, OrtTensor> {
    const { numKvHeads: KVH, headDim: D } = this.spec;
    const size = this.rows * KVH * this.length * D;
    const dims = [this.rows, KVH, this.length, D];
    return Object.fromEntries(this.names.map((name, n) => [name, ortOf(new Tensor('float32', this.buffers[n].subarray(0, size), dims))]));
  }

  update(out: Record<string, OrtTensor>): void {
    const D = this.spec.headDim;
    const T = this.length;
    const S = out[this.newNames[0]].dims[2];
    const blocks = this.rows * this.spec.numKvHeads;
    this.newNames.forEach((name, n) => {
      const buf = this.buffers[n];
      const fresh = out[name].data as Float32Array;
      // Block (row, head) moves from stride T to T + S: last first, so no block is overwritten before it moves.
      for (let k = blocks - 1; k >= 0; k--) {
        if (k > 0 && T > 0) buf.copyWithin(k * (T + S) * D, k * T * D, (k + 1) * T * D);
        buf.set(fresh.subarray(k * S * D, (k + 1) * S * D), (k * (T + S) + T) * D);
      }
    });
    this.length = T + S;
  }

  keep(rows: readonly number[]): boolean {
    const block = this.spec.numKvHeads * this.length * this.spec.headDim;
    for (const buf of this.buffers) rows.forEach((from, to) => from !== to && buf.copyWithin(to * block, from * block, (from + 1) * block));
    this.rows = rows.length;
    return true;
  }

  dispose(): void {}
}

/**
 * The cache as the graph hands it back (`present`), for graphs without `new_key_values` and for
 * WebGPU, where it stays in GPU buffers from step to step. Rows leave it only in host memory.
 */
export class PresentStepCache implements StepCache {
  readonly fetches: readonly string[];
  private past: Record<string, OrtTensor> = {};
  private owned = false;

  constructor(
    private readonly spec: ModelSpec,
    rows: number,
  ) {
    const fetches: string[] = [];
    for (let i = 0; i < spec.numLayers; i++)
      for (const kind of KINDS) {
        fetches.push(presentKeyName(i, kind));
        this.past[pastKeyName(i, kind)] = emptyKv(spec, rows);
      }
    this.fetches = fetches;
  }

  feeds(): Record<string, OrtTensor> {
    return this.past;
  }

  update(out: Record<string, OrtTensor>): void {
    this.dispose();
    this.past = {};
    for (let i = 0; i < this.spec.numLayers; i++) for (const kind of KINDS) this.past[pastKeyName(i, kind)] = out[presentKeyName(i, kind)];
    this.owned = true;
  }

  keep(rows: readonly number[]): boolean {
    if (Object.values(this.past).some((t) => t.location !== 'cpu')) return false;
    this.past = Object.fromEntries(Object.entries(this.past).map(([name, t]) => [name, pickRows(t, rows)]));
    return true;
  }

  dispose(): void {
    if (this.owned) for (const t of Object.values(this.past)) t.dispose();
    this.owned = false;
  }
}

/** The rows `keep` of a host tensor [rows, …] as a new tensor. */
function pickRows(t: OrtTensor, keep: readonly number[]): OrtTensor {
  const data = t.data as Float32Array;
  const size = data.length / t.dims[0];
  const out = new Float32Array(keep.length * size);
  keep.forEach((k, r) => out.set(data.subarray(k * size, (k + 1) * size), r * size));
  return ortOf(new Tensor('float32', out, [keep.length, ...t.dims.slice(1)]));
}
