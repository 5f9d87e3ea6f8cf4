import { useEffect, useState } from "react";
import { forgetSession, keepToken, storedToken } from "./auth";
import { createApi, run, type Api } from "./client";
import { ApiContext, MeContext, TeamContext, useApi } from "./common";
import { Me, type TeamInfoData } from "./operations";
import { Link, navigate, usePath } from "./router";
import { useCell } from "./store";
import { TeamLive } from "./team-live";
import { SignIn } from "./views/SignIn";
import { TeamsView } from "./views/Teams";
import { BoardView } from "./views/Board";
import { JournalView } from "./views/Journal";
import { AgentsView } from "./views/Agents";
import { MessagesView } from "./views/Messages";
import { ContextView } from "./views/Context";
import { TaskView } from "./views/Task";

interface Session {
  api: Api;
  me: { id: string; name: string };
}

export function App() {
  const [token, setToken] = useState(storedToken);
  const [notice, setNotice] = useState<string | null>(null);
  const [session, setSession] = useState<Session | null>(null);

  const signOut = (why?: string) => {
    forgetSession();
    setSession(null);
    setToken(null);
    setNotice(why ?? null);
    navigate("/", true);
  };

  useEffect(() => {
    if (!token) return;
    const api = createApi(token, (reason) => signOut(`Signed out: ${reason}`));
    let current = true;
    run(api, Me, {}).then(
      (data) => current && setSession({ api, me: data.me }),
      (e: unknown) => current && signOut(`That token was not accepted: ${(e as Error).message}`),
    );
    return () => {
      current = false;
      api.dispose();
    };
  }, [token]);

  if (!token)
    return (
      <SignIn
        notice={notice}
        onToken={(t) => {
          keepToken(t);
          setNotice(null);
          setToken(t);
        }}
      />
    );
  if (!session) return <p className="loading page">Signing in…</p>;
  return (
    <ApiContext.Provider value={session.api}>
      <MeContext.Provider value={session.me}>
        <Shell me={session.me} onSignOut={() => signOut()} />
      </MeContext.Provider>
    </ApiContext.Provider>
  );
}

const TABS = [
  ["board", "Board"],
  ["journal", "Journal"],
  ["agents", "Agents"],
  ["messages", "Messages"],
  ["context", "Context"],
] as const;

function Shell({ me, onSignOut }: { me: { id: string; name: string }; onSignOut: () => void }) {
  const path = usePath();
  const parts = path.split("/").filter(Boolean);
  const teamId = parts[0] === "teams" && parts[1] ? decodeURIComponent(parts[1]) : null;
  const api = useApi();
  const [live, setLive] = useState<TeamLive | null>(null);
  useEffect(() => {
    if (!teamId) return setLive(null);
    const team = new TeamLive(api, teamId);
    setLive(team);
    void team.start();
    return () => team.dispose();
  }, [api, teamId]);
  const link = useCell(api.link);
  const tab = parts[2] ?? "board";

  return (
    <div className="app">
      <header className="top">
        <Link to="/" className="brand">
          agent-hq
        </Link>
        {live && <TeamName live={live} />}
        {live && (
          <nav aria-label="Views">
            {TABS.map(([key, label]) => (
              <Link key={key} to={`/teams/${encodeURIComponent(live.teamId)}/${key}`} aria-current={tab === key ? "page" : undefined}>
                {label}
              </Link>
            ))}
          </nav>
        )}
        <span className="spacer" />
        <span className={`link link-${link}`} role="status" aria-live="polite">
          {link === "live" ? "live" : link === "reconnecting" ? "reconnecting…" : "connecting…"}
        </span>
        <span className="who" title={`agent id ${me.id}`}>
          {me.name}
        </span>
        <a href="/graphql" target="_blank" rel="noreferrer">
          GraphiQL
        </a>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main>
        {!teamId ? (
          <TeamsView />
        ) : live?.teamId === teamId ? (
          <TeamContext.Provider value={live}>
            <TeamPage live={live} tab={tab} rest={parts.slice(3)} me={me} />
          </TeamContext.Provider>
        ) : null}
      </main>
    </div>
  );
}

function TeamName({ live }: { live: TeamLive }) {
  const info = useCell(live.info);
  return <span className="team-name">{info?.name ?? "…"}</span>;
}

function TeamPage({ live, tab, rest, me }: { live: TeamLive; tab: string; rest: string[]; me: { id: string; name: string } }) {
  const failure = useCell(live.failure);
  const info: TeamInfoData | null = useCell(live.info);
  return (
    <>
      {failure && (
        <p className="error banner" role="alert">
          {failure}
        </p>
      )}
      {tab === "board" && <BoardView />}
      {tab === "journal" && <JournalView />}
      {tab === "agents" && <AgentsView />}
      {tab === "messages" && <MessagesView me={me} />}
      {tab === "context" && <ContextView />}
      {tab === "tasks" && rest[0] && <TaskView number={Number(rest[0])} />}
      {!["board", "journal", "agents", "messages", "context", "tasks"].includes(tab) && <p>Nothing here. {info && <Link to={`/teams/${live.teamId}/board`}>Back to the board</Link>}</p>}
    </>
  );
}
