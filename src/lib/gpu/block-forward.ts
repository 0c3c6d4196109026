import { outputsUntil, ropeTable, type BlockOutput, type BlockOutputs, type LayerTensors } from '../compress/reference/block';
import {
  BLOCK_TAPS,
  layerRope,
  linearBiasName,
  linearWeightName,
  normWeightName,
  tapWidth,
  type BlockTap,
  type LinearId,
  type ModelSpec,
} from '../model/spec';
import {
  encodeAdd,
  encodeAddBias,
  encodeAttention,
  encodeGate,
  encodeLinear,
  encodeRmsNorm,
  encodeRope,
  encodeRowSquaredError,
} from './block-ops';
import { readF32, Recorder, storageBuffer, uploadF32 } from './kernel';
import { resolveLimits, type GpuTuning, type Limits } from './limits';

/**
 * A decoder layer's forward pass in WGSL: the function of `reference/block.ts` (RMSNorm with
 * offset, q/k norm, RoPE with scaling, causal GQA attention with sliding windows and soft-capping,
 * SiLU/GELU-tanh gated MLP, post norms), its linears on the tiled GEMM of `gemm.ts`. Samples
 * are stacked into batches of rows; activations stay on the GPU between steps, and only the
 * taps the caller asked for (and the output) come back. AWQ's scale search runs its attention /
 * MLP / linear sub-blocks through the same steps (`subBlockLoss`), with the inputs and the
 * dense targets resident on the GPU across its twenty candidates.
 */

export interface GpuForwardOptions extends GpuTuning {
  /** Bytes of activations one batch of samples may hold on the GPU (default 256 MiB). */
  batchBytes?: number;
}

/** The part of a layer AWQ's scale search scores a candidate on. */
export type SubBlock = { kind: 'attention' } | { kind: 'mlp' } | { kind: 'linear'; linear: LinearId };

/** Squared error of a sub-block's output under candidate weights against its dense output. */
export interface GpuSubBlockLoss {
  /** Σ (y − y_dense)² over every sample, token and output (summed in double over per-row fp32 sums). */
  sum(lw: LayerTensors): Promise<number>;
  destroy(): void;
}

type Buffers = Record<string, GPUBuffer>;

/**
 * Layer tensors on the GPU, uploaded on first use and keyed by the array (a replaced weight is
 * a new array). Linear weights go up transposed, as `encodeLinear` reads them.
 */
class WeightCache {
  private readonly buffers = new Map<Float32Array, GPUBuffer>();
  constructor(
    private readonly device: GPUDevice,
    /** Input width of a linear weight's name. */
    private readonly inF: (name: string) => number,
  ) {}
  get(lw: LayerTensors, name: string): GPUBuffer {
    const t = lw.get(name);
    if (!t) throw new Error(`missing layer tensor ${name}`);
    let b = this.buffers.get(t);
    if (!b) {
      const data = name.endsWith('_proj.weight') ? transpose(t, t.length / this.inF(name), this.inF(name)) : t;
      this.buffers.set(t, (b = uploadF32(this.device, data)));
    }
    return b;
  }
  /** Drops every buffer whose array is not in `keep`. */
  retain(keep: Iterable<Float32Array>): void {
    const k = new Set(keep);
    for (const [t, b] of this.buffers) {
      if (!k.has(t)) {
        b.destroy();
        this.buffers.delete(t);
      }
    }
  }
  destroy(): void {
    this.retain([]);
  }
}

function transpose(t: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(t.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t[r * cols + c];
  return out;
}

export class GpuBlockForward {
  private readonly limits: Limits;
  private readonly batchBytes: number;
  private readonly ropeTables = new Map<string, { cos: GPUBuffer; sin: GPUBuffer }>();

  constructor(
    readonly device: GPUDevice,
    readonly spec: ModelSpec,
    opts: GpuForwardOptions = {},
  ) {
    this.limits = resolveLimits(device, opts);
    this.batchBytes = opts.batchBytes ?? 256 * 1024 * 1024;
  }

  private inWidth(name: string): number {
    const { hiddenSize: H, numHeads: NH, headDim: D, intermediateSize: I } = this.spec;
    return name.includes('o_proj') ? NH * D : name.includes('down_proj') ? I : H;
  }

  /** Widths of the per-token activation buffers of a whole-layer pass. */
  private widths(): Record<string, number> {
    const { hiddenSize: H, numHeads: NH, numKvHeads: KVH, headDim: D, intermediateSize: I } = this.spec;
    return {
      hid: H,
      attnIn: H,
      q: NH * D,
      k: KVH * D,
      v: KVH * D,
      qn: NH * D,
      kn: KVH * D,
      ctx: NH * D,
      ao: H,
      h1: H,
      mlpIn: H,
      gate: I,
      up: I,
      mo: H,
      out: H,
    };
  }

  /** Samples per batch so that all of a batch's buffers fit the budget and each fits one binding. */
  private samplesPerBatch(seqLen: number, widths: Record<string, number>): number {
    const vals = Object.values(widths);
    const perToken = 4 * vals.reduce((a, b) => a + b, 0);
    const widest = 4 * Math.max(...vals);
    const tokens = Math.min(Math.floor(this.batchBytes / perToken), Math.floor(this.limits.maxBindingBytes / widest));
    return Math.max(1, Math.floor(tokens / seqLen));
  }

  private allocate(widths: Record<string, number>, rows: number): Buffers {
    const out: Buffers = {};
    for (const [k, w] of Object.entries(widths)) out[k] = storageBuffer(this.device, rows * w * 4);
    return out;
  }

  private rope(layer: number, seqLen: number): { cos: GPUBuffer; sin: GPUBuffer } {
    const D = this.spec.headDim;
    const rope = layerRope(this.spec, layer);
    const key = `${JSON.stringify(rope)}/${seqLen}`;
    let t = this.ropeTables.get(key);
    if (!t) {
      // The reference forward's table, rounded once to fp32 for the device.
      const table = ropeTable(D, rope, seqLen);
      const cos = Float32Array.from(table.cos);
      const sin = Float32Array.from(table.sin);
      this.ropeTables.set(key, (t = { cos: uploadF32(this.device, cos), sin: uploadF32(this.device, sin) }));
    }
    return t;
  }

  private norm(
    rec: Recorder,
    w: WeightCache,
    lw: LayerTensors,
    name: string,
    x: GPUBuffer,
    y: GPUBuffer,
    rows: number,
    width: number,
  ): void {
    const { spec } = this;
    encodeRmsNorm(
      rec,
      { x, gamma: w.get(lw, normWeightName(name)), y, rows, width, eps: spec.rmsNormEps, offset: spec.block.normOffset },
      this.limits.maxWorkgroupsPerDim,
    );
  }

  private linear(
    rec: Recorder,
    w: WeightCache,
    lw: LayerTensors,
    l: LinearId,
    x: GPUBuffer,
    y: GPUBuffer,
    rows: number,
    inF: number,
    outF: number,
  ): void {
    const maxDim = this.limits.maxWorkgroupsPerDim;
    encodeLinear(rec, x, w.get(lw, linearWeightName(l)), y, rows, inF, outF, maxDim);
    if (this.spec.qkvBias && (l === 'q_proj' || l === 'k_proj' || l === 'v_proj'))
      encodeAddBias(rec, w.get(lw, linearBiasName(l)), y, rows, outF, maxDim);
  }

  /** attnIn → q, k, v → (q/k norm) → RoPE → attention into b.ctx; then o_proj into b.ao when `withOutput`. */
  private attention(
    rec: Recorder,
    w: WeightCache,
    lw: LayerTensors,
    layer: number,
    b: Buffers,
    attnIn: GPUBuffer,
    rows: number,
    seqLen: number,
    withOutput: boolean,
  ): void {
    const { spec } = this;
    const { hiddenSize: H, numHeads: NH, numKvHeads: KVH, headDim: D } = spec;
    const maxDim = this.limits.maxWorkgroupsPerDim;
    this.linear(rec, w, lw, 'q_proj', attnIn, b.q, rows, H, NH * D);
    this.linear(rec, w, lw, 'k_proj', attnIn, b.k, rows, H, KVH * D);
    this.linear(rec, w, lw, 'v_proj', attnIn, b.v, rows, H, KVH * D);
    let q = b.q;
    let k = b.k;
    if (spec.block.qkNorm) {
      this.norm(rec, w, lw, 'self_attn.q_norm', b.q, b.qn, rows * NH, D);
      this.norm(rec, w, lw, 'self_attn.k_norm', b.k, b.kn, rows * KVH, D);
      q = b.qn;
      k = b.kn;
    }
    const table = this.rope(layer, seqLen);
    encodeRope(rec, { x: q, ...table, rows, heads: NH, half: D / 2, seqLen }, maxDim);
    encodeRope(rec, { x: k, ...table, rows, heads: KVH, half: D / 2, seqLen }, maxDim);
    const sliding = spec.layerKinds[layer] === 'sliding' && spec.slidingWindow !== null;
    encodeAttention(
      rec,
      {
        q,
        k,
        v: b.v,
        out: b.ctx,
        rows,
        seqLen,
        heads: NH,
        kvHeads: KVH,
        headDim: D,
        window: sliding ? spec.slidingWindow! : 0,
        scale: spec.block.attnScale,
        softcap: spec.block.attnSoftcap ?? 0,
      },
      maxDim,
    );
    if (withOutput) this.linear(rec, w, lw, 'o_proj', b.ctx, b.ao, rows, NH * D, H);
  }

  /** mlpIn → gate, up → act(gate)·up in b.gate; then down_proj into b.mo when `withOutput`. */
  private mlp(rec: Recorder, w: WeightCache, lw: LayerTensors, b: Buffers, mlpIn: GPUBuffer, rows: number, withOutput: boolean): void {
    const { hiddenSize: H, intermediateSize: I } = this.spec;
    this.linear(rec, w, lw, 'gate_proj', mlpIn, b.gate, rows, H, I);
    this.linear(rec, w, lw, 'up_proj', mlpIn, b.up, rows, H, I);
    encodeGate(rec, b.up, b.gate, rows * I, this.spec.block.activation, this.limits.maxWorkgroupsPerDim);
    if (withOutput) this.linear(rec, w, lw, 'down_proj', b.gate, b.mo, rows, I, H);
  }

  /**
   * Layer `layer` with tensors `lw` on each sample's hidden states ([seqLen, hidden]) up to
   * `until`; `each` gets every tap up to it (and the output for `out`).
   */
  async run(
    layer: number,
    lw: LayerTensors,
    inputs: readonly Float32Array[],
    seqLen: number,
    until: BlockTap | 'out',
    each: (sample: number, out: BlockOutputs) => void | Promise<void>,
    signal?: AbortSignal,
    want: readonly BlockOutput[] = outputsUntil(until),
    timer?: { time<T>(phase: string, work: () => Promise<T> | T): Promise<T> },
  ): Promise<void> {
    const { spec, device } = this;
    const H = spec.hiddenSize;
    const { norms } = spec.block;
    const maxDim = this.limits.maxWorkgroupsPerDim;
    const widths = this.widths();
    const B = Math.min(inputs.length, this.samplesPerBatch(seqLen, widths));
    const stop = until === 'out' ? BLOCK_TAPS.length : BLOCK_TAPS.indexOf(until) + 1;
    const computed = outputsUntil(until);
    const unknown = want.filter((t) => !computed.includes(t));
    if (unknown.length) throw new Error(`a block pass up to ${until} does not compute ${unknown.join(', ')}`);
    const w = new WeightCache(device, (n) => this.inWidth(n));
    const b = this.allocate(widths, B * seqLen);
    try {
      for (let s0 = 0; s0 < inputs.length; s0 += B) {
        signal?.throwIfAborted();
        const n = Math.min(B, inputs.length - s0);
        const rows = n * seqLen;
        for (let k = 0; k < n; k++) {
          const x = inputs[s0 + k];
          if (x.length !== seqLen * H) throw new Error(`hidden: expected ${seqLen * H} values, got ${x.length}`);
          device.queue.writeBuffer(b.hid, k * seqLen * H * 4, x.buffer, x.byteOffset, x.byteLength);
        }
        const rec = new Recorder(device);
        this.norm(rec, w, lw, norms.attnIn, b.hid, b.attnIn, rows, H);
        const found: Partial<Record<BlockTap | 'out', GPUBuffer>> = { q_proj_in: b.attnIn };
        if (stop > 1) {
          this.attention(rec, w, lw, layer, b, b.attnIn, rows, seqLen, stop > 2);
          found.o_proj_in = b.ctx;
        }
        if (stop > 2) {
          let h1 = b.ao;
          if (norms.attnOut) {
            this.norm(rec, w, lw, norms.attnOut, b.ao, b.h1, rows, H);
            h1 = b.h1;
          }
          encodeAdd(rec, b.hid, h1, rows * H, maxDim);
          this.norm(rec, w, lw, norms.mlpIn, h1, b.mlpIn, rows, H);
          found.gate_proj_in = b.mlpIn;
          if (stop > 3) {
            this.mlp(rec, w, lw, b, b.mlpIn, rows, until === 'out');
            found.down_proj_in = b.gate;
          }
          if (until === 'out') {
            let out = b.mo;
            if (norms.mlpOut) {
              this.norm(rec, w, lw, norms.mlpOut, b.mo, b.out, rows, H);
              out = b.out;
            }
            encodeAdd(rec, h1, out, rows * H, maxDim);
            found.out = out;
          }
        }
        rec.submit();
        // Timed apart, where asked, so that a GPU's figures say whether its kernels or the copies out cost the pass.
        if (timer) await timer.time('forward: gpu', () => device.queue.onSubmittedWorkDone());
        const data: Partial<Record<BlockTap | 'out', Float32Array>> = {};
        const readBack = async () => {
          // Only what the caller reads comes back: every tap of a large batch is hundreds of MB.
          for (const t of want) data[t] = await readF32(device, found[t]!, rows * (t === 'out' ? H : tapWidth(spec, t)));
        };
        await (timer ? timer.time('forward: readback', readBack) : readBack());
        for (let k = 0; k < n; k++) {
          const o: BlockOutputs = {};
          for (const [t, v] of Object.entries(data) as [BlockTap | 'out', Float32Array][]) {
            const width = t === 'out' ? H : tapWidth(spec, t);
            o[t] = v.slice(k * seqLen * width, (k + 1) * seqLen * width);
          }
          await each(s0 + k, o);
        }
      }
    } finally {
      for (const x of Object.values(b)) x.destroy();
      w.destroy();
    }
  }

  /**
   * The squared error of `sub` under candidate weights against its output under `dense`, on
   * `inputs` (the sub-block's input for every sample back to back, [samples · seqLen, width]).
   * The inputs and the dense outputs are uploaded / computed once and stay on the GPU.
   */
  async subBlockLoss(
    layer: number,
    sub: SubBlock,
    inputs: Float32Array,
    samples: number,
    seqLen: number,
    dense: LayerTensors,
  ): Promise<GpuSubBlockLoss> {
    const { spec, device } = this;
    const { hiddenSize: H, numHeads: NH, numKvHeads: KVH, headDim: D, intermediateSize: I } = spec;
    const maxDim = this.limits.maxWorkgroupsPerDim;
    const inWidth =
      sub.kind === 'attention' ? H : sub.kind === 'mlp' ? H : sub.linear === 'o_proj' ? NH * D : sub.linear === 'down_proj' ? I : H;
    const outWidth = sub.kind === 'linear' && sub.linear !== 'o_proj' && sub.linear !== 'down_proj' ? 0 : H;
    if (outWidth === 0) throw new Error(`AWQ loss: no sub-block ends at ${sub.kind === 'linear' ? sub.linear : sub.kind}`);
    if (inputs.length !== samples * seqLen * inWidth)
      throw new Error(`AWQ loss: expected ${samples * seqLen * inWidth} input values, got ${inputs.length}`);
    const widths: Record<string, number> =
      sub.kind === 'attention'
        ? { x: H, target: H, q: NH * D, k: KVH * D, v: KVH * D, qn: NH * D, kn: KVH * D, ctx: NH * D, ao: H }
        : sub.kind === 'mlp'
          ? { x: H, target: H, gate: I, up: I, mo: H }
          : { x: inWidth, target: H, y: H };
    const B = Math.min(samples, this.samplesPerBatch(seqLen, widths));
    const work = this.allocate(Object.fromEntries(Object.entries(widths).filter(([k]) => k !== 'x' && k !== 'target')), B * seqLen);
    const err = storageBuffer(device, B * seqLen * 4);
    const w = new WeightCache(device, (n) => this.inWidth(n));
    const batches: { rows: number; x: GPUBuffer; target: GPUBuffer }[] = [];
    const encode = (rec: Recorder, lw: LayerTensors, x: GPUBuffer, rows: number): GPUBuffer => {
      if (sub.kind === 'attention') {
        this.attention(rec, w, lw, layer, work, x, rows, seqLen, true);
        return work.ao;
      }
      if (sub.kind === 'mlp') {
        this.mlp(rec, w, lw, work, x, rows, true);
        return work.mo;
      }
      this.linear(rec, w, lw, sub.linear, x, work.y, rows, inWidth, H);
      return work.y;
    };
    const destroy = () => {
      for (const x of Object.values(work)) x.destroy();
      for (const bt of batches) {
        bt.x.destroy();
        bt.target.destroy();
      }
      err.destroy();
      w.destroy();
    };
    try {
      for (let s0 = 0; s0 < samples; s0 += B) {
        const rows = Math.min(B, samples - s0) * seqLen;
        const x = uploadF32(device, inputs.subarray(s0 * seqLen * inWidth, s0 * seqLen * inWidth + rows * inWidth));
        const target = storageBuffer(device, rows * H * 4);
        batches.push({ rows, x, target });
        const rec = new Recorder(device);
        const y = encode(rec, dense, x, rows);
        rec.copy(y, 0, target, 0, rows * H * 4);
        rec.submit();
      }
    } catch (e) {
      destroy();
      throw e;
    }
    const denseArrays = [...dense.values()];
    return {
      sum: async (lw) => {
        let total = 0;
        try {
          for (const bt of batches) {
            const rec = new Recorder(device);
            const y = encode(rec, lw, bt.x, bt.rows);
            encodeRowSquaredError(rec, y, bt.target, err, bt.rows, H, maxDim);
            rec.submit();
            const e = await readF32(device, err, bt.rows);
            for (let r = 0; r < bt.rows; r++) total += e[r];
          }
        } finally {
          // A candidate's weights are used once; the dense ones serve every candidate.
          w.retain(denseArrays);
        }
        return total;
      },
      destroy,
    };
  }

  dispose(): void {
    for (const t of this.ropeTables.values()) {
      t.cos.destroy();
      t.sin.destroy();
    }
    this.ropeTables.clear();
  }
}
