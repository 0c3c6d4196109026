import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { helperLost, startSimdHelpers, type HelperSpawn } from '../lib/compress/reference/simd-helpers';

/** A SIMD helper thread as a Node worker; it does not keep the process alive. */
export const nodeHelperSpawn: HelperSpawn = (code, init) =>
  new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: init });
    worker.once('message', () => {
      worker.unref();
      // From here on, a thread that ends is a lost helper: its callers go on without it.
      worker.on('error', () => helperLost(init.control));
      worker.on('exit', () => helperLost(init.control));
      resolve({ terminate: () => void worker.terminate() });
    });
    worker.once('error', reject);
  });

/** Helper threads for the CPU kernels on every core but this one (at most three); resolves to how many started. */
export function startNodeSimdHelpers(cores = availableParallelism()): Promise<number> {
  return startSimdHelpers(Math.min(3, cores - 1), nodeHelperSpawn);
}
