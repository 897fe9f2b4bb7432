import { defineConfig } from "vitest/config"

// vitest 5 declares Node >= 22; its reporter calls Map.groupBy (Node 21+) when it prints a failure.
// Node 20 is the local runtime here, so the main process gets the one missing function.
if (!("groupBy" in Map)) {
  Object.defineProperty(Map, "groupBy", {
    value: <T, K>(items: Iterable<T>, keyOf: (item: T, index: number) => K) => {
      const groups = new Map<K, Array<T>>()
      let index = 0
      for (const item of items) {
        const key = keyOf(item, index++)
        const group = groups.get(key)
        if (group === undefined) groups.set(key, [item])
        else group.push(item)
      }
      return groups
    }
  })
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
