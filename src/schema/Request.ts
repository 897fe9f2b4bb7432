import { Schema } from "effect"
import { AlmaId, AlmaNumber, almaObject, nullable } from "./AlmaObject.js"

/**
 * Alma sends `request_status` both as codes (`NOT_STARTED`) and as labels (`Not Started`), and may add
 * statuses: the known ones are listed for readers, any string is accepted so a new status never
 * stalls a patron's refresh.
 */
export const knownRequestStatuses = [
  "NOT_STARTED",
  "IN_PROCESS",
  "ON_HOLD_SHELF",
  "ACTIVE",
  "HISTORY",
  "Not Started",
  "In Process",
  "On Hold Shelf",
  "Active",
  "History"
] as const
export const RequestStatus = Schema.Union([Schema.Literals(knownRequestStatuses), Schema.String])

/** One `user_request` of GET /users/{user_id}/requests[/{request_id}]. */
export const Request = almaObject({
  request_id: AlmaId,
  /** A plain string here (fees carry an object). */
  user_primary_id: nullable(Schema.String),
  request_status: nullable(RequestStatus),
  place_in_queue: nullable(AlmaNumber)
})
export type Request = typeof Request.Type

/** A request in history (fulfilled, cancelled) is no longer active [unverified that the GET answers it]. */
export const isClosedRequest = (request: Request): boolean => request.request_status?.toUpperCase() === "HISTORY"

/** A page of GET /users/{user_id}/requests: the array key is absent when the page is empty. */
export const RequestPage = almaObject({
  user_request: Schema.optionalKey(Schema.NullOr(Schema.Array(Request))),
  total_record_count: Schema.Int
})
export type RequestPage = typeof RequestPage.Type
