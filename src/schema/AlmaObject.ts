import { Schema } from "effect"

/**
 * Alma adds keys to its objects over the years and the cache stores the whole object, so every Alma
 * object is decoded as "the fields we rely on, plus whatever else Alma sent", untouched.
 */
export const almaObject = <const Fields extends Schema.Struct.Fields>(fields: Fields) =>
  Schema.StructWithRest(Schema.Struct(fields), [Schema.Record(Schema.String, Schema.Unknown)])

/** Nearly every Alma field can be missing or null (ALMA-API.md "Shapes"). */
export const nullable = <S extends Schema.Top>(schema: S) => Schema.optionalKey(Schema.NullOr(schema))

/** An Alma identifier: required and never empty. */
export const AlmaId = Schema.NonEmptyString

/**
 * Alma's code-table objects are not uniform (`{value,desc}`, `{value,name}`, `{value,link}`, `{}`):
 * only `value` is ever read by this service.
 */
export const CodeValue = almaObject({ value: nullable(Schema.String) })

/**
 * A number Alma sends: a JSON number, or the exact decimal text of one a double would round (how
 * `parseAlmaJson` keeps it). Kept as it came, never rounded.
 */
export const AlmaNumber = Schema.Union([
  Schema.Number,
  Schema.String.pipe(Schema.check(Schema.isPattern(/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/)))
])
