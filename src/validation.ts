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

/** A JSON object (not an array or a scalar) of bounded size. */
export const jsonObject = (maxBytes: number) =>
  z
    .custom<Record<string, unknown>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), "must be a JSON object")
    .refine((v) => JSON.stringify(v).length <= maxBytes, `must be at most ${maxBytes} bytes as JSON`);
