// Alma's error answers: the codes, messages and both body formats (JSON, and the gateway's XML).
import { createPrng, deriveSeed } from "./prng.js"
import { escapeXml, XML_DECLARATION } from "./xml.js"

export interface AlmaError {
  readonly status: number
  readonly code: string
  readonly message: string
}

export const almaErrors = {
  unauthorized: {
    status: 400,
    code: "UNAUTHORIZED",
    message: "API-key not defined or not configured to allow this API."
  },
  perSecond: { status: 429, code: "PER_SECOND_THRESHOLD", message: "HTTP requests are more than allowed per second" },
  // [unverified] message text; the code and status are documented.
  daily: {
    status: 429,
    code: "DAILY_THRESHOLD",
    message:
      "Daily API Request Threshold has been reached. For details see: https://developers.exlibrisgroup.com/alma/apis/#threshold"
  },
  userNotFound: (id: string): AlmaError => ({
    status: 400,
    code: "401861",
    message: `User with identifier ${id} was not found.`
  }),
  // The OpenAPI file lists 401652 with this generic text for a single loan; which code a missing
  // loan really gets (401652 or 401823) is [unverified].
  loanNotFound: (_id: string): AlmaError => ({
    status: 400,
    code: "401652",
    message: "General Error: An error has occurred while processing the request."
  }),
  // [unverified] message text.
  requestNotFound: (id: string): AlmaError => ({
    status: 400,
    code: "401694",
    message: `Request with ID ${id} was not found.`
  }),
  feeNotFound: (_id: string): AlmaError => ({ status: 400, code: "401665", message: "Fine not found." }),
  // [unverified] code: 402203 is what Alma uses for other invalid input parameters (see fixtures).
  invalidParameter: (name: string, value: string): AlmaError => ({
    status: 400,
    code: "402203",
    message: `Input parameters ${name} ${value} is not valid.`
  }),
  // [unverified] code and text, as above.
  malformedPath: { status: 400, code: "402203", message: "Input parameters in the request path are not valid." },
  // [unverified] simulator-only answers for calls outside the six routes: deliberately not one of the
  // not-found codes, so that a client never mistakes a routing bug for a missing user.
  noSuchApi: { status: 404, code: "NOT_FOUND", message: "No API matches the requested path." },
  methodNotAllowed: { status: 405, code: "METHOD_NOT_ALLOWED", message: "Only GET is supported by this API." },
  general: (status: 500 | 503): AlmaError => ({
    status,
    code: "GENERAL_ERROR",
    message: status === 503 ? "Service Temporarily Unavailable" : "Internal Server Error"
  })
} as const

export const jsonErrorBody = (error: AlmaError, trackingId: string): string =>
  JSON.stringify({
    errorsExist: true,
    errorList: { error: [{ errorCode: error.code, errorMessage: error.message, trackingId }] },
    result: null
  })

// Mirrors unidentified-python-test__gateway_UNAUTHORIZED.xml byte for byte (CRLF, indentation, no
// tracking id), the only real XML error sample.
export const xmlErrorBody = (error: AlmaError): string =>
  [
    XML_DECLARATION,
    '<web_service_result xmlns="http://com/exlibris/urm/general/xmlbeans">',
    "            <errorsExist>true</errorsExist>",
    "            <errorList>",
    "                        <error>",
    `                                    <errorCode>${escapeXml(error.code)}</errorCode>`,
    `                                    <errorMessage>${escapeXml(error.message)}</errorMessage>`,
    "                        </error>",
    "            </errorList>",
    "</web_service_result>"
  ].join("\r\n")

// Alma's shape: E01-<ddMMHHmmss>-<5 letters/digits>-AWAE<number>. The random parts come from their own
// seeded stream; the time part is the wall clock, as in Alma.
export const createTrackingIds = (seed: number): ((now: number) => string) => {
  const rng = createPrng(deriveSeed(seed, 3))
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
  return (now) => {
    const iso = new Date(now).toISOString()
    const stamp = `${iso.slice(8, 10)}${iso.slice(5, 7)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`
    const code = Array.from({ length: 5 }, () => alphabet.charAt(rng.int(0, alphabet.length - 1))).join("")
    return `E01-${stamp}-${code}-AWAE${rng.int(100_000_000, 1_999_999_999)}`
  }
}
