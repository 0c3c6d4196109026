import { describe, expect, it } from 'vitest';
import { loadCausalLm, type Device } from '../../../src/lib/infer/causal-lm';
import { generate } from '../../../src/lib/infer/generate';
import { generateBatch, promptFamilies, type BatchRow } from '../../../src/lib/infer/generate-batch';
import { commonPrefixLength, MIN_SHARED_PREFIX } from '../../../src/lib/infer/kv-cache';
import { scoreOptions, scoreOptionsBatch, splitContinuation } from '../../../src/lib/infer/scoring';
import { downloadModel } from '../../../src/lib/model/download';
import { urlSource } from '../../../src/lib/model/sources';
import { freshCache, STORIES } from '../helpers';

async function stories(device: Device) {
  const cache = freshCache();
  const model = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
  return loadCausalLm(cache, model.key, { device });
}

/** Prompts of clearly different lengths, so the batch pads most of them on the left. */
const PROMPTS = [
  'Once upon a time',
  'Lily and Ben went to the park. They saw a big red ball under a tree and',
  'The cat',
  'One day, a little boy named Tim found a shiny box in his garden. He opened it and inside there was a tiny bird that could talk. The bird said',
  'Sue liked to draw. She',
];

/** Prompts that share a prefix of well over `MIN_SHARED_PREFIX` tokens, as a few-shot perspective's do. */
const SHARED = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the sun with her friends. One day,';
const OTHER_FAMILY = [
  'One day, a little boy named Tim found a shiny box in his garden. He opened it and inside there was a bird',
  'One day, a little boy named Tim found a shiny box in his garden. He opened it and inside there was a small red car that',
];
const SHARED_PROMPTS = [
  `${SHARED} she saw a cat`,
  `${SHARED} Lily and her mom went to the big store to buy a new ball and`,
  `${SHARED} it rained`,
];

/**
 * The input widths of every run of the model's session while `body` runs; `prefixes`, when
 * given, gets each run's shared-prefix length, its past's rows and the outputs it fetched.
 */
async function sessionRuns(
  lm: Awaited<ReturnType<typeof stories>>,
  body: () => Promise<void>,
  prefixes?: { prefix: number; pastRows: number; fetched: string[] }[],
): Promise<number[][]> {
  // The session itself: transformers.js' runs reach it through its view (plainDecoderView), the batch decoder's directly.
  const session = lm.session;
  const run = session.run.bind(session);
  const widths: number[][] = [];
  session.run = async (feeds, ...rest) => {
    const dims = (name: string) => (feeds as Record<string, { dims: number[] }>)[name].dims;
    widths.push(dims('input_ids'));
    const out = await run(feeds, ...rest);
    prefixes?.push({ prefix: dims('prefix_key_values.0.key')[2], pastRows: dims('past_key_values.0.key')[0], fetched: Object.keys(out) });
    return out;
  };
  try {
    await body();
  } finally {
    session.run = run;
  }
  return widths;
}

/** `rows` as one batch, with the input widths and prefix facts of every session run it made (`sessionRuns`). */
async function batchedRuns(lm: Awaited<ReturnType<typeof stories>>, rows: BatchRow[]) {
  let batched: Awaited<ReturnType<typeof generateBatch>> = [];
  const prefixes: { prefix: number; pastRows: number; fetched: string[] }[] = [];
  const runs = await sessionRuns(
    lm,
    async () => {
      batched = await generateBatch(lm, rows);
    },
    prefixes,
  );
  return { batched, runs, prefixes };
}

/** Tokens of `option` after `prompt`, as scoring splits them. */
function splitLength(lm: Awaited<ReturnType<typeof stories>>, prompt: string, option: string): number {
  return splitContinuation(lm, prompt, option).continuation.length;
}

/** Each row alone, as a batch of one. */
async function oneByOne(lm: Awaited<ReturnType<typeof stories>>, rows: BatchRow[]) {
  const out = [];
  for (const row of rows) out.push((await generateBatch(lm, [row]))[0]);
  return out;
}

describe('batched evaluation on stories260k', () => {
  it.each(['wasm', 'webgpu'] as const)(
    'greedy ids of a left-padded batch of 4 equal those of batch 1 on %s',
    async (device) => {
      const lm = await stories(device);
      const rows = PROMPTS.slice(0, 4).map((prompt) => ({ prompt, maxNewTokens: 20 }));
      const single = await oneByOne(lm, rows);
      const batched = await generateBatch(lm, rows);
      // The padding really differs between rows, and the comparison is about ids, not text.
      expect(new Set(single.map((s) => s.promptIds.length)).size).toBe(4);
      expect(batched.map((b) => b.newIds)).toEqual(single.map((s) => s.newIds));
      expect(batched.map((b) => b.promptIds)).toEqual(single.map((s) => s.promptIds));
      expect(batched.every((b) => b.newIds.length === 20 && b.finish === 'length')).toBe(true);
      // A batch of one is the generation the rest of the app does.
      const plain = await generate(lm, { prompt: PROMPTS[1], maxNewTokens: 20 });
      expect(single[1].ids).toEqual(plain.ids);
      expect(single[1].text).toBe(plain.text);
    },
    300_000,
  );

  it.each(['wasm', 'webgpu'] as const)(
    'rows sharing a prefix run it once and generate the ids of batch 1 on %s',
    async (device) => {
      const lm = await stories(device);
      const rows = SHARED_PROMPTS.map((prompt) => ({ prompt, maxNewTokens: 12 }));
      const single = await oneByOne(lm, rows);
      const { batched, runs, prefixes } = await batchedRuns(lm, rows);
      const shared = commonPrefixLength(single.map((s) => s.promptIds));
      const own = Math.max(...single.map((s) => s.promptIds.length - shared));
      expect(shared).toBeGreaterThanOrEqual(MIN_SHARED_PREFIX);
      // The prefix alone, then every row's own tokens over it, then one token a step.
      expect(runs.slice(0, 3)).toEqual([
        [1, shared],
        [3, own],
        [3, 1],
      ]);
      // Past the prefix's own pass, every run holds it once while each row's past is its own.
      expect(prefixes[0].prefix).toBe(0);
      expect(prefixes.slice(1).every((p) => p.prefix === shared && p.pastRows === 3)).toBe(true);
      // On WASM the rows' cache stays in host memory and a step fetches the new keys and values
      // alone; on WebGPU it stays on the GPU as `present`.
      const kept = device === 'wasm' ? 'new_key_values' : 'present';
      const dropped = device === 'wasm' ? 'present' : 'new_key_values';
      for (const { fetched } of prefixes.slice(1)) {
        expect(fetched).toContain('logits');
        expect(fetched.filter((n) => n.startsWith(kept))).toHaveLength(2 * lm.spec.numLayers);
        expect(fetched.some((n) => n.startsWith(dropped))).toBe(false);
      }
      expect(batched.map((b) => b.newIds)).toEqual(single.map((s) => s.newIds));
      expect(batched.map((b) => b.promptIds)).toEqual(single.map((s) => s.promptIds));
    },
    300_000,
  );

  it('rows of several prompt families decode together on WASM and generate the ids of batch 1', async () => {
    const lm = await stories('wasm');
    // Two families (three rows and two, budgets that differ so rows leave early) and two loners.
    const rows: BatchRow[] = [
      ...SHARED_PROMPTS.map((prompt, i) => ({ prompt, maxNewTokens: 6 + 4 * i })),
      ...OTHER_FAMILY.map((prompt) => ({ prompt, maxNewTokens: 9 })),
      { prompt: PROMPTS[0], maxNewTokens: 12 },
      { prompt: PROMPTS[2], maxNewTokens: 5 },
    ].reverse();
    const single = await oneByOne(lm, rows);
    const ids = single.map((s) => s.promptIds);
    const families = promptFamilies(ids);
    expect(families.map((f) => f.length).sort()).toEqual([2, 2, 3]);
    const { batched, runs, prefixes } = await batchedRuns(lm, rows);
    // Per family its prefix (the loners have none) and its rows' own tokens; then all seven rows a step, fewer as they finish.
    const decode = runs.filter((w) => w[1] === 1);
    expect(decode[0]).toEqual([7, 1]);
    expect(decode.map((w) => w[0])).toEqual([...decode.map((w) => w[0])].sort((a, b) => b - a));
    expect(runs.length - decode.length).toBe(5);
    expect(prefixes.filter((p) => p.pastRows === 7).every((p) => p.prefix === 0)).toBe(true);
    expect(batched.map((b) => b.newIds)).toEqual(single.map((s) => s.newIds));
    expect(batched.map((b) => b.finish)).toEqual(single.map((s) => s.finish));
    // Families given by the caller are kept; a list that misses a row is refused.
    const given = await generateBatch(lm, rows, {
      families: [
        [0, 1],
        [2, 3, 4],
        [5, 6],
      ],
    });
    expect(given.map((b) => b.newIds)).toEqual(single.map((s) => s.newIds));
    await expect(
      generateBatch(lm, rows, {
        families: [
          [0, 1],
          [2, 3],
        ],
      }),
    ).rejects.toThrow(/each of its 7 rows once/);
  }, 300_000);

  it.each(['wasm', 'webgpu'] as const)(
    'option scores of prompts sharing a prefix, the prefix run once, match one pass per option on %s',
    async (device) => {
      const lm = await stories(device);
      const requests = SHARED_PROMPTS.map((prompt, i) => ({ prompt, options: [' the', ' a big red ball', ` ${'and '.repeat(i + 1)}ran`] }));
      let batched: Awaited<ReturnType<typeof scoreOptionsBatch>> = [];
      const passes: { prefix: number; pastRows: number; fetched: string[] }[] = [];
      const runs = await sessionRuns(
        lm,
        async () => {
          batched = await scoreOptionsBatch(lm, requests, 8);
        },
        passes,
      );
      // The options' pass reads no cache back: it fetches the logits alone.
      expect(passes.at(-1)!.fetched).toEqual(['logits']);
      const ids = SHARED_PROMPTS.map((p) => lm.tokenizer.encode(p));
      const shared = commonPrefixLength(ids);
      expect(runs[0]).toEqual([1, shared]);
      expect(runs[1]).toEqual([3, Math.max(...ids.map((p) => p.length - shared))]);
      // One pass of every option of more than one token, whichever prompt it follows.
      expect(runs).toHaveLength(3);
      for (const [r, req] of requests.entries()) {
        const single = await scoreOptions(lm, req.prompt, req.options);
        expect(batched[r].tokenCounts).toEqual(single.tokenCounts);
        expect(batched[r].best).toBe(single.best);
        single.logLikelihoods.forEach((ll, o) => expect(Math.abs(batched[r].logLikelihoods[o] - ll), `${r}/${o}`).toBeLessThan(1e-4));
      }
    },
    300_000,
  );

  // The batch decoder with no prefix (unrelated prompts) and over a prefix held once (rows
  // sharing their first tokens); transformers.js' own loop runs batches on WebGPU (above).
  const ROW_SETS = [
    ['unrelated prompts', PROMPTS],
    ['prompts sharing a prefix', PROMPTS.map((p) => `${SHARED} ${p}`)],
  ] as const;

  it.each(ROW_SETS)(
    'each row keeps its own token budget, stop strings and end of sequence (%s)',
    async (_, prompts) => {
      const lm = await stories('wasm');
      // stories260k never emits its EOS, so a token its stories often emit plays that part.
      const probe = await generate(lm, { prompt: prompts[0], maxNewTokens: 12 });
      const eos = probe.newIds[5];
      (lm.model as unknown as { generation_config: { eos_token_id: number } }).generation_config.eos_token_id = eos;
      (lm.spec as { eosTokenIds: number[] }).eosTokenIds = [eos];
      const stopWord = lm.tokenizer.decode(probe.newIds.slice(2, 4), { skip_special_tokens: true }).trim().split(/\s+/)[0];
      const rows: BatchRow[] = [
        { prompt: prompts[0], maxNewTokens: 30 },
        { prompt: prompts[1], maxNewTokens: 3 },
        { prompt: prompts[2], maxNewTokens: 25, stop: [stopWord] },
        { prompt: prompts[3], maxNewTokens: 8 },
        { prompt: prompts[4], maxNewTokens: 1 },
      ];
      const single = await oneByOne(lm, rows);
      const prefixes: { prefix: number; pastRows: number; fetched: string[] }[] = [];
      let batched: Awaited<ReturnType<typeof generateBatch>> = [];
      await sessionRuns(
        lm,
        async () => {
          batched = await generateBatch(lm, rows);
        },
        prefixes,
      );
      expect(batched).toEqual(single);
      // On WASM a row that is done leaves the batch: the last steps run the longest row alone.
      const rowsPerStep = prefixes.filter((p) => p.prefix > 0 || prompts === PROMPTS).map((p) => p.pastRows);
      expect(rowsPerStep[0]).toBe(5);
      expect(rowsPerStep.at(-1)).toBe(1);
      expect(rowsPerStep.every((n, i) => i === 0 || n <= rowsPerStep[i - 1])).toBe(true);
      expect(batched[0].finish).toBe('eos');
      expect(batched[0].newIds.at(-1)).toBe(eos);
      expect(batched[1].newIds.length).toBeLessThanOrEqual(3);
      expect(batched[4].newIds).toHaveLength(1);
      expect(new Set(batched.map((b) => b.newIds.length)).size).toBeGreaterThan(2);
      if (batched[2].finish === 'stop') expect(batched[2].text).not.toContain(stopWord);
      // End of sequence held back for everyone: the first row runs to its budget.
      const held = await generateBatch(lm, rows, { minNewTokens: 30 });
      expect(held[0].finish).toBe('length');
      expect(held[0].newIds).toHaveLength(30);
    },
    180_000,
  );

  it.each(ROW_SETS)(
    'sampled rows follow their own seeds, whatever shares their batch (%s)',
    async (_, prompts) => {
      const lm = await stories('wasm');
      const rows: BatchRow[] = prompts.slice(0, 4).map((prompt, i) => ({ prompt, maxNewTokens: 16, temperature: 1, seed: 100 + i }));
      const single = await oneByOne(lm, rows);
      const batched = await generateBatch(lm, [...rows].reverse());
      expect(batched.reverse().map((b) => b.newIds)).toEqual(single.map((s) => s.newIds));
      const greedy = await generateBatch(lm, [{ ...rows[0], temperature: 0 }]);
      const otherSeed = await generateBatch(lm, [{ ...rows[0], seed: 7 }]);
      // Sampling really samples: neither the greedy text nor another seed's.
      expect([greedy[0].newIds, otherSeed[0].newIds].some((ids) => ids.join() !== single[0].newIds.join())).toBe(true);
    },
    180_000,
  );

  it('option scores of a batched forward pass match one pass per option within 1e-4', async () => {
    const lm = await stories('wasm');
    const requests = [
      { prompt: PROMPTS[0], options: [' there was a girl', ' the', ' a big dog named Max lived in a house'] },
      { prompt: PROMPTS[3], options: [' hello', ' "I am lost."'] },
      { prompt: PROMPTS[2], options: [' sat on the mat.', ' ran', ' was very happy and played all day', ' slept'] },
    ];
    const batched = await scoreOptionsBatch(lm, requests, 4);
    for (const [r, req] of requests.entries()) {
      const single = await scoreOptions(lm, req.prompt, req.options);
      expect(batched[r].tokenCounts).toEqual(single.tokenCounts);
      expect(batched[r].best).toBe(single.best);
      single.logLikelihoods.forEach((ll, o) => expect(Math.abs(batched[r].logLikelihoods[o] - ll), `${r}/${o}`).toBeLessThan(1e-4));
    }
  }, 180_000);

  it("scores a prompt's options over one pass of the prompt, as many option rows per pass as the batch size", async () => {
    const lm = await stories('wasm');
    // Five options, one of a single token (scored by the prompt's own pass) and some long ones.
    const options = [' the', ' there was a girl', ' a big dog named Max lived in a house', ' Lily', ' we all went to the sea and swam'];
    let batched: Awaited<ReturnType<typeof scoreOptionsBatch>> = [];
    const widths = await sessionRuns(lm, async () => {
      batched = await scoreOptionsBatch(lm, [{ prompt: PROMPTS[3], options }], 2);
    });
    const promptLength = lm.tokenizer.encode(PROMPTS[3]).length;
    const longer = options.filter((o) => splitLength(lm, PROMPTS[3], o) > 1).length;
    // The prompt once, then the options of more than one token two rows at a time.
    expect(widths[0]).toEqual([1, promptLength]);
    expect(widths.slice(1).map((d) => d[0])).toEqual(Array.from({ length: Math.ceil(longer / 2) }, (_, g) => Math.min(2, longer - 2 * g)));
    expect(longer).toBeLessThan(options.length);
    const single = await scoreOptions(lm, PROMPTS[3], options);
    expect(batched[0].tokenCounts).toEqual(single.tokenCounts);
    expect(batched[0].best).toBe(single.best);
    single.logLikelihoods.forEach((ll, o) => expect(Math.abs(batched[0].logLikelihoods[o] - ll), `${o}`).toBeLessThan(1e-4));
  }, 180_000);
});
