// Input checks shared by services: a failed check is BAD_USER_INPUT naming the field.
import type { z } from "zod";
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
