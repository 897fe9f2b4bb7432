// One Alma answer read: a non-2xx becomes the typed error that decides the message's fate, a 2xx
// its decoded body, and every answer's `X-Exl-Api-Remaining` the calls left of the institution's day.
// The calls themselves (budget, retries, paging) are Alma.ts's.

import { Effect, Schema } from "effect"
import type { HttpClientResponse } from "effect/http"
import { parseAlmaError } from "../schema/AlmaErrorBody.js"
import { parseAlmaJson } from "../schema/AlmaJson.js"
import { describeIssue } from "../schema/describeIssue.js"
import {
  AlmaAmbiguous,
  AlmaBadResponse,
  type AlmaEntity,
  type AlmaError,
  AlmaNotFound,
  AlmaRateLimited,
  AlmaUnauthorized,
  AlmaUnavailable
} from "./AlmaError.js"

/** The six Alma calls this service makes (ALMA-API.md), named for counting. */
export type AlmaEndpoint = "loans" | "loan" | "requests" | "request" | "fees" | "fee"

// The only answers that prove something gone (ALMA-API.md "Errors"): 401890 is listed by Ex Libris as
// "User with identifier … not found" on some endpoints; 401665 is documented on GET /fees/{fee_id}.
const userNotFoundCodes = new Set(["401861", "401890"])
const feeNotFoundCode = "401665"
// A key or profile problem (60258: the API restricted profile is not valid): never a reason to
// discard, always an operator's to fix.
const unauthorizedCodes = new Set(["UNAUTHORIZED", "INVALID_REQUEST", "FORBIDDEN", "60258"])

/** Whose answer this is: decides how a 400 reads. */
export interface Target {
  readonly endpoint: AlmaEndpoint
  readonly userId: string
  /** Set on single-item calls. */
  readonly item?: { readonly entity: Exclude<AlmaEntity, "user">; readonly id: string }
}

const excerptOf = (body: string) => body.replace(/\s+/g, " ").trim().slice(0, 160)

/**
 * Turns a non-2xx answer into the typed error that decides the message's fate. Deleting is the one
 * irreversible act: only the proven not-found codes become `AlmaNotFound`; any other 400 on a
 * single item is `AlmaAmbiguous`, whose absence the program confirms before it deletes anything.
 */
export const classifyFailure = (target: Target, status: number, body: string): AlmaError => {
  const detail = parseAlmaError(body)
  const code = detail?.code
  const tracking = detail?.trackingId === undefined ? {} : { trackingId: detail.trackingId }
  if (status === 429) {
    return new AlmaRateLimited({ threshold: code === "DAILY_THRESHOLD" ? "daily" : "per-second", ...tracking })
  }
  if (status >= 500) {
    return new AlmaUnavailable({ reason: "server", status, ...(code === undefined ? {} : { code }), ...tracking })
  }
  if (status === 401 || status === 403 || (code !== undefined && unauthorizedCodes.has(code))) {
    return new AlmaUnauthorized({ status, code: code ?? String(status), ...tracking })
  }
  if (status === 400 && code !== undefined) {
    if (userNotFoundCodes.has(code)) return new AlmaNotFound({ entity: "user", id: target.userId, code, ...tracking })
    const item = target.item
    if (item !== undefined) {
      return item.entity === "fee" && code === feeNotFoundCode
        ? new AlmaNotFound({ entity: "fee", id: item.id, code, ...tracking })
        : new AlmaAmbiguous({ entity: item.entity, id: item.id, status, code, ...tracking })
    }
  }
  return new AlmaBadResponse({
    endpoint: target.endpoint,
    status,
    ...(code === undefined ? {} : { code }),
    ...tracking,
    excerpt: excerptOf(body)
  })
}

export const readAnswer = <S extends Schema.Top & { readonly DecodingServices: never }>(
  target: Target,
  response: HttpClientResponse.HttpClientResponse,
  body: string,
  schema: S
): Effect.Effect<S["Type"], AlmaError> => {
  if (response.status < 200 || response.status >= 300)
    return Effect.fail(classifyFailure(target, response.status, body))
  // A 2xx body is a patron's record: what was wrong with it is logged, never any of its content.
  const unreadable = (problem: string) =>
    new AlmaBadResponse({ endpoint: target.endpoint, status: response.status, ...trackingOf(body), problem })
  return Effect.try({ try: () => parseAlmaJson(body), catch: () => unreadable("the body is not JSON") }).pipe(
    Effect.flatMap((json) =>
      Schema.decodeUnknownEffect(schema)(json).pipe(Effect.mapError((error) => unreadable(describeIssue(error.issue))))
    )
  )
}

/** `X-Exl-Api-Remaining`: calls left of the institution's day, on every answer (absent on a gateway's own). */
export const remainingOf = (response: HttpClientResponse.HttpClientResponse): number | undefined => {
  const value = response.headers["x-exl-api-remaining"]?.trim()
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined
}

const trackingOf = (body: string) => {
  const trackingId = parseAlmaError(body)?.trackingId
  return trackingId === undefined ? {} : { trackingId }
}
