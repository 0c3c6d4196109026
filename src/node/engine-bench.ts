// The engine benchmark of the GPU archive (`npm run bench:gpu`): the engine's own true-sequential
// compression (calibration block forwards, statistics, the methods' kernels) of a random
// SmolLM2-135M-shaped model on Dawn, per setting, with no browser and no repository: what
// `ctlab bench compress --runtime node` times, run where only the archive's node is.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchCompress, SMOLLM2_LAYERS, type CompressBenchResult } from '../lib/bench/compress';
import type { ForwardKind } from '../lib/compress/engine/runner-types';
import type { ResolvedSettings } from '../lib/compress/reference/settings';
import { describeAdapter } from '../lib/gpu/device';
import { PAPER_GRID, parseVariants } from '../lib/variants/spec';
import { stopSimdHelpers } from '../lib/compress/reference/simd-helpers';
import { startNodeSimdHelpers } from './cpu-helpers';
import { installDawn } from './dawn';

const USAGE = `node engine-bench.mjs [options]
  --variants LIST   variant ids (e.g. gptq4,sparsegpt2:4) or paper (the study's grid; default)
  --layers N        decoder layers compressed (default 2; the table extrapolates to ${SMOLLM2_LAYERS})
  --samples N       calibration sequences (default 128)
  --seq-len N       tokens per sequence (default 512)
  --forward F       calibration block forward: webgpu (default) or typescript
  --kernels K       webgpu (default) or typescript
  --adapter NAME    Dawn adapter substring, e.g. NVIDIA
  --json            the result as JSON on stdout`;

/** The table: seconds per layer and the whole model extrapolated, each setting and the grid's sum. */
export function engineTable(r: CompressBenchResult, runtime: string): string {
  let out = `${r.model}; ${runtime}; adapter: ${r.adapter ?? 'none'}${r.division ? ` (${r.division}; ${r.gemm} GEMM)` : ''}; CPU kernels: ${r.cpuThreads} thread(s); calibration ${r.samples} × ${r.seqLen} tokens\n`;
  const fp = Object.entries(r.forwardPass).map(([k, ms]) => `${k} ${Number(ms).toFixed(0)} ms`);
  out += `one calibration pass of layer 0: ${fp.join(', ')}\n\n`;
  out += 'settings\tkernels\tforward\ts/layer\tmeasured s\test. 30 layers s\tslowest phases (s/layer)\n';
  let full = 0;
  let measured = 0;
  for (const row of r.rows) {
    full += row.estimatedFullMs;
    measured += row.totalMs;
    const phases = Object.entries(row.phases)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([p, ms]) => `${p} ${(ms / 1000).toFixed(2)}`)
      .join(', ');
    out += `${row.settings}\t${row.kernels}\t${row.forward}\t${(row.msPerLayer / 1000).toFixed(2)}\t${(row.totalMs / 1000).toFixed(1)}\t${(row.estimatedFullMs / 1000).toFixed(1)}\t${phases}\n`;
  }
  out += `\nall ${r.rows.length} settings: ${(measured / 1000).toFixed(1)} s measured on ${r.layers} layer(s); ${(full / 1000).toFixed(0)} s (${(full / 60000).toFixed(1)} min) estimated for ${SMOLLM2_LAYERS} layers (per-layer time × ${SMOLLM2_LAYERS} + capture)\n`;
  return out;
}

/** The settings a `--variants` list names (dense, which compresses nothing, left out). */
export function variantSettings(list: string): ResolvedSettings[] {
  return parseVariants(list === 'paper' ? PAPER_GRID : list).flatMap((v) => (v.settings ? [v.settings] : []));
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      variants: { type: 'string', default: 'paper' },
      layers: { type: 'string', default: '2' },
      samples: { type: 'string', default: '128' },
      'seq-len': { type: 'string', default: '512' },
      forward: { type: 'string', default: 'webgpu' },
      kernels: { type: 'string', default: 'webgpu' },
      adapter: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const int = (name: 'layers' | 'samples' | 'seq-len', max: number) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer in 1..${max}, not ${values[name]}`);
    return n;
  };
  if (values.forward !== 'webgpu' && values.forward !== 'typescript')
    throw new Error(`--forward takes webgpu or typescript (ORT does not load outside the page), not ${values.forward}`);
  if (values.kernels !== 'webgpu' && values.kernels !== 'typescript')
    throw new Error(`--kernels takes webgpu or typescript, not ${values.kernels}`);
  const settings = variantSettings(values.variants);
  await installDawn(values.adapter ? [`adapter=${values.adapter}`] : []);
  await startNodeSimdHelpers();
  const adapter = await describeAdapter();
  if (!adapter.available && (values.kernels === 'webgpu' || values.forward === 'webgpu'))
    throw new Error(
      `Dawn gave no WebGPU adapter${adapter.reason ? ` (${adapter.reason})` : ''}; use --kernels typescript --forward typescript`,
    );
  let result: CompressBenchResult;
  try {
    result = await benchCompress({
      layers: int('layers', SMOLLM2_LAYERS),
      samples: int('samples', 4096),
      seqLen: int('seq-len', 8192),
      settings,
      kernels: [values.kernels],
      forward: values.forward as ForwardKind,
      forwardPasses: [values.forward as ForwardKind],
      onStatus: (l) => process.stderr.write(`${l}\n`),
    });
  } finally {
    stopSimdHelpers();
  }
  const runtime = `node ${process.version} (Dawn)`;
  process.stdout.write(values.json ? `${JSON.stringify({ ...result, runtime })}\n` : engineTable(result, runtime));
  return 0;
}

// Run as a program (node engine-bench.mjs …), not when imported.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`engine-bench: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
