// @ts-check
// `ctlab compress`: a variant into the cache, exported to a folder; the report on stdout. With
// `--runtime node` the engine runs in this process on a local folder, its cache in memory.
import { resolve } from 'node:path';
import { modelArg, usage } from '../lib/args.mjs';
import { compressRequest } from '../lib/compress-request.mjs';
import { exportVariant } from '../lib/export-variant.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */
/** @typedef {import('../lib/command.mjs').NodeContext} NodeContext */

/**
 * The settings go to the page as given: the library checks methods, bits and sparsity. Only the
 * shape of the command line is checked here.
 * @param {import('../lib/args.mjs').Argv} argv
 */
export function parse({ values }) {
  const model = modelArg(values.model);
  const runtime = values.runtime === 'node' ? 'node' : 'browser';
  if (runtime === 'node' && model.kind !== 'dir')
    usage(
      '--runtime node compresses a local model folder (--model DIR); download other models with ctlab download, or use --runtime browser',
    );
  if (!values.out) usage('compress needs --out DIR');
  if (!values.method) usage('compress needs --method rtn|gptq|awq|magnitude|wanda|sparsegpt');
  const request = compressRequest(values, 'compress');
  return { model, request, out: resolve(values.out), runtime, json: values.json === true, serve: { models: [model] } };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export async function request(ctx, req) {
  const start = performance.now();
  const report = await ctx.page.compress({ source: ctx.source(req.model), request: req.request });
  const { bytes, ms, files } = await exportVariant(ctx, report.key, req.out);
  // The export's share of the whole command (download, compression and export).
  const wallMs = performance.now() - start;
  return { ...report, export: { bytes, ms, mbPerS: bytes / 1e6 / (ms / 1000), share: ms / wallMs, wallMs, files } };
}

/** @param {NodeContext} ctx @param {ReturnType<typeof parse>} req */
export async function node(ctx, req) {
  const dir = /** @type {{ kind: 'dir', path: string }} */ (req.model).path;
  const start = performance.now();
  // The export starts with the graph build (or the first file when the graph is stored).
  let exportStart = 0;
  let bytes = 0;
  const { report } = await ctx.engine.compressFolder(dir, req.request, req.out, (e) => {
    if ((e.phase === 'graph' || e.phase === 'written') && !exportStart) exportStart = performance.now();
    if (e.phase !== 'written') return ctx.progress.onProgress(e);
    bytes += e.bytes;
    if (!ctx.quiet) ctx.lines.finish(`export:${e.path}`, `wrote ${e.path} (${e.bytes} bytes)`);
  });
  const end = performance.now();
  const ms = end - (exportStart || end);
  return {
    ...report,
    export: { bytes, ms, mbPerS: ms > 0 ? bytes / 1e6 / (ms / 1000) : 0, share: ms / (end - start), wallMs: end - start },
  };
}

/**
 * How many samples the block passes ran, where fewer than given (RTN and magnitude read no statistic).
 * @param {{ method: string, calibration: { samples: number, forwardSamples?: number } }} report
 */
function forwardNote(report) {
  const { samples, forwardSamples } = report.calibration;
  return forwardSamples !== undefined && forwardSamples < samples
    ? `; block passes on the first ${forwardSamples}, all that ${report.method}'s error report reads`
    : '';
}

/** @param {Awaited<ReturnType<typeof request>>} report @param {ReturnType<typeof parse>} req */
export function print(report, req) {
  if (req.json) return { stdout: `${JSON.stringify(report)}\n` };
  let out = `${report.label}\n${report.calibration.samples} × ${report.calibration.seqLen} tokens (${report.calibration.source}${forwardNote(report)}); kernels ${report.kernels}${report.adapter ? ` (${report.adapter}${report.division ? `, ${report.division}` : ''})` : ''}; forward ${report.forward}; runtime ${req.runtime}\n`;
  out += 'layer linear      shape        rel. error  zeros  format       bytes dense → stored\n';
  for (const l of report.linears)
    out += `${String(l.layer).padStart(5)} ${l.linear.padEnd(11)} ${`${l.shape[0]}×${l.shape[1]}`.padEnd(12)} ${l.error.toExponential(3).padStart(10)} ${(100 * l.zeros).toFixed(1).padStart(5)}% ${l.format.padEnd(12)} ${l.denseBytes} → ${l.packedBytes ?? l.denseBytes}\n`;
  out += `mean error ${report.summary.meanError.toExponential(3)}; bytes ${report.bytes.before} → ${report.bytes.after} (${report.graph.linear}); damping retries ${report.summary.dampRetries}; ${(report.timings.totalMs / 1000).toFixed(1)} s\nwrote ${req.out}: ${(report.export.bytes / 1e6).toFixed(1)} MB in ${(report.export.ms / 1000).toFixed(1)} s (${report.export.mbPerS.toFixed(0)} MB/s), ${(100 * report.export.share).toFixed(1)} % of the run's ${(report.export.wallMs / 1000).toFixed(1)} s\n`;
  return { stdout: out };
}
