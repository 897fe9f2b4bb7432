// Generates a deterministic institution: users and their loans, requests and fees, in Alma's shapes.
import { EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES } from "./catalog.js"
import { createItemFactory, type ItemFactory } from "./items.js"
import { createPrng, deriveSeed, type Prng } from "./prng.js"
import type { AlmaFee, AlmaLoan, AlmaRequest } from "./types.js"

/** Fixed by default so that the same seed yields byte-identical data on any day. */
export const DEFAULT_REFERENCE_TIME = Date.UTC(2026, 10, 1)
export const DEFAULT_USERS = 200
export const DEFAULT_SEED = 20_260_401

export interface InstitutionOptions {
  readonly users?: number | undefined
  readonly seed?: number | undefined
  /** Epoch ms that loan, request and fee dates are placed around. */
  readonly referenceTime?: number | undefined
}

export interface GeneratedUser {
  readonly primaryId: string
  readonly loans: readonly AlmaLoan[]
  readonly requests: readonly AlmaRequest[]
  readonly fees: readonly AlmaFee[]
}

export interface GeneratedInstitution {
  readonly users: readonly GeneratedUser[]
  readonly factory: ItemFactory
}

const userIdFor = (rng: Prng, index: number): string => {
  // The first two are always present so that manual testing has well-known awkward ids.
  if (index === 0) return "Jane.Doe@Example.edu"
  if (index === 1) return "MIXED case 01"
  const first = rng.pick(FIRST_NAMES)
  const last = rng.pick(LAST_NAMES)
  const n = rng.int(1, 99)
  const cap = (s: string) => `${s.charAt(0).toUpperCase()}${s.slice(1)}`
  switch (index % 8) {
    case 0:
      return `${first.charAt(0)}${last}`
    case 1:
      return `${cap(first)}.${cap(last)}@${rng.pick(EMAIL_DOMAINS)}`
    case 2:
      return `${cap(first)} ${last} ${String(n).padStart(2, "0")}`
    case 3:
      return Array.from({ length: 6 }, () => String.fromCharCode(65 + rng.int(0, 25))).join("")
    case 4:
      return String(rng.int(100_000_000, 999_999_999))
    case 5:
      return `${first}.${last}`
    case 6:
      return `${first}.${last}${n}@${rng.pick(EMAIL_DOMAINS)}`
    default:
      return `${first}${last}${n}`
  }
}

// Spread a few heavy users over the institution (about 2.5%, at least one) to exercise paging.
const pickHeavy = (rng: Prng, users: number): ReadonlySet<number> => {
  const wanted = users === 0 ? 0 : Math.max(1, Math.round(users * 0.025))
  const heavy = new Set<number>()
  while (heavy.size < wanted) heavy.add(rng.int(0, users - 1))
  return heavy
}

export const generateInstitution = (options: InstitutionOptions = {}): GeneratedInstitution => {
  const count = options.users ?? DEFAULT_USERS
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`users must be a non-negative integer: ${count}`)
  const rng = createPrng(deriveSeed(options.seed ?? DEFAULT_SEED, 1))
  const factory = createItemFactory(rng, options.referenceTime ?? DEFAULT_REFERENCE_TIME)
  const heavy = pickHeavy(rng, count)
  // Unique regardless of case: the cache keys users by the lower-cased primary id.
  const taken = new Set<string>()
  const users = Array.from({ length: count }, (_, index): GeneratedUser => {
    const base = userIdFor(rng, index)
    let primaryId = base
    for (let n = 2; taken.has(primaryId.toLowerCase()); n++) primaryId = `${base}${n}`
    taken.add(primaryId.toLowerCase())
    const isHeavy = heavy.has(index)
    const loans = Array.from({ length: isHeavy ? rng.int(101, 250) : rng.int(0, 10) }, () => factory.loan(primaryId))
    // Heavy users also get more than one default page of requests, the other paged list.
    const requests = Array.from({ length: isHeavy ? rng.int(11, 25) : rng.int(0, 5) }, () => factory.request(primaryId))
    const fees = Array.from({ length: rng.int(0, 4) }, () => factory.fee(primaryId))
    return { primaryId, loans, requests, fees }
  })
  return { users, factory }
}
