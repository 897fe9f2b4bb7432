import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { Sqs } from "../../src/services/Sqs.js"
import { type Outgoing, packBatches } from "../../src/services/SqsBatches.js"
import { type FakeAnswerer, fakeAwsClients } from "../support/fakeAws.js"

const KiB = 1024
const body = (kib: number, tag = "x") => tag.repeat(kib * KiB)
const sizes = (batches: ReadonlyArray<ReadonlyArray<Outgoing>>) => batches.map((batch) => batch.length)

describe("packBatches", () => {
  it("packs 10 messages a batch", () => {
    const messages = Array.from({ length: 25 }, (_, i) => ({ body: `m${i}` }))
    expect(sizes(packBatches(messages))).toEqual([10, 10, 5])
    expect(packBatches([])).toEqual([])
    expect(packBatches([{ body: "a" }])).toEqual([[{ body: "a" }]])
  })

  it("starts a new batch before 256 KiB, attributes counted; a message larger than that goes alone", () => {
    expect(sizes(packBatches([{ body: body(100) }, { body: body(100) }, { body: body(100) }]))).toEqual([2, 1])
    expect(sizes(packBatches([{ body: body(128) }, { body: body(128) }]))).toEqual([2])
    expect(sizes(packBatches([{ body: body(128) }, { body: `${body(128)}!` }]))).toEqual([1, 1])
    const withString = (kib: number) => ({
      body: body(100),
      attributes: { note: { DataType: "String", StringValue: body(kib, "s") } }
    })
    expect(sizes(packBatches([withString(30), withString(30)]))).toEqual([1, 1])
    expect(sizes(packBatches([withString(27), withString(27)]))).toEqual([2])
    const withBinary = {
      body: body(100),
      attributes: { blob: { DataType: "Binary", BinaryValue: new Uint8Array(30 * KiB) } }
    }
    expect(sizes(packBatches([withBinary, withBinary]))).toEqual([1, 1])
    // The attribute's name and type count too.
    const named = (name: string) => ({ body: body(127), attributes: { [name]: { DataType: "String" } } })
    expect(sizes(packBatches([named("n".repeat(KiB)), named("n".repeat(KiB))]))).toEqual([1, 1])
    const typed = { body: body(127), attributes: { t: { DataType: `String.${"t".repeat(KiB)}` } } }
    expect(sizes(packBatches([typed, typed]))).toEqual([1, 1])
    expect(sizes(packBatches([{ body: body(300) }, { body: body(300) }, { body: "small" }]))).toEqual([1, 1, 1])
    // An attribute without a type counts its name and value only: two of these fill 256 KiB exactly.
    const untyped = { body: "u".repeat(128 * KiB - 2), attributes: { n: { DataType: undefined, StringValue: "v" } } }
    expect(sizes(packBatches([untyped, untyped]))).toEqual([2])
    expect(sizes(packBatches([untyped, { ...untyped, body: `${untyped.body}!` }]))).toEqual([1, 1])
  })
})

/** The Sqs service over a stubbed client answering SendMessageBatch as `answer` says, every call recorded. */
const withSqs = <A, E>(answer: FakeAnswerer, use: (sqs: Sqs["Service"]) => Effect.Effect<A, E>) =>
  Sqs.use(use).pipe(Effect.provide(Sqs.layer), Effect.provide(fakeAwsClients({ sqs: answer })))

const fast = { retryBase: Duration.millis(1) }

describe("Sqs.sendBatches", () => {
  it.live("sends each batch as entries numbered from 0, attributes only where there are any", () => {
    const calls: Array<Record<string, unknown>> = []
    const messages: Array<Outgoing> = [
      { body: "plain" },
      { body: "empty", attributes: {}, systemAttributes: {} },
      {
        body: "full",
        attributes: { a: { DataType: "String", StringValue: "v" } },
        systemAttributes: { AWSTraceHeader: { DataType: "String", StringValue: "t" } }
      }
    ]
    return withSqs(
      (command, input) => {
        calls.push({ command, ...input })
        return { Successful: [], Failed: [] }
      },
      (sqs) => sqs.sendBatches("http://q", messages)
    ).pipe(
      Effect.map((report) => {
        expect(report).toEqual({ sent: 3, failed: [], retried: 0, fatal: undefined })
        expect(calls).toEqual([
          {
            command: "SendMessageBatchCommand",
            QueueUrl: "http://q",
            Entries: [
              { Id: "0", MessageBody: "plain" },
              { Id: "1", MessageBody: "empty" },
              {
                Id: "2",
                MessageBody: "full",
                MessageAttributes: { a: { DataType: "String", StringValue: "v" } },
                MessageSystemAttributes: { AWSTraceHeader: { DataType: "String", StringValue: "t" } }
              }
            ]
          }
        ])
        return report
      })
    )
  })

  it.live("an answer with no Failed list: every entry sent", () =>
    withSqs(
      () => ({}),
      (sqs) => sqs.sendBatches("http://q", [{ body: "a" }, { body: "b" }], fast)
    ).pipe(
      Effect.map((report) => {
        expect(report).toEqual({ sent: 2, failed: [], retried: 0, fatal: undefined })
        return report
      })
    )
  )

  it.live("sends again only the entries SQS failed, never a sender fault; unknown IDs ignored", () => {
    const sentIds: Array<Array<string>> = []
    const outcomes: Array<unknown> = []
    return withSqs(
      (_, input) => {
        const entries = Array.isArray(input.Entries) ? input.Entries : []
        sentIds.push(entries.map((entry: { MessageBody: string }) => entry.MessageBody))
        return sentIds.length === 1
          ? {
              Failed: [
                { Id: "1", Code: "InternalError", SenderFault: false },
                { Id: "2", Code: "InvalidMessageContents", Message: "bad body", SenderFault: true },
                { Id: "3", SenderFault: true },
                { Id: "9", Code: "Whatever", SenderFault: false }
              ]
            }
          : { Failed: [] }
      },
      (sqs) =>
        sqs.sendBatches(
          "http://q",
          ["a", "b", "c", "d"].map((b) => ({ body: b })),
          { ...fast, onBatch: (outcome) => outcomes.push(outcome) }
        )
    ).pipe(
      Effect.map((report) => {
        expect(sentIds).toEqual([["a", "b", "c", "d"], ["b"]])
        expect(report).toEqual({
          sent: 2,
          failed: [
            { message: { body: "c" }, code: "InvalidMessageContents", detail: "bad body" },
            { message: { body: "d" }, code: "UnknownError", detail: "" }
          ],
          retried: 1,
          fatal: undefined
        })
        expect(outcomes).toEqual([{ sent: 2, failed: 2, retried: 1 }])
        return report
      })
    )
  })

  it.live("an entry failing every try is given up after `attempts`, each retry counted", () => {
    let calls = 0
    return withSqs(
      () => {
        calls++
        return { Failed: [{ Id: "0", Code: "InternalError", Message: "busy", SenderFault: false }] }
      },
      (sqs) => sqs.sendBatches("http://q", [{ body: "a" }, { body: "b" }], { ...fast, attempts: 3 })
    ).pipe(
      Effect.map((report) => {
        expect(calls).toBe(3)
        expect(report).toEqual({
          sent: 1,
          failed: [{ message: { body: "a" }, code: "InternalError", detail: "busy" }],
          retried: 2,
          fatal: undefined
        })
        return report
      })
    )
  })

  it.live("a failing call: transient is retried whole, another is final at once", () => {
    let calls = 0
    const run = (error: Error) =>
      withSqs(
        () => {
          calls++
          throw error
        },
        (sqs) => sqs.sendBatches("http://q", [{ body: "a" }], { ...fast, attempts: 2 })
      )
    return Effect.gen(function* () {
      const transient = yield* run(Object.assign(new Error("slow down"), { name: "ThrottlingException" }))
      expect(calls).toBe(2)
      expect(transient).toMatchObject({ sent: 0, retried: 1, fatal: undefined })
      expect(transient.failed).toEqual([{ message: { body: "a" }, code: "ThrottlingException", detail: "slow down" }])
      calls = 0
      const final = yield* run(Object.assign(new Error("too big"), { name: "BatchRequestTooLong" }))
      expect(calls).toBe(1)
      expect(final).toEqual({
        sent: 0,
        failed: [{ message: { body: "a" }, code: "BatchRequestTooLong", detail: "too big" }],
        retried: 0,
        fatal: undefined
      })
    })
  })

  it.live("a fatal failure stops the run: later batches are not sent, and say why", () => {
    let calls = 0
    const messages = Array.from({ length: 25 }, (_, i) => ({ body: `m${i}` }))
    return withSqs(
      () => {
        calls++
        throw Object.assign(new Error("no such queue"), { name: "QueueDoesNotExist" })
      },
      (sqs) => sqs.sendBatches("http://q", messages, { ...fast, concurrency: 0 })
    ).pipe(
      Effect.map((report) => {
        expect(calls).toBe(1)
        expect(report.sent).toBe(0)
        expect(report.fatal).toMatchObject({ code: "QueueDoesNotExist", detail: "no such queue" })
        expect(report.failed).toHaveLength(25)
        expect(report.failed[0]).toEqual({
          message: { body: "m0" },
          code: "QueueDoesNotExist",
          detail: "no such queue"
        })
        expect(report.failed[24]).toEqual({
          message: { body: "m24" },
          code: "QueueDoesNotExist",
          detail: "not sent: the run stopped"
        })
        return report
      })
    )
  })
})
