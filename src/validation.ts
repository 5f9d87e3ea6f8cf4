// Input checks shared by services: a failed check is BAD_USER_INPUT naming the field.
import { z } from "zod";
import { BadInputError } from "./errors.js";

/** Parses `input` with `schema`; the first problem becomes a BadInputError. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new BadInputError(issue.path.join(".") || "input", issue.message);
}

/** Control characters other than tab and newlines are refused in free text. */
export const CONTROL_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/** Free text of at most `max` characters, without control characters. */
export const boundedText = (max: number) =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    .refine((s) => !CONTROL_CHARS.test(s), "must not contain control characters");

/** A short name: letters, digits, spaces, '.', '_' or '-', 1–64 characters (roles, tracks). */
export const shortName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/, "1–64 characters: letters, digits, spaces, '.', '_' or '-'");

export const JSON_DEPTH_MAX = 64;

/**
 * Why a JSON value is too large or too deep, or null. Walks the value without recursion
 * (JSON.stringify on a value nested thousands deep overflows the stack).
 */
export function jsonRefusal(value: unknown, maxBytes: number): string | null {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (depth > JSON_DEPTH_MAX) return `must be nested at most ${JSON_DEPTH_MAX} levels deep`;
    if (v !== null && typeof v === "object") for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return JSON.stringify(value).length > maxBytes ? `must be at most ${maxBytes} bytes as JSON` : null;
}

/** Any JSON value of bounded size and depth. */
export const jsonValue = (maxBytes: number) =>
  z.unknown().superRefine((v, ctx) => {
    const refusal = v === undefined ? "is required" : jsonRefusal(v, maxBytes);
    if (refusal) ctx.addIssue({ code: "custom", message: refusal });
  });

/** A JSON object (not an array or a scalar) of bounded size and depth. */
export const jsonObject = (maxBytes: number) =>
  z
    .custom<Record<string, unknown>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), "must be a JSON object")
    .superRefine((v, ctx) => {
      const refusal = jsonRefusal(v, maxBytes);
      if (refusal) ctx.addIssue({ code: "custom", message: refusal });
    });

/** Half of a UTF-16 surrogate pair without its other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a text cannot be stored exactly as sent, or null. PostgreSQL refuses U+0000. A lone
 * surrogate (JSON's "\ud800" escape decodes to one) has no UTF-8 form: in a text column pg
 * stores U+FFFD in its place and better-sqlite3 bytes that read back as three of them, and
 * PostgreSQL refuses one in a JSON column (measured).
 */
function textProblem(text: string): string | null {
  if (text.includes("\u0000")) return "must not contain NUL characters (U+0000)";
  const lone = LONE_SURROGATE.exec(text);
  if (!lone) return null;
  const code = lone[0].charCodeAt(0).toString(16).toUpperCase();
  return `must be valid Unicode: character ${lone.index + 1} is a lone surrogate (U+${code}), half of a pair, which cannot be stored`;
}

/** Where a value sits in a JSON value: its key and its parent's place (null at the top). */
interface Place {
  key: string | number;
  parent: Place | null;
}

/**
 * The first string (or key) of a JSON value that cannot be stored as sent, as a
 * BadInputError naming where it is (`prefix` then `input.title` or `ids[2]`; `whole` for
 * the value itself), or null. Walked without recursion, and without copying paths (a value
 * may be nested thousands deep).
 */
export function unstorableText(value: unknown, prefix: string, whole: string): BadInputError | null {
  const stack: [unknown, Place | null][] = [[value, null]];
  while (stack.length) {
    const [v, place] = stack.pop()!;
    if (typeof v === "string") {
      const problem = textProblem(v);
      if (problem) return new BadInputError(placeName(place, prefix, whole), `text ${problem}`);
    } else if (v !== null && typeof v === "object") {
      for (const [key, child] of Object.entries(v)) {
        const problem = textProblem(key);
        if (problem) return new BadInputError(placeName(place, prefix, whole), `a key ${problem}`);
        stack.push([child, { key: Array.isArray(v) ? Number(key) : key, parent: place }]);
      }
    }
  }
  return null;
}

function placeName(place: Place | null, prefix: string, whole: string): string {
  if (!place) return whole;
  const keys: (string | number)[] = [];
  for (let p: Place | null = place; p; p = p.parent) keys.unshift(p.key);
  return prefix + keys.map((k, i) => (typeof k === "number" ? `[${k}]` : i ? `.${k}` : k)).join("");
}
