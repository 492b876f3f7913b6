// The demo page: every flow of the browser client, with either Cognito adapter
// (`?adapter=amplify` for Amplify JS v6, the direct JSON API otherwise).
import { Amplify } from "aws-amplify";
import { Hub } from "aws-amplify/utils";
import "aws-amplify/auth/enable-oauth-listener";
import { UserManager } from "oidc-client-ts";
import { confirmSignIn, fetchAuthSession, signIn, signInWithRedirect, signOut } from "aws-amplify/auth";
import { amplifyCognito, createPasskeyClient, directCognito, mountAccountPage, PasskeyError, type AccountPage, type CognitoTokens, type EmailLinkResult } from "../src/passkeys";

interface DemoConfig {
  rpUrl: string;
  cognitoEndpoint: string;
  userPoolId: string;
  clientId: string;
  region: string;
  /** The local stack sends mail (email codes are on) and shows its mailbox. */
  mailbox: boolean;
  /** The pool's hosted endpoints (its issuer; discovery names them) and the identity
   * provider that is rp-server's OpenID provider: sign-in by redirect. */
  hostedDomain?: string;
  identityProvider?: string;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const config: DemoConfig = await (await fetch("/config.json")).json();
// Amplify's own redirect sign-in comes back to /amplify-callback (the query is gone by then).
const useAmplify =
  new URLSearchParams(location.search).get("adapter") === "amplify" || location.pathname === "/amplify-callback";
if (useAmplify) {
  // Amplify reaches the hosted endpoints at https://<domain>/oauth2/…: the domain is the
  // pool's hosted base without its scheme (the tests route https to the local http).
  const oauth = config.hostedDomain && config.identityProvider
    ? {
        domain: config.hostedDomain.replace(/^https?:\/\//, ""),
        scopes: ["openid", "email", "profile"],
        redirectSignIn: [`${location.origin}/amplify-callback`],
        redirectSignOut: [`${location.origin}/`],
        responseType: "code" as const,
        providers: [{ custom: config.identityProvider }],
      }
    : undefined;
  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId: config.userPoolId,
        userPoolClientId: config.clientId,
        userPoolEndpoint: config.cognitoEndpoint,
        ...(oauth ? { loginWith: { oauth } } : {}),
      },
    },
  });
}
const cognito = useAmplify
  ? amplifyCognito({ signIn, confirmSignIn, fetchAuthSession })
  : directCognito({ clientId: config.clientId, endpoint: config.cognitoEndpoint });
const passkeys = createPasskeyClient({ rpUrl: config.rpUrl, cognito });
let tokens: CognitoTokens | null = null;

function say(kind: "ok" | "error", text: string) {
  const m = $("message");
  m.className = kind;
  m.textContent = text;
}

function explain(e: unknown): string {
  if (e instanceof PasskeyError) {
    switch (e.code) {
      case "cancelled": return "Passkey sign-in was cancelled, or no passkey was available on this device.";
      case "rejected":
        if (e.detail === "CODE_INVALID") return "That code is not right. Check the email and try again.";
        return e.detail === "CREDENTIAL_REVOKED"
          ? "This passkey was removed from your account. Sign in another way and add a new one."
          : `Your passkey was not accepted: ${e.message}`;
      case "already_registered": return "This device already has a passkey for your account.";
      case "conflict": return "An account with this email already exists. Sign in instead.";
      case "reauth_required": return "For your security, sign in again (with a passkey or your password) before changing your passkeys.";
      case "cognito": return `Sign-in failed: ${e.message}`;
      case "rate_limited":
        return e.detail === "CODE_LOCKED"
          ? "Too many wrong codes for this address. Sign in with a passkey, or try again later."
          : "Please wait a minute before asking for another code.";
      case "other_device": return "Enter this code where you asked for it: if that was another tab here, it has continued there.";
      case "expired": return e.detail === "CODE_EXPIRED" ? "That code expired or was used up. Ask for a new one." : e.message;
      default: return e.message;
    }
  }
  return String(e);
}

// Adding or deleting a passkey needs a recent sign-in (rp-server's RP_REAUTH_MAX_AGE_SECS).
// When the session is too old, sign in again with a passkey and retry; a user without
// one is asked to sign in again with their password.
async function reauthenticate(): Promise<string> {
  const id = decode(tokens!.idToken) as Record<string, unknown>;
  const username = String(id.email ?? id["cognito:username"] ?? "");
  const again = await passkeys.signInWithPasskey(username ? { username } : {});
  tokens = again.tokens;
  return again.tokens.accessToken;
}

async function freshly<T>(action: (accessToken: string) => Promise<T>): Promise<T> {
  try {
    return await action(tokens!.accessToken);
  } catch (e) {
    if (!(e instanceof PasskeyError) || e.code !== "reauth_required") throw e;
    say("ok", "Confirm it's you: sign in again with your passkey.");
    const token = await reauthenticate().catch(() => {
      throw e; // no passkey at hand: explain() asks for a new sign-in
    });
    return action(token);
  }
}

function decode(jwt: string): unknown {
  const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(decodeURIComponent(escape(atob(part))));
}

async function showSignedIn(t: CognitoTokens, how: string) {
  tokens = t;
  passkeys.abortConditional();
  const id = decode(t.idToken) as Record<string, unknown>;
  $("who").textContent = `Signed in as ${id.email ?? id["cognito:username"]}`;
  $("tokens").textContent = JSON.stringify({ idToken: id, accessToken: decode(t.accessToken) }, null, 2);
  for (const c of ["passkeys-card", "tokens-card"]) $(c).classList.remove("hidden");
  for (const c of ["signin-card", "signup-card"]) $(c).classList.add("hidden");
  say("ok", `Signed in ${how}.`);
  await refreshPasskeys();
}

async function refreshRecoveryStatus() {
  if (!tokens) return;
  const { remaining } = await passkeys.recoveryCodesStatus(tokens.accessToken);
  $("recovery-status").textContent = remaining > 0 ? `${remaining} recovery codes left.` : "No recovery codes yet.";
}

// The signed-in view is the client package's account page: passkeys (rename, delete,
// add) and the user's recent activity.
let account: AccountPage | null = null;
async function refreshPasskeys() {
  if (!tokens) return;
  void refreshRecoveryStatus().catch(() => undefined);
  if (!account) {
    account = mountAccountPage($("account"), {
      client: passkeys,
      accessToken: () => tokens!.accessToken,
      reauthenticate: () => {
        say("ok", "Confirm it's you: sign in again with your passkey.");
        return reauthenticate();
      },
      notify: say,
    });
  } else {
    await account.refresh();
  }
}

// Conditional UI: while the email field has focus, the browser offers this site's
// passkeys among its autofill suggestions; choosing one signs in.
let autofillPending = false;
async function startAutofill() {
  if (autofillPending || tokens || !(await passkeys.conditionalMediationAvailable())) return;
  autofillPending = true;
  passkeys
    .signInWithPasskey({ conditional: true })
    .then((r) => showSignedIn(r.tokens, "with a passkey (autofill)"))
    .catch((e) => {
      if (!(e instanceof PasskeyError && e.code === "aborted")) say("error", explain(e));
    })
    .finally(() => {
      autofillPending = false;
    });
}
$("username").addEventListener("focus", () => void startAutofill());

$("passkey-signin").addEventListener("click", async () => {
  passkeys.abortConditional();
  const username = $<HTMLInputElement>("username").value.trim();
  try {
    const r = await passkeys.signInWithPasskey(username ? { username } : {});
    await showSignedIn(r.tokens, "with a passkey");
  } catch (e) {
    say("error", explain(e));
    // No passkey here, or the prompt was dismissed: offer a code by email, as the
    // reference designs do.
    if (config.mailbox && e instanceof PasskeyError && e.code === "cancelled") {
      $("email-signin-box").classList.remove("hidden");
    }
  }
});

$("signin-send").addEventListener("click", async () => {
  const email = $<HTMLInputElement>("username").value.trim();
  if (!email) return say("error", "Enter your email above first.");
  try {
    await passkeys.sendEmailCode({ email, purpose: "sign_in" });
    $("signin-code-box").classList.remove("hidden");
    say("ok", `If ${email} has an account, a code is on its way.`);
    void refreshMailbox();
  } catch (e) {
    say("error", explain(e));
  }
});

$("signin-code-submit").addEventListener("click", async () => {
  const email = $<HTMLInputElement>("username").value.trim();
  try {
    const r = await passkeys.signInWithEmailCode({ email, code: $<HTMLInputElement>("signin-code").value.trim() });
    await showSignedIn(r.tokens, "with an email code");
  } catch (e) {
    say("error", explain(e));
  }
});

// What this browser can do decides what the page offers.
const capabilities = await passkeys.capabilities();
(window as any).passkeyCapabilities = capabilities;
$("capabilities").textContent = `This browser: ${Object.entries(capabilities)
  .filter(([, yes]) => yes)
  .map(([name]) => name)
  .join(", ") || "no passkey features reported"}.`;
if (capabilities.hybridTransport) $("phone-signin").classList.remove("hidden");
$("phone-signin").addEventListener("click", async () => {
  passkeys.abortConditional();
  try {
    const r = await passkeys.signInWithPasskey({ hints: ["hybrid"] });
    await showSignedIn(r.tokens, "with a passkey from your phone");
  } catch (e) {
    say("error", explain(e));
  }
});

// After a password sign-in, the browser's password manager may add a passkey silently.
function offerUpgrade() {
  if (!tokens) return;
  void passkeys.upgradeToPasskey(tokens.accessToken).then(async (added) => {
    if (!added) return;
    say("ok", "Signed in with a password. Your password manager also saved a passkey for next time.");
    await refreshPasskeys();
  });
}

$("show-password").addEventListener("click", () => $("password-box").classList.remove("hidden"));
$("password-signin").addEventListener("click", async () => {
  const username = $<HTMLInputElement>("username").value.trim();
  const password = $<HTMLInputElement>("password").value;
  try {
    if (useAmplify) {
      passkeys.abortConditional();
      // Amplify's default: USER_SRP_AUTH (the password never leaves the browser).
      const r = await signIn({ username, password });
      if (!r.isSignedIn) throw new Error(`Unexpected step ${r.nextStep.signInStep}`);
      const { tokens: t } = await fetchAuthSession();
      await showSignedIn({ idToken: t!.idToken!.toString(), accessToken: t!.accessToken.toString() }, "with a password");
      offerUpgrade();
    } else {
      const res = await fetch(config.cognitoEndpoint, {
        method: "POST",
        headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": "AWSCognitoIdentityProviderService.InitiateAuth" },
        body: JSON.stringify({ ClientId: config.clientId, AuthFlow: "USER_PASSWORD_AUTH", AuthParameters: { USERNAME: username, PASSWORD: password } }),
      });
      const data = await res.json();
      if (!res.ok) throw new Error(data.message ?? "Password sign-in failed");
      const a = data.AuthenticationResult;
      await showSignedIn({ idToken: a.IdToken, accessToken: a.AccessToken, refreshToken: a.RefreshToken }, "with a password");
      offerUpgrade();
    }
  } catch (e) {
    say("error", explain(e));
  }
});

// Sign-up proves the address first when the server sends mail: a code, then the passkey.
async function createAccount(email: string, signupToken?: string) {
  const r = await passkeys.signUpWithPasskey({ email, signupToken });
  await showSignedIn(r.tokens, "with your new passkey");
}

$("signup").addEventListener("click", async () => {
  passkeys.abortConditional();
  const email = $<HTMLInputElement>("signup-email").value.trim();
  try {
    if (!config.mailbox) return await createAccount(email);
    await passkeys.sendEmailCode({ email, purpose: "sign_up" });
    $("signup-code-box").classList.remove("hidden");
    say("ok", `We sent a code to ${email}.`);
    void refreshMailbox();
  } catch (e) {
    say("error", explain(e));
  }
});

$("signup-verify").addEventListener("click", async () => {
  const email = $<HTMLInputElement>("signup-email").value.trim();
  try {
    const { signupToken } = await passkeys.verifySignUpEmail({ email, code: $<HTMLInputElement>("signup-code").value.trim() });
    await createAccount(email, signupToken);
  } catch (e) {
    say("error", explain(e));
  }
});

// Sign-in by redirect, as an OAuth app does it (oidc-client-ts, authorization code + PKCE):
// the pool's hosted /oauth2/authorize sends the browser to rp-server's sign-in page (the
// pool's identity provider), which sends it back through the pool with Cognito's tokens.
const hosted = config.hostedDomain
  ? new UserManager({
      authority: config.hostedDomain,
      client_id: config.clientId,
      redirect_uri: `${location.origin}/hosted-callback`,
      response_type: "code",
      scope: "openid email profile",
      extraQueryParams: config.identityProvider ? { identity_provider: config.identityProvider } : {},
    })
  : null;
if (hosted && useAmplify && config.identityProvider) {
  // Amplify JS v6: signInWithRedirect to the pool's identity provider that is rp-server.
  const provider = config.identityProvider;
  $("hosted-signin").classList.remove("hidden");
  $("hosted-signin").addEventListener("click", () => {
    signInWithRedirect({ provider: { custom: provider } }).catch((e) => say("error", `The hosted page could not be reached: ${e}`));
  });
  Hub.listen("auth", ({ payload }) => {
    if (payload.event === "signInWithRedirect") {
      void fetchAuthSession().then(async (session) => {
        const t = session.tokens;
        if (!t?.idToken) return say("error", "Amplify finished the redirect without tokens.");
        history.replaceState(null, "", "/?adapter=amplify");
        await showSignedIn({ idToken: t.idToken.toString(), accessToken: t.accessToken.toString() }, "through the hosted page (Amplify)");
      });
    } else if (payload.event === "signInWithRedirect_failure") {
      say("error", `Signing in through the hosted page failed: ${JSON.stringify(payload.data)}`);
    }
  });
} else if (hosted) {
  $("hosted-signin").classList.remove("hidden");
  $("hosted-signin").addEventListener("click", () => {
    hosted.signinRedirect().catch((e) => say("error", `The hosted page could not be reached: ${e}`));
  });
  if (location.pathname === "/hosted-callback") {
    try {
      const user = await hosted.signinRedirectCallback();
      history.replaceState(null, "", "/");
      await showSignedIn(
        { idToken: user.id_token ?? "", accessToken: user.access_token, refreshToken: user.refresh_token },
        "through the hosted page",
      );
    } catch (e) {
      say("error", `Signing in through the hosted page failed: ${e}`);
    }
  }
}

// A link opened in another tab hands its code to this one, when this one asked for it.
passkeys.onEmailLink(
  (done) => void finishLink(done),
  (e) => say("error", explain(e)),
);

async function finishLink(done: EmailLinkResult | null) {
  if (done?.purpose === "sign_in") await showSignedIn(done.result.tokens, "with an email link");
  else if (done?.purpose === "sign_up") {
    $<HTMLInputElement>("signup-email").value = done.email;
    await createAccount(done.email, done.signupToken);
  }
}

// The link in a code message opens this page with the code in the fragment.
async function completeLink() {
  if (!location.hash.includes("code=")) return;
  const hash = location.hash;
  history.replaceState(null, "", location.pathname + location.search);
  try {
    await finishLink(await passkeys.completeEmailLink(hash));
  } catch (e) {
    say("error", explain(e));
  }
}

// The local stack's mailbox (mail goes nowhere else).
async function refreshMailbox() {
  if (!config.mailbox) return;
  const { messages } = await (await fetch("/mailbox.json")).json();
  $("mailbox").replaceChildren(
    ...messages.map((m: { to: string; subject: string; text: string; link: string | null }) => {
      const item = document.createElement("div");
      item.className = "mail";
      item.innerHTML = `<div><b class="subject"></b> <span class="to sub"></span></div><pre class="text"></pre>`;
      (item.querySelector(".subject") as HTMLElement).textContent = m.subject;
      (item.querySelector(".to") as HTMLElement).textContent = `to ${m.to}`;
      (item.querySelector(".text") as HTMLElement).textContent = m.text;
      if (m.link) {
        const a = document.createElement("a");
        a.href = m.link;
        a.className = "mail-link";
        a.textContent = "Open the link";
        item.append(a);
      }
      return item;
    }),
  );
}
if (config.mailbox) {
  $("mailbox-card").classList.remove("hidden");
  setInterval(() => void refreshMailbox(), 2000);
  void refreshMailbox();
}
void completeLink();
window.addEventListener("hashchange", () => void completeLink());

// An enrolment link from an admin (`#enrolment=rpe_…`, the console issues them): the
// user adds a passkey with it, without signing in, then signs in with that passkey.
function offerEnrolment() {
  const token = new URLSearchParams(location.hash.slice(1)).get("enrolment");
  if (!token) return;
  history.replaceState(null, "", location.pathname + location.search);
  $("enrol-card").classList.remove("hidden");
  $("enrol").addEventListener("click", async () => {
    try {
      await passkeys.registerPasskey({ accessToken: token, nickname: "Enrolled" });
      $("enrol-card").classList.add("hidden");
      say("ok", "Passkey added. Sign in with it now.");
    } catch (e) {
      say("error", explain(e));
    }
  });
}
offerEnrolment();

// Cognito's own passkeys: make one (as users had before rp-server), and sign in with it —
// which moves the user to a passkey of rp-server's and deletes the Cognito one.
$("add-cognito-passkey").addEventListener("click", async () => {
  if (!tokens) return;
  try {
    await passkeys.registerCognitoPasskey(tokens.accessToken);
    say("ok", "A passkey kept by Cognito itself was added. Sign out and use “Sign in with a Cognito passkey”.");
  } catch (e) {
    say("error", explain(e));
  }
});

$("cognito-passkey-signin").addEventListener("click", async () => {
  const username = $<HTMLInputElement>("username").value.trim();
  if (!username) return say("error", "Enter your email or username above first.");
  try {
    passkeys.abortConditional();
    const r = await passkeys.signInWithCognitoPasskey({ username });
    const moved = await passkeys.migrateFromCognitoPasskeys(r.tokens.accessToken, { prompt: true, nickname: "Moved from Cognito" });
    await showSignedIn(r.tokens, moved ? "with a Cognito passkey, now moved to rp-server" : "with a Cognito passkey");
  } catch (e) {
    say("error", explain(e));
  }
});

$("make-recovery-codes").addEventListener("click", async () => {
  if (!tokens) return;
  try {
    const { codes } = await freshly((accessToken) => passkeys.createRecoveryCodes(accessToken));
    const shown = $("recovery-codes");
    shown.textContent = codes.join("\n");
    shown.classList.remove("hidden");
    say("ok", "Keep these ten codes somewhere safe: each signs you in once. They are shown only now.");
    await refreshRecoveryStatus();
  } catch (e) {
    say("error", explain(e));
  }
});

$("recovery-signin").addEventListener("click", async () => {
  const username = $<HTMLInputElement>("username").value.trim();
  if (!username) return say("error", "Enter your email or username above first.");
  try {
    const r = await passkeys.signInWithRecoveryCode({ username, code: $<HTMLInputElement>("recovery-code").value });
    await showSignedIn(r.tokens, "with a recovery code: add a passkey for this device now");
  } catch (e) {
    say("error", explain(e));
  }
});

$("signout").addEventListener("click", async () => {
  if (useAmplify) await signOut().catch(() => undefined);
  else if (tokens?.refreshToken) {
    await fetch(config.cognitoEndpoint, {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": "AWSCognitoIdentityProviderService.RevokeToken" },
      body: JSON.stringify({ ClientId: config.clientId, Token: tokens.refreshToken }),
    }).catch(() => undefined);
  }
  tokens = null;
  account?.unmount();
  account = null;
  $("who").textContent = "Not signed in";
  for (const c of ["passkeys-card", "tokens-card"]) $(c).classList.add("hidden");
  for (const c of ["signin-card", "signup-card"]) $(c).classList.remove("hidden");
  $("recovery-codes").classList.add("hidden");
  $("recovery-codes").textContent = "";
  say("ok", "Signed out.");
});
