import { SchemaIssue } from "effect"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * What a value that failed its schema broke: the paths and rules of the first three issues, never
 * the value itself (a queue body or an Alma answer can hold a patron's record).
 */
export const describeIssue = (issue: SchemaIssue.Issue): string =>
  formatter(issue)
    .issues.slice(0, 3)
    .map(
      (i) =>
        `${i.path === undefined || i.path.length === 0 ? "body" : i.path.map(String).join(".")}: ${i.message.split("\n")[0]}`
    )
    .join("; ")
