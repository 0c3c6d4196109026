import { scoped } from './faults';

/**
 * Small placeholder buffers for bindings a launch does not use (an auto layout still lists
 * every binding its entry point touches). Two, so that one dispatch never binds the same
 * buffer to two writable slots.
 */
const cache = new WeakMap<GPUDevice, [GPUBuffer, GPUBuffer]>();

export function scratch(device: GPUDevice, which: 0 | 1 = 0): GPUBuffer {
  let pair = cache.get(device);
  if (!pair) {
    const make = () =>
      scoped(device, 'allocating a placeholder buffer', () =>
        device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST }),
      );
    pair = [make(), make()];
    cache.set(device, pair);
  }
  return pair[which];
}
