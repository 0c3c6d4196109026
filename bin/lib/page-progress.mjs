// @ts-check
// The page's progress events as lines on stderr (see progress-lines.mjs), and generated text
// streamed to stdout as it arrives.
import { formatBytes, formatDuration } from './progress-lines.mjs';

/**
 * @param {{ lines: ReturnType<typeof import('./progress-lines.mjs').progressLines>, json: boolean, quiet: boolean }} opts
 */
export function pageProgress({ lines, json, quiet }) {
  let lastNote = '';
  let streamed = '';
  /** Set once the final text is printed: pieces still in flight from the page are in it already. */
  let streamClosed = false;
  /** @type {{ fraction: number, etaSeconds: number | null } | null} */
  let overall = null;

  /** A status line, unless it repeats the one before. @param {string} text */
  function note(text) {
    if (text !== lastNote) lines.note(text);
    lastNote = text;
  }

  /** The whole run's figure, appended to the current step's line. */
  const overallText = () =>
    overall
      ? `run ${Math.floor(100 * overall.fraction)} %${overall.etaSeconds != null ? ` · ETA ${formatDuration(overall.etaSeconds)}` : ''}`
      : undefined;

  /**
   * A cache event of one file: checking, downloading, stored as one updating line; cached, absent
   * and failed as a line each.
   * @param {any} e
   */
  function fileProgress(e) {
    const key = `file:${e.model}:${e.file}`;
    if (e.phase === 'cached' || e.phase === 'absent' || e.phase === 'failed')
      return lines.finish(key, `${e.file}: ${e.phase}${e.phase === 'cached' && e.total ? ` (${formatBytes(e.total)})` : ''}`);
    lines.update(key, {
      label: `${e.file}: ${e.phase}`,
      done: e.loaded,
      total: e.total ?? null,
      unit: 'bytes',
      final: e.phase === 'stored',
    });
  }

  /** @param {any} ev a run's event */
  function runEvent(ev) {
    if (ev.phase === 'download') return fileProgress(ev.progress);
    if (ev.phase === 'compress') {
      const fraction = ev.fraction ?? 0;
      return lines.update(`compress:${ev.variant}`, {
        label: `[${ev.variant}] compress`,
        done: 100 * fraction,
        total: 100,
        unit: 'percent',
        detail: [ev.message, overallText()].filter(Boolean).join(' · '),
        final: false,
      });
    }
    if (ev.phase === 'evaluate')
      return lines.update(`evaluate:${ev.variant}:${ev.perspective}:${ev.mode}`, {
        label: `[${ev.variant} · ${ev.perspective} ${ev.mode}]`,
        done: ev.done,
        total: ev.total,
        noun: 'items',
        detail: [ev.reused ? `${ev.reused} reused` : '', overallText()].filter(Boolean).join(' · '),
      });
    if (ev.phase === 'graph')
      return lines.update(`graph:${ev.variant}`, {
        label: `[${ev.variant}] building the ONNX graph:`,
        done: ev.done,
        total: ev.total,
        unit: 'bytes',
        detail: overallText(),
      });
    if (ev.phase === 'fidelity')
      return lines.update(`fidelity:${ev.variant}`, {
        label: `[${ev.variant}] fidelity to dense`,
        done: ev.done,
        total: ev.total,
        noun: 'windows',
        detail: overallText(),
      });
    if (ev.phase === 'load') {
      lines.close();
      return note(`[${ev.variant}] loading and measuring its speed`);
    }
    if (ev.phase === 'variant-done') {
      lines.close();
      note(`[${ev.variant}] done${overall ? ` · ${overallText()}` : ''}`);
    }
    if (ev.phase === 'done') lines.close();
    if (ev.phase === 'error') {
      lines.close();
      note(`run stopped: ${ev.message}`);
    }
  }

  /** @param {any} p a compression's progress */
  function compressProgress(p) {
    if (p.phase === 'compress' && p.layers)
      return lines.update('compress', {
        label: 'compress:',
        done: p.fraction * p.layers,
        total: p.layers,
        noun: 'layers',
        per: 'min',
        detail: String(p.message).replace(/^layer \d+\/\d+: /, ''),
        final: false,
      });
    if (p.phase === 'store' && p.total)
      return lines.update(`store:${p.file}`, { label: `storing ${p.file}:`, done: p.done, total: p.total, unit: 'bytes' });
    lines.close();
    return note(p.message);
  }

  return {
    /** @param {any} e what the page sends to `window.__ctlabProgress` */
    onProgress(e) {
      if (!e) return;
      if (e.phase === 'text') {
        if (streamClosed) return;
        // Streamed generation goes to stdout unless stdout is reserved for JSON.
        lines.close();
        if (!json) process.stdout.write(e.text);
        streamed += e.text;
        return;
      }
      if (quiet) return;
      if (e.phase === 'run') {
        if (e.overall) overall = e.overall;
        return runEvent(e.event);
      }
      if (e.phase === 'status') return note(e.message);
      if (e.phase === 'graph')
        return lines.update('graph', { label: 'building the ONNX graph:', done: e.done, total: e.total, unit: 'bytes' });
      if (e.phase === 'compress') return compressProgress(e.progress);
      fileProgress(e);
    },
    /** Ends the stream of generated text; returns what of it was printed. */
    closeStream() {
      streamClosed = true;
      return streamed;
    },
  };
}

/** @typedef {ReturnType<typeof pageProgress>} PageProgress */
