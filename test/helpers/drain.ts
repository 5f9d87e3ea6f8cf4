// Reading a subscription to its end, whatever the transport, within a time window.
import type { GqlError, GqlResult, Subscription } from "./client.js";

export interface Drained {
  results: GqlResult[];
  ended: boolean;
  /** Errors the transport ended the subscription with (graphql-ws "error"). */
  failure: GqlError[];
  failureText: string;
}

/** Reads a subscription until it ends or `windowMs` passes. */
export async function drain(sub: Subscription, windowMs: number): Promise<Drained> {
  const results: GqlResult[] = [];
  const deadline = Date.now() + windowMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return { results, ended: false, failure: [], failureText: "" };
    try {
      results.push(await sub.next(left));
    } catch (error) {
      const message = (error as Error).message;
      if (!message.startsWith("subscription ended")) return { results, ended: false, failure: [], failureText: "" };
      const text = message.replace(/^subscription ended:?\s*/, "");
      let failure: GqlError[] = [];
      try {
        const parsed = JSON.parse(text) as unknown;
        if (Array.isArray(parsed)) failure = parsed as GqlError[];
      } catch {
        failure = [];
      }
      return { results, ended: true, failure, failureText: text };
    }
  }
}
