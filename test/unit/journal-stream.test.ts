// The journal stream's mechanics against a scripted tailer and journal: replay then live
// with no gap and no duplicate, synchronous pushes, hand-back to pulling, the end of a
// stream (endsAfter, return, a consumer that falls behind).
import { describe, expect, it } from "vitest";
import { ConflictError } from "../../src/errors.js";
import { JournalStream, MAX_BACKLOG, streamJournal, type StreamOptions } from "../../src/modules/journal/journal-stream.js";
import type { JournalTailer, JournalListener } from "../../src/modules/journal/journal-tailer.js";
import type { JournalRow, JournalService } from "../../src/modules/journal/journal.service.js";

const TEAM = "team-1";

function row(id: number, over: Partial<JournalRow> = {}): JournalRow {
  return {
    id,
    teamId: TEAM,
    recipientId: null,
    actorId: null,
    kind: "team.updated",
    subjectType: "Team",
    subjectId: TEAM,
    payload: {},
    createdAt: new Date(0),
    ...over,
  } as JournalRow;
}
const rows = (from: number, to: number, over: Partial<JournalRow> = {}) => Array.from({ length: to - from + 1 }, (_, i) => row(from + i, over));

/** A tailer whose batches the test hands over, and a journal holding `stored`. */
function fixture(stored: JournalRow[], position: number) {
  const listeners = new Set<JournalListener>();
  let releaseReplay: (() => void) | null = null;
  let holdReplay = false;
  const tailer = {
    listen: async (listener: JournalListener) => {
      listeners.add(listener);
      return { position, stop: () => listeners.delete(listener) };
    },
  } as unknown as JournalTailer;
  const journal = {
    readAfter: async (_scope: unknown, after: number, limit: number) => {
      if (holdReplay) await new Promise<void>((resolve) => (releaseReplay = resolve));
      return stored.filter((r) => r.id > after).slice(0, limit);
    },
  } as unknown as JournalService;
  return {
    listeners,
    stream: (options: Partial<StreamOptions> = {}) => streamJournal(journal, tailer, { scope: { teamId: TEAM }, ...options }),
    deliver: (batch: JournalRow[]) => {
      for (const listener of listeners) listener(batch);
    },
    holdReplay: () => (holdReplay = true),
    releaseReplay: () => {
      holdReplay = false;
      releaseReplay?.();
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function take(stream: AsyncIterator<JournalRow>, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const next = await stream.next();
    if (next.done) break;
    ids.push(next.value.id);
  }
  return ids;
}

describe("JournalStream", () => {
  it("replays after the cursor, then goes live, with no gap and no duplicate when live rows arrive mid-replay", async () => {
    const f = fixture(rows(1, 20), 15);
    f.holdReplay();
    const stream = f.stream({ after: 5 });
    const first = stream.next();
    await tick();
    // Committed after registration: both the replay (up to 20) and the tailer see 16..20.
    f.deliver([...rows(16, 25), row(26, { teamId: "other-team" })]);
    f.releaseReplay();
    expect((await first).value?.id).toBe(6);
    expect(await take(stream, 19)).toEqual(rows(7, 25).map((r) => r.id));
    f.deliver(rows(27, 28));
    expect(await take(stream, 2)).toEqual([27, 28]);
    await stream.return();
    expect(f.listeners.size).toBe(0);
  });

  it("pushes a caught-up subscriber's rows synchronously, inside the tailer's call", async () => {
    const f = fixture([], 0);
    const stream = f.stream();
    const got: number[] = [];
    stream.pushTo((r) => void got.push(r.id));
    await tick();
    f.deliver(rows(1, 3));
    expect(got).toEqual([1, 2, 3]);
    f.deliver([row(2), row(4)]);
    expect(got).toEqual([1, 2, 3, 4]);
    await stream.return();
  });

  it("holds later rows while a row's delivery is pending, then delivers them in order", async () => {
    const f = fixture([], 0);
    const stream = f.stream();
    const got: number[] = [];
    let release!: () => void;
    stream.pushTo((r) => {
      got.push(r.id);
      if (r.id === 2) return new Promise<void>((resolve) => (release = resolve));
    });
    await tick();
    f.deliver(rows(1, 4));
    f.deliver(rows(5, 6));
    expect(got).toEqual([1, 2]);
    release();
    await tick();
    expect(got).toEqual([1, 2, 3, 4, 5, 6]);
    await stream.return();
  });

  it("hands back to pulling: the row handed back and every later one come from next(), in order", async () => {
    const f = fixture([], 0);
    const stream = f.stream();
    const pushed: number[] = [];
    stream.pushTo((r) => {
      if (r.id === 3) return stream.pull(r);
      pushed.push(r.id);
    });
    const pulled = take(stream, 3);
    await tick();
    f.deliver(rows(1, 5));
    expect(await pulled).toEqual([3, 4, 5]);
    expect(pushed).toEqual([1, 2]);
    await stream.return();
  });

  it("ends after a row for which endsAfter says so (also when it answers later), emitting nothing after it", async () => {
    for (const later of [false, true]) {
      const f = fixture([], 0);
      const stream = f.stream({
        emit: (r) => r.kind !== "hidden",
        endsAfter: (r) => (r.kind === "team.member_removed" ? (later ? Promise.resolve(true) : true) : false),
      });
      let ended = 0;
      stream.onEnd(() => ended++);
      const got = take(stream, 10);
      await tick();
      f.deliver([row(1), row(2, { kind: "hidden" }), row(3, { kind: "team.member_removed" }), row(4), row(5)]);
      expect(await got).toEqual([1, 3]);
      expect(ended).toBe(1);
      expect(f.listeners.size).toBe(0);
    }
  });

  it("cuts off a puller that falls behind with CONFLICT and the cursor of the last row it took", async () => {
    const f = fixture([], 0);
    const stream = f.stream();
    const first = stream.next();
    await tick();
    f.deliver([row(1)]);
    expect((await first).value?.id).toBe(1);
    f.deliver(rows(2, MAX_BACKLOG + 2));
    const error = await stream.next().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).details).toEqual({ after: 1 });
    expect(f.listeners.size).toBe(0);
  });

  it("cuts off a pushed-to consumer that cannot keep up with the cursor of the last row it got", async () => {
    const f = fixture([], 0);
    const stream = f.stream();
    const got: number[] = [];
    stream.pushTo((r) => (r.id === 4 ? stream.fellBehind() : void got.push(r.id)));
    const end = stream.next().then(
      () => null,
      (e: unknown) => e,
    );
    await tick();
    f.deliver(rows(1, 6));
    const error = await end;
    expect(got).toEqual([1, 2, 3]);
    expect((error as ConflictError).details).toEqual({ after: 3 });
  });

  it("return() ends a stream waiting for rows at once, calls onEnd once and stops listening", async () => {
    const f = fixture([], 0);
    const stream = f.stream();
    let ended = 0;
    stream.onEnd(() => ended++);
    const pending = stream.next();
    await tick();
    expect(f.listeners.size).toBe(1);
    await stream.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    await stream.return();
    expect(ended).toBe(1);
    expect(f.listeners.size).toBe(0);
    expect(stream).toBeInstanceOf(JournalStream);
  });
});
