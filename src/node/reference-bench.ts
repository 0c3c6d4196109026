// The reference benchmark: our engine's compression kernels against the Python reference of
// the same algorithms (bench/reference/) on the same linears, inputs and settings, in one run.
// `npm run bench:reference` (see --help); importable for tests.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TYPESCRIPT_KERNELS, type Kernels } from '../lib/compress/engine/backend';
import { BENCH_SETTINGS } from '../lib/bench/compress';
import { smollm2Spec } from '../lib/bench/decode';
import { decodeNpy, encodeNpy } from '../lib/bench/npy';
import {
  AgreementSum,
  captureProblem,
  compressLinears,
  type Agreement,
  type LinearOutput,
  type ReferenceProblem,
} from '../lib/bench/reference';
import { METHODS, resolveSettings, settingsLabel, type Method, type ResolvedSettings } from '../lib/compress/reference/settings';
import { cpuSimdActive, setCpuSimd } from '../lib/compress/reference/simd';
import { stopSimdHelpers } from '../lib/compress/reference/simd-helpers';
import { matrix } from '../lib/compress/reference/types';
import { describeAdapter, requestDevice } from '../lib/gpu/device';
import { describeDivision, divisionCheckOf } from '../lib/gpu/division';
import { gemmKernelOf } from '../lib/gpu/gemm';
import { randomWeights } from '../lib/model/random-model';
import { seededRandom } from '../lib/util/rng';
import { startNodeSimdHelpers } from './cpu-helpers';
import { installDawn } from './dawn';

export type PythonBackend = 'auto' | 'numpy' | 'torch';

export interface ReferenceBenchOptions {
  /** Decoder layers of SmolLM2-135M's shape (default 1). */
  layers?: number;
  /** TypeScript kernels: also time them without WebAssembly SIMD, in the same run. */
  compareScalar?: boolean;
  /** Threads our CPU linear kernels use, this one included (default: every core, at most 4). */
  cpuThreads?: number;
  /** TypeScript kernels: also time them on this thread alone (no helper threads), in the same run. */
  compareThreads?: boolean;
  samples?: number;
  seqLen?: number;
  methods?: Method[];
  /** Our kernels: the TypeScript references or the WGSL kernels on Dawn (default typescript). */
  kernels?: 'typescript' | 'webgpu';
  /** Dawn's adapter flags, e.g. `adapter=NVIDIA` (webgpu only). */
  dawnFlags?: string[];
  python?: string;
  backend?: PythonBackend;
  /** Torch device (default: cuda when available). */
  device?: string;
  /** Keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for the Python process (default: unset them there). */
  keepBlasEnv?: boolean;
  /** Where the .npy files go (default a temporary folder, removed afterwards). */
  workDir?: string;
  onStatus?: (line: string) => void;
}

export interface ReferenceBenchRow {
  method: Method;
  settings: string;
  oursSeconds: number;
  /** With `compareScalar`: our time with the TypeScript loops instead of WebAssembly SIMD. */
  scalarSeconds?: number;
  /** With `compareThreads`: our time on one thread. */
  oneThreadSeconds?: number;
  referenceSeconds: number;
  /** Our time over the reference's (below 1: ours is faster). */
  ratio: number;
  agreement: Agreement;
}

export interface ReferenceBenchResult {
  model: string;
  layers: number;
  samples: number;
  seqLen: number;
  linears: number;
  ours: string;
  reference: Record<string, unknown>;
  rows: ReferenceBenchRow[];
}

const SEP = '/';

/** bench/reference/ beside the built entry (dist-node/, a bundle) or two levels up from src/node/. */
export function referenceScriptDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['..', '../..']) {
    const dir = resolve(here, up, 'bench', 'reference');
    if (existsSync(join(dir, 'run.py'))) return dir;
  }
  throw new Error(`bench/reference/run.py not found near ${here}`);
}

/** Writes the problem as the manifest and .npy files `bench/reference/run.py` reads. */
export function writeProblem(dir: string, problem: ReferenceProblem, settings: Partial<Record<Method, ResolvedSettings>>): void {
  mkdirSync(join(dir, 'x'), { recursive: true });
  mkdirSync(join(dir, 'w'), { recursive: true });
  const taps = [...problem.taps].map(([name, X]) => {
    writeFileSync(join(dir, 'x', `${name}.npy`), encodeNpy([X.rows, X.cols], X.data));
    return { name, file: `x${SEP}${name}.npy` };
  });
  const linears = problem.linears.map((l) => {
    writeFileSync(join(dir, 'w', `${l.name}.npy`), encodeNpy([l.W.rows, l.W.cols], l.W.data));
    return { name: l.name, linear: l.linear, tap: l.tap, file: `w${SEP}${l.name}.npy` };
  });
  const manifest = { samples: problem.samples, seqLen: problem.seqLen, methods: Object.keys(settings), settings, taps, linears };
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
}

/** The environment of the Python process: OpenBLAS's core override unset unless kept (it slows a current numpy). */
function pythonEnv(keepBlasEnv: boolean): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (!keepBlasEnv) {
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
  }
  return env;
}

/** Fails with a message that says what to install when the interpreter or its array library is missing. */
export function checkPython(python: string, backend: PythonBackend): void {
  const module = backend === 'torch' ? 'torch' : backend === 'numpy' ? 'numpy' : null;
  const code = module
    ? `import ${module}`
    : 'import importlib.util as u, sys; sys.exit(0 if u.find_spec("torch") or u.find_spec("numpy") else 1)';
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8' });
  if (r.error) throw new Error(`the Python reference needs ${python} (${r.error.message}); install python3 and numpy (or PyTorch)`);
  if (r.status !== 0)
    throw new Error(`the Python reference needs ${module ?? 'numpy or torch'} for ${python}: ${r.stderr.trim().split('\n').pop() ?? ''}`);
}

/** Runs `bench/reference/run.py` on `dir`; resolves to its timings JSON. */
export function runReference(
  dir: string,
  opts: Pick<ReferenceBenchOptions, 'python' | 'backend' | 'device' | 'keepBlasEnv' | 'onStatus'> & { warmup?: boolean } = {},
): Promise<{ backend: Record<string, unknown>; methods: Record<string, { seconds: number }> }> {
  const python = opts.python ?? 'python3';
  const backend = opts.backend ?? 'auto';
  checkPython(python, backend);
  const args = [join(referenceScriptDir(), 'run.py'), dir, '--backend', backend];
  if (opts.device) args.push('--device', opts.device);
  if (opts.warmup === false) args.push('--no-warmup');
  return new Promise((res, rej) => {
    const child = spawn(python, args, { env: pythonEnv(opts.keepBlasEnv === true), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const line of d.toString().split('\n')) if (line.trim()) opts.onStatus?.(line);
    });
    child.on('error', rej);
    child.on('close', (code) => {
      if (code !== 0) return rej(new Error(`${python} ${args.join(' ')} exited with ${code}:\n${stderr.trim()}`));
      try {
        res(JSON.parse(stdout.trim().split('\n').pop()!));
      } catch (e) {
        rej(new Error(`the reference printed no timings: ${(e as Error).message}\n${stdout}`));
      }
    });
  });
}

/** The reference's output for one method, keyed like ours. */
export function readReference(dir: string, method: Method, problem: ReferenceProblem): Map<string, LinearOutput> {
  const out = new Map<string, LinearOutput>();
  for (const l of problem.linears) {
    const base = join(dir, 'ref', method, l.name);
    const w = decodeNpy(readFileSync(`${base}.npy`), `${base}.npy`);
    if (!(w.data instanceof Float32Array)) throw new Error(`${base}.npy: expected float32`);
    const maskPath = `${base}.mask.npy`;
    const mask = existsSync(maskPath) ? decodeNpy(readFileSync(maskPath), maskPath).data : undefined;
    if (mask && !(mask instanceof Uint8Array)) throw new Error(`${maskPath}: expected uint8`);
    out.set(l.name, { weight: w.data, ...(mask ? { mask } : {}) });
  }
  return out;
}

/** Our outputs beside the reference's, for a closer look (`--work-dir`). */
function writeOutputs(dir: string, out: Map<string, LinearOutput>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, o] of out) {
    writeFileSync(join(dir, `${name}.npy`), encodeNpy([o.weight.length], o.weight));
    if (o.mask) writeFileSync(join(dir, `${name}.mask.npy`), encodeNpy([o.mask.length], o.mask));
  }
}

/** Our outputs against the reference's, summed over the problem's linears. */
export function agreement(problem: ReferenceProblem, ours: Map<string, LinearOutput>, ref: Map<string, LinearOutput>): Agreement {
  const sum = new AgreementSum();
  for (const l of problem.linears) sum.add(l.W.data, ours.get(l.name)!, ref.get(l.name)!);
  return sum.result();
}

/** A small random problem (one linear) our kernels run once per method before timing: pipelines compiled, code warm. */
function warmupProblem(): ReferenceProblem {
  const rand = seededRandom(3);
  const r = (n: number) => Float32Array.from({ length: n }, () => rand() - 0.5);
  return {
    samples: 1,
    seqLen: 64,
    taps: new Map([['x', matrix(64, 128, r(64 * 128))]]),
    linears: [{ name: 'w', layer: 0, linear: 'v_proj', tap: 'x', W: matrix(32, 128, r(32 * 128)) }],
  };
}

export async function referenceBench(opts: ReferenceBenchOptions = {}): Promise<ReferenceBenchResult> {
  const layers = opts.layers ?? 1;
  const samples = opts.samples ?? 4;
  const seqLen = opts.seqLen ?? 64;
  const methods = opts.methods ?? [...METHODS];
  const status = opts.onStatus ?? (() => undefined);
  const spec = smollm2Spec(layers);
  status(`random SmolLM2-135M-shaped weights, ${layers} layer(s), calibration ${samples} × ${seqLen} tokens`);
  const weights = randomWeights(spec, 11);
  const rand = seededRandom(5);
  const calibration = Array.from({ length: samples }, () => Array.from({ length: seqLen }, () => Math.floor(rand() * spec.vocabSize)));
  const problem = await captureProblem(spec, weights, calibration, layers);
  const settings = Object.fromEntries(methods.map((m) => [m, resolveSettings(BENCH_SETTINGS[m])])) as Record<Method, ResolvedSettings>;

  let kernels: Kernels = TYPESCRIPT_KERNELS;
  const threads = opts.kernels === 'webgpu' ? 1 : 1 + (await startNodeSimdHelpers(Math.min(4, opts.cpuThreads ?? availableParallelism())));
  let ours = cpuSimdActive()
    ? `TypeScript kernels with WebAssembly SIMD (Node), ${threads} thread${threads > 1 ? 's' : ''}`
    : 'TypeScript kernels (Node)';
  let device: GPUDevice | null = null;
  if (opts.kernels === 'webgpu') {
    await installDawn(opts.dawnFlags ?? []);
    const report = await describeAdapter();
    if (!report.available) throw new Error(`no WebGPU adapter through Dawn: ${JSON.stringify(report)}`);
    device = await requestDevice();
    kernels = { kind: 'webgpu', device };
    ours = `WGSL kernels on Dawn: ${[report.vendor, report.architecture, report.description].filter(Boolean).join(' · ') || 'unnamed adapter'}; ${describeDivision(divisionCheckOf(device))}; ${gemmKernelOf(device)} GEMM`;
  }

  const work = opts.workDir ?? mkdtempSync(join(tmpdir(), 'ctlab-reference-'));
  const rows: ReferenceBenchRow[] = [];
  try {
    writeProblem(work, problem, settings);
    const oursOut = new Map<
      Method,
      { seconds: number; scalarSeconds?: number; oneThreadSeconds?: number; out: Map<string, LinearOutput> }
    >();
    for (const m of methods) {
      status(`ours: ${settingsLabel(settings[m])} (${problem.linears.length} linears)`);
      await compressLinears(kernels, settings[m], warmupProblem());
      const t0 = performance.now();
      const out = await compressLinears(kernels, settings[m], problem);
      const seconds = (performance.now() - t0) / 1000;
      let scalarSeconds: number | undefined;
      if (opts.compareScalar && kernels.kind === 'typescript') {
        status(`ours without SIMD: ${settingsLabel(settings[m])}`);
        const was = setCpuSimd(false);
        const t1 = performance.now();
        await compressLinears(kernels, settings[m], problem);
        scalarSeconds = (performance.now() - t1) / 1000;
        setCpuSimd(was);
      }
      let oneThreadSeconds: number | undefined;
      if (opts.compareThreads && threads > 1) {
        status(`ours on one thread: ${settingsLabel(settings[m])}`);
        stopSimdHelpers();
        const t2 = performance.now();
        await compressLinears(kernels, settings[m], problem);
        oneThreadSeconds = (performance.now() - t2) / 1000;
        await startNodeSimdHelpers(threads);
      }
      oursOut.set(m, { seconds, scalarSeconds, oneThreadSeconds, out });
      if (opts.workDir) writeOutputs(join(work, 'ours', m), out);
    }
    device?.destroy();
    device = null;
    status(`reference: python ${opts.backend ?? 'auto'} backend`);
    const ref = await runReference(work, { ...opts, onStatus: (l) => status(`  ${l}`) });
    for (const m of methods) {
      const o = oursOut.get(m)!;
      const refSeconds = ref.methods[m].seconds;
      rows.push({
        method: m,
        settings: settingsLabel(settings[m]),
        oursSeconds: o.seconds,
        ...(o.scalarSeconds === undefined ? {} : { scalarSeconds: o.scalarSeconds }),
        ...(o.oneThreadSeconds === undefined ? {} : { oneThreadSeconds: o.oneThreadSeconds }),
        referenceSeconds: refSeconds,
        ratio: o.seconds / refSeconds,
        agreement: agreement(problem, o.out, readReference(work, m, problem)),
      });
    }
    return {
      model: `SmolLM2-135M shape (random weights), ${layers} layer(s)`,
      layers,
      samples,
      seqLen,
      linears: problem.linears.length,
      ours,
      reference: ref.backend,
      rows,
    };
  } finally {
    device?.destroy();
    if (!opts.workDir) rmSync(work, { recursive: true, force: true });
  }
}

function fmt(x: number, digits = 3): string {
  return x === 0 ? '0' : Math.abs(x) >= 0.01 && Math.abs(x) < 1e4 ? x.toFixed(digits) : x.toExponential(2);
}

export function referenceTable(r: ReferenceBenchResult): string {
  const ref = r.reference;
  const refName = [ref.backend, ref.version, ref.device, ref.gpu ?? ref.blas].filter(Boolean).join(' · ');
  const scalar = r.rows.some((row) => row.scalarSeconds !== undefined);
  const oneThread = r.rows.some((row) => row.oneThreadSeconds !== undefined);
  const lines = [
    `${r.model}: ${r.linears} linears, calibration ${r.samples} × ${r.seqLen} tokens`,
    `ours:      ${r.ours}`,
    `reference: ${refName}`,
    '',
    [
      'method',
      'settings',
      'ours s',
      'ref s',
      'ours/ref',
      'rel. error',
      'differing',
      'mask mismatch',
      ...(scalar ? ['no-SIMD s', 'SIMD speed-up'] : []),
      ...(oneThread ? ['1-thread s', 'threads speed-up'] : []),
    ].join('\t'),
  ];
  for (const row of r.rows) {
    const a = row.agreement;
    lines.push(
      [
        row.method,
        row.settings,
        fmt(row.oursSeconds),
        fmt(row.referenceSeconds),
        fmt(row.ratio, 2),
        fmt(a.relError),
        `${(a.differing * 100).toFixed(2)}%`,
        a.maskMismatch === undefined ? '–' : `${(a.maskMismatch * 100).toFixed(4)}%`,
        ...(scalar
          ? [
              row.scalarSeconds === undefined ? '–' : fmt(row.scalarSeconds),
              row.scalarSeconds === undefined ? '–' : `${fmt(row.scalarSeconds / row.oursSeconds, 2)}×`,
            ]
          : []),
        ...(oneThread
          ? [
              row.oneThreadSeconds === undefined ? '–' : fmt(row.oneThreadSeconds),
              row.oneThreadSeconds === undefined ? '–' : `${fmt(row.oneThreadSeconds / row.oursSeconds, 2)}×`,
            ]
          : []),
      ].join('\t'),
    );
  }
  lines.push(
    '',
    'rel. error = ‖W_ours − W_ref‖_F / ‖W − W_ref‖_F over all linears (W dense): the disagreement as a share of the',
    'change the reference made; differing = entries not bit-equal; times include statistics from X, not file I/O.',
  );
  return `${lines.join('\n')}\n`;
}

const USAGE = `npm run bench:reference -- [options]
  our engine's compression kernels against the Python reference (bench/reference/) on the
  linears of SmolLM2-135M-shaped random layers, same inputs and settings

  --layers N          decoder layers (default 1)
  --samples N         calibration sequences (default 4)
  --seq-len L         tokens per sequence (default 64)
  --methods m,…       of ${METHODS.join(',')} (default all)
  --kernels K         typescript (default) or webgpu (Dawn; set VK_ICD_FILENAMES for SwiftShader)
  --compare-scalar    typescript: also time our kernels without WebAssembly SIMD (the plain loops)
  --cpu-threads N     typescript: threads for our linear kernels, this one included (default: every
                      core, at most 4; 1: no helper threads)
  --compare-threads   typescript: also time our kernels on one thread, in the same run
  --adapter NAME      Dawn adapter substring (webgpu), e.g. NVIDIA
  --python P          interpreter (default python3)
  --backend B         auto (torch when it imports, else numpy), numpy or torch
  --device D          torch device (default cuda when available)
  --keep-blas-env     leave OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE set for Python
  --work-dir DIR      keep the .npy files and the reference outputs there
  --json              the result as JSON on stdout`;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      layers: { type: 'string' },
      samples: { type: 'string' },
      'seq-len': { type: 'string' },
      methods: { type: 'string' },
      kernels: { type: 'string' },
      adapter: { type: 'string' },
      python: { type: 'string' },
      backend: { type: 'string' },
      device: { type: 'string' },
      'keep-blas-env': { type: 'boolean', default: false },
      'compare-scalar': { type: 'boolean', default: false },
      'cpu-threads': { type: 'string' },
      'compare-threads': { type: 'boolean', default: false },
      'work-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const int = (name: 'layers' | 'samples' | 'seq-len' | 'cpu-threads', max: number) => {
    const v = values[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer in 1..${max}, not ${v}`);
    return n;
  };
  const methods = values.methods?.split(',').map((m) => m.trim()) as Method[] | undefined;
  const bad = methods?.filter((m) => !(METHODS as readonly string[]).includes(m));
  if (bad?.length) throw new Error(`unknown method(s) ${bad.join(', ')}; expected ${METHODS.join(', ')}`);
  if (values.kernels !== undefined && values.kernels !== 'typescript' && values.kernels !== 'webgpu')
    throw new Error(`--kernels takes typescript or webgpu, not ${values.kernels}`);
  if (values.backend !== undefined && !['auto', 'numpy', 'torch'].includes(values.backend))
    throw new Error(`--backend takes auto, numpy or torch, not ${values.backend}`);
  const result = await referenceBench({
    layers: int('layers', 30),
    samples: int('samples', 4096),
    seqLen: int('seq-len', 8192),
    methods,
    kernels: values.kernels as 'typescript' | 'webgpu' | undefined,
    dawnFlags: values.adapter ? [`adapter=${values.adapter}`] : [],
    python: values.python,
    backend: values.backend as PythonBackend | undefined,
    device: values.device,
    keepBlasEnv: values['keep-blas-env'],
    compareScalar: values['compare-scalar'],
    compareThreads: values['compare-threads'],
    cpuThreads: int('cpu-threads', 64),
    workDir: values['work-dir'] ? resolve(values['work-dir']) : undefined,
    onStatus: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : referenceTable(result));
  return 0;
}

// Run as a program (node dist-node/reference-bench.mjs …), not when imported.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`reference-bench: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
