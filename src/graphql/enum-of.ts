import { builder } from "./builder.js";

/**
 * A GraphQL enum over a domain's string constants: each value is named in upper case and
 * resolves to the constant itself. Given as a record, each value has its description.
 */
export function enumOf<T extends string>(name: string, values: readonly T[] | Record<T, string>, description?: string) {
  const entries: [T, string | undefined][] = Array.isArray(values)
    ? (values as readonly T[]).map((v) => [v, undefined])
    : (Object.entries(values) as [T, string][]);
  return builder.enumType(name, {
    description,
    values: Object.fromEntries(entries.map(([value, about]) => [value.toUpperCase(), { value, description: about }])) as Record<string, { value: T }>,
  });
}
