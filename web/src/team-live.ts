// One team's live state, shared by every view: the journal (newest rows, older pages on
// demand), the board's tasks and the members. One teamEvents subscription feeds it all.
//
// Start: the journal's newest rows give a cursor C (or, after a reload, the cursor last
// shown, kept in sessionStorage); the subscription replays everything after C, then goes
// live. Tasks are read after C was fixed, so every change after C reaches them as an
// event: each task an event names is read again (its readiness may have changed too).
import { journalCursor } from "./auth";
import { run, streamEvents, type Api } from "./client";
import { findTail, pageBefore, type FetchAfter } from "./journal-paging";
import { BoardPage, JournalCursors, JournalPage, OneCard, TeamEvents, TeamInfo, type Card, type JournalRow, type TeamInfoData } from "./operations";
import { Cell } from "./store";
import type { ResultOf } from "./graphql";

export interface JournalState {
  rows: JournalRow[];
  /** The oldest row is the team's first. */
  atStart: boolean;
  loadingOlder: boolean;
}

/** Past this many tasks to read again at once, the whole board is read again instead. */
const RELOAD_OVER = 40;

export class TeamLive {
  readonly info = new Cell<TeamInfoData | null>(null);
  /** Member names by agent ID. */
  readonly names = new Cell<ReadonlyMap<string, string>>(new Map());
  readonly journal = new Cell<JournalState>({ rows: [], atStart: false, loadingOlder: false });
  readonly tasks = new Cell<ReadonlyMap<string, Card>>(new Map());
  readonly tasksLoaded = new Cell(false);
  /** Why the live stream stopped for good, when it has. */
  readonly failure = new Cell<string | null>(null);
  /** Bumped by events of each area: views showing a query of that area read it again. */
  readonly changed = { messages: new Cell(0), context: new Cell(0), knowledge: new Cell(0) };

  private listeners = new Set<(row: JournalRow) => void>();
  private incoming: JournalRow[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private staleTasks = new Set<string>();
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private infoTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshing = false;
  private stop: (() => void) | null = null;
  private disposed = false;
  private journalLoaded = false;

  constructor(
    private readonly api: Api,
    readonly teamId: string,
  ) {}

  private readJournal: FetchAfter<JournalRow> = async (after, first) => {
    const data = await run(this.api, JournalPage, { teamId: this.teamId, after, first });
    return { rows: data.team.journal.edges.map((e) => e.node), hasNextPage: data.team.journal.pageInfo.hasNextPage };
  };

  private readCursors: FetchAfter<{ cursor: number }> = async (after, first) => {
    const data = await run(this.api, JournalCursors, { teamId: this.teamId, after, first });
    return { rows: data.team.journal.edges.map((e) => e.node), hasNextPage: data.team.journal.pageInfo.hasNextPage };
  };

  async start(): Promise<void> {
    void this.loadInfo().catch((e: unknown) => this.failure.set(String((e as Error).message)));
    try {
      // The cursor the stream starts after: the last one shown before a reload, else the
      // journal's latest. Everything after it arrives as events.
      const shown = journalCursor.get(this.teamId);
      const tail = shown === null ? await findTail(this.readCursors) : null;
      const after = shown ?? tail?.latest ?? 0;
      if (this.disposed) return;
      this.stop = streamEvents(this.api, TeamEvents, { teamId: this.teamId }, after, (d) => d.teamEvents, {
        onEvent: (row) => this.take(row),
        onFailed: (message) => this.failure.set(message),
      });
      await Promise.all([this.loadTasks(), this.loadJournal(after, tail?.after ?? null)]);
    } catch (error) {
      this.failure.set((error as Error).message);
    }
  }

  /** The rows up to `upTo` (50 or more of them); events wait until they are in. */
  private async loadJournal(upTo: number, tailAfter: number | null): Promise<void> {
    let rows: JournalRow[] = [];
    if (tailAfter !== null) rows = (await this.readJournal(tailAfter, 100)).rows.filter((r) => r.cursor <= upTo);
    let atStart = false;
    if (rows.length < 50) {
      const older = await pageBefore(this.readJournal, rows[0]?.cursor ?? upTo + 1, 50 - rows.length);
      rows = [...older.rows, ...rows];
      atStart = older.atStart;
    }
    if (this.disposed) return;
    this.journal.set({ rows, atStart, loadingOlder: false });
    this.journalLoaded = true;
    this.flush();
  }

  dispose(): void {
    this.disposed = true;
    this.stop?.();
    for (const timer of [this.flushTimer, this.refreshTimer, this.infoTimer]) if (timer) clearTimeout(timer);
  }

  /** Called with every new event (after it is in the journal). */
  onEvent(listener: (row: JournalRow) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async loadOlder(): Promise<void> {
    const state = this.journal.get();
    if (state.atStart || state.loadingOlder) return;
    this.journal.set({ ...state, loadingOlder: true });
    try {
      const first = state.rows[0]?.cursor ?? Number.MAX_SAFE_INTEGER;
      const older = await pageBefore(this.readJournal, first, 100);
      const now = this.journal.get();
      this.journal.set({ rows: [...older.rows, ...now.rows], atStart: older.atStart, loadingOlder: false });
    } catch (error) {
      this.journal.set({ ...this.journal.get(), loadingOlder: false });
      throw error;
    }
  }

  async loadInfo(): Promise<void> {
    const data = await run(this.api, TeamInfo, { id: this.teamId });
    if (this.disposed) return;
    this.info.set(data.team);
    this.names.set(new Map(data.team.members.map((m) => [m.agent.id, m.agent.name])));
  }

  private async loadTasks(): Promise<void> {
    const tasks = new Map<string, Card>();
    let after: string | null = null;
    this.refreshing = true;
    try {
      for (;;) {
        const data: ResultOf<typeof BoardPage> = await run(this.api, BoardPage, { teamId: this.teamId, after });
        if (this.disposed) return;
        for (const edge of data.team.tasks.edges) tasks.set(edge.node.id, edge.node);
        // The first pages show while the rest load.
        this.tasks.set(new Map(tasks));
        if (!data.team.tasks.pageInfo.hasNextPage) break;
        after = data.team.tasks.pageInfo.endCursor;
      }
      this.tasksLoaded.set(true);
    } finally {
      this.refreshing = false;
      this.scheduleRefresh();
    }
  }

  private take(row: JournalRow): void {
    this.incoming.push(row);
    // Rows are handed to the views in batches: a replay may bring thousands at once.
    this.flushTimer ??= setTimeout(() => this.flush(), 30);
    if (row.subjectType === "Task") {
      this.staleTasks.add(row.subjectId);
      this.scheduleRefresh();
    }
    if (row.kind.startsWith("team.")) this.infoTimer ??= setTimeout(() => {
      this.infoTimer = null;
      void this.loadInfo().catch(() => {});
    }, 100);
    if (row.kind.startsWith("message.") || row.kind.startsWith("topic.")) bump(this.changed.messages);
    if (row.kind.startsWith("context.")) bump(this.changed.context);
    if (row.kind.startsWith("knowledge.")) bump(this.changed.knowledge);
  }

  private flush(): void {
    this.flushTimer = null;
    if (!this.journalLoaded) return;
    const rows = this.incoming;
    this.incoming = [];
    const last = rows.at(-1);
    if (!last) return;
    const state = this.journal.get();
    this.journal.set({ ...state, rows: state.rows.concat(rows) });
    journalCursor.set(this.teamId, last.cursor);
    for (const row of rows) for (const listener of this.listeners) listener(row);
  }

  private scheduleRefresh(): void {
    if (this.refreshing || this.refreshTimer || this.staleTasks.size === 0 || this.disposed) return;
    this.refreshTimer = setTimeout(() => void this.refreshTasks(), 50);
  }

  /** Reads again the tasks that events named. */
  private async refreshTasks(): Promise<void> {
    this.refreshTimer = null;
    const ids = [...this.staleTasks];
    this.staleTasks.clear();
    if (ids.length > RELOAD_OVER) return this.loadTasks();
    this.refreshing = true;
    try {
      const read = await Promise.all(
        ids.map(async (id) => {
          const result = await this.api.urql.query(OneCard, { id }).toPromise();
          const gone = result.error?.graphQLErrors.some((e) => e.extensions?.code === "NOT_FOUND");
          if (result.error && !gone) this.staleTasks.add(id);
          return [id, gone ? null : (result.data?.task ?? undefined)] as const;
        }),
      );
      if (this.disposed) return;
      const tasks = new Map(this.tasks.get());
      for (const [id, task] of read) {
        if (task === null) tasks.delete(id);
        else if (task) tasks.set(id, task);
      }
      this.tasks.set(tasks);
    } finally {
      this.refreshing = false;
      if (this.staleTasks.size) setTimeout(() => this.scheduleRefresh(), 500);
    }
  }
}

function bump(cell: Cell<number>): void {
  cell.set(cell.get() + 1);
}
