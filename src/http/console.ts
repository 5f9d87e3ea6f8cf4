// Serves the console (web/, built into web/dist by `npm install`) at / beside the API.
// Every file is local, so it works on a machine without internet. Page paths the console
// routes itself (/teams/…) get index.html when a browser asks for a page; anything else
// it does not have falls through to the API's JSON 404.
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import { projectRoot } from "../infra/project-root.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

/** Paths that belong to the server, never to the console. */
const SERVER_PATHS = ["/mcp", "/healthz", "/readyz", "/metrics"];

interface File {
  mtimeMs: number;
  size: number;
  body: Buffer;
  etag: string;
  type: string;
}

/**
 * Agent-written text is shown by the console as text; this policy is the second wall: no
 * inline script, nothing from another origin, WebSockets only to this host.
 */
function contentSecurityPolicy(host: string | undefined): string {
  const sameHost = host && /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host) ? ` ws://${host} wss://${host}` : "";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    `connect-src 'self'${sameHost}`,
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * A request handler for the console: answers and returns true for what it serves
 * (GET and HEAD of the console's files and page paths), returns false for everything else.
 */
export function consoleHandler(graphqlPath: string, dist = join(projectRoot, "web", "dist")): (req: IncomingMessage, res: ServerResponse) => boolean {
  const root = resolve(dist);
  const files = new Map<string, File>();

  /** A file of dist/, read once and kept while its size and mtime stay the same. */
  function read(relative: string): File | null {
    const path = resolve(root, `.${relative}`);
    if (!path.startsWith(root + sep)) return null;
    let stat;
    try {
      stat = statSync(path);
    } catch {
      return null;
    }
    if (!stat.isFile()) return null;
    const kept = files.get(path);
    if (kept && kept.mtimeMs === stat.mtimeMs && kept.size === stat.size) return kept;
    let body = readFileSync(path);
    const size = body.length;
    // The console finds the API where this server has it (GRAPHQL_PATH), with no inline script.
    if (relative === "/index.html") body = Buffer.from(body.toString("utf8").replace("<head>", `<head>\n    <meta name="agent-hq-graphql" content="${escapeAttribute(graphqlPath)}" />`));
    const file = { mtimeMs: stat.mtimeMs, size, body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`, type: TYPES[extname(path)] ?? "application/octet-stream" };
    files.set(path, file);
    return file;
  }

  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname);
    } catch {
      return false;
    }
    const isUnder = (base: string) => pathname === base || pathname.startsWith(`${base}/`);
    if (isUnder(graphqlPath) || SERVER_PATHS.some(isUnder) || pathname.includes("\0")) return false;

    let file = pathname === "/" ? null : read(pathname);
    const hashed = file !== null && pathname.startsWith("/assets/");
    if (!file && (pathname === "/" || (!pathname.startsWith("/assets/") && (req.headers.accept ?? "").includes("text/html")))) {
      file = read("/index.html");
      if (!file && pathname === "/") {
        res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
        res.end("The console is not built. Run `npm install` (it builds web/), or `npm --prefix web run build`. The API is at " + graphqlPath + ".\n");
        return true;
      }
    }
    if (!file) return false;
    send(req, res, file, hashed);
    return true;
  };
}

/** Answers with a file of the console: 304 when the browser has it, with its headers either way. */
function send(req: IncomingMessage, res: ServerResponse, file: File, hashed: boolean): void {
  const headers: Record<string, string | number> = {
    "content-type": file.type,
    etag: file.etag,
    // Hashed names change with their content; everything else is checked each time.
    "cache-control": hashed ? "public, max-age=31536000, immutable" : "no-cache",
    "content-security-policy": contentSecurityPolicy(req.headers.host),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
  };
  if (req.headers["if-none-match"] === file.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers["content-length"] = file.body.length;
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : file.body);
}

function escapeAttribute(text: string): string {
  return text.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}
