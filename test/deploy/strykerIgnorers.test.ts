import { describe, expect, it } from "vitest"
import { strykerPlugins } from "../../stryker.ignorers.mjs"

// The mutants `npm run mutate` leaves out of its score: only those no run of the service can observe.

const [plugin] = strykerPlugins
const shouldIgnore = (node: unknown): string | undefined => plugin?.value.shouldIgnore({ node })

const id = (name: string) => ({ type: "Identifier", name })
const member = (object: string, property: string) => ({
  type: "MemberExpression",
  object: id(object),
  property: id(property)
})
const call = (callee: unknown, ...args: Array<unknown>) => ({ type: "CallExpression", callee, arguments: args })
const text = (value: string) => ({ type: "StringLiteral", value })

describe("the Unobservable ignorer (stryker.ignorers.mjs)", () => {
  it("is the plugin stryker.config.mjs names", () => {
    expect(plugin?.name).toBe("Unobservable")
  })

  it("ignores a span's name and attributes, Effect.fn's name and a service's identifier", () => {
    expect(shouldIgnore(call(member("Effect", "withSpan"), text("updateUser.batch")))).toMatch(/Tracer/)
    expect(shouldIgnore(call(member("Effect", "fn"), text("updateUser")))).toMatch(/Tracer/)
    expect(shouldIgnore(call(call(member("Context", "Service")), text("lag-buc/services/Alma")))).toMatch(
      /service identifier/
    )
  })

  it("keeps everything else: tagged errors' tags, logs, other calls and other nodes", () => {
    expect(shouldIgnore(call(call(member("Schema", "TaggedError")), text("AlmaNotFound")))).toBeUndefined()
    expect(shouldIgnore(call(member("Effect", "logWarning"), text("item skipped")))).toBeUndefined()
    expect(shouldIgnore(call(member("Effect", "gen")))).toBeUndefined()
    expect(shouldIgnore(call(call(member("Effect", "fn"), text("x")), id("body")))).toBeUndefined()
    expect(shouldIgnore(text("lag-buc/services/Alma"))).toBeUndefined()
    expect(shouldIgnore(undefined)).toBeUndefined()
  })
})
