import { describe, expect, it } from 'vitest';
import { geluTanh, hfForward, meanNll, ropeInvFreq, type HfConfig } from '../../reference/hf-decoder';
import { featuresOf, tinyCheckpoint, tinyIds, type TinyKind } from '../../reference/tiny-checkpoints';

const KINDS: TinyKind[] = ['llama3-scaling', 'qwen3', 'gemma3', 'gemma3-v5-rope'];
const VOCAB = 160;
const ids = tinyIds(12, 7);

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each(KINDS)('tiny %s', (kind) => {
  const { config, weights } = tinyCheckpoint(kind, 1);
  const logits = hfForward(config, weights, ids);

  it('gives finite, deterministic logits of shape [S, vocab]', () => {
    expect(logits.length).toBe(ids.length * VOCAB);
    expect(logits.every(Number.isFinite)).toBe(true);
    const again = tinyCheckpoint(kind, 1);
    expect(hfForward(again.config, again.weights, ids)).toEqual(logits);
    const other = tinyCheckpoint(kind, 2);
    expect(maxAbsDiff(hfForward(other.config, other.weights, ids), logits)).toBeGreaterThan(0.1);
    expect(Number.isFinite(meanNll(logits, ids, VOCAB))).toBe(true);
  });

  it.each(featuresOf(kind))('changes by far without %s', (feature) => {
    const without = hfForward(config, weights, ids, { disable: feature });
    let meanAbs = 0;
    for (let i = 0; i < logits.length; i++) meanAbs += Math.abs(without[i] - logits[i]) / logits.length;
    // Logits have std ≈ 1 here, so a graph missing the feature is off by far more than any fp32 tolerance,
    // on average and at its worst. The mean NLL is not the measure: a random model predicts almost
    // uniformly, so its NLL moves by only ~0.005–0.2 nats even when every logit changes.
    expect(meanAbs).toBeGreaterThan(0.05);
    expect(maxAbsDiff(without, logits)).toBeGreaterThan(0.3);
  });
});

describe('RoPE inverse frequencies', () => {
  it('match a hand computation of the llama3 bands', () => {
    const inv = ropeInvFreq(tinyCheckpoint('llama3-scaling', 1).config);
    expect(inv.length).toBe(8);
    // j = 0: inv 1, wavelength 2π ≈ 6.28 < 64/4 (high-frequency band) → unchanged.
    expect(inv[0]).toBe(1);
    // j = 1: base = 500000^(-1/8) ≈ 0.1939227, wavelength ≈ 32.40 lies in [16, 64] (medium band):
    // smooth = (64/32.40046 − 1)/(4 − 1) ≈ 0.325094; inv = base·((1 − smooth)/8 + smooth) ≈ 0.0794030.
    const base1 = 0.19392274474868576;
    const smooth = (64 / ((2 * Math.PI) / base1) - 1) / 3;
    expect(smooth).toBeCloseTo(0.325094, 6);
    expect(inv[1]).toBeCloseTo(0.079403009, 8);
    // j = 2: base = 500000^(-1/4) ≈ 0.0376060, wavelength ≈ 167 > 64 (low band) → base / 8.
    expect(inv[2]).toBeCloseTo(0.0376060309 / 8, 10);
    expect(ropeInvFreq(tinyCheckpoint('llama3-scaling', 1).config, 'full_attention', { disable: 'rope-scaling' })[2]).toBeCloseTo(
      0.0376060309,
      9,
    );
  });

  it('read the transformers 5 rope_parameters layout like the 4.x one', () => {
    const { config } = tinyCheckpoint('llama3-scaling', 1);
    const { rope_scaling: scaling, rope_theta: theta, ...rest } = config;
    const v5 = { ...rest, rope_parameters: { ...(scaling as HfConfig), rope_theta: theta } };
    expect(ropeInvFreq(v5)).toEqual(ropeInvFreq(config));
    // The old `type` key of rope_scaling means the same as rope_type.
    const old = { ...config, rope_scaling: { type: 'linear', factor: 4 } };
    expect(ropeInvFreq(old)[0]).toBe(0.25);
  });

  it('give Gemma sliding layers the local base without scaling and full layers the scaled global base', () => {
    for (const kind of ['gemma3', 'gemma3-v5-rope'] as const) {
      const { config } = tinyCheckpoint(kind, 1);
      expect(ropeInvFreq(config, 'sliding_attention')[1]).toBeCloseTo(Math.pow(10000, -2 / 16), 15);
      expect(ropeInvFreq(config, 'full_attention')[1]).toBeCloseTo(Math.pow(1e6, -2 / 16) / 8, 15);
    }
  });

  it('reject RoPE types the reference does not implement', () => {
    const { config, weights } = tinyCheckpoint('llama3-scaling', 1);
    for (const type of ['dynamic', 'yarn', 'longrope']) {
      expect(() => hfForward({ ...config, rope_scaling: { rope_type: type, factor: 2 } }, weights, ids)).toThrow(/RoPE type/);
    }
  });
});

describe('activation and masks', () => {
  it('computes the tanh approximation of GELU', () => {
    expect(geluTanh(0)).toBe(0);
    expect(geluTanh(1)).toBeCloseTo(0.8411919906, 9); // erf GELU would be 0.8413447
    expect(geluTanh(-1)).toBeCloseTo(-0.1588080094, 9);
    expect(geluTanh(2)).toBeCloseTo(1.9545976941, 9);
    expect(geluTanh(-3)).toBeCloseTo(-0.0036373921, 9);
  });

  it('lets no token beyond the sliding window influence a sliding layer', () => {
    const { config, weights } = tinyCheckpoint('gemma3', 1);
    const slidingOnly = { ...config, num_hidden_layers: 1, layer_types: ['sliding_attention'] };
    const fullOnly = { ...config, num_hidden_layers: 1, layer_types: ['full_attention'] };
    const last = (c: HfConfig, seq: number[]): Float32Array => hfForward(c, weights, seq).slice((seq.length - 1) * VOCAB);
    // Window 4: position 11 sees positions 8..11 only.
    const farChanged = ids.map((id, i) => (i < 8 ? 3 + ((id + 17) % (VOCAB - 3)) : id));
    expect(last(slidingOnly, farChanged)).toEqual(last(slidingOnly, ids));
    const nearChanged = ids.map((id, i) => (i === 8 ? 3 + ((id + 17) % (VOCAB - 3)) : id));
    expect(maxAbsDiff(last(slidingOnly, nearChanged), last(slidingOnly, ids))).toBeGreaterThan(1e-3);
    // The same change outside the window does reach a full-attention layer.
    expect(maxAbsDiff(last(fullOnly, farChanged), last(fullOnly, ids))).toBeGreaterThan(1e-3);
  });

  it('derives Gemma layer kinds from sliding_window_pattern as from layer_types', () => {
    const { config, weights } = tinyCheckpoint('gemma3', 3);
    const { sliding_window_pattern: _p, ...rest } = config;
    const explicit = { ...rest, layer_types: ['sliding_attention', 'full_attention', 'sliding_attention'] };
    expect(hfForward(explicit, weights, ids)).toEqual(hfForward(config, weights, ids));
  });
});

describe('layouts', () => {
  it('computes the same for the transformers 4.x and 5 Gemma configs', () => {
    const { config, weights } = tinyCheckpoint('gemma3', 4);
    const v5 = tinyCheckpoint('gemma3-v5-rope', 4).config;
    const sameKinds = { ...v5, layer_types: ['sliding_attention', 'full_attention', 'sliding_attention'] };
    expect(hfForward(sameKinds, weights, ids)).toEqual(hfForward(config, weights, ids));
  });

  it('reads a multimodal gemma3 config through text_config and prefixed tensor names', () => {
    const { config, weights } = tinyCheckpoint('gemma3', 5);
    const wrapped: HfConfig = { model_type: 'gemma3', architectures: ['Gemma3ForConditionalGeneration'], text_config: config };
    for (const prefix of ['language_model.model.', 'model.language_model.']) {
      const renamed = new Map([...weights].map(([name, w]) => [prefix + name.slice('model.'.length), w]));
      expect(hfForward(wrapped, renamed, ids)).toEqual(hfForward(config, weights, ids));
    }
  });

  it('maps query head h to kv head floor(h / group), as repeating the kv heads does', () => {
    const { config, weights } = tinyCheckpoint('qwen3', 6);
    const D = 24;
    const H = 64;
    const mha = new Map(weights);
    for (let l = 0; l < 2; l++) {
      for (const proj of ['k_proj', 'v_proj']) {
        const name = `model.layers.${l}.self_attn.${proj}.weight`;
        const w = weights.get(name)!;
        const rep = new Float32Array(4 * D * H);
        for (let h = 0; h < 4; h++) rep.set(w.subarray(Math.floor(h / 2) * D * H, (Math.floor(h / 2) + 1) * D * H), h * D * H);
        mha.set(name, rep);
      }
    }
    const mhaLogits = hfForward({ ...config, num_key_value_heads: 4 }, mha, ids);
    expect(maxAbsDiff(mhaLogits, hfForward(config, weights, ids))).toBeLessThan(1e-5);
  });

  it('soft-caps the final logits as cap·tanh(logits / cap)', () => {
    const { config, weights } = tinyCheckpoint('gemma3', 1);
    const raw = hfForward(config, weights, ids);
    const capped = hfForward({ ...config, final_logit_softcapping: 2 }, weights, ids);
    expect(
      maxAbsDiff(
        capped,
        raw.map((x) => 2 * Math.tanh(x / 2)),
      ),
    ).toBeLessThan(1e-5);
    const attnCapped = hfForward({ ...config, attn_logit_softcapping: 0.5 }, weights, ids);
    expect(maxAbsDiff(attnCapped, raw)).toBeGreaterThan(0.1);
  });

  it('computes the mean next-token NLL in nats', () => {
    // Uniform logits: every token costs ln(vocab).
    expect(meanNll(new Float32Array(3 * 4), [0, 1, 2], 4)).toBeCloseTo(Math.log(4), 12);
    // Row 0 puts logit ln 3 on token 1 → p = 3/6; row 1 is uniform → p = 1/4.
    const logits = new Float32Array([0, Math.log(3), 0, 0, 0, 0, 0, 0]);
    expect(meanNll(logits, [0, 1, 2], 4)).toBeCloseTo((Math.log(2) + Math.log(4)) / 2, 6);
  });
});
