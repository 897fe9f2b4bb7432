// The simulator's mutable copy of the institution, with every item's JSON computed once so that
// answering a call is string concatenation, not serialisation.
import { generateInstitution, type InstitutionOptions } from "./institution.js"
import type { AlmaFee, AlmaLoan, AlmaRequest, AlmaUserData } from "./types.js"

export interface Stored<T> {
  readonly id: string
  readonly value: T
  readonly json: string
}
export interface StoredLoan extends Stored<AlmaLoan> {
  /** The JSON with `renewable`, served for `expand=renewable`. */
  readonly jsonRenewable: string
}
export interface StoredFee extends Stored<AlmaFee> {
  readonly cents: number
}

interface UserRecord {
  readonly primaryId: string
  readonly loans: StoredLoan[]
  readonly requests: Stored<AlmaRequest>[]
  readonly fees: StoredFee[]
}

export type Found<T> =
  | { readonly kind: "ok"; readonly item: T }
  | { readonly kind: "no-user" }
  | { readonly kind: "no-item" }

export type LoanOverrides = Partial<
  Pick<
    AlmaLoan,
    "title" | "author" | "description" | "due_date" | "loan_date" | "process_status" | "renewable" | "call_number"
  >
>

/**
 * Values a generated item cannot have, for tests of oversized and out-of-range data. `fields` are merged
 * over the item (after a loan's overrides), served and shown by `userData`. Each `rawJson` entry is put
 * into the served JSON verbatim (replacing a generated key of that name), so that a number JavaScript
 * cannot represent exactly, e.g. `{ big_id: "123456789012345678901" }`, is served digit for digit; it is
 * not in `userData`. Neither may replace the item's ID.
 */
export interface ItemExtra {
  readonly fields?: Readonly<Record<string, unknown>>
  readonly rawJson?: Readonly<Record<string, string>>
}

export interface Institution {
  readonly userIds: () => readonly string[]
  /** A copy of what the API would serve for the user (loans with `renewable`), or undefined. */
  readonly userData: (userId: string) => AlmaUserData | undefined
  readonly loans: (userId: string) => readonly StoredLoan[] | undefined
  readonly requests: (userId: string) => readonly Stored<AlmaRequest>[] | undefined
  readonly fees: (userId: string) => readonly StoredFee[] | undefined
  readonly loan: (userId: string, loanId: string) => Found<StoredLoan>
  readonly request: (userId: string, requestId: string) => Found<Stored<AlmaRequest>>
  readonly fee: (userId: string, feeId: string) => Found<StoredFee>
  readonly returnLoan: (userId: string, loanId: string) => boolean
  readonly payFee: (userId: string, feeId: string) => boolean
  readonly cancelRequest: (userId: string, requestId: string) => boolean
  readonly deleteUser: (userId: string) => boolean
  /** False when the id is taken (compared case-insensitively) or empty. */
  readonly addUser: (userId: string) => boolean
  readonly addLoan: (userId: string, overrides?: LoanOverrides, extra?: ItemExtra) => AlmaLoan | undefined
  readonly addRequest: (userId: string, extra?: ItemExtra) => AlmaRequest | undefined
  readonly addFee: (userId: string, extra?: ItemExtra) => AlmaFee | undefined
}

type RawJson = Readonly<Record<string, string>>

const withoutRenewable = (key: string, value: unknown): unknown => (key === "renewable" ? undefined : value)

/** The item's JSON with the `raw` entries inserted verbatim in place of any generated value of that key. */
const serialise = (item: object, raw: RawJson, replacer?: (key: string, value: unknown) => unknown): string => {
  const inserted = Object.entries(raw).map(([key, text]) => `${JSON.stringify(key)}:${text}`)
  if (inserted.length === 0) return JSON.stringify(item, replacer)
  const kept = JSON.stringify(
    Object.fromEntries(Object.entries(item).filter(([key]) => !Object.hasOwn(raw, key))),
    replacer
  )
  return kept === "{}" ? `{${inserted.join(",")}}` : `${kept.slice(0, -1)},${inserted.join(",")}}`
}

const storeLoan = (loan: AlmaLoan, raw: RawJson = {}): StoredLoan => ({
  id: loan.loan_id,
  value: loan,
  json: serialise(loan, raw, withoutRenewable),
  jsonRenewable: serialise(loan, raw)
})
const storeRequest = (request: AlmaRequest, raw: RawJson = {}): Stored<AlmaRequest> => ({
  id: request.request_id,
  value: request,
  json: serialise(request, raw)
})
const storeFee = (fee: AlmaFee, raw: RawJson = {}): StoredFee => ({
  id: fee.id,
  value: fee,
  json: serialise(fee, raw),
  cents: Math.round(fee.balance * 100)
})

/** The extra's parts, checked: no replaced ID, and every raw value valid JSON text. */
const checkExtra = (extra: ItemExtra, idKey: string): { readonly fields: object; readonly raw: RawJson } => {
  const fields = extra.fields ?? {}
  const raw = extra.rawJson ?? {}
  if (Object.hasOwn(fields, idKey) || Object.hasOwn(raw, idKey)) throw new RangeError(`extra must not set ${idKey}`)
  for (const [key, text] of Object.entries(raw)) {
    try {
      JSON.parse(text)
    } catch {
      throw new RangeError(`rawJson.${key} is not JSON text: ${text.slice(0, 40)}`)
    }
  }
  return { fields, raw }
}

const find = <T extends { readonly id: string }>(items: readonly T[] | undefined, id: string): Found<T> => {
  if (items === undefined) return { kind: "no-user" }
  const item = items.find((candidate) => candidate.id === id)
  return item === undefined ? { kind: "no-item" } : { kind: "ok", item }
}

const remove = <T extends { readonly id: string }>(items: T[] | undefined, id: string): boolean => {
  const index = items?.findIndex((candidate) => candidate.id === id) ?? -1
  if (index < 0) return false
  items?.splice(index, 1)
  return true
}

export const totalSum = (fees: readonly StoredFee[]): number => fees.reduce((sum, fee) => sum + fee.cents, 0) / 100

export const createInstitution = (options: InstitutionOptions = {}): Institution => {
  const generated = generateInstitution(options)
  const { factory } = generated
  // Keyed by the exact primary id. Whether Alma matches identifiers case-insensitively is not
  // verified, so the simulator is strict (case-sensitive): a client that changes an id's case sees
  // 401861 here instead of passing by luck.
  const users = new Map<string, UserRecord>()
  const lowerCaseIds = new Set<string>()
  for (const user of generated.users) {
    users.set(user.primaryId, {
      primaryId: user.primaryId,
      loans: user.loans.map((loan) => storeLoan(loan)),
      requests: user.requests.map((request) => storeRequest(request)),
      fees: user.fees.map((fee) => storeFee(fee))
    })
    lowerCaseIds.add(user.primaryId.toLowerCase())
  }

  const add = <T>(userId: string, make: (record: UserRecord) => T): T | undefined => {
    const record = users.get(userId)
    return record === undefined ? undefined : make(record)
  }

  return {
    userIds: () => [...users.keys()],
    userData: (userId) => {
      const record = users.get(userId)
      if (record === undefined) return undefined
      // Copies, so that a test cannot alter what the server answers.
      return structuredClone({
        primaryId: record.primaryId,
        loans: record.loans.map((loan) => loan.value),
        requests: record.requests.map((request) => request.value),
        fees: record.fees.map((fee) => fee.value),
        totalSum: totalSum(record.fees)
      })
    },
    loans: (userId) => users.get(userId)?.loans,
    requests: (userId) => users.get(userId)?.requests,
    fees: (userId) => users.get(userId)?.fees,
    loan: (userId, loanId) => find(users.get(userId)?.loans, loanId),
    request: (userId, requestId) => find(users.get(userId)?.requests, requestId),
    fee: (userId, feeId) => find(users.get(userId)?.fees, feeId),
    returnLoan: (userId, loanId) => remove(users.get(userId)?.loans, loanId),
    payFee: (userId, feeId) => remove(users.get(userId)?.fees, feeId),
    cancelRequest: (userId, requestId) => remove(users.get(userId)?.requests, requestId),
    deleteUser: (userId) => {
      if (!users.delete(userId)) return false
      lowerCaseIds.delete(userId.toLowerCase())
      return true
    },
    addUser: (userId) => {
      if (userId === "" || lowerCaseIds.has(userId.toLowerCase())) return false
      users.set(userId, { primaryId: userId, loans: [], requests: [], fees: [] })
      lowerCaseIds.add(userId.toLowerCase())
      return true
    },
    addLoan: (userId, overrides = {}, extra = {}) => {
      const { fields, raw } = checkExtra(extra, "loan_id")
      return add(userId, (record) => {
        const loan: AlmaLoan = { ...factory.loan(record.primaryId), ...overrides, ...fields }
        record.loans.push(storeLoan(loan, raw))
        return structuredClone(loan)
      })
    },
    addRequest: (userId, extra = {}) => {
      const { fields, raw } = checkExtra(extra, "request_id")
      return add(userId, (record) => {
        const request: AlmaRequest = { ...factory.request(record.primaryId), ...fields }
        record.requests.push(storeRequest(request, raw))
        return structuredClone(request)
      })
    },
    addFee: (userId, extra = {}) => {
      const { fields, raw } = checkExtra(extra, "id")
      return add(userId, (record) => {
        const fee: AlmaFee = { ...factory.fee(record.primaryId), ...fields }
        record.fees.push(storeFee(fee, raw))
        return structuredClone(fee)
      })
    }
  }
}
