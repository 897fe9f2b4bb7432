/** The types of stryker.ignorers.mjs, for its test (test/deploy/strykerIgnorers.test.ts). */
export declare const strykerPlugins: ReadonlyArray<{
  readonly kind: string
  readonly name: string
  readonly value: { readonly shouldIgnore: (path: unknown) => string | undefined }
}>
