import { describe, expect, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import { QueueSendFailed } from "../../src/services/QueueError.js"

// What an operator needs to send an unsent message again by hand: its body, and SQS's code and
// detail for why it was refused. The schema refuses a report that lacks any of them.
describe("QueueSendFailed", () => {
  const decode = Schema.decodeUnknownExit(QueueSendFailed)
  const report = (unsent: ReadonlyArray<unknown>) => ({ _tag: "QueueSendFailed", queueUrl: "q", sent: 1, unsent })

  it("lists each unsent message with its body, code and detail", () => {
    const exit = decode(report([{ body: '{"id":"1"}', code: "InternalError", detail: "try again" }]))
    expect(Exit.isSuccess(exit) ? exit.value.unsent : undefined).toEqual([
      { body: '{"id":"1"}', code: "InternalError", detail: "try again" }
    ])
  })

  it.each(["body", "code", "detail"])("an unsent message without its %s is refused", (field) => {
    const message = Object.fromEntries(
      Object.entries({ body: "b", code: "c", detail: "d" }).filter(([name]) => name !== field)
    )
    expect(Exit.isFailure(decode(report([message])))).toBe(true)
  })
})
