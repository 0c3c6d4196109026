/**
 * A compiled compute kernel: one WGSL module, one entry point, bindings in declaration order.
 * Pipelines are cached per device so repeated launches cost a dispatch, not a compile.
 */
export type Binding =
  { kind: 'uniform'; data: ArrayBuffer } | { kind: 'read'; buffer: GPUBuffer } | { kind: 'readwrite'; buffer: GPUBuffer };

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

export function pipelineFor(device: GPUDevice, code: string, entryPoint = 'main'): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, (cache = new Map()));
  const key = `${entryPoint}\n${code}`;
  let pipeline = cache.get(key);
  if (!pipeline) {
    pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code }), entryPoint },
    });
    cache.set(key, pipeline);
  }
  return pipeline;
}

/** Records one dispatch; uniform buffers made here are destroyed once the queue finishes. */
export function dispatch(
  device: GPUDevice,
  code: string,
  bindings: Binding[],
  workgroups: [number, number?, number?],
  entryPoint = 'main',
): void {
  const pipeline = pipelineFor(device, code, entryPoint);
  const temporaries: GPUBuffer[] = [];
  const entries: GPUBindGroupEntry[] = bindings.map((b, binding) => {
    if (b.kind === 'uniform') {
      const buffer = device.createBuffer({
        size: Math.max(16, Math.ceil(b.data.byteLength / 16) * 16),
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(buffer, 0, b.data);
      temporaries.push(buffer);
      return { binding, resource: { buffer } };
    }
    return { binding, resource: { buffer: b.buffer } };
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
  pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
  pass.end();
  device.queue.submit([encoder.finish()]);
  if (temporaries.length) {
    void device.queue.onSubmittedWorkDone().then(() => temporaries.forEach((t) => t.destroy()));
  }
}

export function uploadF32(device: GPUDevice, data: Float32Array, extraUsage = 0): GPUBuffer {
  const buffer = device.createBuffer({
    size: Math.max(4, data.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
  });
  device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  return buffer;
}

export async function readF32(device: GPUDevice, source: GPUBuffer, length: number): Promise<Float32Array> {
  const bytes = length * 4;
  const staging = device.createBuffer({ size: Math.max(4, bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(source, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}
