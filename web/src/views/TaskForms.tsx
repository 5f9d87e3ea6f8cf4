import { useState, type FormEvent } from "react";
import { run, type Api } from "../client";
import { ErrorNote, PRIORITIES, useAction, useApi, useTeam } from "../common";
import { CreateTask, TaskIdByNumber, UpdateTask, type Detail } from "../operations";
import { useCell } from "../store";
import type { TeamLive } from "../team-live";

/** "#2, 5" → task IDs, from the board when it has them, else from the server. */
export async function taskIds(api: Api, team: TeamLive, text: string): Promise<string[]> {
  const numbers = text
    .split(/[\s,]+/)
    .map((s) => s.replace(/^#/, ""))
    .filter(Boolean);
  const byNumber = new Map([...team.tasks.get().values()].map((t) => [t.number, t.id]));
  return Promise.all(
    numbers.map(async (s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new Error(`"${s}" is not a task number`);
      return byNumber.get(n) ?? (await run(api, TaskIdByNumber, { teamId: team.teamId, number: n })).team.task.id;
    }),
  );
}

function MemberSelect({ value, onChange, label }: { value: string; onChange: (v: string) => void; label: string }) {
  const info = useCell(useTeam().info);
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">nobody</option>
        {info?.members.map((m) => (
          <option key={m.agent.id} value={m.agent.name}>
            {m.agent.name} ({m.role})
          </option>
        ))}
      </select>
    </label>
  );
}

export function NewTask({ onDone }: { onDone: () => void }) {
  const api = useApi();
  const team = useTeam();
  const info = useCell(team.info);
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [priority, setPriority] = useState<(typeof PRIORITIES)[number]>("MEDIUM");
  const [assignee, setAssignee] = useState("");
  const [milestoneId, setMilestoneId] = useState("");
  const [track, setTrack] = useState("");
  const [blockedBy, setBlockedBy] = useState("");
  const { busy, error, act } = useAction();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const ok = await act(async () => {
      const blockers = await taskIds(api, team, blockedBy);
      await run(
        api,
        CreateTask,
        {
          teamId: team.teamId,
          input: {
            title: title.trim(),
            description: description.trim() || null,
            priority,
            assignee: assignee || null,
            milestoneId: milestoneId || null,
            track: track.trim() || null,
            blockedBy: blockers.length ? blockers : null,
          },
        },
        true,
      );
    });
    if (ok) onDone();
  };

  return (
    <form className="panel task-form" onSubmit={submit} aria-label="New task">
      <label className="wide">
        Title <input value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={500} autoFocus name="title" />
      </label>
      <label className="wide">
        Description <textarea value={description} onChange={(e) => setDescription(e.target.value)} rows={3} name="description" />
      </label>
      <label>
        Priority
        <select value={priority} onChange={(e) => setPriority(e.target.value as (typeof PRIORITIES)[number])}>
          {PRIORITIES.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
      </label>
      <MemberSelect label="Assignee" value={assignee} onChange={setAssignee} />
      <label>
        Milestone
        <select value={milestoneId} onChange={(e) => setMilestoneId(e.target.value)}>
          <option value="">none</option>
          {info?.milestones.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Track <input value={track} onChange={(e) => setTrack(e.target.value)} />
      </label>
      <label>
        Blocked by <input value={blockedBy} onChange={(e) => setBlockedBy(e.target.value)} placeholder="#2, #5" />
      </label>
      <ErrorNote error={error} />
      <div className="form-actions wide">
        <button type="submit" className="primary" disabled={busy}>
          Create task
        </button>
        <button type="button" onClick={onDone}>
          Close
        </button>
      </div>
    </form>
  );
}

type Status = Detail["status"];
const STATUSES: Status[] = ["PENDING", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED"];

/** Edits what updateTask changes; only the fields changed are sent. */
export function EditTask({ task, onDone }: { task: Detail; onDone: () => void }) {
  const api = useApi();
  const [form, setForm] = useState({
    title: task.title,
    description: task.description ?? "",
    notes: task.notes ?? "",
    priority: task.priority,
    status: task.status,
    progress: String(task.progress),
    assignee: task.assignee?.name ?? "",
  });
  const { busy, error, act } = useAction();
  const field = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [key]: e.target.value }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const input: Record<string, unknown> = {};
    if (form.title !== task.title) input.title = form.title.trim();
    if (form.description !== (task.description ?? "")) input.description = form.description;
    if (form.notes !== (task.notes ?? "")) input.notes = form.notes;
    if (form.priority !== task.priority) input.priority = form.priority;
    if (form.status !== task.status) input.status = form.status;
    if (Number(form.progress) !== task.progress) input.progress = Number(form.progress);
    if (form.assignee !== (task.assignee?.name ?? "")) input.assignee = form.assignee || null;
    if (Object.keys(input).length === 0) return onDone();
    if (await act(() => run(api, UpdateTask, { id: task.id, input }, true))) onDone();
  };

  return (
    <form className="panel task-form" onSubmit={submit} aria-label="Edit task">
      <label className="wide">
        Title <input value={form.title} onChange={field("title")} required maxLength={500} name="title" />
      </label>
      <label className="wide">
        Description <textarea value={form.description} onChange={field("description")} rows={4} />
      </label>
      <label className="wide">
        Notes <textarea value={form.notes} onChange={field("notes")} rows={3} />
      </label>
      <label>
        Priority
        <select value={form.priority} onChange={field("priority")}>
          {PRIORITIES.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
      </label>
      <label>
        Status
        <select value={form.status} onChange={field("status")}>
          {STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        Progress <input type="number" min={0} max={100} value={form.progress} onChange={field("progress")} />
      </label>
      <MemberSelect label="Assignee" value={form.assignee} onChange={(v) => setForm((f) => ({ ...f, assignee: v }))} />
      <ErrorNote error={error} />
      <div className="form-actions wide">
        <button type="submit" className="primary" disabled={busy}>
          Save
        </button>
        <button type="button" onClick={onDone}>
          Close
        </button>
      </div>
    </form>
  );
}
