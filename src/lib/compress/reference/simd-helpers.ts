import { CPU_KERNELS_SHARED_WASM } from './simd-binary';

/**
 * Helper threads for the SIMD kernels whose outputs split into independent rows (the linear
 * kernels' tokens, AWQ's candidate rows, the lazy updates' rows): a second instance of the kernels
 * module per helper, on one shared WebAssembly memory, takes a share of a call while the caller
 * computes the rest. Each output row is computed whole by one thread with the same operations as
 * alone, so results are bit-identical with or without helpers.
 *
 * A call is synchronous for its caller: it hands each helper its job through a small shared
 * control block (Atomics), does its own share, then waits for theirs. The runtime starts the
 * helpers once (`startSimdHelpers`) with a way to start a thread: a web Worker from a Blob
 * (`webHelperSpawn`) where the page is cross-origin isolated, or Node's `worker_threads`.
 */

/** What a helper thread gets: the module, the shared memory and its control block. */
export interface HelperInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: Int32Array;
}

export interface HelperHandle {
  terminate(): void;
}

/** Starts one thread running `code` (plain JavaScript) with `init`; resolves once it is ready. */
export type HelperSpawn = (code: string, init: HelperInit) => Promise<HelperHandle>;

/** The kernels a helper runs, by the index the control block carries. */
const JOB_KERNELS = ['linear', 'linear32', 'scaledQuantize', 'subtractSum', 'subtractEach'] as const;
export type SharedKernel = (typeof JOB_KERNELS)[number];

/** The control block's slots (Int32). */
const JOB = 0; // the job's sequence number, raised by the caller (−1: stop)
const DONE = 1; // the last job finished, set by the helper
const KIND = 2; // index into JOB_KERNELS
const ARGS = 3; // the kernel's arguments (byte offsets and sizes, read as unsigned)
const MAX_ARGS = 12;
const FAILED = ARGS + MAX_ARGS; // 1 when the helper's kernel threw (the caller then runs that share itself)
const COUNT = FAILED + 1; // jobs the helper has done
const PROBE = COUNT + 1; // stays 0: a zero-timeout wait on it tells whether this thread may block
const LOST = PROBE + 1; // 1 once the helper's thread has gone (`helperLost`)
const CONTROL_SLOTS = LOST + 1;
/** Checks of a helper's done slot before the caller sleeps on it (on the order of 100 µs). */
const SPIN_CHECKS = 20_000;

/**
 * The helper's program: plain JavaScript for a web Worker (its first message is the init) or a
 * Node worker (`workerData`). It blocks on the job slot, runs the kernel, reports and blocks again.
 */
export const HELPER_CODE = `
const names = ${JSON.stringify(JOB_KERNELS)};
const run = (init, ready) => {
  const kernels = new WebAssembly.Instance(init.module, { env: { memory: init.memory } }).exports;
  const c = init.control;
  ready();
  let seen = 0;
  for (;;) {
    // Jobs come in runs (a candidate's rows, then its product): a short spin catches the next one
    // before sleeping, which would add tens of microseconds to wake.
    for (let spin = 0; spin < ${SPIN_CHECKS} && Atomics.load(c, ${JOB}) === seen; spin++);
    Atomics.wait(c, ${JOB}, seen);
    const job = Atomics.load(c, ${JOB});
    if (job === seen) continue;
    if (job < 0) return;
    seen = job;
    try {
      const args = [];
      for (let i = 0; i < ${MAX_ARGS}; i++) args.push(c[${ARGS} + i] >>> 0);
      kernels[names[c[${KIND}]]](...args);
      c[${FAILED}] = 0;
    } catch {
      c[${FAILED}] = 1;
    }
    Atomics.add(c, ${COUNT}, 1);
    Atomics.store(c, ${DONE}, job);
    Atomics.notify(c, ${DONE});
  }
};
if (typeof require === 'function') {
  const { workerData, parentPort } = require('node:worker_threads');
  run(workerData, () => parentPort.postMessage('ready'));
} else {
  self.onmessage = (e) => run(e.data, () => self.postMessage('ready'));
}
`;

interface Helper {
  control: Int32Array;
  handle: HelperHandle;
  seq: number;
}

/** The caller's instance of the shared-memory module: the same exports as the plain one's. */
type SharedKernels = { memory: WebAssembly.Memory } & Record<SharedKernel, (...args: number[]) => void>;

let pool: { kernels: SharedKernels; helpers: Helper[] } | null = null;
let starting: Promise<number> | null = null;

/** Whether this thread may block on Atomics.wait (workers and Node: yes; a page's main thread: no). */
let canBlock: boolean | undefined;
function blockingAllowed(c: Int32Array): boolean {
  if (canBlock === undefined) {
    try {
      Atomics.wait(c, PROBE, 1, 0);
      canBlock = true;
    } catch {
      canBlock = false;
    }
  }
  return canBlock;
}

/**
 * Starts `count` helper threads (once; later calls return the number running). Resolves to the
 * number started: 0 where shared memory is unavailable (a page that is not cross-origin isolated)
 * or a thread fails to start, in which case the kernels run on the calling thread alone.
 */
export function startSimdHelpers(count: number, spawn: HelperSpawn): Promise<number> {
  if (pool) return Promise.resolve(pool.helpers.length);
  starting ??= (async () => {
    if (count < 1 || typeof SharedArrayBuffer === 'undefined') return 0;
    const helpers: Helper[] = [];
    try {
      const bytes = Uint8Array.from(atob(CPU_KERNELS_SHARED_WASM), (ch) => ch.charCodeAt(0));
      const module = await WebAssembly.compile(bytes);
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
      const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SharedKernels;
      for (let i = 0; i < count; i++) {
        const control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
        helpers.push({ control, handle: await spawn(HELPER_CODE, { module, memory, control }), seq: 0 });
      }
      pool = { kernels, helpers };
      return count;
    } catch {
      for (const h of helpers) h.handle.terminate();
      return 0;
    } finally {
      starting = null;
    }
  })();
  return starting;
}

/**
 * Marks a helper's thread as gone (it exited or failed after starting); spawners call it from the
 * thread's exit or error event. A caller waiting on that helper stops waiting, runs the share
 * itself and stops the helpers: the work goes on, on this thread alone.
 */
export function helperLost(control: Int32Array): void {
  Atomics.store(control, LOST, 1);
  Atomics.notify(control, DONE);
}

/** Each helper's state (tests check that a lost helper is noticed). */
export function simdHelperStates(): ('running' | 'lost')[] {
  return pool ? pool.helpers.map((h) => (Atomics.load(h.control, LOST) ? 'lost' : 'running')) : [];
}

/** Stops the helpers; the kernels go back to the calling thread alone. */
export function stopSimdHelpers(): void {
  if (!pool) return;
  for (const h of pool.helpers) {
    Atomics.store(h.control, JOB, -1);
    Atomics.notify(h.control, JOB);
    h.handle.terminate();
  }
  pool = null;
}

/** The caller's instance on the shared memory (its exports) and the number of helpers, or null when none run. */
export function simdPool(): { exports: unknown; helpers: number } | null {
  return pool ? { exports: pool.kernels, helpers: pool.helpers.length } : null;
}

/** Jobs each helper has done since it started (tests check the work was shared). */
export function simdHelperJobs(): number[] {
  return pool ? pool.helpers.map((h) => Atomics.load(h.control, COUNT)) : [];
}

/**
 * One kernel call split into shares: `shares[0]` (its arguments) runs on this thread, share i on
 * helper i − 1 (at most one per helper; an empty list skips nothing). Every share must write
 * only its own part of the outputs. Returns once all are done; a share whose helper failed is
 * run here.
 */
export function runShared(kernel: SharedKernel, shares: number[][]): void {
  const { kernels, helpers } = pool!;
  if (shares.length > helpers.length + 1) throw new Error(`${shares.length} shares for ${helpers.length} helper threads and this one`);
  const jobs: { h: Helper; args: number[] }[] = [];
  for (let i = 1; i < shares.length; i++) {
    const h = helpers[i - 1];
    const c = h.control;
    const args = shares[i];
    c[KIND] = JOB_KERNELS.indexOf(kernel);
    for (let a = 0; a < MAX_ARGS; a++) c[ARGS + a] = args[a] ?? 0;
    h.seq++;
    Atomics.store(c, JOB, h.seq);
    Atomics.notify(c, JOB);
    jobs.push({ h, args });
  }
  kernels[kernel](...shares[0]);
  let lost = false;
  for (const { h, args } of jobs) {
    const c = h.control;
    const waiting = () => Atomics.load(c, DONE) !== h.seq && Atomics.load(c, LOST) === 0;
    // The helper's share takes about as long as ours: a short spin usually sees it finish, and
    // only a longer wait sleeps (a sleeping thread takes tens of microseconds to wake).
    for (let spin = 0; spin < SPIN_CHECKS && waiting(); spin++);
    if (blockingAllowed(c)) while (waiting()) Atomics.wait(c, DONE, Atomics.load(c, DONE), 1000);
    else while (waiting());
    if (Atomics.load(c, LOST)) lost = true;
    if (lost || c[FAILED]) kernels[kernel](...args);
  }
  if (lost) stopSimdHelpers();
}

/** Rows [0, n) in runs of a multiple of `tile` rows, one per thread (fewer when n is small): [first, count] pairs. */
export function rowShares(n: number, tile = 4): [number, number][] {
  const threads = (pool?.helpers.length ?? 0) + 1;
  const per = Math.ceil(n / threads / tile) * tile;
  const out: [number, number][] = [];
  for (let r0 = 0; r0 < n; r0 += per) out.push([r0, Math.min(per, n - r0)]);
  return out;
}

/**
 * `which` over tokens [0, S) split among the caller and the helpers in runs of four tokens (the
 * kernels' tile): x and y advance by whole token rows, so every token's outputs are what a single
 * call computes. All offsets are bytes in the pool's memory.
 */
export function sharedLinear(which: 'linear' | 'linear32', x: number, w4: number, S: number, inF: number, outF: number, y: number): void {
  runShared(
    which,
    rowShares(S).map(([s0, n]) => [x + s0 * inF * 4, w4, n, inF, outF, y + s0 * outF * 4]),
  );
}

/** Starts helper threads as web Workers from a Blob URL (pages and workers that are cross-origin isolated). */
export const webHelperSpawn: HelperSpawn = (code, init) =>
  new Promise((resolve, reject) => {
    const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
    const worker = new Worker(url);
    worker.onmessage = () => {
      URL.revokeObjectURL(url);
      worker.onerror = () => helperLost(init.control);
      resolve({ terminate: () => worker.terminate() });
    };
    worker.onerror = (e) => {
      URL.revokeObjectURL(url);
      worker.terminate();
      reject(new Error(`SIMD helper thread failed to start: ${e.message}`));
    };
    worker.postMessage(init);
  });

/**
 * Helper threads where a page or its worker runs the engine: every core but this one (at most
 * three), when the page is cross-origin isolated (shared memory needs it); otherwise none.
 */
export function startWebSimdHelpers(
  scope: { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } } = globalThis,
): Promise<number> {
  if (scope.crossOriginIsolated !== true || typeof Worker === 'undefined') return Promise.resolve(0);
  return startSimdHelpers(Math.min(3, (scope.navigator?.hardwareConcurrency ?? 1) - 1), webHelperSpawn);
}
