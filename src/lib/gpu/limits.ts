/**
 * Tiling against device limits. Two limits shape every launcher here:
 * - `maxComputeWorkgroupsPerDimension` (65535 by default): 1-D work is laid out as a 2-D grid
 *   of `x × y` workgroups, and split into several dispatches (each with a `base` workgroup
 *   index in its uniforms) when even that does not fit.
 * - `maxStorageBufferBindingSize`: matrices are split into row chunks, each in its own buffer,
 *   so no binding exceeds it. Row chunks suit every method here, as all of them treat output
 *   rows independently given the shared per-column data (H's factor, channel statistics).
 * Tests lower both through `GpuTuning` to exercise the splitting on small shapes.
 */
export interface GpuTuning {
  maxWorkgroupsPerDim?: number;
  maxBindingBytes?: number;
}

export interface Limits {
  maxWorkgroupsPerDim: number;
  maxBindingBytes: number;
}

export function resolveLimits(device: GPUDevice, tuning: GpuTuning = {}): Limits {
  const l = device.limits;
  return {
    maxWorkgroupsPerDim: Math.max(1, Math.min(l.maxComputeWorkgroupsPerDimension, tuning.maxWorkgroupsPerDim ?? Infinity)),
    maxBindingBytes: Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize, tuning.maxBindingBytes ?? Infinity),
  };
}

/** One dispatch of a 1-D workgroup range: workgroup index = base + wid.y·x + wid.x. */
export interface Grid {
  base: number;
  x: number;
  y: number;
}

/** The uniforms of a kernel launched over `grids` (read by shaders/grid.wgsl). */
export const GRID_FIELDS = { base: 'u32', nx: 'u32' } as const;

export function grids(workgroups: number, maxDim: number): Grid[] {
  const out: Grid[] = [];
  const per = maxDim * maxDim;
  for (let base = 0; base < workgroups; base += per) {
    const n = Math.min(per, workgroups - base);
    const x = Math.min(n, maxDim);
    out.push({ base, x, y: Math.ceil(n / x) });
  }
  return out;
}

/** Row ranges [r0, r1) whose `bytesPerRow`-sized rows fit in `maxBytes`. */
export function rowChunks(rows: number, bytesPerRow: number, maxBytes: number): Array<[number, number]> {
  const per = Math.floor(maxBytes / Math.max(1, bytesPerRow));
  if (per < 1) throw new Error(`one row needs ${bytesPerRow} bytes, more than the ${maxBytes}-byte binding limit`);
  const out: Array<[number, number]> = [];
  for (let r0 = 0; r0 < rows; r0 += per) out.push([r0, Math.min(rows, r0 + per)]);
  return out;
}
