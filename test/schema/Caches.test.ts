import { describe, expect, it } from "vitest"
import { LAMBDA_ENV_NAMES } from "../../src/emulator/env.js"
import { CACHE_KEYS, TABLE_SPECS, tableName } from "../../src/emulator/names.js"
import { QUEUE_KEYS, queueVariable } from "../../src/operations/stageQueues.js"
import { cacheKinds, caches, kindOf } from "../../src/schema/Caches.js"
import { itemKindSpec, itemKinds } from "../../src/schema/ItemKind.js"
import { EnvironmentSchema } from "../../src/services/AppConfig.js"
import { keyAttribute } from "../../src/services/CacheConditions.js"

// Every place that names a cache reads src/schema/Caches.ts: these hold them to it.
describe("the caches' vocabulary (src/schema/Caches.ts)", () => {
  it("is the one list of caches the store, the emulator and the ops tools walk", () => {
    expect(CACHE_KEYS).toEqual(["users", "loans", "requests", "fees"])
    expect(QUEUE_KEYS).toEqual(CACHE_KEYS)
    expect(itemKinds).toEqual(["loan", "request", "fee"])
    for (const kind of cacheKinds) expect(kindOf[caches[kind].key]).toBe(kind)
  })

  it("gives each table its key and TTL attribute, in the store and the emulator alike", () => {
    for (const kind of cacheKinds) {
      const { key, hashKey, expiry } = caches[kind]
      expect(keyAttribute[kind]).toBe(hashKey)
      expect(TABLE_SPECS[key]).toEqual({ hashKey, ttlAttribute: expiry })
    }
    for (const kind of itemKinds) {
      expect(itemKindSpec[kind]).toMatchObject({
        key: caches[kind].hashKey,
        expiry: caches[kind].expiry,
        userList: caches[kind].userList,
        messageField: caches[kind].messageField
      })
    }
    expect(tableName("local", "requests")).toBe("local-RequestCache")
  })

  it("names the variables the configuration decodes and the local stack fills", () => {
    const decoded = Object.keys(EnvironmentSchema.fields)
    for (const kind of cacheKinds) {
      expect(decoded).toContain(caches[kind].tableVariable)
      expect(LAMBDA_ENV_NAMES).toContain(caches[kind].tableVariable)
    }
    for (const kind of itemKinds) {
      expect(decoded).toContain(caches[kind].queueVariable)
      expect(LAMBDA_ENV_NAMES).toContain(caches[kind].queueVariable)
    }
    expect(queueVariable("loans", "stg")).toBe("LOAN_QUEUE_URL_STG")
  })
})
