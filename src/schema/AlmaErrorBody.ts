import { Option, Schema } from "effect"

/** One error of an Alma error list; `errorCode` is documented as a string, numbers are tolerated. */
const AlmaErrorEntry = Schema.Struct({
  errorCode: Schema.Union([Schema.String, Schema.Number]),
  errorMessage: Schema.optionalKey(Schema.NullOr(Schema.String)),
  trackingId: Schema.optionalKey(Schema.NullOr(Schema.String))
})

/** `error` is a list in the usual body and a single object in the `web_service_result` variant [unverified]. */
const AlmaErrorList = Schema.Struct({
  error: Schema.Union([Schema.Array(AlmaErrorEntry), AlmaErrorEntry])
})

/** `{"errorsExist":true,"errorList":{"error":[…]},"result":null}` */
export const AlmaErrorBody = Schema.Struct({ errorList: AlmaErrorList })

/** The same list wrapped in `web_service_result`, as the XML gateway errors are. */
export const AlmaWebServiceResult = Schema.Struct({
  web_service_result: Schema.Struct({ errorList: AlmaErrorList })
})

const AlmaErrorJson = Schema.fromJsonString(Schema.Union([AlmaErrorBody, AlmaWebServiceResult]))
const decodeAlmaErrorJson = Schema.decodeUnknownOption(AlmaErrorJson)

/** What an Alma error body tells us, whichever form it came in. */
export interface AlmaErrorDetail {
  readonly code: string
  readonly message: string | undefined
  readonly trackingId: string | undefined
}

const xmlElement = (xml: string, name: string): string | undefined => {
  const match = new RegExp(`<(?:\\w+:)?${name}>\\s*([^<]*?)\\s*</(?:\\w+:)?${name}>`).exec(xml)
  return match?.[1]
}

/**
 * Reads the first error of an Alma error body: the JSON form, the `web_service_result` variant, or
 * the XML the gateway sends even when JSON was asked for. `undefined` when the body is none of them.
 */
export const parseAlmaError = (body: string): AlmaErrorDetail | undefined => {
  const json = decodeAlmaErrorJson(body)
  if (Option.isSome(json)) {
    const list = "errorList" in json.value ? json.value.errorList : json.value.web_service_result.errorList
    const first = Array.isArray(list.error) ? list.error[0] : list.error
    if (first === undefined) return undefined
    return {
      code: String(first.errorCode),
      message: first.errorMessage ?? undefined,
      trackingId: first.trackingId ?? undefined
    }
  }
  const code = xmlElement(body, "errorCode")
  if (code === undefined) return undefined
  return { code, message: xmlElement(body, "errorMessage"), trackingId: xmlElement(body, "trackingId") }
}
