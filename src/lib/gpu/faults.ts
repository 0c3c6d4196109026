/**
 * WebGPU reports most failures out of band: an allocation over a limit or past the memory
 * budget, or an invalid dispatch, hands back an object that silently does nothing, and a later
 * readback then returns whatever the staging buffer held (zeros) as if it were a result. Every
 * allocation and submit in this module runs inside error scopes whose results are collected per
 * device; every readback settles them first and throws instead of returning data. Errors outside
 * any scope (`uncapturederror`) and the loss of the device are recorded the same way.
 */

export type GpuFaultKind = 'out-of-memory' | 'validation' | 'internal';

/** A WebGPU operation failed; its output must not be used. */
export class GpuFaultError extends Error {
  override name = 'GpuFaultError';
  constructor(
    message: string,
    readonly kind: GpuFaultKind,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The device went away (destroyed, driver reset, GPU process crash); nothing on it survives. */
export class GpuDeviceLostError extends Error {
  override name = 'GpuDeviceLostError';
}

export function isGpuError(err: unknown): err is GpuFaultError | GpuDeviceLostError {
  return err instanceof GpuFaultError || err instanceof GpuDeviceLostError;
}

interface DeviceState {
  /** Popped scopes not yet looked at, with what they guarded. */
  pending: Array<{ what: string; errors: Promise<Array<GPUError | null>> }>;
  uncaptured: GPUError[];
  lost: GPUDeviceLostInfo | null;
}

const states = new WeakMap<GPUDevice, DeviceState>();

/** Starts recording a device's uncaptured errors and its loss (idempotent). */
export function watchDevice(device: GPUDevice): void {
  stateOf(device);
}

function stateOf(device: GPUDevice): DeviceState {
  let state = states.get(device);
  if (!state) {
    const s: DeviceState = { pending: [], uncaptured: [], lost: null };
    device.addEventListener('uncapturederror', (e) => void s.uncaptured.push((e as GPUUncapturedErrorEvent).error));
    void device.lost.then((info) => (s.lost = info));
    states.set(device, (state = s));
  }
  return state;
}

/** True once the device's `lost` promise has resolved (as far as this module has seen). */
export function isDeviceLost(device: GPUDevice): boolean {
  return stateOf(device).lost !== null;
}

const SCOPES: GPUErrorFilter[] = ['out-of-memory', 'validation', 'internal'];

/**
 * Runs synchronous WebGPU calls (allocations, encoding, submits) inside error scopes; what they
 * report is checked by the next `settle` on the same device.
 */
export function scoped<T>(device: GPUDevice, what: string, work: () => T): T {
  const state = stateOf(device);
  for (const f of SCOPES) device.pushErrorScope(f);
  try {
    return work();
  } finally {
    // Popped in reverse order of pushing; a lost device may reject the pops, which says nothing new.
    const errors = Promise.all(
      SCOPES.map(() =>
        device.popErrorScope().then(
          (e) => e,
          () => null,
        ),
      ),
    );
    state.pending.push({ what, errors });
  }
}

function describe(e: GPUError): { kind: GpuFaultKind; text: string } {
  if (typeof GPUOutOfMemoryError !== 'undefined' && e instanceof GPUOutOfMemoryError)
    return {
      kind: 'out-of-memory',
      text: `the GPU ran out of memory (${e.message}); close other tabs that use the GPU or choose a smaller model`,
    };
  if (typeof GPUValidationError !== 'undefined' && e instanceof GPUValidationError)
    return { kind: 'validation', text: `WebGPU validation error: ${e.message}` };
  return { kind: 'internal', text: `WebGPU internal error: ${e.message}` };
}

export function lostError(device: GPUDevice, cause?: unknown): GpuDeviceLostError {
  const info = stateOf(device).lost;
  const why = info
    ? `${info.reason}${info.message ? `: ${info.message}` : ''}`
    : cause instanceof Error
      ? cause.message
      : 'no reason given';
  return new GpuDeviceLostError(`the WebGPU device was lost (${why}); its results are gone`, { cause });
}

/**
 * Throws the first error any scoped call on this device reported since the last settle, any
 * uncaptured error, or the device's loss. Readbacks call it before handing out data.
 */
export async function settle(device: GPUDevice): Promise<void> {
  const state = stateOf(device);
  const pending = state.pending;
  state.pending = [];
  const results = await Promise.all(pending.map(async (p) => ({ what: p.what, errors: await p.errors })));
  if (state.lost) throw lostError(device);
  for (const r of results) {
    const e = r.errors.find((x): x is GPUError => x !== null);
    if (e) {
      const d = describe(e);
      throw new GpuFaultError(`${d.text} (while ${r.what})`, d.kind);
    }
  }
  const u = state.uncaptured.shift();
  if (u) {
    const d = describe(u);
    throw new GpuFaultError(`${d.text} (reported outside any error scope)`, d.kind);
  }
}

/**
 * After a failed `mapAsync`: a lost device explains it. The loss is reported through a promise
 * that may resolve a moment after the map's rejection, so give it one task to arrive.
 */
export async function explainFailedRead(device: GPUDevice, cause: unknown): Promise<Error> {
  const state = stateOf(device);
  if (!state.lost) await Promise.race([device.lost, new Promise((r) => setTimeout(r, 0))]);
  if (state.lost) return lostError(device, cause);
  try {
    await settle(device);
  } catch (err) {
    return err as Error;
  }
  return cause instanceof Error ? cause : new Error(String(cause));
}
