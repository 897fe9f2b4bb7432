// bench/fleet.svg: the fleet's Alma calls per second over time, one panel per scenario, with the
// budget and the threshold as lines and the 429s marked. Plain SVG text, no dependency.
import type { Timeline } from "./fleet.js"

const width = 900
const panelHeight = 150
const margin = { left: 46, right: 150, top: 26, bottom: 22 }
const plotWidth = width - margin.left - margin.right
const plotHeight = panelHeight - margin.top - margin.bottom

const xmlText = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
const fixed = (value: number) => (Math.round(value * 10) / 10).toString()

const panel = (timeline: Timeline, index: number, yMax: number): string => {
  const top = index * panelHeight
  const seconds = Math.max(1, timeline.callsPerSecond.length)
  const x = (second: number) => margin.left + (second / seconds) * plotWidth
  const y = (calls: number) => top + margin.top + plotHeight - (Math.min(calls, yMax) / yMax) * plotHeight
  const parts: Array<string> = []
  parts.push(
    `<text x="${margin.left}" y="${top + 16}" class="title">${xmlText(timeline.name)}</text>`,
    `<rect x="${margin.left}" y="${top + margin.top}" width="${plotWidth}" height="${plotHeight}" class="frame"/>`
  )
  if (timeline.pause !== undefined) {
    const from = x(timeline.pause.from)
    const to = x(timeline.pause.to)
    parts.push(
      `<rect x="${fixed(from)}" y="${top + margin.top}" width="${fixed(Math.max(1, to - from))}" height="${plotHeight}" class="pause"/>`,
      `<text x="${fixed(from + 3)}" y="${top + margin.top + 12}" class="note">paused at the daily reserve</text>`
    )
  }
  for (const tick of [0, 10, 20, 30, 40, 50, 60].filter((t) => t <= yMax)) {
    parts.push(`<text x="${margin.left - 6}" y="${fixed(y(tick) + 4)}" class="axis" text-anchor="end">${tick}</text>`)
  }
  const step = seconds > 600 ? 120 : seconds > 300 ? 60 : seconds > 120 ? 30 : seconds > 40 ? 10 : 5
  for (let second = 0; second <= seconds; second += step) {
    parts.push(
      `<text x="${fixed(x(second))}" y="${top + panelHeight - 6}" class="axis" text-anchor="middle">${second} s</text>`
    )
  }
  const line = (value: number, cls: string, label: string) =>
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${fixed(y(value))}" y2="${fixed(y(value))}" class="${cls}"/>`,
      `<text x="${margin.left + plotWidth + 6}" y="${fixed(y(value) + 4)}" class="${cls}-label">${xmlText(label)}</text>`
    )
  line(timeline.threshold, "threshold", `threshold ${timeline.threshold}/s`)
  line(timeline.budget, "budget", `budget ${timeline.budget}/s`)
  if (timeline.left !== undefined) line(timeline.left, "left", `left by the other client ${timeline.left}/s`)
  const points = timeline.callsPerSecond.map((calls, second) => `${fixed(x(second + 0.5))},${fixed(y(calls))}`)
  parts.push(`<polyline points="${points.join(" ")}" class="calls"/>`)
  timeline.refusedPerSecond.forEach((refused, second) => {
    if (refused === 0) return
    const at = fixed(x(second + 0.5))
    const base = top + margin.top + plotHeight
    parts.push(
      `<line x1="${at}" x2="${at}" y1="${base}" y2="${fixed(base - Math.min(plotHeight, 6 + refused * 3))}" class="refused"><title>${refused} × 429 in second ${second}</title></line>`
    )
  })
  return parts.join("\n")
}

/** The whole figure: one panel per scenario, the same calls-per-second scale in each. */
export const fleetSvg = (timelines: ReadonlyArray<Timeline>): string => {
  const yMax = 60
  const height = timelines.length * panelHeight + 24
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" role="img">`,
    `<title>The fleet's Alma calls per second over time, per scenario (${timelines.map((t) => t.name).join(", ")}), against the budget and the threshold, 429s marked</title>`,
    "<style>",
    ".title{font-size:13px;font-weight:bold;fill:#222}",
    ".axis{font-size:10px;fill:#666}",
    ".note{font-size:10px;fill:#8a6d00}",
    ".frame{fill:#fafafa;stroke:#ccc}",
    ".pause{fill:#ffe9a8;opacity:.7}",
    ".calls{fill:none;stroke:#1f6fb2;stroke-width:1.5}",
    ".budget{stroke:#2a9d3a;stroke-dasharray:6 3}",
    ".budget-label{font-size:11px;fill:#2a9d3a}",
    ".threshold{stroke:#c0392b;stroke-dasharray:2 2}",
    ".threshold-label{font-size:11px;fill:#c0392b}",
    ".left{stroke:#e67e22;stroke-dasharray:4 4}",
    ".left-label{font-size:11px;fill:#e67e22}",
    ".refused{stroke:#c0392b;stroke-width:2}",
    "</style>",
    ...timelines.map((timeline, index) => panel(timeline, index, yMax)),
    `<text x="${margin.left}" y="${height - 6}" class="axis">Alma calls per second of the fleet (blue); red ticks: 429 PER_SECOND_THRESHOLD answers to the fleet in that second</text>`,
    "</svg>",
    ""
  ].join("\n")
}
