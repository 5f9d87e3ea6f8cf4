import { useEffect, useMemo } from "react";
import { Ago, Remaining, useTeam } from "../common";
import type { Card, JournalRow } from "../operations";
import { kindOf } from "../pending-api";
import { Link } from "../router";
import { useCell } from "../store";
import { EventLine } from "./Journal";

export function AgentsView() {
  const team = useTeam();
  const info = useCell(team.info);
  const tasks = useCell(team.tasks);
  const journal = useCell(team.journal);
  // Online state is not in the journal: read it again when this view opens.
  useEffect(() => void team.loadInfo().catch(() => {}), [team]);

  const held = useMemo(() => {
    const out = new Map<string, Card[]>();
    for (const t of tasks.values()) {
      if (t.readiness.state !== "CLAIMED" || !t.holder) continue;
      out.set(t.holder.id, [...(out.get(t.holder.id) ?? []), t]);
    }
    return out;
  }, [tasks]);
  const recent = useMemo(() => {
    const out = new Map<string, JournalRow[]>();
    for (let i = journal.rows.length - 1; i >= 0; i--) {
      const r = journal.rows[i]!;
      if (!r.actor) continue;
      const list = out.get(r.actor.id) ?? [];
      if (list.length < 3) out.set(r.actor.id, [...list, r]);
    }
    return out;
  }, [journal.rows]);

  if (!info) return <p className="loading">Loading members…</p>;
  const members = [...info.members].sort((a, b) => Number(b.agent.online) - Number(a.agent.online) || a.agent.name.localeCompare(b.agent.name));
  return (
    <table className="agents">
      <caption>
        {members.length} members · {members.filter((m) => m.agent.online).length} online
      </caption>
      <thead>
        <tr>
          <th scope="col">Agent</th>
          <th scope="col">Role</th>
          <th scope="col">Seen</th>
          <th scope="col">Holds</th>
          <th scope="col">Recent actions</th>
        </tr>
      </thead>
      <tbody>
        {members.map((m) => {
          const kind = kindOf(m.agent);
          return (
            <tr key={m.agent.id} data-agent={m.agent.name}>
              <th scope="row">
                <span className={m.agent.online ? "dot online" : "dot"} aria-label={m.agent.online ? "online" : "offline"} /> {m.agent.name}
                {kind && <span className="tag">{kind}</span>}
                {m.agent.id === info.lead.id && <span className="tag">lead</span>}
                {m.agent.description && <div className="muted">{m.agent.description}</div>}
              </th>
              <td>{m.role}</td>
              <td>{m.agent.online ? "online now" : <Ago at={m.agent.lastSeenAt} />}</td>
              <td>
                {(held.get(m.agent.id) ?? []).map((t) => (
                  <div key={t.id}>
                    <Link to={`/teams/${encodeURIComponent(team.teamId)}/tasks/${t.number}`}>#{t.number}</Link> <span className="clip">{t.title}</span> · <Remaining until={t.leaseExpiresAt} />
                  </div>
                ))}
              </td>
              <td className="recent">
                {(recent.get(m.agent.id) ?? []).map((r) => (
                  <div key={r.cursor}>
                    <EventLine row={r} />
                  </div>
                ))}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
