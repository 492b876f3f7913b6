// The demo page and browser client in a real headless Chromium, with the DevTools
// virtual authenticator (CTAP2, internal, resident keys, user verification), against
// the local stack (rp-server, Cognito stand-in, triggers) on loopback.
//
// Needs: Debian's chromium at /usr/bin/chromium (CHROMIUM to override), the built
// binaries (target/debug/local-stack), `npm run build`, and DATABASE_URL pointing at a
// PostgreSQL server where a database may be created (scripts/test sets all of it up).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, newDevice } from "./support/browser.mjs";
import { codeOf, startStack } from "./support/stack.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, "..", "test-results");
mkdirSync(shots, { recursive: true });

let stack, browser, demo, mailbox, mail;

before(async () => {
  // POOL_SHAPE=email_alias|username runs the demo against another shape of pool.
  stack = await startStack({ name: "browser", args: ["--pool-shape", process.env.POOL_SHAPE ?? "email_username"] });
  ({ demo, mailbox, mail } = stack);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A fresh browser profile with a platform authenticator that holds passkeys, on the demo. */
async function device({ adapter } = {}) {
  const d = await newDevice(browser, adapter ? `${demo}/?adapter=${adapter}` : demo, (page) =>
    // Records the Signal API calls (and still makes them, where the browser has them).
    page.addInitScript(() => {
      window.__signals = [];
      const PKC = window.PublicKeyCredential;
      for (const name of ["signalUnknownCredential", "signalAllAcceptedCredentials", "signalCurrentUserDetails"]) {
        const native = PKC?.[name];
        if (!PKC) continue;
        PKC[name] = async (args) => {
          window.__signals.push({ name, args });
          return typeof native === "function" ? native.call(PKC, args) : undefined;
        };
      }
    }),
  );
  await d.page.waitForSelector("#passkey-signin");
  return d;
}

const message = (page) => page.locator("#message").innerText();

// Types the email without focusing the field, so the autofill (conditional) request
// does not start: the virtual authenticator would answer it at once.
const setEmail = (page, email) => page.$eval("#username", (el, v) => (el.value = v), email);

async function signedIn(page, email) {
  await page.locator("#tokens-card").waitFor({ state: "visible" });
  const tokens = JSON.parse(await page.locator("#tokens").innerText());
  assert.equal(tokens.accessToken.token_use, "access");
  if (email) assert.equal(tokens.idToken.email, email);
  return tokens;
}

async function signOut(page) {
  await page.click("#signout");
  await page.locator("#signin-card").waitFor({ state: "visible" });
}


/** Verified sign-up: an emailed code, then the passkey. */
async function signUp(page, email) {
  await page.fill("#signup-email", email);
  await page.click("#signup");
  await page.locator("#signup-code-box").waitFor({ state: "visible" });
  await page.fill("#signup-code", codeOf(await mail(email)));
  await page.click("#signup-verify");
  return signedIn(page, email);
}

test("sign up with a passkey, sign out, sign in with autofill", async () => {
  const { page, context } = await device();
  const tokens = await signUp(page, "new.user@example.com");
  assert.match(await page.locator("#who").innerText(), /new\.user@example\.com/);
  // The list loads after the tokens show; wait for it before counting.
  await page.locator("#account tr[data-id]").first().waitFor();
  assert.equal(await page.locator("#account tbody tr").count(), 1);
  await page.screenshot({ path: join(shots, "signed-in.png"), fullPage: true });

  await signOut(page);
  assert.match(await message(page), /Signed out/);
  await page.screenshot({ path: join(shots, "sign-in.png"), fullPage: true });
  // Conditional UI: the autofill request started on load resolves with the passkey.
  await page.click("#username");
  const again = await signedIn(page, "new.user@example.com");
  assert.equal(again.idToken.sub, tokens.idToken.sub);
  assert.match(await message(page), /autofill/);
  await context.close();
});

test("a password user signs in with Amplify's default (SRP), adds a passkey, then signs in with it", async () => {
  const { page, context } = await device({ adapter: "amplify" });
  const flows = [];
  page.on("request", (r) => {
    if (r.headers()["x-amz-target"]?.endsWith(".InitiateAuth")) flows.push(JSON.parse(r.postData()).AuthFlow);
  });
  await page.fill("#username", "demo@example.com");
  await page.click("#show-password");
  await page.fill("#password", "Demo-password-1");
  await page.click("#password-signin");
  await signedIn(page, "demo@example.com");
  assert.deepEqual(flows, ["USER_SRP_AUTH"]);
  await page.click("#account .pk-add");
  await page.locator("#account tr[data-id]").waitFor();
  assert.match(await message(page), /Passkey added/);
  await page.screenshot({ path: join(shots, "passkeys.png"), fullPage: true });
  await signOut(page);
  await setEmail(page, "demo@example.com");
  await page.click("#passkey-signin");
  await signedIn(page, "demo@example.com");
  await context.close();
});

const signals = (page) => page.evaluate(() => window.__signals);
const heldBy = async (cdp, authenticatorId) => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials.length;

test("a deleted passkey leaves the browser too (Signal API: the accepted list)", async () => {
  const { page, context, cdp, authenticatorId } = await device();
  await signUp(page, "deleter@example.com");
  const id = await page.locator("#account tr[data-id]").getAttribute("data-id");
  // Signed in: the password manager learns which passkeys the server accepts.
  await page.waitForFunction(() => window.__signals.some((s) => s.name === "signalAllAcceptedCredentials"));
  const accepted = (await signals(page)).find((s) => s.name === "signalAllAcceptedCredentials").args;
  assert.equal(accepted.rpId, "localhost");
  assert.deepEqual(accepted.allAcceptedCredentialIds, [id]);
  assert.equal(typeof accepted.userId, "string");
  assert.equal(await heldBy(cdp, authenticatorId), 1);

  await page.locator("#account tr[data-id] .delete").click();
  await page.locator("#account tr[data-id]").waitFor({ state: "detached" });
  await page.waitForFunction(() =>
    window.__signals.some((s) => s.name === "signalAllAcceptedCredentials" && s.args.allAcceptedCredentialIds.length === 0),
  );
  // Chromium's virtual authenticator acts on the signal: the passkey is gone from it.
  assert.equal(await heldBy(cdp, authenticatorId), 0);
  await signOut(page);
  await page.click("#passkey-signin");
  await page.waitForFunction(() => document.querySelector("#message")?.className === "error");
  assert.match(await message(page), /no passkey was available/);
  assert.ok(await page.locator("#tokens-card").isHidden());
  await context.close();
});

test("the second site (b.localhost) is its own: its user signs up and in there, its passkey is nothing on the first", async () => {
  // The same demo, opened on the second site's host: its config names that site's pool.
  const demoB = demo.replace("//localhost", "//b.localhost");
  const { page, context } = await newDevice(browser, demoB);
  await page.waitForSelector("#passkey-signin");
  const tokens = await signUp(page, "bea@example.com");
  assert.match(tokens.accessToken.iss, /eu-west-1_LocalPoolB$/);
  await signOut(page);
  await page.click("#passkey-signin");
  await signedIn(page, "bea@example.com");
  await signOut(page);
  // On the first site the same device holds no passkey for its RP ID.
  await page.goto(demo);
  await page.waitForSelector("#passkey-signin");
  await page.click("#passkey-signin");
  await page.waitForFunction(() => document.querySelector("#message")?.className === "error");
  assert.match(await message(page), /no passkey was available/);
  assert.ok(await page.locator("#tokens-card").isHidden());
  await context.close();
});

test("a revoked passkey is refused with a clear message, and the browser forgets it (Signal API)", async () => {
  const { page, context, cdp, authenticatorId } = await device();
  await signUp(page, "revoked@example.com");
  const id = await page.locator("#account tr[data-id]").getAttribute("data-id");
  await signOut(page);
  // An administrator revokes it: the browser does not know yet.
  const revoked = await fetch(`${stack.adminUrl}/admin/v1/credentials/${id}/revoke`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${stack.adminToken}` },
    body: JSON.stringify({ reason: "lost phone" }),
  });
  assert.equal(revoked.status, 200);
  await page.evaluate(() => (window.__signals = []));
  await page.click("#passkey-signin");
  await page.waitForFunction(() => document.querySelector("#message")?.className === "error");
  assert.match(await message(page), /removed from your account/);
  assert.ok(await page.locator("#tokens-card").isHidden());
  assert.deepEqual(await signals(page), [{ name: "signalUnknownCredential", args: { rpId: "localhost", credentialId: id } }]);
  assert.equal(await heldBy(cdp, authenticatorId), 0);
  await page.screenshot({ path: join(shots, "deleted-passkey.png"), fullPage: true });
  await context.close();
});

test("refused user verification gives a clear message and no tokens", async () => {
  const { page, context, cdp, authenticatorId } = await device();
  await signUp(page, "no-uv@example.com");
  await signOut(page);
  await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: false });
  await page.click("#passkey-signin");
  await page.waitForFunction(() => document.querySelector("#message")?.className === "error");
  assert.match(await message(page), /cancelled|not accepted|verification/i);
  assert.ok(await page.locator("#tokens-card").isHidden());
  await context.close();
});

for (const adapter of ["amplify", "direct"]) {
  test(`the ${adapter} adapter ends in tokens`, async () => {
    const { page, context } = await device({ adapter });
    const email = `${adapter}@example.com`;
    await signUp(page, email);
    await signOut(page);
    await setEmail(page, email);
    await page.click("#passkey-signin");
    const tokens = await signedIn(page, email);
    assert.equal(tokens.idToken["cognito:username"], tokens.accessToken.username);
    await page.screenshot({ path: join(shots, `adapter-${adapter}.png`), fullPage: true });
    await context.close();
  });
}

test("a new device with no passkey signs in with an email code, after a wrong one", async () => {
  const first = await device();
  await signUp(first.page, "traveller@example.com");
  await first.context.close();

  // Another device: its authenticator holds no passkey for this account.
  const { page, context } = await device();
  await setEmail(page, "traveller@example.com");
  await page.click("#passkey-signin");
  await page.locator("#email-signin-box").waitFor({ state: "visible" });
  await page.click("#signin-send");
  await page.locator("#signin-code-box").waitFor({ state: "visible" });
  const code = codeOf(await mail("traveller@example.com", 2));
  await page.fill("#signin-code", code === "000000" ? "000001" : "000000");
  await page.click("#signin-code-submit");
  await page.waitForFunction(() => document.querySelector("#message")?.textContent?.includes("not right"));
  await page.fill("#signin-code", code);
  await page.click("#signin-code-submit");
  const tokens = await signedIn(page, "traveller@example.com");
  assert.equal(tokens.idToken.email_verified, true);
  assert.match(await message(page), /email code/);
  await page.screenshot({ path: join(shots, "email-code.png"), fullPage: true });
  await context.close();
});

test("an emailed link signs in only where the code was asked for", async () => {
  const first = await device();
  await signUp(first.page, "linker@example.com");
  await first.context.close();

  // On another device (another browser profile), the link signs nothing in.
  const elsewhere = await device();
  const { page, context } = await device();
  await setEmail(page, "linker@example.com");
  await page.click("#passkey-signin");
  await page.locator("#email-signin-box").waitFor({ state: "visible" });
  await page.click("#signin-send");
  await page.locator("#signin-code-box").waitFor({ state: "visible" });
  const link = (await mail("linker@example.com", 2)).link;
  assert.match(link, /#code=\d{6}&purpose=sign_in&email=linker%40example\.com$/);
  await elsewhere.page.goto(link);
  await elsewhere.page.waitForFunction(() => document.querySelector("#message")?.textContent?.includes("where you asked"));
  assert.equal(await elsewhere.page.locator("#tokens-card").isVisible(), false);
  assert.ok(!elsewhere.page.url().includes("code="));
  await elsewhere.context.close();
  assert.equal(await page.locator("#tokens-card").isVisible(), false);

  // In a new tab of the device that asked (a mail client opens one), the link hands the
  // code to the asking tab, which signs in; the new tab itself holds no session.
  const tab = await context.newPage();
  await tab.goto(link);
  await tab.waitForFunction(() => document.querySelector("#message")?.textContent?.includes("where you asked"));
  await signedIn(page, "linker@example.com");
  assert.match(await message(page), /email link/);
  assert.equal(await tab.locator("#tokens-card").isVisible(), false);
  assert.ok(!tab.url().includes("code="));
  await context.close();
});

test("recovery codes: make them, lose the passkey, recover, add a new passkey, count down", async () => {
  const first = await device();
  await signUp(first.page, "recoverer@example.com");
  await first.page.click("#make-recovery-codes");
  await first.page.locator("#recovery-codes").waitFor({ state: "visible" });
  const codes = (await first.page.locator("#recovery-codes").innerText()).trim().split("\n");
  assert.equal(codes.length, 10);
  for (const code of codes) assert.match(code, /^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/);
  await first.page.waitForFunction(() => document.querySelector("#recovery-status")?.textContent?.includes("10 recovery codes left"));
  await first.context.close();

  // The device is lost: a new one, whose authenticator holds no passkey for the account.
  const { page, context } = await device();
  await setEmail(page, "recoverer@example.com");
  await page.click("#recovery-box summary");
  await page.fill("#recovery-code", codes[0]);
  await page.click("#recovery-signin");
  await signedIn(page, "recoverer@example.com");
  assert.match(await message(page), /recovery code/);
  await page.locator("#account tr[data-id]").first().waitFor();
  await page.click("#account .pk-add");
  await page.waitForFunction(() => document.querySelector("#message")?.textContent?.includes("Passkey added"));
  await page.waitForFunction(() => document.querySelectorAll("#account tr[data-id]").length === 2);
  await page.waitForFunction(() => document.querySelector("#recovery-status")?.textContent?.includes("9 recovery codes left"));
  // (That session may add no second passkey: the API tests show it.)
  await page.screenshot({ path: join(shots, "recovery-codes.png"), fullPage: true });

  // The code is spent; the new passkey signs in.
  await signOut(page);
  await setEmail(page, "recoverer@example.com");
  await page.fill("#recovery-code", codes[0]);
  await page.click("#recovery-signin");
  await page.waitForFunction(() => document.querySelector("#message")?.textContent?.includes("used"));
  await page.click("#passkey-signin");
  await signedIn(page, "recoverer@example.com");
  await context.close();
});

test("the page offers what the browser can do (client capabilities)", async () => {
  const { page, context } = await device();
  const reported = await page.evaluate(() => PublicKeyCredential.getClientCapabilities());
  const used = await page.evaluate(() => window.passkeyCapabilities);
  assert.deepEqual(used, reported);
  assert.equal(used.conditionalGet, true);
  for (const [name, yes] of Object.entries(reported)) {
    if (yes) assert.match(await page.locator("#capabilities").innerText(), new RegExp(name));
  }
  assert.equal(await page.locator("#phone-signin").isVisible(), Boolean(reported.hybridTransport));
  await context.close();
});

test("after a password sign-in the page asks for a silent passkey upgrade where the browser can do it", async () => {
  const { page, context, cdp, authenticatorId } = await device();
  const upgrades = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/v1/registration/options") && r.postData()?.includes('"conditional"')) upgrades.push(r);
  });
  const capable = Boolean((await page.evaluate(() => window.passkeyCapabilities)).conditionalCreate);
  await page.fill("#username", "demo@example.com");
  await page.click("#show-password");
  await page.fill("#password", "Demo-password-1");
  await page.click("#password-signin");
  await signedIn(page, "demo@example.com");
  await page.waitForTimeout(1500);
  assert.equal(upgrades.length, capable ? 1 : 0, `conditionalCreate ${capable}`);
  // How far Chromium's virtual authenticator takes conditional create (it has no
  // password manager to consent for the user): reported, not required.
  const held = (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials.length;
  console.log(`conditional create: capability ${capable}, requested ${upgrades.length}, passkeys held ${held}`);
  await context.close();
});

test("an OAuth app signs in by redirect through rp-server's OpenID provider with a passkey", async () => {
  const { createHash, randomBytes } = await import("node:crypto");
  const { page, context } = await device();
  const tokens = await signUp(page, "redirect.user@example.com");
  const { oidcIssuer, oidcClientId } = stack.config;
  const discovery = await (await fetch(`${oidcIssuer}/.well-known/openid-configuration`)).json();
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const redirectUri = `${demo}/oidc-callback`;
  const authorize = new URL(discovery.authorization_endpoint.replace(discovery.issuer, oidcIssuer));
  for (const [k, v] of Object.entries({
    client_id: oidcClientId, redirect_uri: redirectUri, response_type: "code", scope: "openid email",
    state: "st-42", nonce: "n-42", code_challenge: challenge, code_challenge_method: "S256", prompt: "login",
  })) authorize.searchParams.set(k, v);

  // The virtual authenticator answers an autofill request at once; this test takes the
  // button's way (the page's autofill is the demo's, tested above).
  await page.addInitScript(() => { PublicKeyCredential.isConditionalMediationAvailable = async () => false; });
  const violations = [];
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  await page.goto(authorize.toString());
  await page.waitForSelector("#passkey");
  await page.screenshot({ path: join(shots, "oidc-sign-in.png"), fullPage: true });
  await page.click("#passkey");
  await page.waitForURL((u) => u.pathname === "/oidc-callback");
  const back = new URL(page.url());
  assert.equal(back.searchParams.get("state"), "st-42");
  assert.equal(back.searchParams.get("iss"), oidcIssuer);
  assert.deepEqual(violations, [], "the page runs under its CSP without violations");

  const exchange = () => fetch(`${oidcIssuer}/oidc/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", code: back.searchParams.get("code"), redirect_uri: redirectUri,
      client_id: oidcClientId, code_verifier: verifier,
    }),
  });
  const answer = await exchange();
  assert.equal(answer.status, 200);
  const { id_token } = await answer.json();
  const claims = JSON.parse(Buffer.from(id_token.split(".")[1], "base64url").toString());
  assert.equal(claims.sub, tokens.idToken.sub, "the provider's sub is the Cognito user's");
  assert.equal(claims.nonce, "n-42");
  assert.equal(claims.acr, "urn:rp-server:acr:passkey");
  assert.ok(claims.amr.includes("hwk") || claims.amr.includes("swk"), JSON.stringify(claims.amr));
  assert.equal((await exchange()).status, 400, "a code redeems once");
  await context.close();
});

test("an OAuth app (oidc-client-ts) signs in through the pool's hosted page and rp-server, as the user's own Cognito user, twice", async () => {
  const { page, context } = await device();
  const tokens = await signUp(page, "hosted.user@example.com");
  // The page's button rather than its autofill (the virtual authenticator answers that at once).
  await page.addInitScript(() => { PublicKeyCredential.isConditionalMediationAvailable = async () => false; });
  for (const round of [1, 2]) {
    await signOut(page);
    const flows = [];
    page.on("request", (r) => flows.push(new URL(r.url()).pathname));
    await page.click("#hosted-signin");
    await page.waitForSelector("#passkey");
    // The second time username-first: the page offers only this user's passkeys.
    if (round === 2) await page.fill("#username", "hosted.user@example.com");
    await page.click("#passkey");
    const again = await signedIn(page, "hosted.user@example.com");
    assert.match(await message(page), /through the hosted page/);
    assert.equal(again.idToken.sub, tokens.idToken.sub, `round ${round}: the user's own Cognito user`);
    assert.equal(again.idToken["cognito:username"], tokens.idToken["cognito:username"]);
    assert.ok(again.idToken.identities?.some((i) => i.providerName === stack.config.identityProvider), JSON.stringify(again.idToken));
    assert.equal(again.accessToken.scope, "openid email profile");
    assert.equal(flows.includes("/oidc/authorize/options"), round === 2, `round ${round}: username-first or not: ${flows}`);
    const hops = ["/oauth2/authorize", "/oidc/authorize", "/oauth2/idpresponse", "/hosted-callback"];
    for (const hop of hops) {
      assert.ok(flows.some((p) => p.endsWith(hop)), `round ${round}: ${hop} not visited: ${flows}`);
    }
    page.removeAllListeners("request");
  }
  await context.close();
});

test("Amplify JS v6 signInWithRedirect({provider: {custom}}) signs in through rp-server as the user's own Cognito user", async () => {
  const { page, context } = await device({ adapter: "amplify" });
  const tokens = await signUp(page, "amplify.redirect@example.com");
  await page.addInitScript(() => { PublicKeyCredential.isConditionalMediationAvailable = async () => false; });
  // Amplify calls https://<domain>/oauth2/…; the local pool's hosted endpoints are http.
  const hostedBase = new URL(stack.config.hostedDomain);
  await context.route(`https://${hostedBase.host}/**`, async (route) => {
    const response = await route.fetch({ url: route.request().url().replace(/^https:/, "http:"), maxRedirects: 0 });
    await route.fulfill({ response });
  });
  await signOut(page);
  await page.click("#hosted-signin");
  await page.waitForSelector("#passkey");
  await page.click("#passkey");
  const again = await signedIn(page, "amplify.redirect@example.com");
  assert.match(await message(page), /hosted page \(Amplify\)/);
  assert.equal(again.idToken.sub, tokens.idToken.sub);
  assert.ok(again.idToken.identities?.some((i) => i.providerName === stack.config.identityProvider));
  await context.close();
});

test("on a device with no passkey, rp-server's sign-in page finishes with an email code; an app asking for a passkey gets no such offer", async () => {
  const first = await device();
  const tokens = await signUp(first.page, "page.code@example.com");
  await first.context.close();

  const { page, context } = await device();
  await page.addInitScript(() => { PublicKeyCredential.isConditionalMediationAvailable = async () => false; });
  const { oidcIssuer, oidcClientId } = stack.config;
  const authorize = (extra) => {
    const u = new URL(`${oidcIssuer}/oidc/authorize`);
    for (const [k, v] of Object.entries({
      client_id: oidcClientId, redirect_uri: `${demo}/oidc-callback`, response_type: "code", scope: "openid email",
      state: "st-7", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256", ...extra,
    })) u.searchParams.set(k, v);
    return u.toString();
  };
  // Step-up to a passkey: the email code is not offered.
  await page.goto(authorize({ acr_values: "urn:rp-server:acr:passkey" }));
  await page.waitForSelector("#passkey");
  assert.equal(await page.locator("#email-start").count(), 0);

  await page.goto(authorize({ login_hint: "page.code@example.com" }));
  await page.click("#email-start");
  assert.equal(await page.inputValue("#email"), "page.code@example.com", "the hint fills the address");
  await page.click("#email-form button");
  await page.locator("#code-form").waitFor({ state: "visible" });
  await page.fill("#code", codeOf(await mail("page.code@example.com", 2)));
  await page.click("#code-form button");
  await page.waitForURL((u) => u.pathname === "/oidc-callback");
  const back = new URL(page.url());
  assert.equal(back.searchParams.get("state"), "st-7");
  const answer = await fetch(`${oidcIssuer}/oidc/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", code: back.searchParams.get("code"), redirect_uri: `${demo}/oidc-callback`,
      client_id: oidcClientId, code_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    }),
  });
  assert.equal(answer.status, 200);
  const claims = JSON.parse(Buffer.from((await answer.json()).id_token.split(".")[1], "base64url").toString());
  assert.equal(claims.sub, tokens.idToken.sub);
  assert.equal(claims.acr, "urn:rp-server:acr:email-otp");
  assert.deepEqual(claims.amr, ["otp", "email"]);
  assert.equal(claims.email, "page.code@example.com");
  await context.close();
});

test("a user with a Cognito passkey signs in with it, moves to one of ours, then signs in with ours", async () => {
  const { page, context } = await device();
  // Before: a password user who made a passkey with Cognito itself.
  await page.fill("#username", "legacy@example.com");
  await page.click("#show-password");
  await page.fill("#password", "Legacy-password-1");
  await page.click("#password-signin");
  await signedIn(page, "legacy@example.com");
  await page.click("#add-cognito-passkey");
  await page.waitForFunction(() => document.querySelector("#message")?.textContent?.includes("kept by Cognito"));
  const ours = await page.locator("#account tr[data-id]").count();
  const stats = async () =>
    (await (await fetch(`${stack.adminUrl}/admin/v1/stats`, { headers: { authorization: `Bearer ${stack.adminToken}` } })).json())
      .usersWithOnlyCognitoPasskeys;
  // The client told rp-server (best effort), so the statistics count this user.
  if (ours === 0) assert.equal(await stats(), 1);
  await signOut(page);

  // Signing in with it moves the user: ours is created, then Cognito's deleted.
  await setEmail(page, "legacy@example.com");
  await page.click("#cognito-passkey-signin");
  await signedIn(page, "legacy@example.com");
  assert.match(await message(page), /now moved to rp-server/);
  await page.waitForFunction((n) => document.querySelectorAll("#account tr[data-id]").length === n + 1, ours);
  assert.equal(await stats(), 0);

  // Cognito's is gone; ours signs in.
  await signOut(page);
  await setEmail(page, "legacy@example.com");
  await page.click("#cognito-passkey-signin");
  await page.waitForFunction(() => document.querySelector("#message")?.className === "error");
  assert.match(await message(page), /no passkey/);
  assert.ok(await page.locator("#tokens-card").isHidden());
  await page.click("#passkey-signin");
  await signedIn(page, "legacy@example.com");
  await context.close();
});
