import { marshall, unmarshall } from "@aws-sdk/util-dynamodb"
import { Effect, Layer, Option } from "effect"
import { keyAttribute } from "../../src/services/CacheConditions.js"
import { layerMemory, makeMemoryCache } from "../../src/services/testing/CacheStoreMemory.js"
import { cacheStoreContract, RawTables } from "./CacheStoreContract.js"

// The in-memory store holds plain values, as `unmarshall` gives them (numbers as numbers).
const store = Layer.unwrap(
  Effect.sync(() => {
    const cache = makeMemoryCache()
    const raw = RawTables.of({
      put: (kind, item) =>
        Effect.sync(() => {
          const key = item[keyAttribute[kind]]?.S
          if (key === undefined) throw new Error(`raw put without its ${keyAttribute[kind]}`)
          cache.tables[kind].set(key, unmarshall(item, { wrapNumbers: (text) => Number(text) }))
        }),
      get: (kind, key) =>
        Effect.sync(() =>
          Option.map(Option.fromNullishOr(cache.tables[kind].get(key)), (item) =>
            marshall(item, {
              removeUndefinedValues: true,
              allowImpreciseNumbers: true,
              convertClassInstanceToMap: false
            })
          )
        )
    })
    return Layer.merge(layerMemory(cache), Layer.succeed(RawTables, raw))
  })
)

cacheStoreContract({ name: "CacheStore contract: in memory", layer: store, userTable: "users" })
