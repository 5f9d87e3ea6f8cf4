// The compact board an LLM agent reads cheaply: one line a task.
//   #3 [pending] Update unit tests [blocked by #2]
//   #2 [in_progress] Create migration script (bob)

export interface BoardLine {
  number: number;
  status: string;
  title: string;
  owner: string | null;
  openBlockers: number[];
}

export function boardText(lines: BoardLine[]): string {
  return lines
    .map((t) => {
      const owner = t.owner ? ` (${t.owner})` : "";
      const blocked = t.openBlockers.length ? ` [blocked by ${t.openBlockers.map((n) => `#${n}`).join(", ")}]` : "";
      return `#${t.number} [${t.status}] ${t.title}${owner}${blocked}`;
    })
    .join("\n");
}
