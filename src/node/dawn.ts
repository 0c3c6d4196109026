import { provideGpu } from '../lib/gpu/device';

/**
 * Makes Dawn's Node binding (the `webgpu` package) this process's WebGPU: its `GPUBufferUsage`
 * and friends become globals as in a browser, and `requestDevice` finds its `GPU`. On a machine
 * without a GPU driver, point Vulkan at SwiftShader (`VK_ICD_FILENAMES`), as the README says.
 */
export async function installDawn(flags: string[] = []): Promise<void> {
  const { create, globals } = (await import('webgpu')) as unknown as {
    create: (flags: string[]) => GPU;
    globals: Record<string, unknown>;
  };
  Object.assign(globalThis, globals);
  provideGpu(create(flags), 'node (Dawn)');
}
