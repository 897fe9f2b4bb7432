// Error answers a test sets for single items: the GET of that item answers the error, whether or not
// the item exists; the lists are unaffected.
import { type AlmaError, almaErrors } from "./errors.js"

export type ItemEndpoint = "loan" | "request" | "fee"

export interface ItemErrorSpec {
  /** 400..599. */
  readonly status: number
  readonly code: string
  /** Default: Alma's text for the codes it documents, otherwise its General Error text. */
  readonly message?: string
}

export interface ItemErrors {
  /** `undefined` removes the item's error. */
  readonly set: (endpoint: ItemEndpoint, itemId: string, error: ItemErrorSpec | undefined) => void
  readonly get: (endpoint: ItemEndpoint, itemId: string) => AlmaError | undefined
  readonly clear: () => void
}

// [unverified] texts for 401823 and 60258; the codes are documented (ALMA-API.md, "Errors").
const defaultMessage = (code: string, itemId: string): string => {
  switch (code) {
    case "401694":
      return almaErrors.requestNotFound(itemId).message
    case "401665":
      return almaErrors.feeNotFound(itemId).message
    case "401823":
      return `Loan ID ${itemId} does not exist.`
    case "60258":
      return "The API restricted profile is not valid."
    case "GENERAL_ERROR":
      return almaErrors.general(500).message
    default:
      return almaErrors.loanNotFound(itemId).message
  }
}

const validate = (error: ItemErrorSpec): ItemErrorSpec => {
  if (!(Number.isInteger(error.status) && error.status >= 400 && error.status <= 599))
    throw new RangeError(`status must be an integer within 400..599: ${error.status}`)
  if (error.code === "") throw new RangeError("code must not be empty")
  return error
}

export const createItemErrors = (): ItemErrors => {
  const errors = new Map<ItemEndpoint, Map<string, ItemErrorSpec>>()
  return {
    set: (endpoint, itemId, error) => {
      if (error === undefined) {
        errors.get(endpoint)?.delete(itemId)
        return
      }
      const forEndpoint = errors.get(endpoint) ?? new Map<string, ItemErrorSpec>()
      forEndpoint.set(itemId, validate({ ...error }))
      errors.set(endpoint, forEndpoint)
    },
    get: (endpoint, itemId) => {
      const error = errors.get(endpoint)?.get(itemId)
      if (error === undefined) return undefined
      return { status: error.status, code: error.code, message: error.message ?? defaultMessage(error.code, itemId) }
    },
    clear: () => {
      errors.clear()
    }
  }
}
