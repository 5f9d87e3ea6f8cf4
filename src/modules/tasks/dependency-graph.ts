// Pure graph logic for "blocker blocks blocked" edges.

export type Edge = readonly [blocker: string, blocked: string];

/**
 * A path from `start` to `goal` following edges (breadth first, so the shortest), or
 * null. Adding the edge goal → start closes a cycle exactly when such a path exists.
 */
export function findPath(edges: Iterable<Edge>, start: string, goal: string): string[] | null {
  const next = new Map<string, string[]>();
  for (const [from, to] of edges) {
    const list = next.get(from);
    if (list) list.push(to);
    else next.set(from, [to]);
  }
  const parent = new Map<string, string>([[start, start]]);
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]!;
    if (node === goal) {
      const path = [goal];
      while (path[0] !== start) path.unshift(parent.get(path[0]!)!);
      return path;
    }
    for (const to of next.get(node) ?? []) {
      if (!parent.has(to)) {
        parent.set(to, node);
        queue.push(to);
      }
    }
  }
  return null;
}
