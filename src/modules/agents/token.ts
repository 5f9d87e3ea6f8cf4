// Bearer tokens: 32 random bytes, shown once; only a SHA-256 hash is stored. The
// tokens are long and random, so a fast hash is right (no password stretching).
import { createHash, randomBytes } from "node:crypto";

const PREFIX = "ahq_";

export function newToken(): string {
  return PREFIX + randomBytes(32).toString("base64url");
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Cheap shape check, so garbage never reaches the database. */
export function looksLikeToken(token: string): boolean {
  return token.startsWith(PREFIX) && token.length === PREFIX.length + 43;
}

/** The token in an Authorization value: "Bearer <token>", or the bare token. */
export function bearerToken(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
  return match ? match[1]! : value.trim() || null;
}
