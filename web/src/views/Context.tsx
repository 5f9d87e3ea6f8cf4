import { useState, type FormEvent } from "react";
import { run } from "../client";
import { Ago, ErrorNote, Json, Section, useApi, useRead, useTeam } from "../common";
import { ContextEntries, ContextHistory, RecentKnowledge, SearchKnowledge, type KnowledgeRow } from "../operations";
import { Link } from "../router";
import { useCell } from "../store";
import { taskIds } from "./TaskForms";
import type { ResultOf } from "../graphql";

type Scope = { teamId: string } | { taskId: string } | { private: true };

export function ContextView() {
  const api = useApi();
  const team = useTeam();
  const changed = useCell(team.changed.context);
  const [scopeKind, setScopeKind] = useState<"team" | "task" | "private">("team");
  const [taskNumber, setTaskNumber] = useState("");
  const [scope, setScope] = useState<Scope>({ teamId: team.teamId });
  const [prefix, setPrefix] = useState("");
  const [key, setKey] = useState<string | null>(null);
  const [scopeError, setScopeError] = useState<string | null>(null);
  const entries = useRead(async () => {
    // Every page of the scope (100 keys a page).
    const all = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page++) {
      const list: ResultOf<typeof ContextEntries>["contextEntries"] = (await run(api, ContextEntries, { scope, after, prefix: prefix || null })).contextEntries;
      all.push(...list);
      if (list.length < 100) break;
      after = list.at(-1)!.key;
    }
    return all;
  }, [JSON.stringify(scope), prefix, changed]);
  const history = useRead(() => (key ? run(api, ContextHistory, { scope, key }) : Promise.resolve(null)), [JSON.stringify(scope), key, changed]);

  const choose = async (event: FormEvent) => {
    event.preventDefault();
    setScopeError(null);
    setKey(null);
    try {
      if (scopeKind === "team") setScope({ teamId: team.teamId });
      else if (scopeKind === "private") setScope({ private: true });
      else setScope({ taskId: (await taskIds(api, team, taskNumber))[0]! });
    } catch (e) {
      setScopeError((e as Error).message);
    }
  };

  return (
    <div className="context-page">
      <div>
        <Section title="Context">
          <form className="inline-form" onSubmit={choose}>
            <label>
              Scope
              <select value={scopeKind} onChange={(e) => setScopeKind(e.target.value as typeof scopeKind)}>
                <option value="team">the team</option>
                <option value="task">a task</option>
                <option value="private">mine (private)</option>
              </select>
            </label>
            {scopeKind === "task" && (
              <label>
                Task <input value={taskNumber} onChange={(e) => setTaskNumber(e.target.value)} placeholder="#4" required />
              </label>
            )}
            <button type="submit">Show</button>
            <label>
              Key prefix <input value={prefix} onChange={(e) => setPrefix(e.target.value)} />
            </label>
          </form>
          <ErrorNote error={scopeError ?? entries.error} />
          <table className="context">
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Version</th>
                <th scope="col">By</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {entries.data?.map((e) => (
                <tr key={e.id} className={key === e.key ? "selected" : undefined}>
                  <td>
                    <button type="button" className="linklike" onClick={() => setKey(e.key)}>
                      {e.key}
                    </button>
                  </td>
                  <td>{e.version}</td>
                  <td>{e.author.name}</td>
                  <td>
                    <Ago at={e.updatedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {entries.data?.length === 0 && <p className="muted">No keys here.</p>}
        </Section>
        {key && (
          <Section title={`History of ${key}`}>
            <ErrorNote error={history.error} />
            {history.data?.contextHistory.map((v) => (
              <div key={v.version} className="version">
                <div className="muted">
                  version {v.version} by {v.author.name} <Ago at={v.createdAt} />
                  {v.deleted && " · deleted"}
                </div>
                {!v.deleted && <Json value={v.value} />}
              </div>
            ))}
          </Section>
        )}
      </div>
      <Knowledge />
    </div>
  );
}

function Knowledge() {
  const api = useApi();
  const team = useTeam();
  const changed = useCell(team.changed.knowledge);
  const [text, setText] = useState("");
  const [query, setQuery] = useState("");
  const found = useRead(async (): Promise<{ entry: KnowledgeRow; rank?: number }[]> => {
    if (query) return (await run(api, SearchKnowledge, { teamId: team.teamId, text: query })).searchKnowledge;
    return (await run(api, RecentKnowledge, { teamId: team.teamId })).recentKnowledge.edges.map((e) => ({ entry: e.node }));
  }, [team.teamId, query, changed]);
  return (
    <Section title="Knowledge">
      <form
        className="inline-form"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(text.trim());
        }}
      >
        <label>
          Search <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="words to find" />
        </label>
        <button type="submit">Search</button>
        {query && (
          <button
            type="button"
            onClick={() => {
              setText("");
              setQuery("");
            }}
          >
            Show recent
          </button>
        )}
      </form>
      <ErrorNote error={found.error} />
      {found.data?.length === 0 && <p className="muted">{query ? "Nothing found." : "No knowledge yet."}</p>}
      {found.data?.map(({ entry }) => (
        <article key={entry.id} className="knowledge">
          <h3>{entry.title}</h3>
          <div className="muted">
            by {entry.author.name} <Ago at={entry.createdAt} />
            {entry.task && (
              <>
                {" "}
                on <Link to={`/teams/${encodeURIComponent(team.teamId)}/tasks/${entry.task.number}`}>#{entry.task.number}</Link>
              </>
            )}
            {entry.tags.map((t) => (
              <span key={t} className="tag">
                {t}
              </span>
            ))}
          </div>
          <p className="text">{entry.body.length > 1200 ? `${entry.body.slice(0, 1199)}…` : entry.body}</p>
        </article>
      ))}
    </Section>
  );
}
