import divisionWgsl from '../../../shaders/division.wgsl?raw';
import quantizerWgsl from '../../../shaders/quantizer.wgsl?raw';
import { seededRandom } from '../util/rng';
import { dispatch, readF32, setDeviceOverrides, storageBuffer, uploadF32, withDeviceOverrides } from './kernel';
import { composeWgsl } from './shader';

/**
 * The quantizer's levels are `round(w / scale)`, and on a symmetric grid most groups' largest |w|
 * lands exactly on a tie (w / scale = ±7.5 at 4 bits), so one ULP of the quotient moves a level.
 * WGSL allows f32 division 2.5 ULP of error: SwiftShader divides exactly, NVIDIA's Vulkan driver
 * (measured on an H200) missed 30 % of the IEEE quotients below. Each device is checked once:
 * the quantizer's `quot` on pairs full of such ties, plain and refined (quantizer.wgsl), against
 * the IEEE quotient; refinement is switched on where plain division misses.
 */
export interface DivisionCheck {
  pairs: number;
  /** Quotients that differ from the IEEE quotient with plain WGSL division. */
  plainMismatches: number;
  /** The same refined (quantizer.wgsl's `quot_refined`). */
  refinedMismatches: number;
  /** Whether the quantizer refines its quotients on this device. */
  refine: boolean;
}

const DIVISION_WGSL = composeWgsl(quantizerWgsl, divisionWgsl);
const checks = new WeakMap<GPUDevice, DivisionCheck>();

/** Pairs (a, b) interleaved: symmetric-grid ties at 3, 4 and 8 bits, asymmetric fits and plain random quotients. */
export function divisionPairs(count = 12288, seed = 3): Float32Array {
  const rand = seededRandom(seed);
  const ab = new Float32Array(2 * count);
  const maxqs = [7, 15, 255];
  for (let i = 0; i < count; i++) {
    const m = Math.fround(1e-3 + rand() * (rand() < 0.5 ? 0.5 : 20));
    const maxq = maxqs[i % 3];
    const scale = Math.fround((m + m) / maxq);
    let a: number;
    let b = scale;
    switch (i % 4) {
      case 0: // the group's largest |w| under its symmetric scale
        a = rand() < 0.5 ? m : -m;
        break;
      case 1: // any entry of that group
        a = Math.fround((2 * rand() - 1) * m);
        break;
      case 2: // an asymmetric group's zero point, −min / scale
        a = Math.fround(m * rand());
        break;
      default: // a quotient of no structure
        a = Math.fround((rand() - 0.5) * 100);
        b = Math.fround(1e-4 + rand() * 10);
    }
    ab[2 * i] = a;
    ab[2 * i + 1] = b;
  }
  return ab;
}

/** The IEEE f32 quotient of each pair (f64 division rounded once to f32 is the correctly rounded f32 quotient). */
export function divisionReference(ab: Float32Array): Float32Array {
  const q = new Float32Array(ab.length / 2);
  for (let i = 0; i < q.length; i++) q[i] = ab[2 * i] / ab[2 * i + 1];
  return q;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number): number => ((f32[0] = x), u32[0]);
const fromBits = (b: number): number => ((u32[0] = b >>> 0), f32[0]);
const fr = Math.fround;

/** `hi12` of quantizer.wgsl: the low 12 significand bits cleared. */
function hi12(x: number): number {
  return fromBits(bitsOf(x) & 0xfffff000);
}

/** `quot_residual` of quantizer.wgsl, every operation rounded to f32 as the GPU rounds it. */
function residual(a: number, b: number, q: number): number {
  const qh = hi12(q);
  const ql = fr(q - qh);
  const bh = hi12(b);
  const bl = fr(b - bh);
  return fr(fr(fr(fr(a - fr(qh * bh)) - fr(qh * bl)) - fr(ql * bh)) - fr(ql * bl));
}

/**
 * The TypeScript twin of quantizer.wgsl's refined `quot`: the quotient of f32 `a` and `b` from
 * `divide`, an approximate f32 division (as a GPU's), corrected to the IEEE quotient.
 */
export function refinedQuotient(a: number, b: number, divide: (a: number, b: number) => number): number {
  const sign = (bitsOf(a) ^ bitsOf(b)) & 0x80000000;
  const x = Math.abs(a);
  const y = Math.abs(b);
  let q = divide(x, y);
  if (q !== 0 && (bitsOf(q) & 0x7f800000) !== 0x7f800000) {
    q = fr(q + divide(residual(x, y, q), y));
    const r = residual(x, y, q);
    const up = fromBits(bitsOf(q) + 1);
    const down = fromBits(bitsOf(q) - 1);
    if (r > fr(fr(fr(up - q) * y) * 0.5)) q = up;
    else if (r < fr(fr(fr(down - q) * y) * 0.5)) q = down;
  }
  return fromBits(bitsOf(q) | sign);
}

/** The quantizer's `quot` of every pair on the device, refined or plain; the device's own setting is left as it was. */
export async function quotientsOn(device: GPUDevice, ab: Float32Array, refine: boolean): Promise<Float32Array> {
  const n = ab.length / 2;
  const input = uploadF32(device, ab);
  const out = storageBuffer(device, n * 4);
  try {
    return await withDeviceOverrides(device, { REFINE_DIVISION: refine ? 1 : 0 }, () => {
      dispatch(
        device,
        DIVISION_WGSL,
        [
          { kind: 'read', buffer: input },
          { kind: 'readwrite', buffer: out, size: n * 4 },
        ],
        [Math.ceil(n / 64)],
      );
      return readF32(device, out, n);
    });
  } finally {
    input.destroy();
    out.destroy();
  }
}

function mismatches(got: Float32Array, want: Float32Array): number {
  let n = 0;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) n++;
  return n;
}

/**
 * Checks the device's division once and sets the quantizer's `REFINE_DIVISION` for every later
 * pipeline: on only where plain division misses IEEE quotients and refinement misses fewer.
 */
export async function checkDivision(device: GPUDevice): Promise<DivisionCheck> {
  const known = checks.get(device);
  if (known) return known;
  const ab = divisionPairs();
  const want = divisionReference(ab);
  const plainMismatches = mismatches(await quotientsOn(device, ab, false), want);
  const refinedMismatches = plainMismatches === 0 ? 0 : mismatches(await quotientsOn(device, ab, true), want);
  const refine = plainMismatches > 0 && refinedMismatches < plainMismatches;
  setDeviceOverrides(device, { REFINE_DIVISION: refine ? 1 : 0 });
  const check = { pairs: want.length, plainMismatches, refinedMismatches, refine };
  checks.set(device, check);
  return check;
}

/** The device's check, when `checkDivision` has run on it (as `requestDevice` does). */
export function divisionCheckOf(device: GPUDevice): DivisionCheck | undefined {
  return checks.get(device);
}

/** The check in a few words, for benchmark headers. */
export function describeDivision(c: DivisionCheck | undefined): string {
  if (!c) return 'division not checked';
  if (c.plainMismatches === 0) return `division exact (${c.pairs} pairs)`;
  return `division ${c.refine ? 'refined' : 'plain'}: plain missed ${c.plainMismatches} of ${c.pairs} IEEE quotients, refined ${c.refinedMismatches}`;
}
