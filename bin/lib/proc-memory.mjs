// @ts-check
// Memory of one browser's processes, read from /proc (Linux). A browser is the process whose
// command line names its profile directory, plus every process below it (zygotes, renderers,
// the GPU process, which holds SwiftShader's "GPU" memory, utilities). Each process counts its
// PSS, so pages shared between them (the Chromium binary, shared memory) are split rather than
// counted once per process; RSS, which double-counts them, only where smaps_rollup is unreadable.
import { readFileSync, readdirSync } from 'node:fs';

/** @param {string} path */
function read(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Parent pid of every process, from /proc/<pid>/stat (the comm field may hold spaces and parentheses). */
function parents() {
  /** @type {Map<number, number>} */
  const ppid = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ppid.set(Number(name), Number(fields[1]));
  }
  return ppid;
}

/**
 * The processes of the browser using `profile`: those whose command line holds
 * `--user-data-dir=<profile>`, and all their descendants.
 * @param {string} profile
 */
export function browserPids(profile) {
  const ppid = parents();
  const flag = `--user-data-dir=${profile}`;
  const roots = [...ppid.keys()].filter((pid) => (read(`/proc/${pid}/cmdline`) ?? '').split('\0').includes(flag));
  const found = new Set(roots);
  // Children can appear before their parents in the listing: repeat until nothing is added.
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, parent] of ppid)
      if (!found.has(pid) && found.has(parent)) {
        found.add(pid);
        grew = true;
      }
  }
  return [...found];
}

/**
 * Bytes one process holds: the Pss line of smaps_rollup, else VmRSS of status; null once it exited.
 * @param {number} pid
 * @returns {{ bytes: number, method: 'pss' | 'rss' } | null}
 */
export function processMemory(pid) {
  const rollup = read(`/proc/${pid}/smaps_rollup`);
  const pss = rollup && /^Pss:\s+(\d+) kB$/m.exec(rollup);
  if (pss) return { bytes: Number(pss[1]) * 1024, method: 'pss' };
  const status = read(`/proc/${pid}/status`);
  const rss = status && /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (rss) return { bytes: Number(rss[1]) * 1024, method: 'rss' };
  return null;
}

/** @param {string} profile */
export function browserMemory(profile) {
  let bytes = 0;
  let processes = 0;
  /** @type {Set<'pss' | 'rss'>} */
  const methods = new Set();
  for (const pid of browserPids(profile)) {
    const m = processMemory(pid);
    if (!m) continue;
    bytes += m.bytes;
    processes++;
    methods.add(m.method);
  }
  return { bytes, processes, methods };
}

/**
 * Samples a browser's memory every `intervalMs` until stopped, and reports the peak over any
 * span of the run: `mark()` a start, later `peakSince(start)`.
 * @param {string} profile
 * @param {number} [intervalMs]
 */
export function memorySampler(profile, intervalMs = 250) {
  /** @type {{ t: number, bytes: number }[]} */
  const samples = [];
  /** @type {Set<'pss' | 'rss'>} */
  const methods = new Set();
  let maxProcesses = 0;
  const sample = () => {
    const m = browserMemory(profile);
    if (m.processes === 0) return;
    samples.push({ t: performance.now(), bytes: m.bytes });
    for (const k of m.methods) methods.add(k);
    maxProcesses = Math.max(maxProcesses, m.processes);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    /** Takes a sample now and returns its bytes (0 when the browser has no process yet). */
    current() {
      sample();
      const last = samples[samples.length - 1];
      return last ? last.bytes : 0;
    },
    /** Takes a sample now and returns its time, the start of a span. */
    mark() {
      sample();
      return performance.now();
    },
    /** The largest sample since `start` (a sample is taken now too); 0 when none was taken. */
    peakSince(start = 0) {
      sample();
      return samples.reduce((peak, s) => (s.t >= start && s.bytes > peak ? s.bytes : peak), 0);
    },
    stop() {
      clearInterval(timer);
      return { samples: samples.length, processes: maxProcesses, method: methods.size === 1 ? [...methods][0] : [...methods].join('+') };
    },
  };
}
