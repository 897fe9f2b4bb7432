import type { AttributeValue } from "@aws-sdk/client-dynamodb"
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb"
import { expect, layer } from "@effect/vitest"
import { Context, Duration, Effect, Exit, type Layer, Option } from "effect"
import type { LoanRecord, RequestRecord, UserRecord } from "../../src/schema/CacheRecord.js"
import type { CacheKind } from "../../src/schema/Caches.js"
import { itemKindSpec } from "../../src/schema/ItemKind.js"
import { keyAttribute, type StoredUser } from "../../src/services/CacheConditions.js"
import { CacheStore } from "../../src/services/CacheStore.js"
import type { CacheStoreError } from "../../src/services/CacheStoreError.js"
import { maxItemBytes } from "../../src/services/DynamoItem.js"

/**
 * One contract, two stores: the same cases against the in-memory store (CacheStoreMemory.ts) and the
 * live one over DynamoDB Local, so that the rules every in-memory test relies on are DynamoDB's
 * (docs/fates.md "A retried message is harmless", docs/records.md "Record layout"). DynamoDB Local is the reference.
 *
 * The tables are read and written raw (DynamoDB's own attribute values) around the store, to stand
 * for the other writers of CACHE-CONTRACT.md and to see exactly what a reader would find.
 */
export class RawTables extends Context.Service<
  RawTables,
  {
    /** Puts the item as given, unconditionally: another writer. */
    readonly put: (kind: CacheKind, item: Record<string, AttributeValue>) => Effect.Effect<void>
    /** The item as stored (a consistent read). */
    readonly get: (kind: CacheKind, key: string) => Effect.Effect<Option.Option<Record<string, AttributeValue>>>
  }
>()("test/services/CacheStoreContract/RawTables") {}

export interface ContractTarget {
  readonly name: string
  /** The store under test and raw access to its tables, built once for the file. */
  readonly layer: Layer.Layer<CacheStore | RawTables, unknown>
  /** The user table's name as the store's errors give it. */
  readonly userTable: string
  /** Bound on building the layer (a JVM start for DynamoDB Local). */
  readonly startTimeout?: Duration.Input
}

// Fixed times (epoch ms): nothing depends on today's date.
const t = 1_767_225_600_000 // 2026-01-01T00:00:00.000Z
const expiry = 1_800_000_000

/** A plain item as DynamoDB holds it (the SDK's own mapping: arrays are lists, Sets of strings SS). */
const av = (item: Record<string, unknown>): Record<string, AttributeValue> =>
  marshall(item, { removeUndefinedValues: true, convertClassInstanceToMap: false })

const rawPut = (kind: CacheKind, item: Record<string, unknown>) => RawTables.use((raw) => raw.put(kind, av(item)))
const rawGet = (kind: CacheKind, key: string) =>
  RawTables.use((raw) => raw.get(kind, key)).pipe(Effect.map(Option.getOrUndefined))

const loan = (id: string, cachedAt: number, fields: Record<string, unknown> = {}): LoanRecord => ({
  loan_id: id,
  user_id: "u1",
  renewable: false,
  title: "Title",
  due_date: "2026-02-01Z",
  location_code: { value: "MAIN", name: "Main" },
  expiry_date: expiry,
  cached_at: cachedAt,
  ...fields
})

const request = (id: string, cachedAt: number): RequestRecord => ({
  request_id: id,
  user_primary_id: "u1",
  request_type: "HOLD",
  expiry_date: "2026-03-01Z",
  record_expiry_date: expiry,
  cached_at: cachedAt
})

const user = (
  primaryId: string,
  lists: { readonly loan?: ReadonlyArray<string>; readonly request?: ReadonlyArray<string> } = {},
  cachedAt = t
): UserRecord => ({
  primary_id: primaryId,
  loan_ids: lists.loan ?? [],
  request_ids: lists.request ?? [],
  fee_ids: [],
  expiry_date: expiry,
  cached_at: cachedAt
})

const put = (record: LoanRecord) => CacheStore.use((store) => store.put({ kind: "loan", record }))
const tombstone = (kind: CacheKind, key: string, at: number) =>
  CacheStore.use((store) => store.tombstone(kind, [key], at))
const getUser = (primaryId: string) => CacheStore.use((store) => store.getUser(primaryId))
const putUser = (record: UserRecord, over: Option.Option<StoredUser>) =>
  CacheStore.use((store) => store.putUser(record, over))
/** The user as stored, to write over: this case's setup, so its absence is a failure of the case. */
const readUser = (primaryId: string) =>
  getUser(primaryId).pipe(
    Effect.flatMap((found) =>
      Option.isSome(found) ? Effect.succeed(found) : Effect.die(new Error(`no user record ${primaryId}`))
    )
  )

/** An error's tag and fields, to compare whole. */
const fieldsOf = (error: CacheStoreError) => ({ ...error, _tag: error._tag })

/** A map nested `depth` levels deep. */
const nestedDeep = (depth: number): Record<string, unknown> =>
  depth === 0 ? { leaf: 1 } : { next: nestedDeep(depth - 1) }

/** A loan's tombstone exactly: its key, `cached_at` = `deleted_at` = `at`, the expiry a second in the past. */
const loanTombstone = (id: string, at: number) => ({
  loan_id: { S: id },
  cached_at: { N: String(at) },
  deleted_at: { N: String(at) },
  expiry_date: { N: String(Math.floor(at / 1000) - 1) }
})

export const cacheStoreContract = (target: ContractTarget): void =>
  layer(target.layer, {
    // Live services: removeFromUser's retries sleep on the real clock.
    excludeTestServices: true,
    timeout: target.startTimeout ?? Duration.seconds(30)
  })(target.name, (it) => {
    const conflict = (key: string) => ({
      _tag: "CacheConflict",
      table: target.userTable,
      operation: "PutItem",
      key
    })

    // 1. The cached_at condition on items.
    it.effect("a put over nothing is Written, stored as given", () =>
      Effect.gen(function* () {
        const record = loan("p1", t)
        expect(yield* put(record)).toEqual({ _tag: "Written" })
        expect(yield* rawGet("loan", "p1")).toEqual(av(record))
      })
    )

    it.effect("a put older than the stored record is Superseded and the newer record stays as it was", () =>
      Effect.gen(function* () {
        const newer = loan("p2", t + 10, { title: "newer" })
        expect(yield* put(newer)).toEqual({ _tag: "Written" })
        expect(yield* put(loan("p2", t + 9, { title: "older" }))).toEqual({ _tag: "Superseded" })
        expect(yield* rawGet("loan", "p2")).toEqual(av(newer))
      })
    )

    it.effect("a put at the same cached_at as a record (not a tombstone) is Written", () =>
      Effect.gen(function* () {
        expect(yield* put(loan("p3", t, { title: "first" }))).toEqual({ _tag: "Written" })
        const second = loan("p3", t, { title: "second" })
        expect(yield* put(second)).toEqual({ _tag: "Written" })
        expect(yield* rawGet("loan", "p3")).toEqual(av(second))
      })
    )

    it.effect("a put over a record without cached_at (the webhook's) is Written", () =>
      Effect.gen(function* () {
        yield* rawPut("loan", { loan_id: "p4", user_id: "u1", title: "webhook", expiry_date: expiry })
        const record = loan("p4", t)
        expect(yield* put(record)).toEqual({ _tag: "Written" })
        expect(yield* rawGet("loan", "p4")).toEqual(av(record))
      })
    )

    const notANumber: ReadonlyArray<{ readonly form: string; readonly cachedAt: unknown }> = [
      { form: "text", cachedAt: String(t - 1) },
      { form: "null", cachedAt: null }
    ]
    it.effect.each(notANumber)(
      "a record whose cached_at is $form (not a number) orders nothing: a put replaces it, and a tombstone",
      ({ form, cachedAt }) =>
        Effect.gen(function* () {
          const key = `p5-${form}`
          const theirs = { loan_id: key, user_id: "u1", title: "theirs", expiry_date: expiry, cached_at: cachedAt }
          yield* rawPut("loan", theirs)
          expect(yield* put(loan(key, t))).toEqual({ _tag: "Written" })
          yield* rawPut("loan", theirs)
          yield* tombstone("loan", key, t)
          expect(yield* rawGet("loan", key)).toEqual(loanTombstone(key, t))
        })
    )

    it.effect("a tombstone for one patron keeps another patron's record (owner), and takes one naming none", () =>
      Effect.gen(function* () {
        yield* rawPut("loan", { loan_id: "own-b", user_id: "b", title: "B's", expiry_date: expiry, cached_at: t - 5 })
        yield* rawPut("loan", { loan_id: "own-none", title: "nobody's", expiry_date: expiry, cached_at: t - 5 })
        const written = yield* CacheStore.use((store) => store.tombstone("loan", ["own-b", "own-none"], t, ["a"]))
        expect(written).toEqual(["own-none"])
        expect((yield* rawGet("loan", "own-b"))?.title).toEqual({ S: "B's" })
        expect(yield* rawGet("loan", "own-none")).toEqual(loanTombstone("own-none", t))
        yield* rawPut("fee", { id: "own-fee", user_primary_id: { value: "b" }, expiry_date: expiry, cached_at: t - 5 })
        expect(yield* CacheStore.use((store) => store.tombstone("fee", ["own-fee"], t, ["a"]))).toEqual([])
        expect(yield* CacheStore.use((store) => store.tombstone("fee", ["own-fee"], t, ["x", "b"]))).toEqual([
          "own-fee"
        ])
      })
    )

    const refusedByDynamo: ReadonlyArray<{ readonly rule: string; readonly extra: Record<string, unknown> }> = [
      { rule: "an empty attribute name", extra: { location: { "": "x" } } },
      { rule: "nested deeper than DynamoDB's 32 levels", extra: { deep: nestedDeep(40) } }
    ]
    it.effect.each(refusedByDynamo)("an item with $rule is Unstorable, nothing written", ({ rule, extra }) =>
      Effect.gen(function* () {
        const key = `v-${rule.length}`
        expect(yield* put({ ...loan(key, t), ...extra })).toEqual({ _tag: "Unstorable", rule })
        expect(yield* rawGet("loan", key)).toBeUndefined()
      })
    )

    it.effect("an item whose key is over 2048 bytes is Unstorable", () =>
      Effect.gen(function* () {
        expect(yield* put(loan("K".repeat(3000), t))).toEqual({
          _tag: "Unstorable",
          rule: "a key over DynamoDB's 2048 bytes"
        })
      })
    )

    // 2. Tombstones.
    it.effect("after a tombstone, a put with an older or the same cached_at is Superseded (no resurrection)", () =>
      Effect.gen(function* () {
        expect(yield* put(loan("d1", t - 5))).toEqual({ _tag: "Written" })
        yield* tombstone("loan", "d1", t)
        expect(yield* put(loan("d1", t - 1))).toEqual({ _tag: "Superseded" })
        expect(yield* put(loan("d1", t))).toEqual({ _tag: "Superseded" })
        expect(yield* rawGet("loan", "d1")).toEqual(loanTombstone("d1", t))
      })
    )

    it.effect("a put newer than a tombstone is Written", () =>
      Effect.gen(function* () {
        yield* tombstone("loan", "d2", t)
        const record = loan("d2", t + 1)
        expect(yield* put(record)).toEqual({ _tag: "Written" })
        expect(yield* rawGet("loan", "d2")).toEqual(av(record))
      })
    )

    it.effect("a tombstone older than the record keeps the record", () =>
      Effect.gen(function* () {
        const record = loan("d3", t + 1)
        expect(yield* put(record)).toEqual({ _tag: "Written" })
        yield* tombstone("loan", "d3", t)
        expect(yield* rawGet("loan", "d3")).toEqual(av(record))
      })
    )

    it.effect("a tombstone at the same millisecond as the record replaces it (the deletion wins)", () =>
      Effect.gen(function* () {
        expect(yield* put(loan("d4", t))).toEqual({ _tag: "Written" })
        yield* tombstone("loan", "d4", t)
        expect(yield* rawGet("loan", "d4")).toEqual(loanTombstone("d4", t))
      })
    )

    it.effect("a tombstone replaces a record without cached_at (the webhook's)", () =>
      Effect.gen(function* () {
        yield* rawPut("loan", { loan_id: "d5", user_id: "u1", title: "webhook", expiry_date: expiry })
        yield* tombstone("loan", "d5", t)
        expect(yield* rawGet("loan", "d5")).toEqual(loanTombstone("d5", t))
      })
    )

    const at = t + 123_456 // 2026-01-01T00:02:03.456Z: epoch seconds 1767225723
    const tombstoneLayouts: ReadonlyArray<{
      readonly kind: CacheKind
      readonly key: string
      readonly expected: Record<string, AttributeValue>
    }> = [
      {
        kind: "user",
        key: "tomb-user",
        expected: {
          primary_id: { S: "tomb-user" },
          cached_at: { N: "1767225723456" },
          deleted_at: { N: "1767225723456" },
          expiry_date: { N: "1767225722" }
        }
      },
      {
        kind: "loan",
        key: "tomb-loan",
        expected: {
          loan_id: { S: "tomb-loan" },
          cached_at: { N: "1767225723456" },
          deleted_at: { N: "1767225723456" },
          expiry_date: { N: "1767225722" }
        }
      },
      {
        kind: "request",
        key: "tomb-request",
        expected: {
          request_id: { S: "tomb-request" },
          cached_at: { N: "1767225723456" },
          deleted_at: { N: "1767225723456" },
          record_expiry_date: { N: "1767225722" }
        }
      },
      {
        kind: "fee",
        key: "tomb-fee",
        expected: {
          id: { S: "tomb-fee" },
          cached_at: { N: "1767225723456" },
          deleted_at: { N: "1767225723456" },
          expiry_date: { N: "1767225722" }
        }
      }
    ]
    it.effect.each(tombstoneLayouts)(
      "a $kind tombstone is exactly {key, cached_at, deleted_at, expiry a second past}, nothing of the record left",
      ({ kind, key, expected }) =>
        Effect.gen(function* () {
          // A whole record first: the tombstone must replace it, not update it.
          yield* rawPut(kind, { [keyAttribute[kind]]: key, title: "left over", cached_at: at - 1 })
          yield* tombstone(kind, key, at)
          expect(yield* rawGet(kind, key)).toEqual(expected)
        })
    )

    it.effect("a request put newer than its tombstone is Written whole (record_expiry_date is its TTL)", () =>
      Effect.gen(function* () {
        yield* tombstone("request", "d6", t)
        const record = request("d6", t + 1)
        expect(yield* CacheStore.use((store) => store.put({ kind: "request", record }))).toEqual({ _tag: "Written" })
        expect(yield* rawGet("request", "d6")).toEqual(av(record))
      })
    )

    // 3. The user record, written only over the state it was read in.
    it.effect("putUser over none: written when there is no record, CacheConflict when there is one", () =>
      Effect.gen(function* () {
        expect(yield* getUser("u-none")).toEqual(Option.none())
        const first = user("u-none", { loan: ["L1"] })
        yield* putUser(first, Option.none())
        expect(yield* rawGet("user", "u-none")).toEqual(av(first))
        const error = yield* putUser(user("u-none", { loan: ["L2"] }, t + 1), Option.none()).pipe(Effect.flip)
        expect(fieldsOf(error)).toEqual(conflict("u-none"))
        expect(yield* rawGet("user", "u-none")).toEqual(av(first))
      })
    )

    it.effect("getUser, then putUser over what it read: written", () =>
      Effect.gen(function* () {
        yield* putUser(user("u-over", { loan: ["L1", "L2"], request: ["R1"] }), Option.none())
        const read = yield* readUser("u-over")
        expect(read.value.lists).toEqual({ loan: ["L1", "L2"], request: ["R1"], fee: [] })
        expect(read.value.cachedAt).toBe(t)
        const next = user("u-over", { loan: ["L2", "L3"] }, t + 1)
        yield* putUser(next, read)
        expect(yield* rawGet("user", "u-over")).toEqual(av(next))
      })
    )

    const versionChanges: ReadonlyArray<{ readonly attribute: string; readonly value: unknown }> = [
      { attribute: "loan_ids", value: ["L1", "L9"] },
      { attribute: "request_ids", value: ["R9"] },
      { attribute: "fee_ids", value: ["F9"] },
      { attribute: "cached_at", value: t + 5 }
    ]
    it.effect.each(versionChanges)(
      "another writer's change to $attribute between the read and the write: CacheConflict, theirs kept",
      ({ attribute, value }) =>
        Effect.gen(function* () {
          const key = `u-${attribute}`
          const original = user(key, { loan: ["L1"] })
          yield* putUser(original, Option.none())
          const read = yield* readUser(key)
          const theirs = { ...original, [attribute]: value }
          yield* rawPut("user", theirs)
          const error = yield* putUser(user(key, { loan: ["L2"] }, t + 10), read).pipe(Effect.flip)
          expect(fieldsOf(error)).toEqual(conflict(key))
          expect(yield* rawGet("user", key)).toEqual(av(theirs))
        })
    )

    it.effect("a change to expiry_date alone between the read and the write is not a conflict", () =>
      Effect.gen(function* () {
        const original = user("u-expiry", { loan: ["L1"] })
        yield* putUser(original, Option.none())
        const read = yield* readUser("u-expiry")
        yield* rawPut("user", { ...original, expiry_date: expiry + 999 })
        const next = user("u-expiry", { loan: ["L2"] }, t + 10)
        yield* putUser(next, read)
        expect(yield* rawGet("user", "u-expiry")).toEqual(av(next))
      })
    )

    const lenientRecords: ReadonlyArray<{
      readonly shape: string
      readonly stored: Record<string, unknown>
      readonly lists: Readonly<Record<"loan" | "request" | "fee", ReadonlyArray<unknown>>>
      readonly cachedAt: number | undefined
    }> = [
      {
        shape: "no lists and no cached_at",
        stored: { primary_id: "u-lenient-1", expiry_date: expiry },
        lists: { loan: [], request: [], fee: [] },
        cachedAt: undefined
      },
      {
        shape: "a number, an empty string and a null among the IDs",
        stored: {
          primary_id: "u-lenient-2",
          loan_ids: ["L1", 42, "", null, "L2"],
          request_ids: [],
          expiry_date: expiry,
          cached_at: t
        },
        lists: { loan: ["L1", 42, "", null, "L2"], request: [], fee: [] },
        cachedAt: t
      },
      {
        shape: "a string set (SS) instead of a list",
        stored: { primary_id: "u-lenient-3", loan_ids: new Set(["L1"]), fee_ids: ["F1"], expiry_date: expiry },
        lists: { loan: ["L1"], request: [], fee: ["F1"] },
        cachedAt: undefined
      }
    ]
    it.effect.each(lenientRecords)(
      "another writer's record with $shape: getUser reads the lists leniently and putUser over it is written",
      ({ stored, lists, cachedAt }) =>
        Effect.gen(function* () {
          const key = String(stored.primary_id)
          yield* rawPut("user", stored)
          const read = yield* readUser(key)
          expect(read.value.lists).toEqual(lists)
          expect(read.value.cachedAt).toBe(cachedAt)
          const next = user(key, { loan: ["L3"] }, t + 1)
          yield* putUser(next, read)
          expect(yield* rawGet("user", key)).toEqual(av(next))
        })
    )

    it.effect("another writer rewriting a string set with the same members in another order is no conflict", () =>
      Effect.gen(function* () {
        const stored = { primary_id: "u-set-order", fee_ids: new Set(["F1", "F2", "F3"]), expiry_date: expiry }
        yield* rawPut("user", stored)
        const read = yield* readUser("u-set-order")
        yield* rawPut("user", { ...stored, fee_ids: new Set(["F3", "F2", "F1"]) })
        const next = user("u-set-order", { loan: ["L1"] })
        yield* putUser(next, read)
        expect(yield* rawGet("user", "u-set-order")).toEqual(av(next))
      })
    )

    it.effect(
      "a user record over 400 KB is refused before its condition (UserRecordTooLarge, not a conflict), nothing written",
      () =>
        Effect.gen(function* () {
          // 30,000 IDs of 16 characters: about 510 KB.
          const ids = Array.from({ length: 30_000 }, (_, index) => `LOAN-${String(index).padStart(11, "0")}`)
          const refused = (userId: string) => ({
            _tag: "UserRecordTooLarge",
            table: target.userTable,
            userId,
            itemIds: 30_000,
            limitBytes: maxItemBytes
          })
          const error = yield* putUser(user("u-huge", { loan: ids }), Option.none()).pipe(Effect.flip)
          expect(fieldsOf(error)).toMatchObject(refused("u-huge"))
          expect(yield* rawGet("user", "u-huge")).toBeUndefined()
          // Over a record its condition would refuse: still the size, not a conflict.
          const stored = user("u-huge-over", { loan: ["L1"] })
          yield* putUser(stored, Option.none())
          const over = yield* putUser(user("u-huge-over", { loan: ids }), Option.none()).pipe(Effect.flip)
          expect(fieldsOf(over)).toMatchObject(refused("u-huge-over"))
          expect(yield* rawGet("user", "u-huge-over")).toEqual(av(stored))
        })
    )

    it.effect("getUser reads the members of a string set whatever their order", () =>
      Effect.gen(function* () {
        yield* rawPut("user", { primary_id: "u-set", fee_ids: new Set(["F3", "F1", "F2"]), expiry_date: expiry })
        const read = yield* readUser("u-set")
        expect([...read.value.lists.fee].sort()).toEqual(["F1", "F2", "F3"])
        yield* putUser(user("u-set"), read)
        expect(yield* rawGet("user", "u-set")).toEqual(av(user("u-set")))
      })
    )

    // 4. removeFromUser.
    const removeFromUser = (primaryId: string, id: string) =>
      CacheStore.use((store) => store.removeFromUser(primaryId, "loan", id))

    it.effect("removeFromUser takes out the first occurrence only, and nothing else changes", () =>
      Effect.gen(function* () {
        const record = user("u-remove", { loan: ["L1", "L2", "L1", "L3"], request: ["L1"] })
        yield* putUser(record, Option.none())
        yield* removeFromUser("u-remove", "L1")
        expect(yield* rawGet("user", "u-remove")).toEqual(av({ ...record, loan_ids: ["L2", "L1", "L3"] }))
        yield* removeFromUser("u-remove", "L1")
        expect(yield* rawGet("user", "u-remove")).toEqual(av({ ...record, loan_ids: ["L2", "L3"] }))
      })
    )

    it.effect("removeFromUser of an ID not listed, or of a user not stored, changes nothing", () =>
      Effect.gen(function* () {
        const record = user("u-remove-absent", { loan: ["L1"] })
        yield* putUser(record, Option.none())
        yield* removeFromUser("u-remove-absent", "L9")
        expect(yield* rawGet("user", "u-remove-absent")).toEqual(av(record))
        yield* removeFromUser("u-remove-nobody", "L1")
        expect(yield* rawGet("user", "u-remove-nobody")).toBeUndefined()
      })
    )

    it.effect("removeFromUser on a string set another writer stored replaces it by the list without the ID", () =>
      Effect.gen(function* () {
        yield* rawPut("user", { primary_id: "u-remove-set", loan_ids: new Set(["L1", "L2"]), expiry_date: expiry })
        yield* removeFromUser("u-remove-set", "L1")
        expect((yield* rawGet("user", "u-remove-set"))?.loan_ids).toEqual({ L: [{ S: "L2" }] })
      })
    )

    it.effect("appendToUser adds the ID over the state read, and conflicts when the record changed since", () =>
      Effect.gen(function* () {
        const record = user("u-append", { loan: ["L1"] })
        yield* putUser(record, Option.none())
        const read = yield* readUser("u-append")
        yield* CacheStore.use((store) => store.appendToUser("u-append", "loan", "L2", read.value))
        expect((yield* rawGet("user", "u-append"))?.loan_ids).toEqual(av({ loan_ids: ["L1", "L2"] }).loan_ids)
        const failure = yield* CacheStore.use((store) => store.appendToUser("u-append", "loan", "L3", read.value)).pipe(
          Effect.flip
        )
        expect(failure).toMatchObject({ _tag: "CacheConflict", operation: "UpdateItem", key: "u-append" })
        expect((yield* rawGet("user", "u-append"))?.loan_ids).toEqual(av({ loan_ids: ["L1", "L2"] }).loan_ids)
      })
    )

    // A heavy patron: DynamoDB's 400 KB item limit is about 23,000 item IDs in one user record.
    const loanIds = (count: number) => Array.from({ length: count }, (_, i) => `23${String(i).padStart(14, "0")}`)

    it.effect(
      "a user record over 400 KB is UserRecordTooLarge, naming the patron and the limit; the older one stays",
      () =>
        Effect.gen(function* () {
          const older = user("u-heavy", { loan: ["L1"] })
          yield* putUser(older, Option.none())
          const read = yield* readUser("u-heavy")
          const heavy = user("u-heavy", { loan: loanIds(26_000), request: ["R1"] }, t + 1)
          const error = yield* putUser(heavy, read).pipe(Effect.flip)
          expect(error).toMatchObject({
            _tag: "UserRecordTooLarge",
            table: target.userTable,
            userId: "u-heavy",
            itemIds: 26_001,
            limitBytes: maxItemBytes
          })
          expect(error._tag === "UserRecordTooLarge" && error.bytes > maxItemBytes).toBe(true)
          expect(yield* rawGet("user", "u-heavy")).toEqual(av(older))
        })
    )

    it.effect("20,000 loan IDs fit in one user record", () =>
      Effect.gen(function* () {
        const record = user("u-20k", { loan: loanIds(20_000) })
        yield* putUser(record, Option.none())
        expect((yield* rawGet("user", "u-20k"))?.loan_ids?.L?.length).toBe(20_000)
      })
    )

    it.effect("an appendToUser that would take the record over 400 KB is UserRecordTooLarge and changes nothing", () =>
      Effect.gen(function* () {
        const record = user("u-full", { loan: loanIds(23_500) })
        yield* putUser(record, Option.none())
        const read = yield* readUser("u-full")
        const error = yield* CacheStore.use((store) =>
          store.appendToUser("u-full", "loan", "9".repeat(20_000), read.value)
        ).pipe(Effect.flip)
        expect(error).toMatchObject({ _tag: "UserRecordTooLarge", userId: "u-full", itemIds: 23_501 })
        expect((yield* rawGet("user", "u-full"))?.loan_ids?.L?.length).toBe(23_500)
      })
    )

    it.effect(
      "20 concurrent removals of 20 different IDs from one list all succeed and leave exactly the others",
      () =>
        Effect.gen(function* () {
          const ids = Array.from({ length: 40 }, (_, index) => `C${String(index).padStart(2, "0")}`)
          const removed = ids.filter((_, index) => index % 2 === 0)
          const kept = ids.filter((_, index) => index % 2 === 1)
          yield* putUser(user("u-concurrent", { loan: ids }), Option.none())
          const [elapsed, exits] = yield* Effect.timed(
            Effect.forEach(removed, (id) => Effect.exit(removeFromUser("u-concurrent", id)), {
              concurrency: "unbounded"
            })
          )
          const failures = exits.flatMap((exit, index) =>
            Exit.isFailure(exit) ? [`${removed[index]}: ${String(exit.cause)}`] : []
          )
          const figures = `${failures.length} of ${removed.length} failed in ${Duration.toMillis(elapsed)} ms`
          expect(failures, figures).toEqual([])
          const stored = yield* rawGet("user", "u-concurrent")
          expect(stored?.loan_ids).toEqual(av({ loan_ids: kept }).loan_ids)
        }),
      60_000
    )

    // 5. What DynamoDB cannot hold.
    it.effect("an item over 400 KB through an attribute no reader uses is Reduced to the readers' attributes", () =>
      Effect.gen(function* () {
        const padding = "x".repeat(maxItemBytes)
        const record = loan("big1", t, { notes: padding })
        // DynamoDB's sizing: UTF-8 names and values, maps 3 + 1 per entry; numbers at 1 byte per 2 digits
        // + 2 (a byte above DynamoDB's + 1: it pairs digits from the decimal point, so counted high).
        const bytes =
          "loan_id".length +
          4 +
          ("user_id".length + 2) +
          ("renewable".length + 1) +
          ("title".length + 5) +
          ("due_date".length + 11) +
          ("location_code".length + 3 + ("value".length + 4 + ("name".length + 4)) + 2) +
          ("expiry_date".length + 7) +
          ("cached_at".length + 9) +
          ("notes".length + maxItemBytes)
        expect(yield* put(record)).toEqual({ _tag: "Reduced", bytes })
        const readers = itemKindSpec.loan.readerAttributes
        expect(readers).not.toContain("notes")
        expect(readers).not.toContain("location_code")
        expect(yield* rawGet("loan", "big1")).toEqual(
          av({
            loan_id: "big1",
            user_id: "u1",
            renewable: false,
            title: "Title",
            due_date: "2026-02-01Z",
            expiry_date: expiry,
            cached_at: t
          })
        )
      })
    )

    it.effect("an item whose title alone is over 400 KB is Unstorable and nothing is written", () =>
      Effect.gen(function* () {
        const outcome = yield* put(loan("big2", t, { title: "x".repeat(maxItemBytes + 1) }))
        expect(outcome).toEqual({ _tag: "Unstorable", rule: expect.stringMatching(/^over DynamoDB's 409600-byte/) })
        expect(yield* rawGet("loan", "big2")).toBeUndefined()
      })
    )

    it.effect("an Unstorable item leaves an older record in place, untouched", () =>
      Effect.gen(function* () {
        const older = loan("big3", t - 1)
        expect(yield* put(older)).toEqual({ _tag: "Written" })
        expect((yield* put(loan("big3", t, { title: "x".repeat(maxItemBytes + 1) })))._tag).toBe("Unstorable")
        expect(yield* rawGet("loan", "big3")).toEqual(av(older))
      })
    )

    it.effect("a number out of DynamoDB's range (1e130) is stored as its text, nested ones too", () =>
      Effect.gen(function* () {
        const record = loan("num1", t, { fine: 1e130, fees: { tiny: -1e-200, list: [1e130, 2] } })
        expect(yield* put(record)).toEqual({ _tag: "Written" })
        const stored = yield* rawGet("loan", "num1")
        expect(stored?.fine).toEqual({ S: "1e+130" })
        expect(stored?.fees).toEqual({ M: { tiny: { S: "-1e-200" }, list: { L: [{ S: "1e+130" }, { N: "2" }] } } })
      })
    )

    it.effect("a number in DynamoDB's range but beyond 2^53 (1e100, 2^60) is Written as that number", () =>
      Effect.gen(function* () {
        const record = loan("num3", t, { large: 1e100, power: 2 ** 60, fees: [{ amount: -1e20 }] })
        expect(yield* put(record)).toEqual({ _tag: "Written" })
        const stored = yield* rawGet("loan", "num3")
        // DynamoDB answers a number in its own notation (1e100 as 101 digits): compared as numbers.
        expect(
          unmarshall(
            {
              large: stored?.large ?? { NULL: true },
              power: stored?.power ?? { NULL: true },
              fees: stored?.fees ?? { NULL: true }
            },
            { wrapNumbers: (text) => Number(text) }
          )
        ).toEqual({ large: 1e100, power: 2 ** 60, fees: [{ amount: -1e20 }] })
      })
    )

    it.effect("an integer kept as its text beyond 2^53 stays that exact string", () =>
      Effect.gen(function* () {
        const record = loan("num2", t, { mms_id: "123456789012345678901" })
        expect(yield* put(record)).toEqual({ _tag: "Written" })
        expect((yield* rawGet("loan", "num2"))?.mms_id).toEqual({ S: "123456789012345678901" })
      })
    )
  })
