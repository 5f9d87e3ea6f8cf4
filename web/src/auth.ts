// The bearer token lives in sessionStorage only: gone when the tab closes, never in a URL.
const TOKEN = "agent-hq.token";
const PREFIX = "agent-hq.";

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN);
}

export function keepToken(token: string): void {
  sessionStorage.setItem(TOKEN, token);
}

/** Forgets the token and everything else this console kept for the session. */
export function forgetSession(): void {
  for (const key of Object.keys(sessionStorage)) if (key.startsWith(PREFIX)) sessionStorage.removeItem(key);
}

/** The last journal cursor shown for a team: a reload resumes after it. */
export const journalCursor = {
  get(teamId: string): number | null {
    const value = Number(sessionStorage.getItem(`${PREFIX}cursor.${teamId}`));
    return Number.isSafeInteger(value) && value > 0 ? value : null;
  },
  set(teamId: string, cursor: number): void {
    sessionStorage.setItem(`${PREFIX}cursor.${teamId}`, String(cursor));
  },
};
