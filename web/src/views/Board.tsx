import { useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { PRIORITY_RANK, Remaining, useTeam } from "../common";
import type { Card } from "../operations";
import { Link } from "../router";
import { useCell } from "../store";
import { BlockedGraph } from "./Graph";
import { NewTask } from "./TaskForms";

const COLUMNS = [
  ["ready", "Ready"],
  ["blocked", "Blocked"],
  ["progress", "In progress"],
  ["completed", "Completed"],
  ["closed", "Cancelled / failed"],
] as const;
type Column = (typeof COLUMNS)[number][0];

export function columnOf(task: Card): Column {
  if (task.status === "COMPLETED") return "completed";
  if (task.status === "CANCELLED" || task.status === "FAILED") return "closed";
  if (task.status === "IN_PROGRESS" || task.readiness.state === "CLAIMED") return "progress";
  if (task.readiness.state === "BLOCKED") return "blocked";
  return "ready";
}

const byPriority = (a: Card, b: Card) => (PRIORITY_RANK[a.priority] ?? 9) - (PRIORITY_RANK[b.priority] ?? 9) || a.number - b.number;
const byNewest = (a: Card, b: Card) => b.updatedAt.localeCompare(a.updatedAt) || b.number - a.number;

export interface Filters {
  milestone: string;
  track: string;
  assignee: string;
}
export function matches(task: Card, f: Filters): boolean {
  if (f.milestone && task.milestone?.id !== f.milestone) return false;
  if (f.track && task.track !== f.track) return false;
  if (f.assignee === "-") return !task.assignee && !task.holder;
  if (f.assignee && task.assignee?.name !== f.assignee && task.holder?.name !== f.assignee) return false;
  return true;
}

export function BoardView() {
  const team = useTeam();
  const tasks = useCell(team.tasks);
  const loaded = useCell(team.tasksLoaded);
  const info = useCell(team.info);
  const [filters, setFilters] = useState<Filters>({ milestone: "", track: "", assignee: "" });
  const [mode, setMode] = useState<"columns" | "graph">("columns");
  const [creating, setCreating] = useState(false);

  const tracks = useMemo(() => [...new Set([...tasks.values()].map((t) => t.track).filter((t): t is string => !!t))].sort(), [tasks]);
  const columns = useMemo(() => {
    const out: Record<Column, Card[]> = { ready: [], blocked: [], progress: [], completed: [], closed: [] };
    for (const task of tasks.values()) if (matches(task, filters)) out[columnOf(task)].push(task);
    for (const key of ["ready", "blocked", "progress"] as const) out[key].sort(byPriority);
    out.completed.sort(byNewest);
    out.closed.sort(byNewest);
    return out;
  }, [tasks, filters]);

  const set = (key: keyof Filters) => (e: { target: { value: string } }) => setFilters((f) => ({ ...f, [key]: e.target.value }));
  return (
    <div className="board-page">
      <div className="toolbar">
        <label>
          Milestone
          <select value={filters.milestone} onChange={set("milestone")}>
            <option value="">all</option>
            {info?.milestones.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Track
          <select value={filters.track} onChange={set("track")}>
            <option value="">all</option>
            {tracks.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label>
          Assignee
          <select value={filters.assignee} onChange={set("assignee")}>
            <option value="">anyone</option>
            <option value="-">nobody</option>
            {info?.members.map((m) => (
              <option key={m.agent.id} value={m.agent.name}>
                {m.agent.name}
              </option>
            ))}
          </select>
        </label>
        <div className="segmented" role="group" aria-label="Board layout">
          <button type="button" aria-pressed={mode === "columns"} onClick={() => setMode("columns")}>
            Columns
          </button>
          <button type="button" aria-pressed={mode === "graph"} onClick={() => setMode("graph")}>
            Blocked-by graph
          </button>
        </div>
        <span className="muted">
          {tasks.size} tasks{loaded ? "" : " (loading…)"}
        </span>
        <span className="spacer" />
        <button type="button" className="primary" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          New task
        </button>
      </div>
      {creating && <NewTask onDone={() => setCreating(false)} />}
      {mode === "graph" ? (
        <BlockedGraph tasks={tasks} filter={(t) => matches(t, filters)} />
      ) : (
        <div className="columns">
          {COLUMNS.map(([key, title]) => (
            <BoardColumn key={key} id={key} title={title} tasks={columns[key]} />
          ))}
        </div>
      )}
    </div>
  );
}

const CARD_HEIGHT = 118;

/** A column renders only the cards in view: a board of thousands stays quick. */
function BoardColumn({ id, title, tasks }: { id: string; title: string; tasks: Card[] }) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: tasks.length, getScrollElement: () => scroller.current, estimateSize: () => CARD_HEIGHT, overscan: 4, getItemKey: (i) => tasks[i]!.id });
  return (
    <section className={`column column-${id}`} aria-label={title} data-column={id}>
      <h2>
        {title} <span className="count">{tasks.length}</span>
      </h2>
      <div className="column-body" ref={scroller}>
        <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
          {virtual.getVirtualItems().map((item) => (
            <div key={item.key} className="card-slot" style={{ transform: `translateY(${item.start}px)`, height: CARD_HEIGHT }}>
              <TaskCard task={tasks[item.index]!} />
            </div>
          ))}
        </div>
      </div>
    </section>
  );
}

function TaskCard({ task }: { task: Card }) {
  const team = useTeam();
  const who = task.holder ?? task.assignee;
  const showReason = task.readiness.state !== "READY" && task.readiness.state !== "CLAIMED" && task.status !== "COMPLETED" && task.status !== "CANCELLED" && task.status !== "FAILED";
  return (
    <Link to={`/teams/${encodeURIComponent(team.teamId)}/tasks/${task.number}`} className={`card card-${task.priority.toLowerCase()}`} data-task={task.number}>
      <div className="card-top">
        <span className="num">#{task.number}</span>
        <span className={`prio prio-${task.priority.toLowerCase()}`}>{task.priority.toLowerCase()}</span>
        {task.track && <span className="tag">{task.track}</span>}
        <span className="spacer" />
        {task.progress > 0 && <span className="progress-num">{task.progress}%</span>}
      </div>
      <div className="card-title">{task.title}</div>
      <div className="card-meta">
        {who ? (
          <span>
            {task.holder ? "held by " : "for "}
            {who.name}
          </span>
        ) : (
          <span className="muted">unassigned</span>
        )}
        {task.readiness.state === "CLAIMED" && task.leaseExpiresAt && <Remaining until={task.leaseExpiresAt} prefix=" · " />}
      </div>
      {showReason && <div className="card-why">{task.readiness.reason}</div>}
      {task.progress > 0 && (
        <div className="bar" aria-hidden="true">
          <div style={{ width: `${task.progress}%` }} />
        </div>
      )}
    </Link>
  );
}
