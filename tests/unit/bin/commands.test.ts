import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../bin/lib/args.mjs';
import * as benchCompress from '../../../bin/commands/bench-compress.mjs';
import * as benchDecode from '../../../bin/commands/bench-decode.mjs';
import * as benchEval from '../../../bin/commands/bench-eval.mjs';
import * as compress from '../../../bin/commands/compress.mjs';
import * as deleteModel from '../../../bin/commands/delete.mjs';
import * as generate from '../../../bin/commands/generate.mjs';
import * as kl from '../../../bin/commands/kl.mjs';
import * as ppl from '../../../bin/commands/ppl.mjs';
import * as plan from '../../../bin/commands/plan.mjs';
import * as evalCommand from '../../../bin/commands/eval.mjs';

/** The defaults bin/ctlab.mjs gives parseArgs, with `given` on top. */
function argv(given: Record<string, unknown>, positionals: string[] = []) {
  const values = {
    'max-new-tokens': '64',
    temperature: '0',
    seed: '0',
    chat: false,
    device: 'auto',
    perspectives: 'all',
    variants: 'dense',
    preset: 'smoke',
    mode: 'generate',
    sym: false,
    asym: false,
    'act-order': false,
    port: '47613',
    json: false,
    quiet: false,
    ...given,
  };
  return { values, positionals };
}

const MODEL = 'org/model';

describe('compress parse', () => {
  it('sends the settings as given, for the library to check', () => {
    const req = compress.parse(argv({ model: MODEL, method: 'wanda', sparsity: '2:4', bits: '5', out: 'x', asym: true }, ['compress']));
    expect(req.request.settings).toEqual({ method: 'wanda', bits: '5', sym: false, sparsity: '2:4' });
    expect(req.request.calibration).toEqual({ kind: 'builtin' });
    expect(req.request).toMatchObject({ seed: 0, kernels: 'auto', forward: 'auto' });
  });

  it('refuses what the command line cannot mean', () => {
    const bad = (given: Record<string, unknown>) => () => compress.parse(argv({ model: MODEL, out: 'x', method: 'rtn', ...given }));
    expect(bad({ out: undefined })).toThrow(new UsageError('compress needs --out DIR'));
    expect(bad({ method: undefined })).toThrow(/compress needs --method/);
    expect(bad({ sym: true, asym: true })).toThrow('--sym and --asym exclude each other');
    expect(bad({ calib: 'self', 'calib-url': 'http://x' })).toThrow(/one of --calib-file/);
    expect(bad({ calib: 'other' })).toThrow('--calib must be self or builtin, not other');
    expect(bad({ kernels: 'cuda' })).toThrow(/--kernels must be/);
    expect(bad({ samples: '-1' })).toThrow('--samples must be a non-negative integer, not -1');
  });

  it('runs in Node only on a local folder, which it names by path', () => {
    expect(() => compress.parse(argv({ model: MODEL, out: 'x', method: 'rtn', runtime: 'node' }))).toThrow(
      /--runtime node compresses a local model folder/,
    );
    const req = compress.parse(argv({ model: '.', out: 'x', method: 'rtn', runtime: 'node' }));
    expect(req.runtime).toBe('node');
    expect(req.model).toEqual({ kind: 'dir', path: process.cwd() });
    expect(compress.parse(argv({ model: MODEL, out: 'x', method: 'rtn' })).runtime).toBe('browser');
  });
});

describe('generate parse', () => {
  it('with --method, asks for the variant of those settings, calibration as compress takes it', () => {
    expect(generate.parse(argv({ model: MODEL, prompt: 'hi' }))).not.toHaveProperty('variant.settings');
    const req = generate.parse(argv({ model: MODEL, prompt: 'hi', method: 'rtn', bits: '4', samples: '4', 'seq-len': '64' }));
    expect(req.variant).toMatchObject({
      settings: { method: 'rtn', bits: '4' },
      calibration: { kind: 'builtin' },
      samples: 4,
      seqLen: 64,
      seed: 0,
    });
    expect(() => generate.parse(argv({ model: MODEL, prompt: 'hi', method: 'rtn', calib: 'self', 'calib-url': 'http://x' }))).toThrow(
      'generate takes one of --calib-file F, --calib-url U, --calib self|builtin',
    );
  });
});

describe('eval and plan parse: calibration', () => {
  it('leaves calibration to the page unless given, and sends only what was given', () => {
    expect(evalCommand.parse(argv({ model: MODEL, out: 'r.json' })).plan.options).not.toHaveProperty('calibration');
    const req = evalCommand.parse(argv({ model: MODEL, out: 'r.json', calib: 'builtin', samples: '4', 'seq-len': '64' }));
    expect(req.plan.options.calibration).toEqual({ source: 'builtin', samples: 4, seqLen: 64 });
    const byUrl = plan.parse(argv({ model: MODEL, 'calib-url': 'http://127.0.0.1/c.txt' }));
    expect(byUrl.plan.options.calibration).toEqual({ source: 'url', url: 'http://127.0.0.1/c.txt' });
  });

  it('refuses a file (no stable name for the plan id), two sources, or an empty size', () => {
    const bad = (given: Record<string, unknown>) => () => evalCommand.parse(argv({ model: MODEL, out: 'r.json', ...given }));
    expect(bad({ 'calib-file': 'c.txt' })).toThrow(/not --calib-file/);
    expect(bad({ calib: 'self', 'calib-url': 'http://x' })).toThrow('give one of --calib self|builtin and --calib-url U');
    expect(bad({ calib: 'wiki' })).toThrow('--calib must be self or builtin, not wiki');
    expect(bad({ samples: '0' })).toThrow('--samples and --seq-len must be at least 1');
  });
});

describe('bench compress parse', () => {
  it('refuses the ORT block forward in Node, where onnxruntime-web does not load', () => {
    expect(() => benchCompress.parse(argv({ runtime: 'node', forward: 'ort-wasm' }))).toThrow(/runs only in the page/);
    expect(benchCompress.parse(argv({ runtime: 'node', forward: 'typescript', layers: '2' })).options).toEqual({
      layers: 2,
      forward: 'typescript',
    });
  });
});

describe('print decides the JSON', () => {
  const session = { key: 'k', label: 'm', device: 'wasm' as const, adapter: null, precision: 'fp32', precisionReason: 'r' };

  it('ppl: snake_case and the first eight logits before the session', () => {
    const r = { meanNll: 1, ppl: Math.E, tokens: 3, lastLogits: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], ...session };
    const out = ppl.print(r, { json: true } as ReturnType<typeof ppl.parse>);
    expect(out.stdout).toBe(
      `${JSON.stringify({ mean_nll: 1, ppl: Math.E, tokens: 3, last_logits_first8: [0, 1, 2, 3, 4, 5, 6, 7], ...session })}\n`,
    );
  });

  it('kl: snake_case names, indented without --json', () => {
    const r = { meanKl: 0.1, pplReference: 2, pplVariant: 3, tokens: 4, dense: 'd', variant: 'v' };
    const out = kl.print(r, { json: false } as ReturnType<typeof kl.parse>);
    expect(out.stdout).toBe(
      `${JSON.stringify({ mean_kl: 0.1, ppl_dense: 2, ppl_variant: 3, tokens: 4, dense: 'd', variant: 'v' }, null, 2)}\n`,
    );
  });

  it('generate: without --json, the text not streamed yet and a summary on stderr', () => {
    const r = { text: 'Once upon a time', newIds: [1, 2], finish: 'length', device: 'wasm', adapter: null };
    const ctx = { progress: { closeStream: () => 'Once upon' } };
    const out = generate.print(r as never, { json: false } as never, ctx as never);
    expect(out).toEqual({ stdout: ' a time\n', stderr: '2 tokens · length · wasm\n' });
  });

  it('plan: the units of a shard, one a line', () => {
    const r = { id: 'p1', units: [{ id: 'a' }, { id: 'b' }], mine: ['b'] };
    expect(plan.print(r as never, { json: false, shard: '1/2' } as never).stdout).toBe('plan p1: 2 units; shard 1/2 runs 1\nb\n');
  });
});

describe('bench eval parse', () => {
  it('times the smoke preset unless --preset names another', () => {
    expect(benchEval.parse(argv({})).preset).toBe('smoke');
    expect(benchEval.parse(argv({ preset: 'paper' })).preset).toBe('paper');
  });

  it('takes --rounds, leaves the default to the bench, and prints every round’s speed-up and the prefix tree', () => {
    expect(benchEval.parse(argv({ rounds: '3' })).rounds).toBe(3);
    expect('rounds' in benchEval.parse(argv({}))).toBe(false);
    const row = {
      model: 'stories260k',
      device: 'wasm',
      mode: 'generate',
      items: 8,
      single: 10,
      batched: 40,
      batchSize: 4,
      speedup: 4,
      identical: 8,
      promptTokens: 900,
      prefixTreeTokens: 400,
    };
    const out = benchEval.print(
      {
        preset: 'smoke',
        context: 512,
        maxNewTokens: 32,
        rows: [
          {
            ...row,
            rounds: [
              { single: 8, batched: 24 },
              { single: 10, batched: 40 },
            ],
          },
        ],
      } as never,
      { json: false } as never,
    ).stdout;
    expect(out).toContain('stories260k generate: 3.00×, 4.00×');
    expect(out).toContain('stories260k generate: 900 → 400 (2.25×)');
  });
});

describe('bench decode parse', () => {
  it('takes --threads as thread counts and all, in order', () => {
    expect(benchDecode.parse(argv({ threads: '1,all' })).threads).toEqual([1, 'all']);
    expect(benchDecode.parse(argv({ threads: '1,2,4' })).threads).toEqual([1, 2, 4]);
    expect(benchDecode.parse(argv({})).threads).toBeUndefined();
  });

  it('refuses a count that is not a positive integer', () => {
    for (const t of ['0', '1.5', 'many', ',']) expect(() => benchDecode.parse(argv({ threads: t })), t).toThrow(UsageError);
  });

  it('times prefill alone at a DecodingTrust-sized prompt with --threads unless --prefill says otherwise', () => {
    expect(benchDecode.parse(argv({ threads: '1,all' })).prefill).toEqual([256]);
    expect(benchDecode.parse(argv({})).prefill).toEqual([]);
    expect(benchDecode.parse(argv({ threads: '1,all', prefill: '256,512' })).prefill).toEqual([256, 512]);
    expect(benchDecode.parse(argv({ threads: '1,all', prefill: 'none' })).prefill).toEqual([]);
    for (const p of ['0', '1.5', 'long', ',']) expect(() => benchDecode.parse(argv({ prefill: p })), p).toThrow(UsageError);
  });

  it('prints the long-prompt prefills and their speed-ups beside each row of the thread table', () => {
    const row = (threads: number, speedup: number) => ({
      graph: 'q4',
      threads,
      prefillTokensPerSecond: 10,
      decodeTokensPerSecond: 5,
      prefillSpeedup: 1,
      decodeSpeedup: 1,
      prefillAt: [{ tokens: 512, tokensPerSecond: 40 * speedup, speedup }],
    });
    const t = {
      model: 'm',
      repeats: { 1: 1, 2: 1 },
      promptTokens: 64,
      newTokens: 16,
      isolated: true,
      cores: 2,
      rows: [row(1, 1), row(2, 0.5)],
    };
    const lines = benchDecode.print({ threads: t } as never, { json: false, threads: [1, 'all'] } as never).stdout.split('\n');
    expect(lines[1]).toContain('prefill@512 tok/s  speed-up');
    expect(lines[3]).toMatch(/20\.0\s+0\.50×$/);
  });
});

describe('delete parse', () => {
  it('takes a word with no slash as the name ctlab models lists, and anything else as a model', () => {
    expect(deleteModel.parse(argv({ model: 'stories260k' }))).toMatchObject({ name: 'stories260k', serve: { models: [] } });
    expect(deleteModel.parse(argv({ model: MODEL }))).toMatchObject({ model: { kind: 'hub', id: MODEL } });
    expect(deleteModel.parse(argv({ model: 'http://127.0.0.1:1/models/x' }))).toMatchObject({ model: { kind: 'url' } });
    // A folder here is a folder, even when its name has no slash.
    expect(deleteModel.parse(argv({ model: 'tests' }))).toMatchObject({ model: { kind: 'dir' } });
    expect(() => deleteModel.parse(argv({ model: './nowhere' }))).toThrow(/no such model folder/);
    expect(() => deleteModel.parse(argv({ model: '' }))).toThrow('--model is required');
  });
});
