// The real local stack (rp-server, the Cognito stand-in with the triggers linked in, the
// demo page and its SMTP mailbox) in a fresh database, for the Node test files.
//
// Needs the built `target/debug/local-stack` and DATABASE_URL pointing at a PostgreSQL
// server where a database may be created (scripts/test sets both up).

import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..", "..", "..");

/**
 * Starts the stack; `args` are extra local-stack arguments. Resolves to the demo's URL,
 * its `config.json` (what an app is told), the admin API's base URL and the console's
 * (rp-server's internal listener), the admin token, the mailbox, and `stop()`.
 */
export async function startStack({ name, args = [] }) {
  const server = process.env.DATABASE_URL;
  assert.ok(server, "DATABASE_URL must point at a PostgreSQL server (scripts/test sets it)");
  const db = `web_${name}_${Date.now()}_${process.pid}`;
  execFileSync("psql", [server, "-qc", `CREATE DATABASE ${db}`]);
  const url = new URL(server);
  url.pathname = `/${db}`;
  const stateDir = mkdtempSync(join(tmpdir(), "stack-"));
  const child = spawn(
    join(root, "target", "debug", "local-stack"),
    [
      // Port 0: local-stack binds free ports itself and prints the URLs (no race for a
      // port picked here and handed over).
      "--rp-port", 0,
      "--cognito-port", 0,
      "--demo-port", 0,
      "--internal-port", 0,
      "--web-dir", join(root, "web"),
      "--state-dir", stateDir,
      ...args,
    ].map(String),
    { env: { ...process.env, DATABASE_URL: url.toString(), RUST_LOG: "warn" }, stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  let timer;
  await new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("Ctrl-C stops everything")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`local-stack exited with ${code}: ${out}`)));
    timer = setTimeout(() => reject(new Error(`local-stack did not start: ${out}`)), 60_000);
  }).finally(() => clearTimeout(timer));
  const demo = out.match(/demo page\s+(http:\/\/\S+)/)?.[1];
  assert.ok(demo, `local-stack did not print the demo page's URL: ${out}`);
  const config = await (await fetch(`${demo}/config.json`)).json();
  // rp-server's internal listener: the admin API and the console.
  const adminUrl = out.match(/internal API\s+(http:\/\/\S+)/)?.[1];
  const consoleUrl = out.match(/console\s+(http:\/\/\S+)/)?.[1];
  assert.ok(adminUrl && consoleUrl, `local-stack did not print the console's URL: ${out}`);

  /** The mailbox, newest first. */
  const mailbox = async () => (await (await fetch(`${demo}/mailbox.json`)).json()).messages;

  /** The `n`th message (1-based) to `to`, waiting for it to arrive. */
  async function mail(to, n = 1) {
    for (let i = 0; i < 100; i++) {
      const mine = (await mailbox()).filter((m) => m.to.includes(to)).reverse();
      if (mine.length >= n) return mine[n - 1];
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no message ${n} for ${to}`);
  }

  const adminToken = readFileSync(join(stateDir, "admin-token"), "utf8").trim();
  /** Stops the stack and drops its database. */
  async function stop() {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGINT");
    await exited;
    execFileSync("psql", [server, "-qc", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
  }
  return { demo, config, adminUrl, consoleUrl, adminToken, mailbox, mail, stop };
}

/** The code in a code message (its subject starts with it). */
export const codeOf = (message) => message.subject.split(" ")[0];
