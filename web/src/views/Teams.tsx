import { useState, type FormEvent } from "react";
import { run } from "../client";
import { ErrorNote, Section, useAction, useApi, useRead } from "../common";
import { CreateTeam, Teams } from "../operations";
import { Link, navigate } from "../router";
import type { ResultOf } from "../graphql";

export function TeamsView() {
  const api = useApi();
  const [version, setVersion] = useState(0);
  const teams = useRead(async () => {
    const all = [];
    let after: string | null = null;
    for (;;) {
      const data: ResultOf<typeof Teams> = await run(api, Teams, { after });
      all.push(...data.teams.edges.map((e) => e.node));
      if (!data.teams.pageInfo.hasNextPage) return all;
      after = data.teams.pageInfo.endCursor;
    }
  }, [version]);
  const [name, setName] = useState("");
  const [role, setRole] = useState("lead");
  const create = useAction();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    let id = "";
    const ok = await create.act(async () => {
      id = (await run(api, CreateTeam, { input: { name: name.trim(), role: role.trim() } }, true)).createTeam.id;
    });
    if (ok) {
      setVersion((v) => v + 1);
      navigate(`/teams/${encodeURIComponent(id)}/board`);
    }
  };

  return (
    <div className="page narrow">
      <Section title="Your teams">
        <ErrorNote error={teams.error} />
        {teams.data?.length === 0 && <p className="muted">You belong to no team yet. Create one, or ask a team's lead to add you.</p>}
        <ul className="list">
          {teams.data?.map((t) => (
            <li key={t.id}>
              <Link to={`/teams/${encodeURIComponent(t.id)}/board`}>{t.name}</Link> <span className="muted">as {t.myRole}</span>
              {t.description && <div className="muted">{t.description}</div>}
            </li>
          ))}
        </ul>
      </Section>
      <Section title="New team">
        <form onSubmit={submit} className="inline-form">
          <label>
            Name <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
          </label>
          <label>
            Your role <input value={role} onChange={(e) => setRole(e.target.value)} required />
          </label>
          <button type="submit" disabled={create.busy}>
            Create
          </button>
        </form>
        <ErrorNote error={create.error} />
      </Section>
    </div>
  );
}
