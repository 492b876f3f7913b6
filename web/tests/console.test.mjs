// The admin console and the account page in a real headless Chromium against the local
// stack: an admin (the demo user, a member of `rp-admins`) signs in to the console with
// their passkey and helps a user; a user outside the group is turned away; each page
// passes an accessibility check (axe-core). The account page: rename, delete with a
// session that needs a passkey sign-in first, add.
//
// Needs what browser.test.mjs needs (scripts/test sets it up).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, newDevice } from "./support/browser.mjs";
import { codeOf, startStack } from "./support/stack.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, "..", "test-results");
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let stack, browser;

before(async () => {
  stack = await startStack({ name: "console" });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** No serious or critical accessibility violation on the page as it is now. */
async function accessible(page, what) {
  // Evaluated through DevTools, so the console's policy (no inline script) still holds
  // for everything the page itself loads.
  await page.evaluate(axeSource);
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), [], `${what} has accessibility violations`);
}

const message = (page) => page.locator("#message").innerText();

async function signedIn(page) {
  await page.locator("#tokens-card").waitFor({ state: "visible" });
  return JSON.parse(await page.locator("#tokens").innerText());
}

async function signUp(page, email) {
  await page.fill("#signup-email", email);
  await page.click("#signup");
  await page.locator("#signup-code-box").waitFor({ state: "visible" });
  await page.fill("#signup-code", codeOf(await stack.mail(email)));
  await page.click("#signup-verify");
  await page.locator("#account tr[data-id]").first().waitFor();
  return signedIn(page);
}

/** Signs in to the demo with a passkey (username first). */
async function passkeySignIn(page, email) {
  await page.$eval("#username", (el, v) => (el.value = v), email);
  await page.click("#passkey-signin");
}

/** Signs in to the console with the device's passkey. */
async function consoleSignIn(page) {
  await page.goto(stack.consoleUrl);
  await page.click("#signin-button");
}

/** The admin API's answer with the admin token (the test's ground truth). */
async function admin(path) {
  const res = await fetch(`${stack.adminUrl}${path}`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
  assert.equal(res.status, 200, path);
  return res.json();
}

/** Accepts the console's confirmation dialog, with a reason when it asks for one. */
async function confirm(page, reason) {
  await page.locator("#dialog[open]").waitFor();
  if (reason !== undefined) await page.fill("#dialog-reason", reason);
  await page.click("#dialog-ok");
  await page.locator("#dialog[open]").waitFor({ state: "detached" });
}

let adminDevice, carol;

test("an admin signs in to the console with a passkey and reads the overview", async () => {
  // Carol: a user with a passkey, who signs in once more.
  carol = await newDevice(browser, stack.demo);
  await signUp(carol.page, "carol@example.com");
  await carol.page.click("#signout");
  await passkeySignIn(carol.page, "carol@example.com");
  await signedIn(carol.page);

  // The admin: the demo user (in rp-admins), who signs in with their password and adds a passkey.
  adminDevice = await newDevice(browser, stack.demo);
  const { page } = adminDevice;
  await page.fill("#username", "demo@example.com");
  await page.click("#show-password");
  await page.fill("#password", "Demo-password-1");
  await page.click("#password-signin");
  await signedIn(page);
  await page.click("#account .pk-add");
  await page.locator("#account tr[data-id]").waitFor();

  await consoleSignIn(page);
  await page.locator("#stat-users-with-passkeys").waitFor();
  assert.match(await page.locator("#who").innerText(), /demo@example\.com/);
  // The numbers in the page are the API's.
  const stats = await admin("/admin/v1/stats");
  const daily = await admin("/admin/v1/stats/daily?days=30");
  assert.equal(await page.locator("#stat-users-with-passkeys").innerText(), String(stats.usersWithPasskeys));
  assert.equal(stats.usersWithPasskeys, 2);
  assert.equal(await page.locator("#stat-pool-users").innerText(), String(stats.poolUsers));
  assert.equal(await page.locator("#stat-active").innerText(), String(stats.activeCredentials));
  const today = daily.days.at(-1);
  const todayRow = page.locator(`#chart-sign-ins tr[data-day="${today.day}"] td`);
  assert.deepEqual(await todayRow.allTextContents(), [
    today.signIns.passkeyUsernameless, today.signIns.passkeyUsernameFirst, today.signIns.emailCode, today.signIns.recoveryCode,
  ].map(String));
  assert.ok(today.signIns.passkeyUsernameFirst >= 1 && today.signIns.passkeyUsernameless >= 1, JSON.stringify(today));
  const signInTotal = daily.days.reduce((n, d) => n + Object.values(d.signIns).reduce((a, b) => a + b, 0), 0);
  assert.equal(await page.locator("#chart-sign-ins .total").innerText(), String(signInTotal));
  assert.equal(await page.locator("#chart-email .total").innerText(), String(daily.days.reduce((n, d) => n + d.emailCodesSent, 0)));
  assert.equal(await page.locator("#chart-sign-ins canvas").count(), 1, "the chart is drawn");
  await page.screenshot({ path: join(shots, "console-overview.png"), fullPage: true });
  await accessible(page, "the overview");
});

test("the admin finds a user, revokes a passkey, resets the account and issues an enrolment link the user enrols with", async () => {
  const { page } = adminDevice;
  await page.click("nav a[href='#/users']");
  await page.fill("#user-query", "carol@");
  await page.click("form[role=search] button[type=submit]");
  await page.locator("#user-results a", { hasText: "carol@example.com" }).waitFor();
  await accessible(page, "the user search");
  await page.locator("#user-results a", { hasText: "carol@example.com" }).click();
  const row = page.locator("#user-passkeys tbody tr").first();
  await row.waitFor();
  assert.match(await row.innerText(), /Unknown authenticator|Authenticator/);
  await page.screenshot({ path: join(shots, "console-user.png"), fullPage: true });
  await accessible(page, "a user's page");

  // Revoke: Carol's next sign-in with it is refused.
  await row.locator("button.revoke").click();
  await confirm(page, "lost laptop");
  await page.locator("#user-passkeys .pill.revoked").waitFor();
  // (Passkey first: with her username, Cognito would not even offer the revoked passkey.)
  await carol.page.click("#signout");
  await passkeySignIn(carol.page, "");
  await carol.page.waitForFunction(() => document.querySelector("#message")?.className === "error");
  assert.match(await message(carol.page), /removed from your account/);

  // Reset, then an enrolment link, shown once.
  await page.click("#reset");
  await confirm(page, "help desk ticket 42");
  await page.locator("#status", { hasText: "Account reset" }).waitFor();
  await page.click("#enrol");
  await confirm(page);
  const link = await page.locator("#enrolment-link").innerText();
  assert.match(link, /#enrolment=rpe_/);
  assert.match(await page.locator("#enrolment-expiry").innerText(), /Valid until/);

  // Carol opens the link on a new device and adds a passkey, then signs in with it.
  const fresh = await newDevice(browser, link.replace(/^http:\/\/localhost:\d+\//, `${stack.demo}/`));
  await fresh.page.locator("#enrol-card").waitFor({ state: "visible" });
  await fresh.page.click("#enrol");
  await fresh.page.waitForFunction(() => document.querySelector("#message")?.textContent?.includes("Passkey added"));
  await passkeySignIn(fresh.page, "carol@example.com");
  const tokens = await signedIn(fresh.page);
  assert.equal(tokens.idToken.email, "carol@example.com");
  await fresh.context.close();
});

test("the audit page shows each action with the admin as actor, and the CSV export matches the filter", async () => {
  const { page } = adminDevice;
  await page.click("nav a[href='#/audit']");
  await page.fill("#audit-actor", "admin:cognito:");
  await page.click("form.filters button[type=submit]");
  await page.locator("#audit-events[data-filter*='actor=admin'][aria-busy=false]").waitFor();
  const actions = await page.locator("#audit-events tbody td.action").allInnerTexts();
  assert.deepEqual([...new Set(actions)].sort(), ["account.reset", "credential.revoked", "enrolment_token.issued"]);
  for (const actor of await page.locator("#audit-events tbody td.actor").allInnerTexts()) {
    assert.match(actor, /^admin:cognito:[0-9a-f-]{36} demo@example\.com$/);
  }
  await page.screenshot({ path: join(shots, "console-audit.png"), fullPage: true });
  await accessible(page, "the audit page");

  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
  const csv = readFileSync(await download.path(), "utf8").trim().split("\n");
  assert.equal(csv[0], "occurred_at,actor,action,user_sub,credential_id,ip,user_agent,details");
  assert.equal(csv.length - 1, actions.length, "the export is the filtered view");
  for (const action of actions) assert.ok(csv.some((line) => line.includes(`,${action},`)), action);
});

test("a signed-in user outside the admin group is turned away by the console and by every admin route", async () => {
  // Dora: a user with a passkey, not in the group.
  const dora = await newDevice(browser, stack.demo);
  await signUp(dora.page, "dora@example.com");
  let token;
  dora.page.on("request", (r) => {
    if (r.url().includes("/admin/v1/")) token ??= r.headers().authorization?.replace(/^Bearer /, "");
  });
  await consoleSignIn(dora.page);
  await dora.page.locator("#forbidden-title").waitFor();
  assert.match(await dora.page.locator("#view").innerText(), /not a member of the admin group “rp-admins”/);
  assert.ok(await dora.page.locator("#nav").isHidden());
  await accessible(dora.page, "the refusal");

  const doc = await (await fetch(`${stack.config.rpUrl}/openapi.json`)).json();
  let checked = 0;
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith("/admin/")) continue;
    for (const method of Object.keys(item)) {
      const url = `${stack.adminUrl}${path.replace("{id}", "00000000-0000-4000-8000-000000000000").replace("{sub}", "x")}`;
      const res = await fetch(url, {
        method: method.toUpperCase(),
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: method === "post" ? "{}" : undefined,
      });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal((await res.json()).error.code, "NOT_AN_ADMIN");
      checked++;
    }
  }
  assert.ok(checked >= 15);
  await dora.context.close();
});

test("the account page: rename, delete after a passkey sign-in it asks for, add", async () => {
  // Erin signs up on her laptop.
  const laptop = await newDevice(browser, stack.demo);
  await signUp(laptop.page, "erin@example.com");
  const name = laptop.page.locator("#account tr[data-id] .pk-name");
  await laptop.page.click("#account .pk-rename");
  await laptop.page.fill("#account .pk-rename-input", "Work laptop");
  await laptop.page.press("#account .pk-rename-input", "Enter");
  await laptop.page.locator("#account tr[data-id] .pk-name", { hasText: "Work laptop" }).waitFor();
  assert.equal(await name.innerText(), "Work laptop");
  await laptop.page.locator("#account .pk-event[data-action='credential.renamed']").waitFor();
  await accessible(laptop.page, "the account page");
  const { credentials } = await laptop.cdp.send("WebAuthn.getCredentials", { authenticatorId: laptop.authenticatorId });

  // On a new phone she signs in with an email code: that session may not delete a
  // passkey, so the page asks for a passkey sign-in first (her passkey, synced over).
  const phone = await newDevice(browser, stack.demo);
  await phone.page.$eval("#username", (el, v) => (el.value = v), "erin@example.com");
  await phone.page.click("#passkey-signin");
  await phone.page.locator("#email-signin-box").waitFor({ state: "visible" });
  await phone.page.click("#signin-send");
  await phone.page.locator("#signin-code-box").waitFor({ state: "visible" });
  await phone.page.fill("#signin-code", codeOf(await stack.mail("erin@example.com", 2)));
  await phone.page.click("#signin-code-submit");
  await signedIn(phone.page);
  await phone.page.locator("#account tr[data-id]").waitFor();
  await phone.cdp.send("WebAuthn.addCredential", { authenticatorId: phone.authenticatorId, credential: credentials[0] });
  const deletes = [];
  phone.page.on("response", (r) => {
    if (r.request().method() === "DELETE" && r.url().includes("/v1/credentials/")) deletes.push(r.status());
  });
  await phone.page.click("#account .pk-delete");
  await phone.page.locator("#account tr[data-id]").waitFor({ state: "detached" });
  assert.deepEqual(deletes, [401, 204], "refused (REAUTH_REQUIRED), then done after the passkey sign-in");
  assert.match(await message(phone.page), /Passkey deleted/);

  // And adds a passkey of the phone's own.
  await phone.page.click("#account .pk-add");
  await phone.page.locator("#account tr[data-id]").waitFor();
  await phone.page.locator("#account .pk-event[data-action='credential.registered']").first().waitFor();
  await phone.page.locator("#account .pk-event[data-action='credential.deleted']").waitFor();
  await phone.page.screenshot({ path: join(shots, "account-page.png"), fullPage: true });
  await laptop.context.close();
  await phone.context.close();
});
