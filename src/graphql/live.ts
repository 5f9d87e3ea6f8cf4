import { Repeater } from "@repeaterjs/repeater";

/**
 * Passes a subscription's events through and calls `onEnd` once when it ends for any
 * reason (completed, failed, or the client went away). Stopping propagates to the
 * source at once, even while it waits for its next event.
 */
export function untilEnd<T>(source: AsyncIterable<T>, onEnd: () => void): AsyncIterable<T> {
  return new Repeater<T>(async (push, stop) => {
    const iterator = source[Symbol.asyncIterator]();
    const stopped = stop.then(() => ({ done: true as const, value: undefined }));
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), stopped]);
        if (next.done) break;
        await push(next.value);
      }
      stop();
    } catch (error) {
      stop(error);
    } finally {
      await iterator.return?.();
      onEnd();
    }
  });
}
