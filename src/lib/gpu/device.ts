import { checkDivision } from './division';
import { setGemmKernel } from './gemm';
import { setOutputErrorOnDevice } from './output-error';
import { watchDevice } from './faults';

/** What the page shows about the WebGPU adapter, or why there is none. */
export interface AdapterReport {
  available: boolean;
  reason?: string;
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
  features: string[];
  limits: Record<string, number>;
}

const REPORTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export class WebGpuUnavailableError extends Error {
  override name = 'WebGpuUnavailableError';
}

let providedGpu: { gpu: GPU; name: string } | undefined;

/**
 * The one place a `GPU` comes from when there is no `navigator.gpu`: the Node runtime installs
 * Dawn's binding here, so every kernel, the driver and the benchmarks run unchanged outside a page.
 */
export function provideGpu(gpu: GPU, name: string): void {
  providedGpu = { gpu, name };
}

/** Where this process's WebGPU comes from: the browser's, an installed provider's, or none. */
export function gpuRuntime(): string | null {
  if (providedGpu) return providedGpu.name;
  return gpuOf() ? 'browser' : null;
}

function gpuOf(scope: { navigator?: Navigator } = globalThis): GPU | undefined {
  if (providedGpu) return providedGpu.gpu;
  return scope.navigator && 'gpu' in scope.navigator ? scope.navigator.gpu : undefined;
}

export async function requestAdapter(): Promise<GPUAdapter> {
  const gpu = gpuOf();
  if (!gpu) {
    throw new WebGpuUnavailableError(
      'WebGPU is not available in this browser (navigator.gpu is missing). Use a recent Chrome or Edge, or enable WebGPU; inference can still fall back to WASM.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new WebGpuUnavailableError('WebGPU is present but no adapter was granted (blocklisted GPU or disabled driver).');
  }
  return adapter;
}

/** Requests a device with the adapter's own storage limits, which kernels tile against. */
export async function requestDevice(adapter?: GPUAdapter): Promise<GPUDevice> {
  const a = adapter ?? (await requestAdapter());
  const requiredFeatures: GPUFeatureName[] = a.features.has('shader-f16') ? ['shader-f16'] : [];
  const device = await a.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
      maxBufferSize: a.limits.maxBufferSize,
    },
  });
  // From here on its uncaptured errors and its loss are recorded, and readbacks report them.
  watchDevice(device);
  await prepareDevice(device, a.info);
  return device;
}

/**
 * What every device our kernels run on needs once, also one a caller made itself: on a hardware
 * adapter the workgroup-memory GEMM and the error report on the device (a software adapter runs
 * both faster on the CPU paths), and the quantizer's division check (before any quantizer
 * pipeline). Idempotent.
 */
export async function prepareDevice(device: GPUDevice, info?: GPUAdapterInfo): Promise<void> {
  const i = info ?? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (i && !isSoftwareAdapter(i)) {
    setGemmKernel(device, 'tiled');
    setOutputErrorOnDevice(device, true);
  }
  await checkDivision(device);
}

export async function describeAdapter(): Promise<AdapterReport> {
  let adapter: GPUAdapter;
  try {
    adapter = await requestAdapter();
  } catch (err) {
    return { available: false, reason: (err as Error).message, features: [], limits: {} };
  }
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const key of REPORTED_LIMITS) limits[key] = adapter.limits[key];
  return {
    available: true,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter,
    features: [...adapter.features].sort(),
    limits,
  };
}

/**
 * A software adapter (SwiftShader, Chrome's CPU fallback) runs WGSL on the CPU, where workgroup
 * barriers are expensive and the same cores would do better running WASM or plain TypeScript.
 */
export function isSoftwareAdapter(report: Pick<AdapterReport, 'isFallbackAdapter' | 'architecture' | 'description' | 'device'>): boolean {
  return (
    Boolean(report.isFallbackAdapter) ||
    /swiftshader/i.test(`${report.architecture ?? ''} ${report.description ?? ''} ${report.device ?? ''}`)
  );
}
