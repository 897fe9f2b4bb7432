import { Schema } from "effect"

/**
 * The one rule for an http(s) URL: every URL this service is given (Alma's base URL, queue URLs, AWS
 * endpoints, the commands' flags) is checked by it.
 */
export const isHttpUrlText = Schema.makeFilter<string>((url) => URL.canParse(url) && /^https?:\/\//.test(url), {
  expected: "an http(s) URL"
})

export const HttpUrl = Schema.String.pipe(Schema.check(isHttpUrlText))
