import { describe, expect, it } from 'vitest';
import { PERSPECTIVE_IDS } from '../../../src/lib/eval';
import { parseVariants } from '../../../src/lib/variants/spec';
import { cellsBySeed, evalUnits, parseShard, planUnits, shardRunId, shardUnits, type PlanInputs } from '../../../src/lib/run/units';

function inputs(over: Partial<PlanInputs> = {}): PlanInputs {
  return {
    model: '/models/stories260k',
    variants: parseVariants('dense,rtn4,gptq3'),
    perspectives: [...PERSPECTIVE_IDS],
    preset: 'smoke',
    mode: 'generate',
    seeds: [0],
    data: 'offline',
    calibration: { source: 'self', samples: 16, seqLen: 128 },
    ...over,
  };
}

describe('work units', () => {
  it('are the compressions and every variant × perspective × mode, with stable, unique ids', () => {
    const plan = planUnits(inputs());
    const ids = plan.units.map((u) => u.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice(0, 2)).toEqual(['s0/compress/rtn4', 's0/compress/gptq3']);
    expect(evalUnits(plan)).toHaveLength(3 * PERSPECTIVE_IDS.length);
    expect(ids).toContain('s0/eval/gptq3/toxicity/generate');
    const gptqTox = evalUnits(plan).find((u) => u.id === 's0/eval/gptq3/toxicity/generate');
    expect(gptqTox?.needs).toMatchObject({ compressUnit: 's0/compress/gptq3', data: 'offline', dataFolder: 'toxicity' });
    expect(gptqTox?.needs.dataFiles.map((f) => f.path)).toContain('decodingtrust/toxicity/user_prompts/toxic.jsonl');
    expect(evalUnits(plan).find((u) => u.variant === 'dense')?.needs.compressUnit).toBeNull();
    // Planning twice, with the inputs built in another key order, gives the same plan.
    const shuffled = Object.fromEntries(Object.entries(inputs()).reverse()) as unknown as PlanInputs;
    expect(planUnits(shuffled)).toEqual(plan);
  });

  it('have a plan id that changes with anything that changes results', () => {
    const id = planUnits(inputs()).id;
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    for (const over of [
      { seeds: [1] },
      { preset: 'classroom' },
      { variants: parseVariants('dense,rtn4') },
      { model: '/models/other' },
      { data: '/data/dt' },
      { calibration: { source: 'self', samples: 32, seqLen: 128 } },
    ])
      expect(planUnits(inputs(over)).id, JSON.stringify(over)).not.toBe(id);
  });

  it('repeat per seed, seed-major', () => {
    const plan = planUnits(inputs({ seeds: [0, 1, 2] }));
    expect(evalUnits(plan)).toHaveLength(3 * 3 * PERSPECTIVE_IDS.length);
    expect(plan.units.filter((u) => u.kind === 'compress').map((u) => u.id)).toEqual([
      's0/compress/rtn4',
      's0/compress/gptq3',
      's1/compress/rtn4',
      's1/compress/gptq3',
      's2/compress/rtn4',
      's2/compress/gptq3',
    ]);
    expect(() => planUnits(inputs({ seeds: [1, 1] }))).toThrow(/seed listed twice/);
  });
});

describe('shards', () => {
  it('split the evaluation units into disjoint blocks that cover the plan, sizes one apart', () => {
    const plan = planUnits(inputs({ seeds: [0, 1] }));
    const all = evalUnits(plan).map((u) => u.id);
    for (const count of [1, 2, 3, 4, 5, 7, 54, 60]) {
      const shares = Array.from({ length: count }, (_, k) => shardUnits(plan, k, count).filter((u) => u.kind === 'evaluate'));
      expect(
        shares.flat().map((u) => u.id),
        `${count} shards`,
      ).toEqual(all);
      const sizes = shares.map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes), `${count} shards`).toBeLessThanOrEqual(1);
    }
  });

  it('compress exactly the variants they evaluate: 3 variants on 3 shards, one each', () => {
    const plan = planUnits(inputs());
    for (let k = 0; k < 3; k++) {
      const mine = shardUnits(plan, k, 3);
      const variants = new Set(mine.filter((u) => u.kind === 'evaluate').map((u) => u.variant));
      expect([...variants]).toEqual([['dense', 'rtn4', 'gptq3'][k]]);
      expect(mine.filter((u) => u.kind === 'compress').map((u) => u.id)).toEqual(k === 0 ? [] : [`s0/compress/${[...variants][0]}`]);
    }
    // Two shards: the middle variant straddles both, so both compress it.
    const [a, b] = [shardUnits(plan, 0, 2), shardUnits(plan, 1, 2)];
    expect(a.filter((u) => u.kind === 'compress').map((u) => u.id)).toEqual(['s0/compress/rtn4']);
    expect(b.filter((u) => u.kind === 'compress').map((u) => u.id)).toEqual(['s0/compress/rtn4', 's0/compress/gptq3']);
  });

  it('group a share per seed as the run filter takes it, with a run id stable per plan, seed and shard', () => {
    const plan = planUnits(inputs({ seeds: [4, 7], variants: parseVariants('dense'), perspectives: ['toxicity', 'mmlu'] }));
    expect(cellsBySeed(plan, shardUnits(plan, 1, 2))).toEqual([{ seed: 7, cells: ['dense|toxicity|generate', 'dense|mmlu|generate'] }]);
    expect(shardRunId(plan, 7, { index: 1, count: 2 })).toBe(`plan-${plan.id}-s7-shard1of2`);
  });

  it('are named K/N with K from 0', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    for (const bad of ['3/3', '1/0', '-1/2', 'a/b', '1']) expect(() => parseShard(bad), bad).toThrow(/--shard takes K\/N/);
  });
});
