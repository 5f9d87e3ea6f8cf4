#!/usr/bin/env node
// `agent-hq <command>` (`npm run hq -- <command>` in the project): see src/cli.ts, or run it
// with --help. The commands are TypeScript, loaded through tsx as the scripts are.
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/cli.ts");
process.exitCode = await runCli(process.argv.slice(2), process.env);
