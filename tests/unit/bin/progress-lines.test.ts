import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, progressLines, tickLine } from '../../../bin/lib/progress-lines.mjs';

/** A stream that records what was written, and a clock the test moves. */
function setup(tty: boolean, columns?: number) {
  let written = '';
  let t = 0;
  const stream = { write: (s: string) => (written += s), isTTY: tty, columns };
  const lines = progressLines({ stream, now: () => t });
  return {
    lines,
    at: (ms: number) => (t = ms),
    out: () => written,
  };
}

const MB = 1_000_000;

describe('progress lines off a terminal', () => {
  it('prints a long phase every few seconds and its last line, a short one only once', () => {
    const { lines, at, out } = setup(false);
    // 100 ticks over 20 s, as a download reports each stored record.
    for (let i = 0; i <= 100; i++) {
      at(i * 200);
      lines.update('file', { label: 'model.safetensors: downloading', done: i * MB, total: 100 * MB, unit: 'bytes', final: false });
    }
    at(20_500);
    lines.update('file', { label: 'model.safetensors: stored', done: 100 * MB, total: 100 * MB, unit: 'bytes', final: true });
    const printed = out().trimEnd().split('\n');
    expect(printed.length).toBeLessThanOrEqual(6);
    expect(printed.length).toBeGreaterThanOrEqual(4);
    expect(printed[0]).toMatch(/^model\.safetensors: downloading 25\.0 MB \/ 100 MB \(25 %\) · 5\.00 MB\/s · ETA 15 s$/);
    expect(printed.at(-1)).toBe('model.safetensors: stored 100 MB / 100 MB (100 %) · 4.88 MB/s · in 21 s');
    expect(out()).not.toContain('\r');

    const short = setup(false);
    short.lines.update('cfg', { label: 'config.json: checking', done: 0, total: null, unit: 'bytes', final: false });
    short.at(30);
    short.lines.update('cfg', { label: 'config.json: stored', done: 700, total: 700, unit: 'bytes', final: true });
    expect(short.out()).toBe('config.json: stored 700 B / 700 B (100 %) · in 0 s\n');
  });

  it('ends a phase with its last line when another begins, and prints notes as they come', () => {
    const { lines, at, out } = setup(false);
    lines.update('compress', { label: 'compress:', done: 0, total: 30, noun: 'layers', per: 'min', final: false });
    at(60_000);
    lines.update('compress', { label: 'compress:', done: 12, total: 30, noun: 'layers', per: 'min', detail: 'gptq q_proj', final: false });
    at(60_500);
    lines.update('compress', {
      label: 'compress:',
      done: 12.5,
      total: 30,
      noun: 'layers',
      per: 'min',
      detail: 'gptq k_proj',
      final: false,
    });
    lines.note('a warning');
    at(61_000);
    lines.update('store', { label: 'storing model.safetensors:', done: 0, total: 4 * MB, unit: 'bytes' });
    lines.close();
    expect(out().split('\n')).toEqual([
      'compress: 12/30 layers (40 %) · 12 layers/min · ETA 1 min 30 s · gptq q_proj',
      'a warning',
      'compress: 12/30 layers (41 %) · 12 layers/min · ETA 1 min 25 s · gptq k_proj',
      'storing model.safetensors: 0 B / 4.00 MB (0 %)',
      '',
    ]);
  });
});

describe('ending a phase', () => {
  it('replaces a held line with the closing text, and drops a repeated final tick', () => {
    for (const tty of [false, true]) {
      const { lines, out } = setup(tty);
      lines.update('file:a', { label: 'a.json: checking', done: 0, total: null, unit: 'bytes', final: false });
      lines.finish('file:a', 'a.json: absent');
      lines.update('graph', { label: 'graph:', done: 10, total: 10, unit: 'bytes' });
      lines.update('graph', { label: 'graph:', done: 10, total: 10, unit: 'bytes' });
      lines.finish('file:b', 'b.json: cached (1 kB)');
      const text = out().replaceAll('\r\x1b[2K', '');
      expect(text.split('\n').filter((l) => l !== '')).toEqual(
        tty
          ? ['a.json: checking 0 Ba.json: absent', 'graph: 10 B / 10 B (100 %) · in 0 s', 'b.json: cached (1 kB)']
          : ['a.json: absent', 'graph: 10 B / 10 B (100 %) · in 0 s', 'b.json: cached (1 kB)'],
      );
    }
  });
});

describe('progress lines on a terminal', () => {
  it('rewrites one line per phase, redraws at most every 100 ms, and ends it when the phase is done', () => {
    const { lines, at, out } = setup(true);
    lines.update('graph', { label: 'building the ONNX graph:', done: 0, total: 2 * MB, unit: 'bytes' });
    at(50);
    lines.update('graph', { label: 'building the ONNX graph:', done: MB / 2, total: 2 * MB, unit: 'bytes' });
    at(2000);
    lines.update('graph', { label: 'building the ONNX graph:', done: MB, total: 2 * MB, unit: 'bytes' });
    lines.note('writing model.onnx_data of the ONNX graph (1 of 1)');
    at(4000);
    lines.update('graph', { label: 'building the ONNX graph:', done: 2 * MB, total: 2 * MB, unit: 'bytes' });
    const clear = '\r\x1b[2K';
    expect(out()).toBe(
      [
        `${clear}building the ONNX graph: 0 B / 2.00 MB (0 %)`,
        // The tick at 50 ms is skipped: too soon after the last redraw.
        `${clear}building the ONNX graph: 1.00 MB / 2.00 MB (50 %) · 500 kB/s · ETA 2 s`,
        `${clear}writing model.onnx_data of the ONNX graph (1 of 1)\nbuilding the ONNX graph: 1.00 MB / 2.00 MB (50 %) · 500 kB/s · ETA 2 s`,
        `${clear}building the ONNX graph: 2.00 MB / 2.00 MB (100 %) · 500 kB/s · in 4 s\n`,
      ].join(''),
    );
  });

  it('draws a throttled tick when the phase changes, and keeps lines within the terminal width', () => {
    const { lines, at, out } = setup(true, 40);
    lines.update('a', { label: 'evaluating', done: 1, total: 10, noun: 'items' });
    at(10);
    lines.update('a', { label: 'evaluating', done: 2, total: 10, noun: 'items' });
    lines.update('b', { label: 'a label far longer than the forty columns of this terminal', done: 0, total: 5 });
    lines.close();
    const rows = out().split('\n');
    expect(rows[0]).toBe('\r\x1b[2Kevaluating 1/10 items (10 %)\r\x1b[2Kevaluating 2/10 items (20 %)');
    expect(rows[1]).toBe('\r\x1b[2Ka label far longer than the forty colu…\r\x1b[2Ka label far longer than the forty colu…');
    for (const row of rows)
      expect(
        row
          .replaceAll('\r\x1b[2K', '\n')
          .split('\n')
          .every((l) => l.length <= 39),
      ).toBe(true);
  });
});

describe('progress figures', () => {
  it('formats bytes, durations, counts per minute and percentages', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1_500_000)).toBe('1.50 MB');
    expect(formatBytes(2_345_000_000)).toBe('2.35 GB');
    expect(formatBytes(512_000)).toBe('512 kB');
    expect(formatBytes(45_670_000)).toBe('45.7 MB');
    expect(formatDuration(59.4)).toBe('59 s');
    expect(formatDuration(339)).toBe('5 min 39 s');
    expect(formatDuration(7260)).toBe('2 h 01 min');
    // 6 items in 3 s: 2 items/s, 4 left.
    expect(tickLine({ label: '[dense · ethics generate]', done: 6, total: 10, noun: 'items' }, 3000, 6 / 3000)).toBe(
      '[dense · ethics generate] 6/10 items (60 %) · 2.0 items/s · ETA 2 s',
    );
    // 25 % in 10 minutes: 2.5 %/min, 30 minutes left.
    expect(tickLine({ label: '[rtn4] compress', done: 25, total: 100, unit: 'percent', detail: 'layer 3/12' }, 600_000, 25 / 600_000)).toBe(
      '[rtn4] compress 25 % · 2.5 %/min · ETA 30 min 00 s · layer 3/12',
    );
    // No rate yet: no ETA either.
    expect(tickLine({ label: 'x', done: 0, total: null, unit: 'bytes' }, 0, null)).toBe('x 0 B');
  });
});
