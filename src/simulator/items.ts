// Builds single loans, requests and fees in Alma's shapes, recombining values from the fixtures.
import { AUTHORS, type Bib, FIXTURE_BIBS, LIBRARIES, TOPICS } from "./catalog.js"
import type { Prng } from "./prng.js"
import type { AlmaFee, AlmaFeeTransaction, AlmaLoan, AlmaRequest, CodeDesc } from "./types.js"

const DAY = 86_400_000
const HOUR = 3_600_000
// Alma ids end with the institution's code; the prefix is a growing sequence, so ids are unique and
// sort in creation order like Alma's default `order_by=id`.
const INSTITUTION_SUFFIX = "0004036"
const API_HOST = "https://api-na.hosted.exlibrisgroup.com/almaws/v1"

/** Makes items; after generation it makes further ones, continuing the same id sequences so ids stay unique. */
export interface ItemFactory {
  readonly loan: (userId: string) => AlmaLoan
  readonly request: (userId: string) => AlmaRequest
  readonly fee: (userId: string) => AlmaFee
}

interface CatalogBib extends Bib {
  readonly mms_id: string
}

const isoMs = (ms: number): string => new Date(ms).toISOString()
const isoNoMs = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19)}Z`
const dateZ = (ms: number, suffix: "Z" | "z" = "Z"): string => `${new Date(ms).toISOString().slice(0, 10)}${suffix}`
const usDate = (ms: number): string => {
  const iso = new Date(ms).toISOString()
  return `${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(0, 4)}`
}
const startOfDay = (ms: number): number => Math.floor(ms / DAY) * DAY
const money = (cents: number): number => cents / 100

// Alma's own links leave `@` readable (see the fixtures) but must still encode spaces and slashes.
const linkId = (id: string): string => encodeURIComponent(id).replaceAll("%40", "@")

const sequence = (rng: Prng, start: number): (() => number) => {
  let current = start
  return () => {
    current += rng.int(1, 97)
    return current
  }
}

// "Gupta, Suman, 1966-" (heading) -> "Suman Gupta" (as in a title's statement of responsibility).
const statementOf = (heading: string): string => {
  const [last = "", first = ""] = heading.split(",").map((part) => part.trim().replace(/(?<=[a-z])\.$/, ""))
  return first === "" ? last : `${first} ${last}`
}

const buildCatalog = (rng: Prng, nextMms: () => number): readonly [CatalogBib, ...CatalogBib[]] => {
  const withMms = (bib: Bib): CatalogBib => ({ ...bib, mms_id: `99${nextMms()}${INSTITUTION_SUFFIX}` })
  const [first, ...rest] = FIXTURE_BIBS
  const synthetic = Array.from({ length: 60 }, (_, i): Bib => {
    const author = rng.chance(0.1) ? null : rng.pick(AUTHORS)
    const year = 1900 + rng.int(0, 125)
    return {
      title: `${rng.pick(["Studies in", "A short history of", "Notes on", "The art of"])} ${rng.pick(TOPICS)}${i % 7 === 0 ? ` : volume ${rng.int(1, 9)}` : ""}${author === null ? "." : ` / ${statementOf(author)}.`}`,
      author,
      publication_year: rng.pick([`c${year}.`, `${year}.`, `[${year}]`]),
      call_number: rng.chance(0.1)
        ? null
        : `${rng.pick(["ML", "PR", "QA", "F", "BF"])}${rng.int(10, 9999)} .${rng.pick(["S", "H", "M"])}${rng.int(10, 99)} ${year}`,
      date_of_publication: ""
    }
  })
  return [withMms(first), ...rest.map(withMms), ...synthetic.map(withMms)]
}

export const createItemFactory = (rng: Prng, referenceTime: number): ItemFactory => {
  const nextId = sequence(rng, 133_400_963)
  const nextItem = sequence(rng, 2_350_477)
  const nextBarcode = sequence(rng, 10_000)
  const catalog = buildCatalog(rng, sequence(rng, 1_246_960))
  const entityId = () => `${nextId()}${INSTITUTION_SUFFIX}`
  const pastMs = (maxDays: number) => referenceTime - rng.int(0, maxDays) * DAY - rng.int(0, DAY - 1)

  const loan = (userId: string): AlmaLoan => {
    const bib = rng.pick(catalog)
    const lib = rng.pick(LIBRARIES)
    const loanMs = pastMs(150)
    const periodDays = rng.pick([14, 28, 90, 120] as const)
    const renewed = rng.chance(0.2)
    const roll = rng.next()
    const processStatus = renewed ? "RENEW" : roll < 0.04 ? "CLAIMED_RETURN" : roll < 0.07 ? "LOST" : "NORMAL"
    const dueMs =
      startOfDay(loanMs + periodDays * DAY * (renewed ? 2 : 1)) + rng.pick([4 * HOUR - 60_000, 22 * HOUR, 5 * HOUR])
    const item = nextItem()
    return {
      loan_id: entityId(),
      circ_desk: lib.circDesk,
      ...(rng.chance(0.3) ? { return_circ_desk: { value: null, desc: null, link: null } } : {}),
      library: lib.library,
      user_id: userId,
      item_barcode: String(nextBarcode()),
      due_date: isoNoMs(dueMs),
      loan_status: "ACTIVE",
      loan_date: isoMs(loanMs),
      ...(rng.chance(0.3) ? { returned_by: { value: "", link: null } } : {}),
      process_status: processStatus,
      mms_id: bib.mms_id,
      holding_id: `22${item}${INSTITUTION_SUFFIX}`,
      item_id: `23${item}${INSTITUTION_SUFFIX}`,
      title: bib.title,
      author: bib.author,
      description: rng.chance(0.15) ? `v. ${rng.int(1, 12)}` : null,
      publication_year: bib.publication_year,
      location_code: lib.location,
      item_policy: rng.chance(0.7)
        ? { value: null, description: null }
        : rng.pick([
            { value: "BOOK", description: "Regular loan" },
            { value: "Null", description: null },
            { value: "SHORT", description: "Short loan" }
          ]),
      call_number: bib.call_number,
      ...(rng.chance(0.4) ? { loan_fine: rng.pick([0, 2.5, 25]) } : {}),
      renewable: processStatus === "NORMAL" || processStatus === "RENEW" ? rng.chance(0.8) : false,
      ...(renewed ? { last_renew_date: isoMs(loanMs + rng.int(1, periodDays) * DAY) } : {}),
      last_renew_status: renewed ? { value: "401193;", desc: "Renewed Successfully" } : { value: null, desc: "" }
    }
  }

  const materialType = (): AlmaRequest["material_type"] => {
    const roll = rng.next()
    if (roll < 0.6) return { value: "BOOK", desc: "Book" }
    if (roll < 0.8) return { value: null, desc: null }
    if (roll < 0.9) return {}
    return rng.pick([
      { value: "MAP", desc: "Map" },
      { value: "DVD", desc: "DVD" }
    ])
  }

  const request = (userId: string): AlmaRequest => {
    const bib = rng.pick(catalog)
    const lib = rng.pick(LIBRARIES)
    const requestMs = pastMs(30)
    const label = rng.chance(0.5)
    const status = (code: string, text: string) => (label ? text : code)
    const kindRoll = rng.next()
    const type = kindRoll < 0.6 ? "HOLD" : kindRoll < 0.8 ? "BOOKING" : kindRoll < 0.95 ? "DIGITIZATION" : "WORK_ORDER"
    const stage = rng.next()
    const inProcess = type !== "BOOKING" && (type !== "HOLD" || stage >= 0.5)
    const onShelf = type === "HOLD" && stage >= 0.8
    const hasItem = type === "HOLD" && rng.chance(0.6)
    const item = nextItem()
    const subType: CodeDesc =
      type === "HOLD"
        ? { value: "PATRON_PHYSICAL", desc: "Patron physical item request" }
        : type === "BOOKING"
          ? { value: "BOOKING", desc: "Booking request" }
          : type === "DIGITIZATION"
            ? { value: "PATRON_DIGITIZATION", desc: "Patron digitization request" }
            : { value: "Digiproj", desc: "Projektdigitalisering" }
    const pickup = type === "HOLD" || type === "BOOKING"
    const managed = inProcess && type === "HOLD"
    const bookingStart = requestMs + rng.int(1, 10) * DAY
    const bookingEnd = startOfDay(bookingStart + rng.int(2, 5) * DAY) + 4 * HOUR - 60_000
    return {
      user_primary_id: userId,
      request_id: entityId(),
      ...(type === "WORK_ORDER" ? { additional_id: String(rng.int(1000, 9999)) } : {}),
      request_type: type,
      request_sub_type: subType,
      mms_id: bib.mms_id,
      title: bib.title,
      author: bib.author,
      description: rng.chance(0.2) ? "" : null,
      ...(pickup
        ? {
            pickup_location: lib.pickupName,
            pickup_location_type: "LIBRARY",
            pickup_location_library: lib.library.value ?? ""
          }
        : {}),
      ...(type === "WORK_ORDER"
        ? { target_destination: { value: "Digiproj_1008", desc: "10008-Pligtafl. kort" } }
        : {}),
      managed_by_library: managed ? (lib.library.desc ?? "") : "",
      managed_by_circulation_desk: managed ? (lib.circDesk.desc ?? "") : "",
      managed_by_library_code: managed ? (lib.library.value ?? "") : "",
      managed_by_circulation_desk_code: managed ? (lib.circDesk.value ?? "") : "",
      material_type: materialType(),
      ...(type === "HOLD" && rng.chance(0.5)
        ? { last_interest_date: dateZ(requestMs + 30 * DAY, rng.chance(0.2) ? "z" : "Z") }
        : {}),
      volume: "",
      issue: "",
      part: "",
      date_of_publication: bib.date_of_publication,
      comment: rng.chance(0.15) ? "Please hold at the front desk" : null,
      request_status: onShelf
        ? status("ON_HOLD_SHELF", "On Hold Shelf")
        : inProcess
          ? status("IN_PROCESS", "In Process")
          : status("NOT_STARTED", "Not Started"),
      ...(type === "HOLD" && !inProcess ? { place_in_queue: rng.int(1, 6) } : {}),
      request_date: dateZ(requestMs),
      request_time: isoMs(requestMs),
      ...(inProcess
        ? {
            task_name: onShelf ? "On Hold Shelf" : type === "HOLD" ? "Pickup From Shelf" : "In Process",
            expiry_date: dateZ(requestMs + (onShelf ? 10 : 7) * DAY)
          }
        : {}),
      ...(type === "BOOKING"
        ? {
            booking_start_date: isoMs(bookingStart),
            booking_end_date: isoMs(bookingEnd),
            adjusted_booking_start_date: isoMs(bookingStart),
            adjusted_booking_end_date: isoNoMs(bookingEnd)
          }
        : {}),
      ...(hasItem ? { item_id: `23${item}${INSTITUTION_SUFFIX}` } : {}),
      barcode: hasItem ? String(nextBarcode()) : null
    }
  }

  const fee = (userId: string): AlmaFee => {
    const id = entityId()
    const bib = rng.pick(catalog)
    const lib = rng.pick(LIBRARIES)
    const roll = rng.next()
    const type: CodeDesc =
      roll < 0.45
        ? { value: "OVERDUEFINE", desc: "Overdue fine" }
        : roll < 0.6
          ? { value: "LOSTITEMREPLACEMENTFEE", desc: "Lost item replacement fee" }
          : roll < 0.7
            ? { value: "LOSTITEMPROCESSFEE", desc: "Lost item process fee" }
            : roll < 0.85
              ? { value: "RENEWFEE", desc: "Renew fee" }
              : { value: "CREDIT", desc: "Credit" }
    const credit = type.value === "CREDIT"
    const originalCents = credit
      ? -25 * rng.int(1, 400)
      : type.value === "OVERDUEFINE"
        ? 25 * rng.int(1, 200)
        : type.value === "LOSTITEMREPLACEMENTFEE"
          ? 100 * rng.int(20, 150)
          : type.value === "LOSTITEMPROCESSFEE"
            ? 1000
            : 250
    const paidCents = !credit && originalCents > 25 && rng.chance(0.35) ? 25 * rng.int(1, originalCents / 25 - 1) : 0
    const createdMs = pastMs(400)
    const paidMs = createdMs + rng.int(0, 20) * DAY + rng.int(1, DAY - 1)
    const barcode = credit || rng.chance(0.1) ? null : String(nextBarcode())
    const transaction: AlmaFeeTransaction = {
      type: { value: "PAYMENT", desc: "Payment" },
      amount: money(paidCents),
      vat_amount: 0,
      created_by: "Ex Libris",
      external_transaction_id: String(rng.int(10_000_000_000, 99_999_999_999)),
      transaction_time: isoMs(paidMs),
      received_by: { value: "Circulation", desc: lib.library.desc },
      payment_method: rng.pick([
        { value: "CASH", desc: "Cash" },
        { value: "ONLINE", desc: "Online" }
      ])
    }
    return {
      id,
      type,
      status: { value: "ACTIVE", desc: "Active" },
      user_primary_id: { value: userId, link: `${API_HOST}/users/${linkId(userId)}` },
      balance: money(originalCents - paidCents),
      remaining_vat_amount: 0,
      original_amount: money(originalCents),
      original_vat_amount: 0,
      creation_time: isoMs(createdMs),
      status_time: isoMs(paidCents > 0 ? paidMs : createdMs),
      comment:
        type.value === "OVERDUEFINE"
          ? `Date generated: ${usDate(createdMs)}, Due: ${usDate(createdMs - 3 * DAY)}, Fine Policy/ies:  Overdue fine policy: 2.50 Open Days Overdue Fine , Action: ${rng.pick(["Renewed", "Item was returned"])}`
          : null,
      owner: lib.library,
      title: credit ? null : bib.title,
      barcode: barcode === null ? null : { value: barcode, link: `${API_HOST}/items?item_barcode=${barcode}` },
      ...(paidCents > 0 ? { transaction: [transaction] } : {}),
      link: `${API_HOST}/users/${linkId(userId)}/fees/${id}`
    }
  }

  return { loan, request, fee }
}
