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

/** Whether any string (or key) in a JSON value contains U+0000, walked without recursion. */
export function hasNul(value: unknown): boolean {
  const stack = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === "string") {
      if (v.includes("\u0000")) return true;
    } else if (v !== null && typeof v === "object") {
      for (const [key, child] of Object.entries(v)) {
        if (key.includes("\u0000")) return true;
        stack.push(child);
      }
    }
  }
  return false;
}
