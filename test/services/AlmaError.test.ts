import { describe, expect, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import { type AlmaEntity, AlmaNotFound } from "../../src/services/AlmaError.js"

// An error's schema is its contract with whoever acts on it: the fields it must carry, checked when
// it is built (Effect 4 validates a TaggedError's fields in its constructor).
describe("AlmaNotFound", () => {
  const decode = Schema.decodeUnknownExit(AlmaNotFound)

  const entities: ReadonlyArray<AlmaEntity> = ["user", "loan", "request", "fee"]

  it.each(entities)("names what Alma does not know: a %s", (entity) => {
    const error = new AlmaNotFound({ entity, id: "1", code: "401861" })
    expect(error.entity).toBe(entity)
    expect(Exit.isSuccess(decode({ _tag: "AlmaNotFound", entity, id: "1", code: "401861" }))).toBe(true)
  })

  it("nothing else: an error naming another entity is refused", () => {
    expect(Exit.isFailure(decode({ _tag: "AlmaNotFound", entity: "patron", id: "1", code: "401861" }))).toBe(true)
    expect(Exit.isFailure(decode({ _tag: "AlmaNotFound", entity: "", id: "1", code: "401861" }))).toBe(true)
  })
})
