import type { RunEvent } from './orchestrator';

export interface PhaseProgress {
  label: string;
  done: number;
  total: number | null;
  detail?: string;
}

/** A run's progress as people read it: one line per phase, with counts and an ETA for evaluation. */
export interface RunProgressView {
  download: PhaseProgress | null;
  compress: Record<string, PhaseProgress>;
  evaluate: Record<string, PhaseProgress>;
  current: string;
  /** Seconds left in the current evaluation cell, from its own rate so far. */
  etaSeconds: number | null;
}

export function emptyProgress(): RunProgressView {
  return { download: null, compress: {}, evaluate: {}, current: 'starting', etaSeconds: null };
}

/** Folds one event into the view; `now` (ms) drives the ETA. */
export function applyEvent(
  view: RunProgressView,
  e: RunEvent,
  now: number,
  started: Map<string, { at: number; base: number }>,
): RunProgressView {
  switch (e.phase) {
    case 'download': {
      const p = e.progress;
      view.download = { label: 'download', done: p.loaded, total: p.total, detail: `${p.file}: ${p.phase}` };
      view.current = `downloading ${p.file}`;
      break;
    }
    case 'compress':
      view.compress[e.variant] = { label: e.variant, done: e.fraction ?? 0, total: 1, detail: e.message };
      view.current = `compressing ${e.variant}: ${e.message}`;
      break;
    case 'evaluate': {
      const key = `${e.variant} · ${e.perspective} (${e.mode})`;
      view.evaluate[key] = { label: key, done: e.done, total: e.total, detail: e.reused ? `${e.reused} reused` : undefined };
      view.current = `evaluating ${key}`;
      const first = started.get(key);
      if (!first) started.set(key, { at: now, base: e.done });
      else {
        const rate = (e.done - first.base) / Math.max(1, now - first.at);
        view.etaSeconds = rate > 0 ? (e.total - e.done) / rate / 1000 : null;
      }
      break;
    }
    case 'variant-done':
      view.current = `${e.variant} done`;
      break;
    case 'done':
      view.current = 'finished';
      view.etaSeconds = 0;
      break;
    case 'error':
      view.current = e.message;
      break;
  }
  return view;
}
