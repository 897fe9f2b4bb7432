import { Logger, References } from "effect"

/** One line a logger was given: its level, its text and its annotations. */
export interface CapturedLine {
  readonly level: string
  readonly text: string
  readonly annotations: Record<string, unknown>
}

/** Every line a logger was given (`loggers` for `Logger.CurrentLoggers`), and how many contain a text. */
export const captureLogs = () => {
  const lines: Array<CapturedLine> = []
  const logger = Logger.make(({ logLevel, message, fiber }) => {
    lines.push({
      level: logLevel,
      text: Array.isArray(message) ? message.map(String).join(" ") : String(message),
      annotations: { ...fiber.getRef(References.CurrentLogAnnotations) }
    })
  })
  const count = (text: string) => lines.filter((line) => line.text.includes(text)).length
  return { lines, count, loggers: new Set([logger]) }
}
