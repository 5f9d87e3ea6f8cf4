// Applies pending migrations to DATABASE_URL (the server also does this at start).
//   npm run migrate     (the same as `agent-hq migrate`)
import { runCli } from "../src/cli.js";

process.exitCode = await runCli(["migrate"], process.env);
