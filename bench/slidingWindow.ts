/**
 * The most timestamps (epoch ms) that fall in any one sliding window `[t, t + window)`: how Alma
 * counts its per-second threshold. The tests, the fleet bench and scripts/budget-cost.ts count with it.
 */
export const maxInAnyWindow = (times: ReadonlyArray<number>, window = 1000): number => {
  const sorted = [...times].sort((a, b) => a - b)
  let most = 0
  let first = 0
  for (let last = 0; last < sorted.length; last++) {
    while ((sorted[first] ?? 0) <= (sorted[last] ?? 0) - window) first++
    most = Math.max(most, last - first + 1)
  }
  return most
}
