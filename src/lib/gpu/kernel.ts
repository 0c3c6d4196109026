import { explainFailedRead, scoped, settle } from './faults';
import { GRID_FIELDS, grids } from './limits';
import type { ParamFields, ParamsLayout, ParamValues } from './params';

/**
 * A compiled compute kernel: one WGSL module, one entry point, bindings in declaration order.
 * Pipelines are cached per device so repeated launches cost a dispatch, not a compile.
 */
export type Binding =
  | { kind: 'uniform'; data: ArrayBuffer }
  | { kind: 'read'; buffer: GPUBuffer; offset?: number; size?: number }
  | { kind: 'readwrite'; buffer: GPUBuffer; offset?: number; size?: number };

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();
const deviceOverrides = new WeakMap<GPUDevice, Record<string, number>>();

/**
 * Values of WGSL `override` constants that hold for every kernel on this device (e.g. the
 * quantizer's `REFINE_DIVISION`, chosen by `gpu/division.ts`). Pipelines are cached per value, so
 * a change takes effect at the next launch.
 */
export function setDeviceOverrides(device: GPUDevice, values: Record<string, number>): void {
  deviceOverrides.set(device, { ...deviceOverrides.get(device), ...values });
}

/** Each WGSL source's `override` names, found once: `pipelineFor` runs on every dispatch. */
const declaredOverrides = new Map<string, string[]>();

/** The device's override values that `code` declares (a value for an undeclared one is an error). */
function overridesFor(device: GPUDevice, code: string): Record<string, number> {
  let names = declaredOverrides.get(code);
  if (!names) declaredOverrides.set(code, (names = [...code.matchAll(/\boverride\s+(\w+)/g)].map((m) => m[1])));
  const all = deviceOverrides.get(device) ?? {};
  return Object.fromEntries(names.filter((n) => n in all).map((n) => [n, all[n]]));
}

/** Runs `fn` with `values` as the device's overrides, then puts back what they were. */
export async function withDeviceOverrides<T>(device: GPUDevice, values: Record<string, number>, fn: () => Promise<T>): Promise<T> {
  const before = { ...deviceOverrides.get(device) };
  setDeviceOverrides(device, values);
  try {
    return await fn();
  } finally {
    deviceOverrides.set(device, before);
  }
}

export function pipelineFor(device: GPUDevice, code: string, entryPoint = 'main'): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, (cache = new Map()));
  const constants = overridesFor(device, code);
  const key = `${entryPoint}\n${JSON.stringify(constants)}\n${code}`;
  let pipeline = cache.get(key);
  if (!pipeline) {
    pipeline = scoped(device, `compiling the compute shader entry point ${entryPoint}`, () =>
      device.createComputePipeline({
        layout: 'auto',
        compute: { module: device.createShaderModule({ code }), entryPoint, constants },
      }),
    );
    cache.set(key, pipeline);
  }
  return pipeline;
}

function uniformBuffer(device: GPUDevice, data: ArrayBuffer): GPUBuffer {
  return scoped(device, `allocating a ${data.byteLength}-byte uniform buffer`, () => {
    const buffer = device.createBuffer({
      size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  });
}

/**
 * Collects dispatches and copies into one command encoder, so a loop of kernels costs one
 * submit. Dispatches within the encoder run in order and see each other's storage writes.
 * Uniform buffers made here are destroyed once the queue has finished with them.
 */
export class Recorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private temporaries: GPUBuffer[] = [];

  constructor(readonly device: GPUDevice) {}

  private computePass(): GPUComputePassEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    this.pass ??= this.encoder.beginComputePass();
    return this.pass;
  }

  dispatch(code: string, bindings: Binding[], workgroups: [number, number?, number?], entryPoint = 'main'): void {
    const { device } = this;
    const pipeline = pipelineFor(device, code, entryPoint);
    const entries: GPUBindGroupEntry[] = bindings.map((b, binding) => {
      if (b.kind === 'uniform') {
        const buffer = uniformBuffer(device, b.data);
        this.temporaries.push(buffer);
        return { binding, resource: { buffer } };
      }
      return { binding, resource: { buffer: b.buffer, offset: b.offset ?? 0, size: b.size } };
    });
    scoped(device, `recording a dispatch of ${entryPoint} over ${workgroups.join('×')} workgroups`, () => {
      const pass = this.computePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
      pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    });
  }

  /**
   * Records a 1-D range of `workgroups` workgroups as one dispatch per grid (see `grids`). The
   * uniforms (binding 0) are `values` plus each grid's `base` and `nx`; storage follows.
   */
  dispatchRange<F extends ParamFields & typeof GRID_FIELDS>(
    code: string,
    params: ParamsLayout<F>,
    values: Omit<ParamValues<F>, keyof typeof GRID_FIELDS>,
    workgroups: number,
    maxDim: number,
    storage: Binding[],
    entryPoint = 'main',
  ): void {
    for (const g of grids(workgroups, maxDim)) {
      const data = params.write({ ...values, base: g.base, nx: g.x } as ParamValues<F>);
      this.dispatch(code, [{ kind: 'uniform', data }, ...storage], [g.x, g.y], entryPoint);
    }
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  /** Zeroes `size` bytes of `buffer` from `offset` (default: to its end). */
  clear(buffer: GPUBuffer, offset = 0, size?: number): void {
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.clearBuffer(buffer, offset, size);
  }

  /** Submits what was recorded (if anything); the recorder can be used again afterwards. */
  submit(): void {
    if (!this.encoder) return;
    const encoder = this.encoder;
    const pass = this.pass;
    // Errors of anything recorded in the encoder surface at finish() or submit().
    scoped(this.device, 'submitting recorded dispatches', () => {
      pass?.end();
      this.device.queue.submit([encoder.finish()]);
    });
    this.encoder = null;
    this.pass = null;
    const temps = this.temporaries;
    this.temporaries = [];
    const destroy = () => temps.forEach((t) => t.destroy());
    if (temps.length) void this.device.queue.onSubmittedWorkDone().then(destroy, destroy);
  }
}

/** Records and submits one dispatch. */
export function dispatch(
  device: GPUDevice,
  code: string,
  bindings: Binding[],
  workgroups: [number, number?, number?],
  entryPoint = 'main',
): void {
  const rec = new Recorder(device);
  rec.dispatch(code, bindings, workgroups, entryPoint);
  rec.submit();
}

export function uploadF32(device: GPUDevice, data: Float32Array, extraUsage = 0): GPUBuffer {
  return scoped(device, `uploading ${data.byteLength} bytes to a storage buffer`, () => {
    const buffer = device.createBuffer({
      size: Math.max(4, data.byteLength),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
    });
    device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  });
}

export async function readF32(device: GPUDevice, source: GPUBuffer, length: number): Promise<Float32Array> {
  return new Float32Array((await readBytes(device, source, length * 4)).buffer);
}

export function storageBuffer(device: GPUDevice, bytes: number, extraUsage = 0): GPUBuffer {
  return scoped(device, `allocating a ${bytes}-byte storage buffer`, () =>
    device.createBuffer({
      size: Math.max(16, Math.ceil(bytes / 4) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
    }),
  );
}

export function uploadU32(device: GPUDevice, data: Uint32Array, extraUsage = 0): GPUBuffer {
  const buffer = storageBuffer(device, data.byteLength, extraUsage);
  scoped(device, `uploading ${data.byteLength} bytes to a storage buffer`, () =>
    device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength),
  );
  return buffer;
}

/**
 * Copies `bytes` bytes from `offset` of a storage buffer back to the CPU. Throws rather than
 * returns when anything on the device failed since the last readback: a failed allocation or
 * submit leaves the staging buffer as it was (zeros), which must never pass for a result.
 */
export async function readBytes(device: GPUDevice, source: GPUBuffer, bytes: number, offset = 0): Promise<Uint8Array> {
  const size = Math.ceil(bytes / 4) * 4;
  const staging = scoped(device, `reading back ${bytes} bytes`, () => {
    const staging = device.createBuffer({ size: Math.max(4, size), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = device.createCommandEncoder();
    if (size > 0) encoder.copyBufferToBuffer(source, offset, staging, 0, size);
    device.queue.submit([encoder.finish()]);
    return staging;
  });
  try {
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (err) {
      throw await explainFailedRead(device, err);
    }
    await settle(device);
    const out = new Uint8Array(staging.getMappedRange().slice(0, bytes));
    staging.unmap();
    return out;
  } finally {
    staging.destroy();
  }
}

export async function readU32(device: GPUDevice, source: GPUBuffer, length: number, offset = 0): Promise<Uint32Array> {
  return new Uint32Array((await readBytes(device, source, length * 4, offset)).buffer);
}
