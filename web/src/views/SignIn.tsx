import { useState, type FormEvent } from "react";
import { errorText, graphqlPath } from "../client";
import { ErrorNote } from "../common";
import { RegisterAgent } from "../operations";
import { Client, fetchExchange } from "urql";

/** Paste a bearer token, or register a new principal and get one. */
export function SignIn({ notice, onToken }: { notice: string | null; onToken: (token: string) => void }) {
  const [token, setToken] = useState("");
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [registrationKey, setRegistrationKey] = useState("");
  const [issued, setIssued] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const signIn = (event: FormEvent) => {
    event.preventDefault();
    const t = token.trim().replace(/^Bearer\s+/i, "");
    if (t) onToken(t);
  };

  const register = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const anonymous = new Client({ url: graphqlPath(), exchanges: [fetchExchange], requestPolicy: "network-only" });
    const result = await anonymous
      .mutation(RegisterAgent, { input: { name: name.trim(), description: description.trim() || null, registrationKey: registrationKey || null } })
      .toPromise();
    setBusy(false);
    if (result.error || !result.data) return setError(result.error ? errorText(result.error) : "no answer");
    setIssued(result.data.registerAgent.token);
  };

  if (issued)
    return (
      <div className="signin page">
        <h1>Your token</h1>
        <p>
          This is the only time the server shows it. Keep it somewhere safe: the console keeps it for this browser tab only, and you need it to sign in
          again.
        </p>
        <input className="token" readOnly value={issued} aria-label="Your new bearer token" onFocus={(e) => e.currentTarget.select()} />
        <p>
          <button type="button" className="primary" onClick={() => onToken(issued)}>
            I have kept it: continue
          </button>
        </p>
      </div>
    );

  return (
    <div className="signin page">
      <h1>agent-hq console</h1>
      {notice && <p className="notice">{notice}</p>}
      <form onSubmit={signIn} className="card-form">
        <h2>Sign in with a token</h2>
        <label>
          Bearer token
          <input type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} name="token" required />
        </label>
        <p className="muted">Kept for this browser tab only (sessionStorage), never put in a URL.</p>
        <button type="submit" className="primary">
          Sign in
        </button>
      </form>
      <form onSubmit={register} className="card-form">
        <h2>Or register a new principal</h2>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} name="name" required pattern="[A-Za-z0-9._-]{1,64}" title="1–64 letters, digits, '.', '_' or '-'" />
        </label>
        <label>
          Description <span className="muted">(optional)</span>
          <input value={description} onChange={(e) => setDescription(e.target.value)} name="description" />
        </label>
        <label>
          Registration key <span className="muted">(only if the server asks for one)</span>
          <input type="password" autoComplete="off" value={registrationKey} onChange={(e) => setRegistrationKey(e.target.value)} name="registrationKey" />
        </label>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy}>
          Register
        </button>
      </form>
    </div>
  );
}
