// Mutants that no test can kill because nothing can observe them, ignored by pattern instead of
// listed line by line in test/mutation-equivalents.md (StrykerJS reports them as Ignored, outside the
// score). Each pattern is one that no run of the service can see:
// - a trace span's name and attributes (`Effect.withSpan(…)`, the name of `Effect.fn("…")`): the
//   Lambdas install no Tracer, so no span is exported and nothing reads them;
// - a service's identifier (`Context.Service<…>()("lag-buc/services/X")`): it only has to be unique
//   within one program, and each mutant makes it "" for one service alone, which stays unique.
import { declareValuePlugin, PluginKind } from "@stryker-mutator/api/plugin"

/** `object.property`, both plain identifiers. */
const isMember = (node, object, property) =>
  node?.type === "MemberExpression" &&
  node.object.type === "Identifier" &&
  node.object.name === object &&
  node.property.type === "Identifier" &&
  node.property.name === property

/** @type {import("@stryker-mutator/api/ignore").Ignorer} */
const unobservable = {
  shouldIgnore(path) {
    // Stryker hands Babel NodePaths (the API declares an empty interface for them).
    const node = Reflect.get(path, "node")
    if (node?.type !== "CallExpression") return undefined
    if (isMember(node.callee, "Effect", "withSpan")) return "a trace span's name or attributes: no Tracer is installed"
    if (isMember(node.callee, "Effect", "fn")) return "Effect.fn's span name: no Tracer is installed"
    if (node.callee.type === "CallExpression" && isMember(node.callee.callee, "Context", "Service"))
      return "a service identifier: unique among the program's services with or without the mutant"
    return undefined
  }
}

export const strykerPlugins = [declareValuePlugin(PluginKind.Ignore, "Unobservable", unobservable)]
