// Query limits: what one operation may ask for. Depth and cost are checked by Pothos'
// complexity plugin (it knows the schema's lists and connection page sizes); aliases,
// directives and tokens by GraphQL Armor's validation rules; fields by our own rule beside
// them. Each refusal has its own code and says the limit.
import { getNamedType, getNullableType, GraphQLError, GraphQLList, Kind, visit, type DocumentNode, type GraphQLField, type ValidationRule } from "graphql";
import { complexityFromQuery } from "@pothos/plugin-complexity";
import type { Plugin } from "graphql-yoga";
import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases";
import { maxDirectivesPlugin } from "@escape.tech/graphql-armor-max-directives";
import { maxTokensPlugin } from "@escape.tech/graphql-armor-max-tokens";
import { blockFieldSuggestionsPlugin } from "@escape.tech/graphql-armor-block-field-suggestions";
import { LimitError } from "../errors.js";
import { toGraphQLError } from "./errors.js";

export const LIMITS = {
  // Armor's default of 6 is too low here: a connection adds two levels (edges, node), and
  // a board page with each task's blockers and their assignees is 8 deep
  // (team.tasks.edges.node.blockedBy.blocker.assignee.name).
  depth: 12,
  // Each field costs 1; a list multiplies what is under it by 10, a connection by its page
  // size (first/last, default 20, at most 100). A page of 100 tasks with assignees,
  // blockers and readiness costs about 5,000.
  complexity: 10_000,
  // Every alias counts, __typename's too: each is one more field executed.
  aliases: 15,
  // Field selections as written in the document (a fragment once). graphql-js checks that
  // same-named fields can merge by comparing every pair, within a work budget past which it
  // answers only "Validation aborted.": 708 repeated `__typename` (far under the token
  // limit, which GraphiQL's example tab needs) or 448 `me { id }` reach it, the latter after
  // about 45 ms of CPU. At 500 fields the worst shape measured validates in about 15 ms
  // (both on 2 loaded cores). GraphiQL's introspection query selects 73 fields, its example
  // tab 44, a task with everything to depth 3 305.
  fields: 500,
  directives: 50,
  // Armor's default (1,000) is too low for GraphiQL, which sends its whole tab of example
  // operations with every request.
  tokens: 3_000,
  // Request bodies, checked before parsing.
  bodyBytes: 1_000_000,
} as const;

export const DEFAULT_PAGE = 20;
/** The most nodes one page of any list may hold. */
export const MAX_PAGE = 100;

/**
 * Field cost for the complexity plugin: connection fields multiply by their page size,
 * lists by 10, everything else costs 1. (The edges of a connection cost 1: the page size
 * is already counted on the connection field.) It reads no argument but `first` and `last`:
 * useKnownCosts remembers costs by those (a cost that read another would be added there).
 */
export function fieldComplexity<C>(args: Record<string, unknown>, _ctx: C, field: GraphQLField<unknown, C>) {
  const page = (args.first ?? args.last) as number | undefined;
  if (getNamedType(field.type).name.endsWith("Connection")) return { field: 1, multiplier: Math.min(Math.max(page ?? DEFAULT_PAGE, 1), MAX_PAGE) };
  if (field.name === "edges") return { field: 1, multiplier: 1 };
  return getNullableType(field.type) instanceof GraphQLList ? { field: 1, multiplier: 10 } : 1;
}

/** The limits the complexity plugin checks for a request; none once useKnownCosts found it within them. */
export function costLimits(ctx: { costChecked?: boolean }) {
  return ctx.costChecked ? {} : { depth: LIMITS.depth, complexity: LIMITS.complexity };
}

/**
 * The complexity plugin computes an operation's cost at every request (2 % of a board page's
 * CPU, 1.6 % of a write's, measured). An operation's cost reads its variables only where
 * fieldComplexity reads arguments (`first`, `last`), so a cost found within the limits is
 * remembered per document and the values of those variables (and of any directive's `if`,
 * should the plugin one day leave skipped fields out; today it counts them), and the context
 * is marked (`costChecked`): the plugin does not compute it again. A mutation's input or a
 * query's team ID change nothing. One over a limit is never remembered: the plugin computes
 * and refuses it as always.
 */
export function useKnownCosts(): Plugin<{ costChecked?: boolean }> {
  // Yoga hands out one DocumentNode per query text; a few variable sets each.
  const known = new WeakMap<DocumentNode, { reads: string[]; within: Set<string> }>();
  return {
    onExecute({ args }) {
      const document: DocumentNode = args.document;
      // complexityFromQuery reads a document's first operation: the only one, then.
      const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
      if (operations.length !== 1 || operations[0]!.operation === "subscription") return;
      const variables = args.variableValues ?? {};
      try {
        let entry = known.get(document);
        if (!entry) known.set(document, (entry = { reads: costVariables(document), within: new Set() }));
        // Absent and null differ (a variable's default applies only when it is absent).
        const key = JSON.stringify(Object.fromEntries(entry.reads.filter((name) => name in variables).map((name) => [name, variables[name]])));
        if (key.length > 1_000) return;
        if (!entry.within.has(key)) {
          const cost = complexityFromQuery(document, { schema: args.schema, variables, ctx: args.contextValue });
          if (cost.depth > LIMITS.depth || cost.complexity > LIMITS.complexity) return;
          if (entry.within.size >= 100) entry.within.clear();
          entry.within.add(key);
        }
      } catch {
        return; // variables too deep to read or of the wrong type: execution refuses them
      }
      args.contextValue.costChecked = true;
    },
  };
}

/** The variables a document's cost reads: those given to `first` or `last` (fieldComplexity), or to a directive's `if`. */
function costVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Argument(node) {
      if ((node.name.value === "first" || node.name.value === "last" || node.name.value === "if") && node.value.kind === Kind.VARIABLE) names.add(node.value.name.value);
    },
  });
  return [...names];
}

export function complexityError(kind: string, result: { depth: number; complexity: number; breadth: number }): Error {
  if (kind === "Depth") return new LimitError("QUERY_TOO_DEEP", `the query is ${result.depth} levels deep; the limit is ${LIMITS.depth}`);
  return new LimitError("QUERY_TOO_COMPLEX", `the query would cost ${result.complexity}; the limit is ${LIMITS.complexity} (lower first/last on connections or select less)`);
}

/**
 * Armor's refusals carry no code: each is thrown again, with Armor's own message, as the
 * limit's coded error (before Armor would throw its own).
 */
const refuseWith =
  (code: LimitError["code"]) =>
  (_context: unknown, error: GraphQLError): never => {
    throw toGraphQLError(new LimitError(code, error.message));
  };

/** Armor's limits and our field count. */
export function armorPlugins(hideSuggestions: boolean) {
  return [
    maxFieldsPlugin(),
    // Armor leaves aliases of __typename out by default (allowList); they count here.
    maxAliasesPlugin({ n: LIMITS.aliases, exposeLimits: true, allowList: [], onReject: [refuseWith("TOO_MANY_ALIASES")] }),
    maxDirectivesPlugin({ n: LIMITS.directives, exposeLimits: true, onReject: [refuseWith("TOO_MANY_DIRECTIVES")] }),
    maxTokensPlugin({ n: LIMITS.tokens, exposeLimits: true, onReject: [refuseWith("TOO_MANY_TOKENS")] }),
    ...(hideSuggestions ? [blockFieldSuggestionsPlugin()] : []),
  ];
}

/** Refuses a document of more than LIMITS.fields fields before graphql-js' own rules compare them. */
function maxFieldsPlugin(): Plugin {
  // A throw (not a reported error) stops validation: the rule runs on the document's root,
  // before any rule visits a selection set.
  const rule: ValidationRule = () => ({
    Document(document) {
      const fields = countFields(document);
      if (fields <= LIMITS.fields) return;
      throw toGraphQLError(new LimitError("TOO_MANY_FIELDS", `the query selects ${fields} fields; the limit is ${LIMITS.fields} (select each field once, or split the query)`));
    },
  });
  return { onValidate: ({ addValidationRule }) => addValidationRule(rule) };
}

/** Fields as written, in every operation and fragment (a fragment spread twice counts once: graphql-js compares it once). */
function countFields(document: DocumentNode): number {
  let fields = 0;
  visit(document, { Field: () => void fields++ });
  return fields;
}
