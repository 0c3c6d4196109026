#!/usr/bin/env node
// @ts-check
// The headless CLI: serves the built app on localhost, drives it in headless Chromium through
// its `window.ctlab` API, streams progress to stderr and prints results on stdout. It adds no
// second code path: every command runs the same src/lib code the page runs. This file only
// dispatches: each command (bin/commands/) parses its options, calls the page and prints.
// `--runtime node` (compress, bench compress) runs that src/lib code in this process instead,
// built for Node (dist-node/) with Dawn as its WebGPU.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as benchCompress from './commands/bench-compress.mjs';
import * as benchDecode from './commands/bench-decode.mjs';
import * as benchEval from './commands/bench-eval.mjs';
import * as benchScale from './commands/bench-scale.mjs';
import * as compress from './commands/compress.mjs';
import * as deleteModel from './commands/delete.mjs';
import * as download from './commands/download.mjs';
import * as evalCommand from './commands/eval.mjs';
import * as generate from './commands/generate.mjs';
import * as kl from './commands/kl.mjs';
import * as merge from './commands/merge.mjs';
import * as models from './commands/models.mjs';
import * as plan from './commands/plan.mjs';
import * as ppl from './commands/ppl.mjs';
import * as score from './commands/score.mjs';
import { deviceArg, usage, UsageError } from './lib/args.mjs';
import { DEFAULT_SCALE_MODELS } from './lib/bench-scale.mjs';
import { openApp } from './lib/browser.mjs';
import { ensureBuilt } from './lib/build.mjs';
import { loadNodeEngine } from './lib/node-engine.mjs';
import { cleanError } from './lib/errors.mjs';
import { pageProgress } from './lib/page-progress.mjs';
import { progressLines } from './lib/progress-lines.mjs';
import { serveApp } from './lib/server.mjs';

/** @typedef {import('./lib/command.mjs').Context} Context */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Off a terminal, the seconds between two lines of a phase: CI logs may want every tick (0) or fewer. */
const logEvery = Number(process.env.CTLAB_LOG_EVERY_S ?? 5);
const lines = progressLines({
  stream: process.stderr,
  plainEveryMs: Number.isFinite(logEvery) && logEvery >= 0 ? logEvery * 1000 : 5000,
});
const USAGE = `ctlab — Compressed Trust Lab from the command line

Usage:
  ctlab generate --model M --prompt TEXT [--max-new-tokens N] [--chat] [--temperature T --seed S]
                 [--stop STR]... [--device auto|webgpu|wasm] [--json]
                 [--method M [compress's settings and calibration options]]
             --method: the model's variant of those settings generates instead, taken from the
             cache when it was compressed before with the same settings and calibration (--seed
             seeds the calibration too, as in compress), else compressed first
  ctlab ppl --model M (--text TEXT | --text-file F) [--device auto|webgpu|wasm] [--json]
  ctlab eval --model M [--variants dense,rtn4,gptq3,awq4,wanda2:4,…] [--perspectives all|p,…]
             [--preset smoke|classroom|paper|full]
             [--mode generate|likelihood|both] [--data-dir D] [--seed S] [--device auto|webgpu|wasm] --out results.json
             [--report report.html] [--toxicity-model T]
             [--seeds 0,1,2] [--shard K/N] [--variant-dir ID=DIR]... [--batch-size N] [--fresh]
             [--calib self|builtin | --calib-url U] [--samples N] [--seq-len L]
             --seeds: the plan once per seed (the report adds mean and spread across seeds);
             --shard K/N (0 ≤ K < N): only shard K's share of the plan's units; the same
             command again (same --profile and --port) goes on with the unfinished run of its
             plan or shard, --fresh starts over; --variant-dir: a variant exported by
             ctlab compress, loaded instead of compressed again; --batch-size: prompts per
             forward pass (default: chosen from the model and device; results do not depend on it)
             --calib/--samples/--seq-len: the compressed variants' calibration (default: 16 × 128
             tokens the dense model writes; builtin skips that generation pass)
  ctlab plan --model M [eval's plan options: --variants --perspectives --preset --mode --seed(s)
             --data-dir --toxicity-model --calib --samples --seq-len] [--shard K/N] [--json]
             the plan's id and work units (compressions; variant × perspective × mode) with
             what each needs; with --shard, which of them that shard runs
  ctlab merge R1.json R2.json … --out results.json [--report report.html]
             the shards' results files of one plan as the single run's file; refuses files
             of other plans and units in two files, and names the units no file holds
  ctlab score --perspective P --input FILE|DIR [--input FILE|DIR]... [--data-dir D]
             [--setting S | --cell S] [--toxicity-model T] [--json]
             re-score outputs: this project's results/records files, or the outputs DecodingTrust
             wrote or published, as they come from its repository (paths kept: the cell is in
             them); D holds DecodingTrust's data (labels, options); --setting names the cell
             when neither name nor path says it
             --toxicity-model T (eval and score): toxicity scored by a text-classification model
             (a local folder or a Hugging Face id with config.json (id2label), tokenizer.json,
             tokenizer_config.json and onnx/model_quantized.onnx or onnx/model.onnx, e.g.
             Xenova/toxic-bert), kept in the cache like the models; without it, the offline
             lexicon proxy. Every toxicity score names its scorer.
  ctlab bench decode [--layers N] [--threads 1,all] [--prefill 256,512|none] [--json]
             prefill/decode tokens/s of fp32 MatMul vs 4-bit MatMulNBits graphs on WASM and WebGPU;
             --threads: instead, the WASM rows once per thread count (a number or all), each in a
             fresh worker, with the speed-up over the fewest threads (a count given twice,
             e.g. 1,all,1,all, keeps its best run: other processes only slow a run down);
             --prefill: also time prefill alone at these prompt lengths (default 256 with
             --threads, none without)
  ctlab bench eval [--model M] [--preset P] [--items N] [--new-tokens N] [--layers N]
             [--batch-size N] [--rounds N] [--device auto|webgpu|wasm] [--json]
             evaluation items/s one prompt at a time vs batched (the preset's prompts, smoke by
             default, both modes) on stories260k from the local models folder (or M) and a
             SmolLM2-135M-shaped random model of N layers (default 4; 0 leaves it out); --items:
             units per mode and model (default 96, about ten a perspective); --rounds: passes of
             each side, alternating which goes first (default 2), each side's fastest counting
  ctlab compress --model M --method rtn|gptq|awq|magnitude|wanda|sparsegpt [--bits 3|4|8]
             [--group-size G] [--sym|--asym] [--act-order] [--sparsity 2:4|4:8|0.5]
             [--calib-file F | --calib-url U | --calib self|builtin (default)] [--samples N] [--seq-len L]
             [--seed S] [--kernels auto|webgpu|typescript] [--forward auto|typescript|webgpu|ort-wasm]
             [--runtime browser|node] --out DIR [--json]
             compress into a variant (kept in the cache) and write it to DIR as a Hugging Face
             folder (model.safetensors in the base's dtype) with onnx/, gptq/ (a GPTQ checkpoint,
             2/4/8 bits) and ctlab-variant.json; the report goes to stdout
  ctlab kl --model DENSE --variant V (--text-file F | --text T) [--device auto|webgpu|wasm] [--json]
             mean KL(dense ‖ variant) of next-token distributions and both perplexities
  ctlab bench compress [--layers N] [--samples N] [--seq-len L] [--methods m,…]
             [--kernels webgpu,typescript] [--export m,…|none] [--runtime browser|node] [--json]
             time per layer and end to end per method on a SmolLM2-135M-shaped random model
             (all 30 layers unless --layers N; 4 × 64 calibration tokens unless --samples /
             --seq-len), WGSL kernels against their TypeScript references in one run; then, per
             method of --export (default: those timed), ctlab compress of a random checkpoint of
             that shape into a temporary folder: export MB/s and share of the command's wall time
  ctlab bench scale [--models id,…] [--layers N] [--devices wasm,webgpu] [--prompt-tokens 64]
             [--new-tokens 16] [--out-dir DIR] [--json]
             per model shape of src/lib/model/known-models.json (random bf16 weights, written into
             DIR, default ~/.cache/ctlab/shapes, when missing): download and graph build time, peak
             memory of the browser's processes (overall and while generating, against the fp32
             weights) and prefill/decode tokens/s per device, each shape in a fresh browser profile
             (default models: ${DEFAULT_SCALE_MODELS.join(',')})
  ctlab download --model M [--json]     download (or resume) a model into the cache
  ctlab models [--json]                 list cached models
  ctlab delete --model M|NAME           remove a cached model and the variants compressed from it; NAME
             is the model's name as ctlab models lists it

M is a local model folder, an http(s) base URL, or a Hugging Face id (org/name[@revision]).
Common options:
  --profile DIR   browser profile holding the cache (default ~/.cache/ctlab/profile)
  --port N        local port of the app (default 47613; the cache belongs to this origin)
  --json          machine-readable output on stdout
  --quiet         no progress on stderr
  --runtime R     compress and bench compress: browser (default: the page in headless Chromium)
                  or node (the engine in this process, WebGPU from Dawn; a local folder only, its
                  cache in memory, no --calib self or ORT forward). Without a GPU driver Dawn
                  needs SwiftShader's Vulkan driver: VK_ICD_FILENAMES=/usr/lib/chromium/
                  vk_swiftshader_icd.json LD_LIBRARY_PATH=/usr/lib/chromium (Debian's Chromium)
`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string' },
    prompt: { type: 'string' },
    text: { type: 'string' },
    'text-file': { type: 'string' },
    'max-new-tokens': { type: 'string', default: '64' },
    temperature: { type: 'string', default: '0' },
    seed: { type: 'string', default: '0' },
    stop: { type: 'string', multiple: true },
    chat: { type: 'boolean', default: false },
    device: { type: 'string', default: 'auto' },
    perspectives: { type: 'string', default: 'all' },
    variants: { type: 'string', default: 'dense' },
    report: { type: 'string' },
    preset: { type: 'string', default: 'smoke' },
    mode: { type: 'string', default: 'generate' },
    'data-dir': { type: 'string' },
    out: { type: 'string' },
    perspective: { type: 'string' },
    input: { type: 'string', multiple: true },
    setting: { type: 'string' },
    cell: { type: 'string' },
    'toxicity-model': { type: 'string' },
    layers: { type: 'string' },
    threads: { type: 'string' },
    prefill: { type: 'string' },
    method: { type: 'string' },
    bits: { type: 'string' },
    'group-size': { type: 'string' },
    sym: { type: 'boolean', default: false },
    asym: { type: 'boolean', default: false },
    'act-order': { type: 'boolean', default: false },
    sparsity: { type: 'string' },
    'calib-file': { type: 'string' },
    'calib-url': { type: 'string' },
    calib: { type: 'string' },
    samples: { type: 'string' },
    'seq-len': { type: 'string' },
    kernels: { type: 'string' },
    forward: { type: 'string' },
    methods: { type: 'string' },
    export: { type: 'string' },
    models: { type: 'string' },
    devices: { type: 'string' },
    'prompt-tokens': { type: 'string' },
    'new-tokens': { type: 'string' },
    'out-dir': { type: 'string' },
    variant: { type: 'string' },
    seeds: { type: 'string' },
    shard: { type: 'string' },
    'variant-dir': { type: 'string', multiple: true },
    'batch-size': { type: 'string' },
    fresh: { type: 'boolean', default: false },
    items: { type: 'string' },
    rounds: { type: 'string' },
    profile: { type: 'string' },
    port: { type: 'string', default: '47613' },
    runtime: { type: 'string', default: 'browser' },
    json: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const command = positionals[0];
if (values.help || !command) {
  process.stdout.write(USAGE);
  process.exit(command || values.help ? 0 : 2);
}

/** @type {Record<string, import('./lib/command.mjs').Command<any, any> & { standalone?: boolean }>} */
const COMMANDS = {
  generate,
  ppl,
  eval: evalCommand,
  plan,
  merge,
  score,
  compress,
  kl,
  download,
  models,
  delete: deleteModel,
  'bench decode': benchDecode,
  'bench eval': benchEval,
  'bench compress': benchCompress,
  'bench scale': benchScale,
};

/** @param {string} msg @returns {never} */
function fail(msg) {
  lines.close();
  process.stderr.write(`ctlab: ${msg}\n`);
  process.exit(1);
}

function lookup() {
  const name = command === 'bench' ? `bench ${positionals[1]}` : command;
  if (Object.hasOwn(COMMANDS, name)) return COMMANDS[name];
  if (command === 'bench')
    usage(
      'usage: ctlab bench decode [--layers N] [--json] | ctlab bench eval [--model M] [--json] | ctlab bench compress [--layers N] [--json] | ctlab bench scale [--models id,…] [--json]',
    );
  return usage(`unknown command "${command}"\n\n${USAGE}`);
}

/** @param {import('./lib/command.mjs').Output} out */
function write(out) {
  if (out.stdout) process.stdout.write(out.stdout);
  if (out.stderr) process.stderr.write(out.stderr);
}

/**
 * A command run by the engine in this process (`--runtime node`): no server, no browser.
 * @param {import('./lib/command.mjs').Command<any, any>} cmd
 * @param {import('./lib/args.mjs').Argv} argv
 * @param {import('./lib/page-progress.mjs').PageProgress} progress
 */
async function runInNode(cmd, argv, progress) {
  if (!cmd.node) usage('--runtime node applies to compress and bench compress');
  const req = cmd.parse(argv);
  const { engine, adapter, note } = await loadNodeEngine(root);
  if (note) process.stderr.write(`ctlab: ${note}\n`);
  else if (!values.quiet) lines.note(`runtime ${engine.gpuRuntime()}; adapter ${adapter}`);
  /** @type {import('./lib/command.mjs').NodeContext} */
  const ctx = { engine, adapter, root, lines, progress, quiet: values.quiet === true };
  try {
    write(cmd.print(await cmd.node(ctx, req), req, /** @type {any} */ (ctx)));
  } finally {
    lines.close();
  }
}

async function main() {
  const cmd = lookup();
  const argv = { values, positionals: command === 'bench' ? positionals.slice(1) : positionals };
  const progress = pageProgress({ lines, json: values.json === true, quiet: values.quiet === true });
  if (values.runtime !== 'browser' && values.runtime !== 'node') usage(`--runtime must be browser or node, not ${values.runtime}`);
  if (values.runtime === 'node') {
    await runInNode(cmd, argv, progress);
    // Dawn's instance may hold the event loop open after the work is done; stdout is flushed first.
    process.stdout.write('', () => process.exit(0));
    return;
  }
  if (cmd.standalone) {
    const req = cmd.parse(argv);
    const dist = await ensureBuilt(root);
    /** @type {Context} */
    const ctx = { page: noPage(), source: noPage(), dataUrl: undefined, root, dist, lines, progress, quiet: values.quiet === true };
    write(cmd.print(await cmd.request(ctx, req), req, ctx));
    return;
  }
  if (values['toxicity-model'] !== undefined && !['eval', 'score'].includes(command)) usage('--toxicity-model applies to eval and score');
  const req = cmd.parse(argv);
  deviceArg(values);
  const dist = await ensureBuilt(root);
  const dataDir = values['data-dir'];
  if (dataDir && !(existsSync(dataDir) && statSync(dataDir).isDirectory())) usage(`no such data folder: ${dataDir}`);
  /** @type {import('./lib/args.mjs').ModelArg[]} */
  const served = (req.serve?.models ?? []).filter(Boolean);
  const modelDirs = served.flatMap((m) => (m.kind === 'dir' ? [m.path] : []));
  const server = await serveApp({ dataDirs: dataDir ? [dataDir] : [], root, dist, modelDirs, port: Number(values.port) });
  try {
    const profile = resolve(values.profile ?? join(homedir(), '.cache', 'ctlab', 'profile'));
    mkdirSync(profile, { recursive: true });
    const app = await openApp({
      origin: server.origin,
      profile,
      onProgress: progress.onProgress,
      onLog: (l) => values.quiet || lines.note(l),
    });
    try {
      /** @type {Context} */
      const ctx = {
        page: app.page,
        // A folder is served by the local server like a model folder; the page caches it under its URL.
        source: (m) => (m.kind === 'dir' ? { kind: 'url', url: server.modelUrls[modelDirs.indexOf(m.path)] } : m),
        dataUrl: dataDir ? server.dataUrls[0] : undefined,
        root,
        dist,
        lines,
        progress,
        quiet: values.quiet === true,
        download: app.download,
      };
      write(cmd.print(await cmd.request(ctx, req), req, ctx));
    } finally {
      lines.close();
      await app.close();
    }
  } finally {
    await server.close();
  }
}

/** For a command that opens its own browsers: any use of the page is a mistake. @returns {any} */
function noPage() {
  return new Proxy(() => {}, {
    get: () => {
      throw new Error('this command has no page');
    },
    apply: () => {
      throw new Error('this command has no page');
    },
  });
}

main().catch((err) => fail(err instanceof UsageError ? err.message : cleanError(err)));
