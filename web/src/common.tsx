// Small pieces every view uses. Text from agents is only ever rendered as React text
// children or attribute values (escaped), never as HTML.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import type { Api } from "./client";
import type { TeamLive } from "./team-live";
import { useNow } from "./store";

export const ApiContext = createContext<Api | null>(null);
export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error("no API client");
  return api;
}

export const MeContext = createContext<{ id: string; name: string } | null>(null);
export function useMe(): { id: string; name: string } {
  const me = useContext(MeContext);
  if (!me) throw new Error("not signed in");
  return me;
}

export const TeamContext = createContext<TeamLive | null>(null);
export function useTeam(): TeamLive {
  const team = useContext(TeamContext);
  if (!team) throw new Error("no team");
  return team;
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** "3m 02s ago", with the exact time on hover. */
export function Ago({ at }: { at: string | null | undefined }) {
  const now = useNow();
  if (!at) return <span className="muted">never</span>;
  const t = Date.parse(at);
  return (
    <time dateTime={at} title={new Date(t).toLocaleString()}>
      {now - t < 5000 ? "just now" : `${duration(now - t)} ago`}
    </time>
  );
}

/** Time left until a deadline (a lease, an ask), ticking. */
export function Remaining({ until, prefix = "" }: { until: string | null | undefined; prefix?: string }) {
  const now = useNow();
  if (!until) return null;
  const left = Date.parse(until) - now;
  return (
    <time dateTime={until} title={new Date(until).toLocaleString()} className={left <= 0 ? "late" : left < 60_000 ? "soon" : undefined}>
      {prefix}
      {left <= 0 ? `expired ${duration(-left)} ago` : `${duration(left)} left`}
    </time>
  );
}

export function Json({ value }: { value: unknown }) {
  return <pre className="json">{JSON.stringify(value, null, 2)}</pre>;
}

export function ErrorNote({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

/** Runs an action (a mutation), keeping whether it runs and the server's refusal. */
export function useAction(): { busy: boolean; error: string | null; act: (work: () => Promise<unknown>) => Promise<boolean>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = useCallback(async (work: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
      return true;
    } catch (e) {
      setError((e as Error).message);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, act, clear: () => setError(null) };
}

/** Reads a query, again whenever one of `deps` changes; keeps the last answer while it reads. */
export function useRead<T>(read: () => Promise<T>, deps: unknown[]): { data: T | null; error: string | null; loading: boolean } {
  const [state, setState] = useState<{ data: T | null; error: string | null; loading: boolean }>({ data: null, error: null, loading: true });
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    read().then(
      (data) => current && setState({ data, error: null, loading: false }),
      (e: unknown) => current && setState((s) => ({ data: s.data, error: (e as Error).message, loading: false })),
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return state;
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="panel">
      <header className="panel-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export const PRIORITY_RANK: Record<string, number> = { URGENT: 0, HIGH: 1, MEDIUM: 2, LOW: 3 };
export const PRIORITIES = ["URGENT", "HIGH", "MEDIUM", "LOW"] as const;
