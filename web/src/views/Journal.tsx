import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useApi, useTeam } from "../common";
import type { JournalRow } from "../operations";
import { kindOf } from "../pending-api";
import { useCell } from "../store";

const ROW = 30;
/** Payload fields shown in a task event's summary line. */
const TASK_FIELDS = new Set(["number", "title"]);

function summary(row: JournalRow, names: ReadonlyMap<string, string>): string {
  // IDs of members read better as their names.
  const p = Object.fromEntries(Object.entries(row.payload).map(([k, v]) => [k, typeof v === "string" && k.endsWith("Id") && names.has(v) ? names.get(v) : v]));
  const rest = Object.fromEntries(Object.entries(p).filter(([k]) => !(row.subjectType === "Task" && (TASK_FIELDS.has(k) || k === "status" || k === "teamId"))));
  const head = row.subjectType === "Task" && typeof p.number === "number" ? `#${p.number} ${typeof p.title === "string" ? p.title : ""}` : "";
  const tail = Object.keys(rest).length ? JSON.stringify(rest) : "";
  const text = [head, tail].filter(Boolean).join(" ");
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

/** One journal row as a line of text. */
export function EventLine({ row }: { row: JournalRow }) {
  const kind = kindOf(row.actor);
  const names = useCell(useTeam().names);
  return (
    <span className="event" data-cursor={row.cursor}>
      <span className="cursor">{row.cursor}</span> <time dateTime={row.createdAt}>{new Date(row.createdAt).toLocaleTimeString()}</time>{" "}
      <span className="actor">{row.actor?.name ?? "server"}</span>
      {kind && <span className="tag">{kind}</span>} <span className="kind">{row.kind}</span> <span className="summary">{summary(row, names)}</span>
    </span>
  );
}

export function JournalView() {
  const team = useTeam();
  const api = useApi();
  const link = useCell(api.link);
  const journal = useCell(team.journal);
  const info = useCell(team.info);
  const [kind, setKind] = useState("");
  const [actor, setActor] = useState("");
  const [error, setError] = useState<string | null>(null);
  const kinds = useMemo(() => [...new Set(journal.rows.map((r) => r.kind))].sort(), [journal.rows]);
  // Newest first.
  const rows = useMemo(() => {
    const out: JournalRow[] = [];
    for (let i = journal.rows.length - 1; i >= 0; i--) {
      const r = journal.rows[i]!;
      if (kind && r.kind !== kind && !(kind.endsWith(".*") && r.kind.startsWith(kind.slice(0, -1)))) continue;
      if (actor && (actor === "-" ? r.actor !== null : r.actor?.name !== actor)) continue;
      out.push(r);
    }
    return out;
  }, [journal.rows, kind, actor]);

  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW, overscan: 10, getItemKey: (i) => rows[i]!.cursor });
  // New rows go on top; someone reading further down keeps their place.
  const newest = useRef<number | null>(null);
  useLayoutEffect(() => {
    const el = scroller.current;
    const top = rows[0]?.cursor ?? null;
    if (el && newest.current !== null && top !== null && top !== newest.current && el.scrollTop > 0) {
      const added = rows.findIndex((r) => r.cursor === newest.current);
      if (added > 0) el.scrollTop += added * ROW;
    }
    newest.current = top;
  }, [rows]);
  useEffect(() => setError(null), [kind, actor]);

  const prefixes = [...new Set(kinds.map((k) => `${k.split(".")[0]}.*`))];
  return (
    <div className="journal-page">
      <div className="toolbar">
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value)}>
            <option value="">all</option>
            {prefixes.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
            {kinds.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          Actor
          <select value={actor} onChange={(e) => setActor(e.target.value)}>
            <option value="">anyone</option>
            <option value="-">the server</option>
            {info?.members.map((m) => (
              <option key={m.agent.id} value={m.agent.name}>
                {m.agent.name}
              </option>
            ))}
          </select>
        </label>
        <span className="muted" data-testid="journal-status">
          {rows.length} of {journal.rows.length} events loaded
          {journal.rows.length ? ` · up to #${journal.rows.at(-1)!.cursor}` : ""}
          {link === "reconnecting" ? " · reconnecting: events will resume after the last one shown" : " · live"}
        </span>
      </div>
      <div className="journal-list" ref={scroller} role="log" aria-label="Team journal" aria-live="off">
        <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
          {virtual.getVirtualItems().map((item) => (
            <div key={item.key} className="journal-row" style={{ transform: `translateY(${item.start}px)`, height: ROW }}>
              <EventLine row={rows[item.index]!} />
            </div>
          ))}
        </div>
      </div>
      <div className="toolbar">
        {journal.atStart ? (
          <span className="muted">This is the start of the team's journal.</span>
        ) : (
          <button type="button" disabled={journal.loadingOlder} onClick={() => void team.loadOlder().catch((e: unknown) => setError((e as Error).message))}>
            {journal.loadingOlder ? "Loading…" : "Load older events"}
          </button>
        )}
        {error && <span className="error">{error}</span>}
      </div>
    </div>
  );
}
