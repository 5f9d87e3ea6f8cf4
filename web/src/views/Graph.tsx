import { useMemo } from "react";
import { useTeam } from "../common";
import type { Card } from "../operations";
import { navigate } from "../router";

const MAX_NODES = 400;
const COL = 240;
const ROW = 52;
const W = 200;
const H = 38;

/** Open tasks linked by blocked-by, in layers: a task sits right of everything blocking it. */
export function BlockedGraph({ tasks, filter }: { tasks: ReadonlyMap<string, Card>; filter: (t: Card) => boolean }) {
  const team = useTeam();
  const graph = useMemo(() => {
    const open = new Map<string, Card>();
    for (const t of tasks.values()) if (filter(t) && t.status !== "COMPLETED" && t.status !== "CANCELLED" && t.status !== "FAILED") open.set(t.id, t);
    const edges: [string, string, string][] = [];
    const linked = new Set<string>();
    for (const t of open.values())
      for (const d of t.blockedBy)
        if (open.has(d.blocker.id)) {
          edges.push([d.blocker.id, t.id, d.kind]);
          linked.add(t.id).add(d.blocker.id);
        }
    const level = new Map<string, number>();
    const levelOf = (id: string, seen: Set<string>): number => {
      const known = level.get(id);
      if (known !== undefined) return known;
      if (seen.has(id)) return 0;
      seen.add(id);
      const blockers = open.get(id)!.blockedBy.filter((d) => open.has(d.blocker.id));
      const l = blockers.length ? 1 + Math.max(...blockers.map((d) => levelOf(d.blocker.id, seen))) : 0;
      level.set(id, l);
      return l;
    };
    const nodes = [...linked].map((id) => open.get(id)!).sort((a, b) => a.number - b.number).slice(0, MAX_NODES);
    const rows: number[] = [];
    const at = new Map<string, { x: number; y: number }>();
    for (const n of nodes) {
      const l = levelOf(n.id, new Set());
      const r = (rows[l] = (rows[l] ?? -1) + 1);
      at.set(n.id, { x: l * COL + 10, y: r * ROW + 10 });
    }
    return { nodes, edges: edges.filter(([a, b]) => at.has(a) && at.has(b)), at, width: rows.length * COL + 20, height: Math.max(1, ...rows.map((r) => r + 1)) * ROW + 20, unlinked: open.size - linked.size, cut: linked.size > MAX_NODES };
  }, [tasks, filter]);

  if (graph.nodes.length === 0) return <p className="muted page">No open task waits on another.</p>;
  return (
    <div className="graph">
      <p className="muted">
        Arrows point from a blocker to the task it blocks (dashed: the track order). {graph.unlinked} open tasks have no open dependency and are not drawn.
        {graph.cut && ` Only the first ${MAX_NODES} tasks are drawn: filter by milestone or track to see the rest.`}
      </p>
      <svg width={graph.width} height={graph.height} role="img" aria-label="Blocked-by graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="arrowhead" />
          </marker>
        </defs>
        {graph.edges.map(([from, to, kind]) => {
          const a = graph.at.get(from)!;
          const b = graph.at.get(to)!;
          return <line key={`${from}-${to}`} x1={a.x + W} y1={a.y + H / 2} x2={b.x} y2={b.y + H / 2} className={`edge edge-${kind}`} markerEnd="url(#arrow)" />;
        })}
        {graph.nodes.map((n) => {
          const p = graph.at.get(n.id)!;
          const href = `/teams/${encodeURIComponent(team.teamId)}/tasks/${n.number}`;
          return (
            <a
              key={n.id}
              href={href}
              onClick={(e) => {
                e.preventDefault();
                navigate(href);
              }}
            >
              <title>{`#${n.number} ${n.title} — ${n.readiness.reason}`}</title>
              <rect x={p.x} y={p.y} width={W} height={H} rx={5} className={`node node-${n.readiness.state.toLowerCase()}`} />
              <text x={p.x + 8} y={p.y + 24} className="node-text">
                {`#${n.number} ${n.title.length > 24 ? `${n.title.slice(0, 23)}…` : n.title}`}
              </text>
            </a>
          );
        })}
      </svg>
    </div>
  );
}
