import { useEffect, useState, type FormEvent } from "react";
import { run, streamEvents } from "../client";
import { Ago, ErrorNote, Json, Remaining, Section, useAction, useApi, useMe, useRead, useTeam } from "../common";
import { AddDependency, CancelTask, RemoveDependency, TaskDetail, TaskEvents, type JournalRow } from "../operations";
import { takeBackClaim } from "../pending-api";
import { Link } from "../router";
import { useCell } from "../store";
import { EventLine } from "./Journal";
import { EditTask, taskIds } from "./TaskForms";

export function TaskView({ number }: { number: number }) {
  const api = useApi();
  const team = useTeam();
  const info = useCell(team.info);
  const me = useMe();
  const [version, setVersion] = useState(0);
  const read = useRead(() => run(api, TaskDetail, { teamId: team.teamId, number }), [team.teamId, number, version]);
  const task = read.data?.team.task ?? null;
  const [editing, setEditing] = useState(false);
  const [history, setHistory] = useState<JournalRow[]>([]);
  const action = useAction();
  const [blocker, setBlocker] = useState("");

  // Read the task again when an event names it or a task linked to it.
  useEffect(() => {
    if (!task) return;
    const related = new Set([task.id, ...task.blockers.map((d) => d.blocker.id), ...task.blocks.map((d) => d.blocked.id)]);
    return team.onEvent((row) => {
      if (related.has(row.subjectId)) setVersion((v) => v + 1);
    });
  }, [team, task]);

  // Its own history: every event of this task from the start, then live.
  const taskId = task?.id;
  useEffect(() => {
    if (!taskId) return;
    setHistory([]);
    return streamEvents(api, TaskEvents, { teamId: team.teamId, taskId }, 0, (d) => d.taskEvents, {
      onEvent: (row) => setHistory((h) => [row, ...h]),
      onFailed: () => {},
    });
  }, [api, team.teamId, taskId]);

  if (read.error && !task) return <ErrorNote error={read.error} />;
  if (!task) return <p className="loading">Loading task #{number}…</p>;
  const closed = task.status === "COMPLETED" || task.status === "CANCELLED" || task.status === "FAILED";
  const iAmLead = info?.lead.id === me.id;

  const addBlocker = async (event: FormEvent) => {
    event.preventDefault();
    const ok = await action.act(async () => {
      for (const id of await taskIds(api, team, blocker)) await run(api, AddDependency, { id: task.id, blockedById: id }, true);
    });
    if (ok) setBlocker("");
    setVersion((v) => v + 1);
  };
  const teamPath = `/teams/${encodeURIComponent(team.teamId)}`;

  return (
    <div className="task-page">
      <p>
        <Link to={`${teamPath}/board`}>← Board</Link>
      </p>
      <header className="task-head">
        <h1>
          <span className="num">#{task.number}</span> <span className="task-title">{task.title}</span>
        </h1>
        <div className="facts">
          <span className={`status status-${task.status.toLowerCase()}`}>{task.status.toLowerCase().replace("_", " ")}</span>
          <span className={`prio prio-${task.priority.toLowerCase()}`}>{task.priority.toLowerCase()}</span>
          {task.readiness.state !== "CLAIMED" && <span>{task.readiness.reason}</span>}
          {task.assignee && <span>assigned to {task.assignee.name}</span>}
          {task.holder && task.readiness.state === "CLAIMED" && (
            <span>
              held by {task.holder.name} (claim {task.claimToken}) · <Remaining until={task.leaseExpiresAt} />
            </span>
          )}
          <span>progress {task.progress}%</span>
          {task.track && <span>track {task.track}</span>}
          {task.milestone && <span>milestone {task.milestone.name}</span>}
          {task.verification && <span className="tag">verification</span>}
          <span>
            created by {task.createdBy.name} <Ago at={task.createdAt} />
          </span>
        </div>
        <div className="actions">
          <button type="button" onClick={() => setEditing((e) => !e)} aria-expanded={editing}>
            Edit
          </button>
          {!closed && (
            <button
              type="button"
              className="danger"
              disabled={action.busy}
              onClick={() => {
                if (confirm(`Cancel task #${task.number}?`)) void action.act(() => run(api, CancelTask, { id: task.id }, true)).then(() => setVersion((v) => v + 1));
              }}
            >
              Cancel task
            </button>
          )}
          {takeBackClaim && iAmLead && task.readiness.state === "CLAIMED" && (
            <button type="button" className="danger" onClick={() => void action.act(() => takeBackClaim!(api, task.id))}>
              Take back the claim
            </button>
          )}
        </div>
        <ErrorNote error={action.error} />
      </header>
      {editing && (
        <EditTask
          task={task}
          onDone={() => {
            setEditing(false);
            setVersion((v) => v + 1);
          }}
        />
      )}
      <div className="task-grid">
        <div>
          <Section title="Description">{task.description ? <p className="text">{task.description}</p> : <p className="muted">none</p>}</Section>
          {task.activeForm && (
            <Section title="Doing now">
              <p className="text">{task.activeForm}</p>
            </Section>
          )}
          <Section title="Notes">{task.notes ? <p className="text">{task.notes}</p> : <p className="muted">none</p>}</Section>
          <Section title="Dashboard">{task.dashboard ? <pre className="text dashboard">{task.dashboard}</pre> : <p className="muted">empty</p>}</Section>
          <Section title={`Findings (${task.findings.length})`}>
            {task.findings.map((f) => (
              <div key={f.id} className="finding">
                <div className="muted">
                  {f.author.name} <Ago at={f.createdAt} />
                </div>
                <Json value={f.data} />
              </div>
            ))}
          </Section>
          <Section title="Metadata">
            <Json value={task.metadata} />
          </Section>
        </div>
        <div>
          <Section title="Blocked by">
            <ul className="list">
              {task.blockers.map((d) => (
                <li key={d.blocker.id}>
                  <Link to={`${teamPath}/tasks/${d.blocker.number}`}>#{d.blocker.number}</Link> {d.blocker.title} <span className="muted">({d.blocker.status.toLowerCase()}{d.kind === "track" ? ", track order" : ""})</span>{" "}
                  {d.kind !== "track" && (
                    <button type="button" className="small" aria-label={`Remove dependency on #${d.blocker.number}`} onClick={() => void action.act(() => run(api, RemoveDependency, { id: task.id, blockedById: d.blocker.id }, true)).then(() => setVersion((v) => v + 1))}>
                      remove
                    </button>
                  )}
                </li>
              ))}
            </ul>
            <form onSubmit={addBlocker} className="inline-form">
              <label>
                Add blocker <input value={blocker} onChange={(e) => setBlocker(e.target.value)} placeholder="#3" required aria-label="Blocker task number" />
              </label>
              <button type="submit" disabled={action.busy}>
                Add
              </button>
            </form>
          </Section>
          <Section title="Blocks">
            <ul className="list">
              {task.blocks.map((d) => (
                <li key={d.blocked.id}>
                  <Link to={`${teamPath}/tasks/${d.blocked.number}`}>#{d.blocked.number}</Link> {d.blocked.title} <span className="muted">({d.blocked.status.toLowerCase()})</span>
                </li>
              ))}
              {task.blocks.length === 0 && <li className="muted">nothing</li>}
            </ul>
          </Section>
          {task.roles.length > 0 && (
            <Section title="Roles">
              <ul className="list">
                {task.roles.map((r) => (
                  <li key={r.id}>
                    {r.agent.name}: {r.role} {r.instructions && <span className="muted">— {r.instructions}</span>}
                  </li>
                ))}
              </ul>
            </Section>
          )}
          {task.knowledge.length > 0 && (
            <Section title="Knowledge found here">
              <ul className="list">
                {task.knowledge.map((k) => (
                  <li key={k.id}>{k.title}</li>
                ))}
              </ul>
            </Section>
          )}
          <Section title="History">
            <ol className="history">
              {history.map((row) => (
                <li key={row.cursor}>
                  <EventLine row={row} />
                </li>
              ))}
            </ol>
          </Section>
        </div>
      </div>
    </div>
  );
}
