import { useEffect, useMemo, useState, type FormEvent } from "react";
import { run, streamEvents } from "../client";
import { Ago, ErrorNote, Remaining, Section, useAction, useApi, useRead, useTeam } from "../common";
import { Broadcast, Inbox, InboxEvents, Publish, Reply, SendMessage, Thread, type MessageRow } from "../operations";
import { kindOf } from "../pending-api";
import { useCell } from "../store";

function MessageView({ m }: { m: MessageRow }) {
  const kind = kindOf(m.sender);
  return (
    <article className={`message intent-${m.intent.toLowerCase()}`} data-message={m.id}>
      <header className="muted">
        <strong>{m.sender?.name ?? "server"}</strong>
        {kind && <span className="tag">{kind}</span>} · {m.kind.toLowerCase()}
        {m.topic && ` on ${m.topic}`} · {m.intent.toLowerCase()}
        {m.priority !== "NORMAL" && ` · ${m.priority.toLowerCase()}`} · <Ago at={m.createdAt} />
        {m.deadline && (m.expired ? " · expired" : <Remaining until={m.deadline} prefix=" · answer within: " />)}
      </header>
      <p className="text">{m.body}</p>
    </article>
  );
}

export function MessagesView({ me }: { me: { id: string; name: string } }) {
  const api = useApi();
  const team = useTeam();
  const teamChanged = useCell(team.changed.messages);
  const [mine, setMine] = useState(0);
  // Live: my inbox's events, from the team's current cursor (a message to me in this team
  // also shows in the team journal; direct messages only in my inbox).
  useEffect(() => {
    const after = team.journal.get().rows.at(-1)?.cursor ?? 0;
    return streamEvents(api, InboxEvents, {}, after, (d) => d.inboxEvents, { onEvent: () => setMine((n) => n + 1), onFailed: () => {} });
  }, [api, team]);
  const inbox = useRead(() => run(api, Inbox, { teamId: team.teamId }), [team.teamId, teamChanged, mine]);
  const [open, setOpen] = useState<string | null>(null);

  const threads = useMemo(() => {
    const items = [...(inbox.data?.inbox.edges ?? []), ...(inbox.data?.direct.edges ?? [])].map((e) => e.node);
    const latest = new Map<string, { message: MessageRow; unread: boolean; count: number }>();
    for (const { message, read } of items) {
      const t = latest.get(message.threadId);
      if (!t) latest.set(message.threadId, { message, unread: !read, count: 1 });
      else {
        t.count++;
        t.unread ||= !read;
        if (message.createdAt > t.message.createdAt) t.message = message;
      }
    }
    return [...latest.entries()].sort((a, b) => b[1].message.createdAt.localeCompare(a[1].message.createdAt));
  }, [inbox.data]);
  const asks = useMemo(
    () => threads.map(([, t]) => t.message).filter((m) => m.intent === "ASK" && m.deadline && !m.expired && m.sender?.id !== me.id),
    [threads, me.id],
  );

  return (
    <div className="messages-page">
      <div>
        <Compose onSent={() => setMine((n) => n + 1)} />
        <Section title={`Asks waiting for an answer (${asks.length})`}>
          {asks.length === 0 && <p className="muted">None.</p>}
          {asks.map((m) => (
            <button type="button" key={m.id} className="thread-link" onClick={() => setOpen(m.threadId)}>
              <MessageView m={m} />
            </button>
          ))}
        </Section>
        <Section title="Threads, broadcasts and topics">
          <ErrorNote error={inbox.error} />
          {threads.length === 0 && !inbox.loading && <p className="muted">Nothing yet.</p>}
          {threads.map(([threadId, t]) => (
            <button type="button" key={threadId} className={`thread-link${open === threadId ? " open" : ""}${t.unread ? " unread" : ""}`} onClick={() => setOpen(threadId)} aria-pressed={open === threadId}>
              <MessageView m={t.message} />
              {t.count > 1 && <span className="muted">{t.count} messages</span>}
            </button>
          ))}
        </Section>
      </div>
      <div>{open ? <ThreadView threadId={open} version={mine + teamChanged} /> : <p className="muted">Choose a thread to read it and reply.</p>}</div>
    </div>
  );
}

function ThreadView({ threadId, version }: { threadId: string; version: number }) {
  const api = useApi();
  const thread = useRead(() => run(api, Thread, { messageId: threadId }), [threadId, version]);
  const [body, setBody] = useState("");
  const { busy, error, act } = useAction();
  const messages = thread.data?.thread ?? [];
  const last = messages.at(-1);
  const send = async (event: FormEvent) => {
    event.preventDefault();
    if (!last) return;
    if (await act(() => run(api, Reply, { messageId: last.id, message: { body } }, true))) setBody("");
  };
  return (
    <Section title="Thread">
      <ErrorNote error={thread.error} />
      {messages.map((m) => (
        <MessageView key={m.id} m={m} />
      ))}
      <form onSubmit={send} className="compose">
        <label>
          Reply to {last?.sender?.name ?? "the thread"}
          <textarea value={body} onChange={(e) => setBody(e.target.value)} required rows={3} maxLength={20000} />
        </label>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy || !last?.sender}>
          Reply
        </button>
      </form>
    </Section>
  );
}

function Compose({ onSent }: { onSent: () => void }) {
  const api = useApi();
  const team = useTeam();
  const info = useCell(team.info);
  const [kind, setKind] = useState<"broadcast" | "direct" | "topic">("broadcast");
  const [to, setTo] = useState("");
  const [topic, setTopic] = useState("");
  const [intent, setIntent] = useState<"INFORM" | "DELEGATE" | "ESCALATE">("INFORM");
  const [priority, setPriority] = useState<"LOW" | "NORMAL" | "HIGH" | "CRITICAL">("NORMAL");
  const [body, setBody] = useState("");
  const { busy, error, act } = useAction();
  const send = async (event: FormEvent) => {
    event.preventDefault();
    const message = { body, intent, priority };
    const ok = await act(async () => {
      if (kind === "broadcast") await run(api, Broadcast, { teamId: team.teamId, message }, true);
      else if (kind === "topic") await run(api, Publish, { teamId: team.teamId, topic: topic.trim(), message }, true);
      else await run(api, SendMessage, { to: to.split(/[\s,]+/).filter(Boolean), message }, true);
    });
    if (ok) {
      setBody("");
      onSent();
    }
  };
  return (
    <Section title="Post">
      <form onSubmit={send} className="compose" aria-label="Post a message">
        <div className="inline-form">
          <label>
            To
            <select value={kind} onChange={(e) => setKind(e.target.value as typeof kind)}>
              <option value="broadcast">the whole team (broadcast)</option>
              <option value="direct">members (direct)</option>
              <option value="topic">a topic</option>
            </select>
          </label>
          {kind === "direct" && (
            <label>
              Names
              <input value={to} onChange={(e) => setTo(e.target.value)} required list="member-names" placeholder="worker-1, worker-2" />
              <datalist id="member-names">
                {info?.members.map((m) => (
                  <option key={m.agent.id} value={m.agent.name} />
                ))}
              </datalist>
            </label>
          )}
          {kind === "topic" && (
            <label>
              Topic <input value={topic} onChange={(e) => setTopic(e.target.value)} required placeholder="reports.daily" />
            </label>
          )}
          <label>
            Intent
            <select value={intent} onChange={(e) => setIntent(e.target.value as typeof intent)}>
              <option>INFORM</option>
              <option>DELEGATE</option>
              <option>ESCALATE</option>
            </select>
          </label>
          <label>
            Priority
            <select value={priority} onChange={(e) => setPriority(e.target.value as typeof priority)}>
              <option>LOW</option>
              <option>NORMAL</option>
              <option>HIGH</option>
              <option>CRITICAL</option>
            </select>
          </label>
        </div>
        <label>
          Message <textarea value={body} onChange={(e) => setBody(e.target.value)} required rows={3} maxLength={20000} name="body" />
        </label>
        <ErrorNote error={error} />
        <button type="submit" className="primary" disabled={busy}>
          Send
        </button>
      </form>
    </Section>
  );
}
