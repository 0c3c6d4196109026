import { describe, expect, it } from 'vitest';
import { BLOCK_LINEARS } from '../../../src/lib/model/spec';
import { buildCausalLm, buildDecoderBlock } from '../../../src/lib/onnx/decoder';
import { dequantizeMatMulNBits, packMatMulNBits, type NBits, type PackedLinear } from '../../../src/lib/onnx/matmul-nbits';
import { createSession, float32, floats, int64, relMaxDiff, runLogits, type Ep } from './ort-helpers';
import { randomIds, randomWeights, tinySpec } from './model-helpers';

// Qwen2-like with an intermediate size (80) that is not a multiple of the block size (32), so
// down_proj has a partial last block and an odd block count (zero-point nibble padding).
const SPEC = tinySpec({
  modelType: 'qwen2',
  architecture: 'Qwen2ForCausalLM',
  hiddenSize: 64,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 16,
  intermediateSize: 80,
  vocabSize: 96,
  tiedEmbeddings: false,
  qkvBias: true,
});

const weights = randomWeights(SPEC, 21);
const ids = randomIds(6, SPEC.vocabSize, 22);

/** Packs every linear of every layer (and lm_head when asked); returns packed and dequantized copies. */
function quantize(bits: NBits, blockSize: number, sym: boolean, withHead: boolean) {
  const packed = new Map<string, PackedLinear>();
  const dequantized = new Map(weights);
  const names = Array.from({ length: SPEC.numLayers }, (_, l) => BLOCK_LINEARS.map((n) => `model.layers.${l}.${n}.weight`)).flat();
  if (withHead) names.push('lm_head.weight');
  for (const name of names) {
    const w = weights.get(name)!;
    const K = name.includes('down_proj') ? SPEC.intermediateSize : name.includes('o_proj') ? SPEC.numHeads * SPEC.headDim : SPEC.hiddenSize;
    const N = w.length / K;
    const p = packMatMulNBits(w, N, K, bits, blockSize, sym);
    packed.set(name, p);
    dequantized.set(name, dequantizeMatMulNBits(p));
  }
  return { packed, dequantized };
}

const CASES: { bits: NBits; blockSize: number; sym: boolean; withHead: boolean }[] = [
  { bits: 4, blockSize: 32, sym: true, withHead: false },
  { bits: 4, blockSize: 32, sym: false, withHead: true },
  { bits: 8, blockSize: 32, sym: true, withHead: true },
  { bits: 8, blockSize: 16, sym: false, withHead: false },
];

// fp32 sums in a different order than MatMul; relative to the largest logit.
const TOL = 2e-5;

describe.each(CASES)('MatMulNBits $bits-bit block $blockSize sym=$sym lm_head=$withHead', ({ bits, blockSize, sym, withHead }) => {
  const { packed, dequantized } = quantize(bits, blockSize, sym, withHead);
  const nbits = buildCausalLm(SPEC, weights, { linear: 'matmulnbits', packed });
  const dense = buildCausalLm(SPEC, dequantized);

  it('stores the packed weights, smaller than fp32', () => {
    const bytes = (g: { externalData: { data: Uint8Array }[] }) => g.externalData.reduce((a, f) => a + f.data.length, 0);
    expect(bytes(nbits)).toBeLessThan(bytes(dense));
  });

  for (const ep of ['wasm', 'webgpu'] as Ep[]) {
    it(`matches the dequantized fp32 graph on ${ep}`, async () => {
      // Sessions one after another: onnxruntime-web does not like concurrent creation.
      const logitsOf = async (graph: typeof dense): Promise<Float32Array> => {
        const session = await createSession(graph, ep);
        const logits = await runLogits(session, SPEC, ids);
        await session.release();
        return logits;
      };
      const got = await logitsOf(nbits);
      const want = await logitsOf(dense);
      const err = relMaxDiff(got, want);
      console.log(
        `MatMulNBits ${bits}-bit bs${blockSize} sym=${sym} lm_head=${withHead} ${ep}: vs dequantized fp32 rel max|Δ| ${err.toExponential(2)}`,
      );
      expect(err).toBeLessThan(TOL);
    });
  }
});

describe('MatMulNBits decoder block', () => {
  it('matches the dequantized block on webgpu (4-bit, asym)', async () => {
    const { packed, dequantized } = quantize(4, 32, false, false);
    const S = 5;
    const hidden = Float32Array.from({ length: S * SPEC.hiddenSize }, (_, i) => Math.sin(i * 0.37));
    const feeds = { hidden_states: float32(hidden, [1, S, SPEC.hiddenSize]), position_ids: int64([0, 1, 2, 3, 4], [1, S]) };
    const run = async (graph: ReturnType<typeof buildDecoderBlock>) => {
      const session = await createSession(graph, 'webgpu');
      const out = await session.run(feeds);
      const values: Record<string, Float32Array> = {};
      for (const [k, t] of Object.entries(out)) values[k] = await floats(t);
      await session.release();
      return values;
    };
    const x = await run(buildDecoderBlock(SPEC, 1, weights, { linear: 'matmulnbits', packed }));
    const y = await run(buildDecoderBlock(SPEC, 1, dequantized));
    for (const name of ['hidden_states_out', 'down_proj_in', 'o_proj_in']) {
      expect(relMaxDiff(x[name], y[name]), name).toBeLessThan(TOL);
    }
  });
});
