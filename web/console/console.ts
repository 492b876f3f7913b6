// The admin console: one page served by rp-server at /console/ on its internal listener.
// The admin signs in with their own passkey through Cognito (the passkey client of this
// package, same origin), then every call to the admin API carries their access token in
// a header: no cookie, so another site cannot make the browser act. The token lives in
// this page's memory only. Everything shown is set as text, never parsed as HTML: audit
// rows hold what clients sent (user agents, nicknames).
import uPlot from "uplot";
import { createPasskeyClient, directCognito, PasskeyError, type CognitoTokens } from "../src/passkeys";
import "./console.css";

type Json = Record<string, any>;

interface ConsoleConfig {
  cognitoEndpoint: string;
  clientId: string;
  adminGroup: string | null;
  rpName: string;
  enrollUrl: string | null;
}

const $ = (id: string) => document.getElementById(id) as HTMLElement;

/** An element with attributes (or event handlers, `on…`) and children; text stays text. */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | ((e: Event) => void) | undefined> = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const fmtTime = (s: string | null | undefined) => (s ? new Date(s).toLocaleString() : "never");
const fmtNum = (n: number) => n.toLocaleString("en");

function say(text: string, kind: "ok" | "error" = "ok") {
  const s = $("status");
  s.textContent = text;
  s.className = `status ${kind === "error" ? "error" : ""}`;
  if (kind === "ok") setTimeout(() => s.textContent === text && (s.textContent = ""), 5000);
}

// --- Sign-in and the admin API -----------------------------------------------------------

let config: ConsoleConfig;
let passkeys: ReturnType<typeof createPasskeyClient>;
let tokens: CognitoTokens | null = null;

class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function claims(jwt: string): Json {
  const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(decodeURIComponent(escape(atob(part))));
}

async function signIn(): Promise<void> {
  const { tokens: t } = await passkeys.signInWithPasskey();
  tokens = t;
  const id = claims(t.idToken);
  $("who").textContent = `Signed in as ${id.email ?? id["cognito:username"] ?? id.sub}`;
}

/** Runs `request` with the admin's token; asks for the passkey again when the API wants a fresh sign-in. */
async function withToken(request: (token: string) => Promise<Response>): Promise<Response> {
  if (!tokens) throw new ApiError(401, "UNAUTHENTICATED", "Sign in first.");
  let res = await request(tokens.accessToken);
  if (res.status === 401) {
    const body = await res.clone().json().catch(() => ({}));
    if (body?.error?.code === "REAUTH_REQUIRED") {
      say("Confirm it's you: sign in again with your passkey.");
      await signIn();
      res = await request(tokens!.accessToken);
    }
  }
  return res;
}

async function api(path: string, init: { method?: string; body?: Json } = {}): Promise<any> {
  const res = await withToken((token) =>
    fetch(path, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${token}`, ...(init.body ? { "content-type": "application/json" } : {}) },
      body: init.body ? JSON.stringify(init.body) : undefined,
    }),
  );
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = new ApiError(res.status, data?.error?.code ?? `HTTP_${res.status}`, data?.error?.message ?? `The server answered ${res.status}.`);
    if (e.status === 403) showForbidden();
    throw e;
  }
  return data;
}

function explain(e: unknown): string {
  if (e instanceof ApiError || e instanceof PasskeyError) return e.message;
  return String(e);
}

function showForbidden() {
  $("nav").hidden = true;
  view(
    h("section", { class: "card narrow forbidden", "aria-labelledby": "forbidden-title" },
      h("h1", { id: "forbidden-title" }, "Not an admin"),
      h("p", {}, `You are signed in, but not a member of the admin group${config.adminGroup ? ` “${config.adminGroup}”` : ""}. Ask an admin to add you, then sign in again.`),
    ),
  );
}

// --- Routing -------------------------------------------------------------------------------

function view(...children: Node[]) {
  $("view").replaceChildren(...children);
}

async function route() {
  if (!tokens) return;
  const hash = location.hash.replace(/^#/, "") || "/";
  for (const a of $("nav").querySelectorAll("a")) {
    const target = a.getAttribute("href")!.slice(1);
    const current = target === "/" ? hash === "/" : hash.startsWith(target);
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  try {
    if (hash.startsWith("/users/")) await userPage(decodeURIComponent(hash.slice("/users/".length)));
    else if (hash.startsWith("/users")) await usersPage();
    else if (hash.startsWith("/audit")) await auditPage();
    else await overview();
    $("main").focus();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 403)) say(explain(e), "error");
  }
}

// --- Overview ------------------------------------------------------------------------------

const FACTORS: [string, string][] = [
  ["passkeyUsernameless", "Passkey (usernameless)"],
  ["passkeyUsernameFirst", "Passkey (username first)"],
  ["emailCode", "Email code"],
  ["recoveryCode", "Recovery code"],
];
const COLOURS = ["#0a58ca", "#6f42c1", "#b35900", "#116329", "#b42318", "#57606a", "#0b7285", "#8250df"];

function tile(label: string, value: string, id: string) {
  return h("div", { class: "tile" }, h("div", { class: "label", id: `${id}-label` }, label), h("div", { class: "value", id, "aria-labelledby": `${id}-label` }, value));
}

function icon(a: { name?: string | null; icon?: string | null }) {
  if (a.icon) return h("img", { class: "icon", src: a.icon, alt: "" });
  return h("span", { class: "monogram", "aria-hidden": "true" }, (a.name ?? "?").slice(0, 1).toUpperCase());
}

/** A chart of daily series, with the numbers as a table beside it (for everyone, and for screen readers). */
function chart(id: string, title: string, days: string[], series: { label: string; values: number[] }[]) {
  const box = h("div", { class: "card", id });
  const total = series.reduce((n, s) => n + s.values.reduce((a, b) => a + b, 0), 0);
  box.append(h("h2", {}, title), h("p", { class: "muted" }, h("span", { class: "total" }, fmtNum(total)), ` in ${days.length} days`));
  const plot = h("div", { "aria-hidden": "true" });
  box.append(plot);
  const table = h("table", {},
    h("caption", { class: "muted" }, `${title} per day`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"), ...series.map((s) => h("th", { scope: "col", class: "num" }, s.label)))),
    h("tbody", {}, ...days.map((d, i) => h("tr", { "data-day": d }, h("th", { scope: "row" }, d), ...series.map((s) => h("td", { class: "num" }, String(s.values[i])))))),
  );
  box.append(h("details", {}, h("summary", {}, "The numbers"), table));
  if (series.length > 0 && days.length > 0) {
    const x = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    new uPlot(
      {
        width: 520,
        height: 220,
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2 }))],
        axes: [{}, { size: 50 }],
        scales: { x: { time: true } },
      },
      [x, ...series.map((s) => s.values)],
      plot,
    );
  } else {
    plot.append(h("p", { class: "muted" }, "Nothing yet."));
  }
  return box;
}

async function overview() {
  const [stats, daily] = await Promise.all([api("/admin/v1/stats"), api("/admin/v1/stats/daily?days=30")]);
  const days: string[] = daily.days.map((d: Json) => d.day);
  const failureKinds = [...new Set<string>(daily.days.flatMap((d: Json) => Object.keys(d.failures)))].sort();
  const adoption = stats.poolUsers ? `${((100 * stats.usersWithPasskeys) / stats.poolUsers).toFixed(1)} %` : "–";
  // A large site's passkey figures are estimated from a fixed sample of its users.
  const about = stats.sample ? "≈ " : "";
  view(
    h("h1", {}, "Overview"),
    h("div", { class: "tiles" },
      tile("Users in the pool", stats.poolUsers == null ? "–" : fmtNum(stats.poolUsers), "stat-pool-users"),
      tile("Users with a passkey", about + fmtNum(stats.usersWithPasskeys), "stat-users-with-passkeys"),
      tile("Adoption", adoption, "stat-adoption"),
      tile("Active passkeys", about + fmtNum(stats.activeCredentials), "stat-active"),
      tile("Revoked passkeys", about + fmtNum(stats.revokedCredentials), "stat-revoked"),
    ),
    ...(stats.sample
      ? [h("p", { class: "muted", id: "stats-sample" },
        `Passkey figures are estimates: counted over ${fmtNum(stats.sample.users)} users whose ids fall in a fixed range (${fmtNum(stats.sample.fraction * 100)} % of all ids) and scaled up.`)]
      : []),
    h("div", { class: "charts" },
      chart("chart-sign-ins", "Sign-ins", days, FACTORS.map(([k, label]) => ({ label, values: daily.days.map((d: Json) => d.signIns[k]) }))),
      chart("chart-failures", "Failures", days, failureKinds.map((k) => ({ label: k, values: daily.days.map((d: Json) => d.failures[k] ?? 0) }))),
      chart("chart-email", "Email codes sent", days, [{ label: "Email codes", values: daily.days.map((d: Json) => d.emailCodesSent) }]),
    ),
    h("section", { class: "card", "aria-labelledby": "authenticators-title" },
      h("h2", { id: "authenticators-title" }, "Passkeys by authenticator"),
      h("table", { id: "authenticators" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Authenticator"), h("th", { scope: "col", class: "num" }, "Active passkeys"))),
        h("tbody", {}, ...stats.credentialsByAuthenticator.map((a: Json) =>
          h("tr", {}, h("td", {}, icon(a), a.name ?? (a.aaguid ? `Unknown (${a.aaguid})` : "Not disclosed")), h("td", { class: "num" }, about + fmtNum(a.credentials))),
        )),
      ),
    ),
  );
}

// --- Users ---------------------------------------------------------------------------------

/** Users found by email: their usernames (to enrol one rp-server has not seen yet) and emails. */
const knownUsernames = new Map<string, string>();
const knownEmails = new Map<string, string>();
let lastSearch = "";

async function usersPage() {
  const input = h("input", { type: "search", id: "user-query", name: "q", required: true, autocomplete: "off", value: lastSearch });
  const results = h("div", { id: "user-results" });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Find a user" },
    h("label", {}, "Email, username or sub (its start)", input),
    h("button", { type: "submit", class: "primary" }, "Search"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    lastSearch = input.value.trim();
    await search(lastSearch, results);
  });
  view(h("h1", {}, "Users"), h("div", { class: "card" }, form), results);
  if (lastSearch) await search(lastSearch, results);
  else input.focus();
}

async function search(q: string, results: HTMLElement, cursor?: string) {
  const params = new URLSearchParams({ q, limit: "20" });
  if (cursor) params.set("cursor", cursor);
  const page = await api(`/admin/v1/users/search?${params}`);
  let body = results.querySelector("tbody");
  if (!cursor || !body) {
    body = h("tbody");
    results.replaceChildren(
      h("div", { class: "card" },
        h("table", { "aria-label": "Users found" },
          h("thead", {}, h("tr", {}, ...["User", "Username", "Sub", "Passkeys", "Last used"].map((c) => h("th", { scope: "col" }, c)))),
          body,
        ),
      ),
    );
  }
  for (const u of page.users) {
    knownUsernames.set(u.sub, u.username);
    if (u.email) knownEmails.set(u.sub, u.email);
    body.append(
      h("tr", {},
        h("td", {}, h("a", { href: `#/users/${encodeURIComponent(u.sub)}` }, u.email ?? u.username)),
        h("td", {}, u.username),
        h("td", { class: "mono" }, u.sub),
        h("td", { class: "num" }, String(u.activePasskeys)),
        h("td", {}, fmtTime(u.lastUsedAt)),
      ),
    );
  }
  if (page.users.length === 0 && !cursor) body.append(h("tr", {}, h("td", { colspan: "5", class: "muted" }, "Nobody found.")));
  results.querySelector(".more")?.remove();
  if (page.nextCursor) {
    results.append(h("button", { type: "button", class: "more", onclick: () => search(q, results, page.nextCursor) }, "Load more"));
  }
}

/** Asks for a confirmation (and, with `reason`, a reason); resolves to the reason, or null when cancelled. */
function confirmAction(title: string, text: string, ok: string, reason: boolean): Promise<string | null> {
  const dialog = $("dialog") as HTMLDialogElement;
  $("dialog-title").textContent = title;
  $("dialog-text").textContent = text;
  $("dialog-ok").textContent = ok;
  const field = h("input", { id: "dialog-reason", name: "reason", maxlength: "500", autocomplete: "off" });
  $("dialog-fields").replaceChildren(...(reason ? [h("label", {}, "Reason (for the audit log)", field)] : []));
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? field.value : null), { once: true });
  });
}

async function act(run: () => Promise<unknown>, done: string) {
  try {
    await run();
    say(done);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 403)) say(explain(e), "error");
  }
  await route();
}

async function userPage(sub: string) {
  let user: Json | null = null;
  try {
    user = await api(`/admin/v1/users?sub=${encodeURIComponent(sub)}`);
  } catch (e) {
    if (!(e instanceof ApiError && e.code === "USER_NOT_FOUND")) throw e;
  }
  const username = user?.username ?? knownUsernames.get(sub) ?? null;
  const credentials: Json[] = user?.credentials ?? [];
  // The user's passkey policy, when policies exist: which passkeys break it, and how.
  const policy: Json | null = user?.policy ?? null;
  const breach = (id: string) => policy?.breaches.find((b: Json) => b.credentialId === id)?.rule;
  const events = await api(`/admin/v1/audit-events?sub=${encodeURIComponent(sub)}&limit=20`);
  const enrolment = h("div", { id: "enrolment" });

  const rows = credentials.map((c) => {
    const revoked = Boolean(c.revokedAt);
    return h("tr", { "data-id": c.id },
      h("td", {}, icon({ name: c.authenticatorName, icon: c.authenticatorIcon }), h("span", { class: "authenticator" }, c.authenticatorName ?? "Unknown authenticator")),
      h("td", {}, c.nickname ?? ""),
      h("td", {}, fmtTime(c.createdAt)),
      h("td", {}, fmtTime(c.lastUsedAt)),
      h("td", {}, c.backupEligible ? "Synced" : "Device-bound", c.backupEligible ? h("span", { class: "muted" }, c.backupState ? " (backed up)" : " (not backed up yet)") : null),
      h("td", {}, c.attested ? `Attested${c.metadataStatus ? ` (${c.metadataStatus})` : ""}` : "Not attested"),
      policy ? h("td", { class: "policy" }, revoked ? "" : breach(c.id) ? `Breaks “${policy.policy}” (${breach(c.id)})` : `Meets “${policy.policy}”`) : null,
      h("td", {}, revoked
        ? h("span", { class: "pill revoked", title: c.revokedReason ?? "" }, `Revoked ${fmtTime(c.revokedAt)}`)
        : h("button", {
            type: "button",
            class: "link revoke",
            "aria-label": `Revoke ${c.authenticatorName ?? "passkey"} ${c.nickname ?? ""}`.trim(),
            onclick: async () => {
              const reason = await confirmAction("Revoke this passkey?", "It can never sign in again. The user is told by email when notices are on.", "Revoke", true);
              if (reason === null) return;
              await act(() => api(`/admin/v1/credentials/${encodeURIComponent(c.id)}/revoke`, { method: "POST", body: { reason: reason || undefined } }), "Passkey revoked.");
            },
          }, "Revoke")),
    );
  });

  view(
    h("p", {}, h("a", { href: "#/users" }, "← Users")),
    h("h1", {}, knownEmails.get(sub) ?? username ?? sub),
    h("p", { class: "mono" }, `username ${username ?? "unknown"} · sub ${sub}`),
    h("section", { class: "card", "aria-labelledby": "passkeys-title" },
      h("h2", { id: "passkeys-title" }, "Passkeys"),
      credentials.length === 0
        ? h("p", { class: "muted" }, "No passkeys yet.")
        : h("table", { id: "user-passkeys" },
            h("thead", {}, h("tr", {}, ...["Authenticator", "Name", "Created", "Last used", "Kind", "Attestation", ...(policy ? ["Policy"] : []), ""].map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, ...rows),
          ),
    ),
    h("section", { class: "card", "aria-labelledby": "actions-title" },
      h("h2", { id: "actions-title" }, "Account"),
      h("div", { class: "row-actions" },
        h("button", {
          type: "button", id: "reset", class: "danger", disabled: !user,
          onclick: async () => {
            const reason = await confirmAction("Reset this account?", "Every passkey and enrolment link of the user is revoked and their sessions end.", "Reset account", true);
            if (reason === null) return;
            await act(() => api(`/admin/v1/users/${encodeURIComponent(sub)}/reset`, { method: "POST", body: { reason: reason || undefined } }), "Account reset.");
          },
        }, "Reset account"),
        h("button", {
          type: "button", id: "enrol", disabled: !username,
          onclick: async () => {
            const ok = await confirmAction("Issue an enrolment link?", "The user can add one passkey with it, without signing in. It is shown once.", "Issue link", false);
            if (ok === null) return;
            try {
              const issued = await api(`/admin/v1/users/${encodeURIComponent(sub)}/enrolment-tokens`, { method: "POST", body: user ? {} : { username } });
              const link = config.enrollUrl ? `${config.enrollUrl}#enrolment=${encodeURIComponent(issued.token)}` : null;
              enrolment.replaceChildren(
                h("div", { class: "secret" },
                  h("p", {}, "Send this to the user over a channel you trust. It is shown only now."),
                  h("p", { class: "mono", id: "enrolment-link" }, link ?? issued.token),
                  h("p", { class: "muted", id: "enrolment-expiry" }, `Valid until ${fmtTime(issued.expiresAt)}.`),
                ),
              );
              say("Enrolment link issued.");
            } catch (e) {
              say(explain(e), "error");
            }
          },
        }, "Issue enrolment link"),
        h("button", {
          type: "button", id: "unlock",
          onclick: async () => {
            const ok = await confirmAction("Unlock email codes?", "Forgives the failed code attempts of the user's verified address.", "Unlock", false);
            if (ok === null) return;
            await act(() => api(`/admin/v1/users/${encodeURIComponent(sub)}/unlock`, { method: "POST" }), "Email codes unlocked.");
          },
        }, "Unlock email codes"),
      ),
      enrolment,
    ),
    h("section", { class: "card", "aria-labelledby": "events-title" },
      h("h2", { id: "events-title" }, "Recent events"),
      eventsTable(events.events, "user-events"),
      h("p", {}, h("a", { href: `#/audit?sub=${encodeURIComponent(sub)}` }, "All of this user's events")),
    ),
  );
}

function eventsTable(events: Json[], id: string, body = h("tbody")) {
  for (const e of events) body.append(eventRow(e));
  return h("table", { id },
    h("thead", {}, h("tr", {}, ...["When", "Action", "Actor", "User", "IP", "Details"].map((c) => h("th", { scope: "col" }, c)))),
    body,
  );
}

function eventRow(e: Json) {
  const details = Object.keys(e.details ?? {}).length ? JSON.stringify(e.details) : "";
  return h("tr", {},
    h("td", {}, fmtTime(e.occurredAt)),
    h("td", { class: "action" }, e.action),
    h("td", { class: "actor mono" }, e.actor),
    h("td", { class: "mono" }, e.userSub ?? ""),
    h("td", {}, e.ip ?? ""),
    h("td", { class: "mono" }, details),
  );
}

// --- Audit log -----------------------------------------------------------------------------

const ACTIONS = [
  "authentication.succeeded", "authentication.failed", "credential.registered", "credential.renamed",
  "credential.deleted", "credential.revoked", "account.reset", "enrolment_token.issued", "enrolment_token.used",
  "enrolment_token.revoked", "email.code_sent", "email.code_verified", "email.code_failed", "email.code_locked",
  "email.unlocked", "recovery.codes_created", "recovery.code_used", "recovery.code_failed", "nonce.redeemed",
  "nonce.redeem_failed", "user.signed_up", "policy.violation", "oidc.code_issued", "oidc.token_issued", "oidc.denied",
];

async function auditPage() {
  const current = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const field = (name: string, label: string, attrs: Record<string, string> = {}) =>
    h("label", {}, label, h("input", { name, id: `audit-${name}`, value: current.get(name) ?? "", autocomplete: "off", ...attrs }));
  const form = h("form", { class: "filters", "aria-label": "Filter the audit log" },
    field("sub", "User (sub)"),
    field("action", "Action", { list: "actions" }),
    h("datalist", { id: "actions" }, ...ACTIONS.map((a) => h("option", { value: a }))),
    field("actor", "Actor (its start)"),
    field("since", "From", { type: "datetime-local" }),
    field("until", "Until", { type: "datetime-local" }),
    h("button", { type: "submit", class: "primary" }, "Filter"),
    h("button", { type: "button", id: "export", onclick: () => exportCsv(filters(form)) }, "Export CSV"),
  );
  // The filters live in the address (as typed), so a filtered view can be linked.
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const typed = [...form.querySelectorAll("input")].filter((i) => i.value).map((i) => [i.name, i.value]);
    location.hash = `#/audit?${new URLSearchParams(typed)}`;
  });
  const body = h("tbody");
  const sentinel = h("div", { id: "audit-more", class: "muted" });
  const table = eventsTable([], "audit-events", body);
  view(h("h1", {}, "Audit log"), h("div", { class: "card" }, form), h("div", { class: "card" }, table, sentinel));

  // Newest first; the next page loads as its end scrolls into view (or on the button).
  let cursor: string | null = null;
  let loading = false;
  const more = async () => {
    if (loading) return;
    loading = true;
    table.setAttribute("aria-busy", "true");
    try {
      const params = filters(form);
      // Which filter the rows answer (for whoever reads the page: people and tests).
      table.dataset.filter = params.toString();
      params.set("limit", "100");
      if (cursor) params.set("cursor", cursor);
      const page = await api(`/admin/v1/audit-events?${params}`);
      for (const e of page.events) body.append(eventRow(e));
      cursor = page.nextCursor ?? null;
      sentinel.replaceChildren(cursor ? h("button", { type: "button", onclick: more }, "Load more") : `${body.children.length} events.`);
    } finally {
      loading = false;
      table.setAttribute("aria-busy", "false");
    }
  };
  await more();
  const observer = new IntersectionObserver((entries) => {
    if (!document.body.contains(sentinel)) return observer.disconnect();
    if (cursor && entries.some((e) => e.isIntersecting)) void more();
  });
  observer.observe(sentinel);
}

/** The filters as the API takes them (times from the local inputs as RFC 3339). */
function filters(form: HTMLFormElement): URLSearchParams {
  const params = new URLSearchParams();
  for (const input of form.querySelectorAll("input")) {
    if (!input.value) continue;
    params.set(input.name, input.type === "datetime-local" ? new Date(input.value).toISOString() : input.value.trim());
  }
  return params;
}

/** The filtered view as CSV: the server streams it; the browser saves it. */
async function exportCsv(params: URLSearchParams) {
  try {
    const res = await withToken((token) => fetch(`/admin/v1/audit-events.csv?${params}`, { headers: { authorization: `Bearer ${token}` } }));
    if (!res.ok) throw new ApiError(res.status, "EXPORT_FAILED", `The export failed (${res.status}).`);
    const url = URL.createObjectURL(await res.blob());
    const a = h("a", { href: url, download: "audit-events.csv" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    say("Audit log exported.");
  } catch (e) {
    say(explain(e), "error");
  }
}

// --- Start -----------------------------------------------------------------------------------

async function start() {
  config = await (await fetch("config.json")).json();
  passkeys = createPasskeyClient({
    rpUrl: location.origin,
    cognito: directCognito({ clientId: config.clientId, endpoint: `${config.cognitoEndpoint}/` }),
  });
  $("signin-button").addEventListener("click", async () => {
    try {
      await signIn();
      $("signin").hidden = true;
      $("nav").hidden = false;
      window.addEventListener("hashchange", () => void route());
      await route();
    } catch (e) {
      say(explain(e), "error");
    }
  });
}

void start();
