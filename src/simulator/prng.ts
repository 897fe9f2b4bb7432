// A tiny seeded PRNG so the simulated institution and its faults are reproducible without a dependency.

export interface Prng {
  /** Uniform in [0, 1). */
  readonly next: () => number
  /** Integer in [min, max], both inclusive. */
  readonly int: (min: number, max: number) => number
  readonly chance: (probability: number) => boolean
  readonly pick: <T>(items: readonly [T, ...T[]]) => T
}

// mulberry32: 32-bit state, good enough spread for test data, and identical on every platform.
const mulberry32 = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const createPrng = (seed: number): Prng => {
  const next = mulberry32(seed)
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1))
  return {
    next,
    int,
    chance: (probability) => probability > 0 && next() < probability,
    pick: (items) => items[int(0, items.length - 1)] ?? items[0]
  }
}

// Independent streams (data, faults, tracking ids) derived from one seed, so that enabling faults or
// reading errors never shifts the generated data.
export const deriveSeed = (seed: number, stream: number): number =>
  (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + stream * 0x27d4eb2f) >>> 0
