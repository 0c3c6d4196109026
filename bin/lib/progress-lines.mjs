// @ts-check
// Progress on stderr, one line per phase: on a terminal the line is rewritten in place; in a
// log (no TTY) a phase prints a line at most every few seconds and always its last one, so a
// long download or graph build shows that it moves without filling the log.

/**
 * One report of a phase's progress.
 * @typedef {object} Tick
 * @property {string} label what is going on, e.g. `model.safetensors: downloading`
 * @property {number} done
 * @property {number | null} total null when unknown
 * @property {'bytes' | 'count' | 'percent'} [unit] default count; percent: `done` of 100
 * @property {string} [noun] what a count counts (`layers`, `items`)
 * @property {'s' | 'min'} [per] the rate's time unit for counts (bytes are always per second)
 * @property {string} [detail] appended after the figures
 * @property {boolean} [final] the phase's last tick; default: done reached a known total
 */

/** @param {number} n */
export function formatBytes(n) {
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

/** @param {number} seconds */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * A tick as one line. `elapsedMs` and `rate` (units per millisecond, measured since the phase's
 * first tick) give the rate and the time left; a finished phase shows how long it took instead.
 * @param {Tick} t
 * @param {number} elapsedMs
 * @param {number | null} rate
 */
export function tickLine(t, elapsedMs, rate) {
  const bytes = t.unit === 'bytes';
  const final = isFinal(t);
  const count = (/** @type {number} */ v) => String(Math.floor(v));
  const percent = t.unit === 'percent';
  const figures = bytes
    ? t.total != null
      ? `${formatBytes(t.done)} / ${formatBytes(t.total)}`
      : formatBytes(t.done)
    : percent
      ? `${count(t.done)} %`
      : `${count(t.done)}${t.total != null ? `/${count(t.total)}` : ''}${t.noun ? ` ${t.noun}` : ''}`;
  const share = t.total && !percent ? ` (${Math.floor((100 * Math.min(t.done, t.total)) / t.total)} %)` : '';
  const parts = [`${t.label} ${figures}${share}`];
  if (rate !== null && rate > 0) {
    const perMs = t.per === 'min' || percent ? 60_000 : 1000;
    const r = rate * perMs;
    const figure = r < 10 ? r.toFixed(1) : String(Math.round(r));
    if (bytes) parts.push(`${formatBytes(rate * 1000)}/s`);
    else if (percent) parts.push(`${figure} %/min`);
    else parts.push(`${figure} ${t.noun ?? 'done'}/${t.per ?? 's'}`);
  }
  if (final) parts.push(`in ${formatDuration(elapsedMs / 1000)}`);
  else if (rate !== null && rate > 0 && t.total != null && t.done < t.total)
    parts.push(`ETA ${formatDuration((t.total - t.done) / rate / 1000)}`);
  if (t.detail) parts.push(t.detail);
  return parts.join(' · ');
}

/** @param {Tick} t */
function isFinal(t) {
  return t.final ?? (t.total != null && t.done >= t.total);
}

/**
 * @param {object} opts
 * @param {{ write: (s: string) => unknown, isTTY?: boolean, columns?: number }} opts.stream
 * @param {boolean} [opts.tty] rewrite lines in place (default: the stream is a TTY)
 * @param {() => number} [opts.now] milliseconds
 * @param {number} [opts.plainEveryMs] off a TTY, the least time between two lines of a phase
 * @param {number} [opts.redrawEveryMs] on a TTY, the least time between two redraws
 * @param {number} [opts.minRateMs] the time a phase must have run before its rate is shown
 */
export function progressLines({
  stream,
  tty = Boolean(stream.isTTY),
  now = () => Date.now(),
  plainEveryMs = 5000,
  redrawEveryMs = 100,
  minRateMs = 1000,
}) {
  /**
   * The phase whose line is current.
   * @type {{ key: string, startMs: number, startDone: number, shownMs: number, line: string, shown: boolean, open: boolean } | null}
   */
  let current = null;
  /** The phase that ended last with a final tick, whose repeats (a file's "stored" after its last record) are dropped. */
  let finished = { key: '', done: NaN };

  /** On a TTY the line must not wrap, or `\r` would rewrite only its last row. */
  const fit = (/** @type {string} */ line) => {
    const width = tty && stream.columns ? stream.columns - 1 : Infinity;
    return line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line;
  };

  /** Ends the current phase: its last line is printed (off a TTY) or its rewritten line ended. */
  function close() {
    if (!current) return;
    if (tty) {
      if (current.open) stream.write(`\r\x1b[2K${fit(current.line)}\n`);
    } else if (!current.shown) stream.write(`${current.line}\n`);
    current = null;
  }

  return {
    /**
     * @param {string} key the phase; a new key ends the phase before it
     * @param {Tick} tick
     */
    update(key, tick) {
      const t = now();
      if (!current && key === finished.key && tick.done === finished.done && isFinal(tick)) return;
      if (current?.key !== key) {
        close();
        current = { key, startMs: t, startDone: tick.done, shownMs: t, line: '', shown: false, open: false };
      }
      const elapsed = t - current.startMs;
      const rate = elapsed >= minRateMs && tick.done > current.startDone ? (tick.done - current.startDone) / elapsed : null;
      const line = tickLine(tick, elapsed, rate);
      const final = isFinal(tick);
      if (line !== current.line) current.shown = false;
      current.line = line;
      if (tty) {
        if (final || !current.open || t - current.shownMs >= redrawEveryMs) {
          stream.write(`\r\x1b[2K${fit(line)}`);
          current.shownMs = t;
          current.open = true;
          current.shown = true;
        }
      } else if (final || t - current.shownMs >= plainEveryMs) {
        if (!current.shown) stream.write(`${line}\n`);
        current.shownMs = t;
        current.shown = true;
      }
      if (final) {
        if (tty) stream.write('\n');
        current = null;
        finished = { key, done: tick.done };
      }
    },
    /**
     * Ends phase `key` with `text` as its last line, in place of its figures (a file found
     * cached, or absent after it was being checked); any other current phase ends first.
     * @param {string} key
     * @param {string} text
     */
    finish(key, text) {
      if (current?.key === key) {
        if (tty) stream.write(`\r\x1b[2K${fit(text)}\n`);
        else stream.write(`${text}\n`);
        current = null;
      } else {
        close();
        stream.write(`${text}\n`);
      }
    },
    /** A line of its own (a status, a warning); on a TTY it goes above the phase's line. */
    note(/** @type {string} */ text) {
      if (tty && current?.open) {
        stream.write(`\r\x1b[2K${text}\n${fit(current.line)}`);
        current.shown = true;
      } else stream.write(`${text}\n`);
    },
    close,
  };
}
