// Waiting on something a stream of events may bring: a process's output line, a socket's message.

/** What a probe found: a value to resolve with, or an error (the source ended without it). */
export type Probe<T> = { value: T } | { error: Error } | undefined;

/**
 * Resolves with the first value `probe` finds, asking it now and whenever one of
 * `listeners` is called (the caller calls them on each event); rejects with the probe's
 * error, or with `timeoutMessage()` after `timeoutMs`.
 */
export function waitUntil<T>(listeners: Set<() => void>, probe: () => Probe<T>, timeoutMs: number, timeoutMessage: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = (settle: () => void) => {
      clearTimeout(timer);
      listeners.delete(check);
      settle();
    };
    const check = () => {
      const found = probe();
      if (found) done(() => ("error" in found ? reject(found.error) : resolve(found.value)));
    };
    const timer = setTimeout(() => done(() => reject(new Error(timeoutMessage()))), timeoutMs);
    listeners.add(check);
    check();
  });
}
