// A team's write policy for its shared context: rules giving a role, or one agent, the
// keys matching a pattern ('*' matches any run of characters: findings*, draft.*).
// A team without rules lets every member write; with rules, a member may write a key
// only if a rule for its role, or for it by name, matches the key.

export interface WriteRuleView {
  role: string | null;
  agentId: string | null;
  /** For messages: the agent's name when the rule names an agent. */
  agentName?: string | null;
  pattern: string;
}

export const KEY_PATTERN = /^[A-Za-z0-9_*][A-Za-z0-9._:/*-]{0,199}$/;

export function keyMatches(pattern: string, key: string): boolean {
  const regex = new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`);
  return regex.test(key);
}

/** Why `writer` may not write `key` under `rules`, or null when it may. */
export function writeRefusal(rules: WriteRuleView[], key: string, writer: { id: string; name: string; role: string }): string | null {
  if (rules.length === 0) return null;
  const covering = rules.filter((r) => keyMatches(r.pattern, key));
  if (covering.some((r) => r.role === writer.role || r.agentId === writer.id)) return null;
  if (covering.length === 0) {
    return `no rule of the team's write policy covers "${key}"; ${writer.name} (${writer.role}) may write ${grantsOf(rules, writer) || "no keys"}`;
  }
  return `${writer.name} (${writer.role}) may not write "${key}": the team's write policy gives ${covering.map(describe).join(" and ")}`;
}

const describe = (r: WriteRuleView) => `${r.pattern} to ${r.role ? `role ${r.role}` : `agent ${r.agentName ?? r.agentId}`}`;

function grantsOf(rules: WriteRuleView[], writer: { id: string; role: string }): string {
  return rules
    .filter((r) => r.role === writer.role || r.agentId === writer.id)
    .map((r) => r.pattern)
    .join(", ");
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}
