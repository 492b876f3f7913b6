// The platform-neutral passkey client: the rp-server calls and the sign-in, sign-up and
// passkey-management flows. It touches no browser or native API of its own: the
// authenticator is reached through a `CeremonyAdapter` (browser.ts, react-native.ts, or
// your own) and Cognito through a `CognitoAdapter` (cognito.ts). It needs only `fetch`,
// `AbortController` and `URLSearchParams`, which browsers, Node.js 18+ and React Native
// all have (platform.d.ts declares exactly these for the neutral type check).

import { PasskeyError, type PasskeyErrorCode } from "./errors";

export type Json = Record<string, any>;

/** Cognito's custom-auth round trip, as the two adapters implement it. */
export interface CognitoAdapter {
  /** `InitiateAuth(CUSTOM_AUTH)`: returns the challenge parameters. */
  startCustomAuth(username: string): Promise<Record<string, string>>;
  /** `RespondToAuthChallenge(ANSWER)`: resolves to the tokens, or throws. */
  answer(nonce: string): Promise<CognitoTokens>;
  /** Cognito's own passkeys, for moving users off them (the direct adapter has them). */
  nativePasskeys?: NativePasskeys;
}

/** Cognito's own passkeys: sign-in with `USER_AUTH`'s `WEB_AUTHN` challenge, and the user's list. */
export interface NativePasskeys {
  /** Signs in with a passkey registered with Cognito; `get` runs the WebAuthn request. */
  signIn(username: string, get: (options: Json) => Promise<Json>): Promise<CognitoTokens>;
  /** `StartWebAuthnRegistration` + `CompleteWebAuthnRegistration` (to make one, e.g. in a demo). */
  register(accessToken: string, create: (options: Json) => Promise<Json>): Promise<void>;
  /** `ListWebAuthnCredentials`. */
  list(accessToken: string): Promise<{ credentialId: string; relyingPartyId: string }[]>;
  /** `DeleteWebAuthnCredential`. */
  remove(accessToken: string, credentialId: string): Promise<void>;
}

/** What moving off Cognito's passkeys did. */
export interface Migrated {
  /** Ours, now stored. */
  added: CredentialSummary;
  /** The Cognito passkeys deleted after it. */
  removed: string[];
}

export interface CognitoTokens {
  idToken: string;
  accessToken: string;
  refreshToken?: string;
}

export interface CredentialSummary {
  id: string;
  nickname: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  aaguid: string | null;
  authenticatorName?: string;
  backupEligible: boolean;
  backupState: boolean;
  transports: string[];
}

/**
 * The authenticator side of a ceremony, in the WebAuthn JSON forms
 * (`PublicKeyCredentialCreationOptionsJSON` in, `RegistrationResponseJSON` out, and so
 * on): what `PublicKeyCredential.parseCreationOptionsFromJSON` / `toJSON()` exchange in a
 * browser and what native passkey APIs take and return.
 *
 * Adapters throw `PasskeyError`s (a dismissed prompt is `cancelled`, whatever the
 * platform calls it), so the flows and the app branch on one set of codes.
 */
export interface CeremonyAdapter {
  /** Creates a passkey. `mediation: "conditional"` only where `capabilities()` reports `conditionalCreate`. */
  create(options: Json, opts?: { mediation?: "conditional" }): Promise<Json>;
  /**
   * Signs a challenge with a passkey. `mediation: "conditional"` only where
   * `capabilities()` reports `conditionalGet`; `"immediate"` shows the sheet only if a
   * passkey is at hand and otherwise fails at once (`cancelled`), where the platform can
   * (`immediateGet`), and is an ordinary prompt elsewhere.
   */
  get(options: Json, opts?: { mediation?: Mediation; signal?: AbortSignal }): Promise<Json>;
  /** What the platform can do, in `getClientCapabilities()`'s names. */
  capabilities(): Promise<Record<string, boolean>>;
  /**
   * The WebAuthn Signal API calls the platform has (the flows skip absent ones, and
   * ignore a failed one: signals are hints).
   */
  signals(): Partial<Record<SignalName, (args: Json) => Promise<void>>>;
}

/** How a sign-in asks: autofill (`conditional`), or only if a passkey is at hand (`immediate`). */
export type Mediation = "conditional" | "immediate";

/** The Signal API's three calls. */
export type SignalName = "signalUnknownCredential" | "signalAllAcceptedCredentials" | "signalCurrentUserDetails";

export interface PasskeyClientOptions {
  /** rp-server's base URL, e.g. https://passkeys.example.com */
  rpUrl: string;
  cognito: CognitoAdapter;
  /** The authenticator: `browserCeremonies()`, `reactNativeCeremonies(Passkey)`, or your own. */
  ceremonies: CeremonyAdapter;
}

/** A WebAuthn hint: steer the user to a security key, this device, or a phone. */
export type Hint = "security-key" | "client-device" | "hybrid";

export interface SignInOptions {
  /** Offer passkeys in the username field's autofill instead of a prompt. */
  conditional?: boolean;
  /**
   * Show the passkey sheet only if this device has a passkey at hand; otherwise fail at
   * once with `cancelled` and no sheet, so the app can offer another way (iOS's and
   * Android's "prefer immediately available credentials"; browsers with immediate
   * mediation; an ordinary prompt elsewhere). Passkey-first sign-in only.
   */
  immediate?: boolean;
  /** Cognito first, restricted to this user's passkeys. */
  username?: string;
  /** Hints for a passkey-first sign-in (e.g. `["hybrid"]` for "use a phone"). */
  hints?: Hint[];
}

export interface SignInResult {
  username: string;
  tokens: CognitoTokens;
}

/** What an emailed code is for. */
export type EmailPurpose = "sign_in" | "sign_up";

/** When a sent code dies, and when another may be asked for. */
export interface CodeSent {
  /** The request the code answers; the client keeps it and sends it with the code. */
  codeRequestId: string;
  expiresAt: string;
  resendAfter: string;
}

/** One of the user's own audit events (`GET /v1/activity`): their sign-ins and security events. */
export interface ActivityEvent {
  occurredAt: string;
  /** e.g. `authentication.succeeded`, `credential.registered`, `credential.revoked`. */
  action: string;
  credentialId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** Done by an administrator. */
  byAdmin: boolean;
}

/** A new set of recovery codes, shown once. */
export interface RecoveryCodes {
  codes: string[];
  createdAt: string;
}

/** What is left of a user's recovery codes. */
export interface RecoveryCodesStatus {
  remaining: number;
  createdAt: string | null;
}

/** What a link from a code message completes (see `completeEmailLink`). */
export type EmailLinkResult =
  | { purpose: "sign_in"; result: SignInResult }
  | { purpose: "sign_up"; email: string; signupToken: string };

/** Where a link opened in another tab hands its code to the tab that asked. */
const LINK_CHANNEL = "cognito-passkeys-email-link";

/** The part of `BroadcastChannel` used here (browsers have it; React Native may not). */
interface Channel {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
}

/** A channel to this site's other tabs, or `null` where the platform has none. */
function linkChannel(): Channel | null {
  const Ctor = (globalThis as { BroadcastChannel?: new (name: string) => Channel }).BroadcastChannel;
  return typeof Ctor === "function" ? new Ctor(LINK_CHANNEL) : null;
}

/** The client: every flow, over the given ceremony and Cognito adapters. */
export function createPasskeyClient(options: PasskeyClientOptions) {
  const rp = options.rpUrl.replace(/\/+$/, "");
  let conditional: AbortController | null = null;
  // The code requests this page made, by purpose and address: a code verifies only with
  // its request, kept for the page's lifetime and never put in a link or in storage.
  const codeRequests = new Map<string, string>();
  const requestKey = (purpose: EmailPurpose, email: string) => `${purpose}:${email.trim().toLowerCase()}`;
  function codeRequestFor(purpose: EmailPurpose, email: string): string {
    const id = codeRequests.get(requestKey(purpose, email));
    if (!id) throw new PasskeyError("other_device", "Enter this code on the device where you asked for it.");
    return id;
  }

  async function call(method: string, path: string, body?: Json, bearer?: string): Promise<any> {
    let res: Response;
    try {
      res = await fetch(rp + path, {
        method,
        headers: { ...(body ? { "content-type": "application/json" } : {}), ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (e) {
      throw new PasskeyError("network", "Could not reach the passkey server.", String(e));
    }
    if (res.status === 204) return null;
    const data = await res.json().catch(() => ({}));
    if (res.ok) return data;
    const code: string = data?.error?.code ?? `HTTP_${res.status}`;
    const message: string = data?.error?.message ?? `The passkey server answered ${res.status}.`;
    const kind: PasskeyErrorCode =
      res.status === 401 && code === "REAUTH_REQUIRED" ? "reauth_required"
      : res.status === 401 ? "unauthenticated"
      : res.status === 409 ? "conflict"
      : res.status === 410 ? "expired"
      : res.status === 422 ? "rejected"
      : res.status === 429 ? "rate_limited"
      : "server";
    throw new PasskeyError(kind, message, code, data?.error?.details);
  }

  const ceremonies = options.ceremonies;

  /** Tells rp-server how many Cognito passkeys the user has left (statistics; best effort). */
  async function reportCognitoPasskeys(accessToken: string, count: number): Promise<void> {
    await call("PUT", "/v1/cognito-passkeys", { count: Math.min(count, 20) }, accessToken).catch(() => undefined);
  }

  // --- Signal API: tell the password manager what the server knows ---------------------
  // Feature-detected, best effort: a platform without it, or one that refuses, changes
  // nothing for the flow that called it.

  async function signal(name: SignalName, args: Json): Promise<void> {
    const fn = ceremonies.signals()[name];
    if (!fn) return;
    try {
      await fn(args);
    } catch {
      /* ignored: signals are hints */
    }
  }

  /** A refused passkey (deleted, revoked, or unknown here): the manager stops offering it. */
  async function signalRefused(e: unknown): Promise<void> {
    if (!(e instanceof PasskeyError)) return;
    if (e.detail !== "UNKNOWN_CREDENTIAL" && e.detail !== "CREDENTIAL_REVOKED") return;
    const { credentialId, rpId } = e.details ?? {};
    if (credentialId && rpId) await signal("signalUnknownCredential", { rpId, credentialId });
  }

  /** The passkeys the server still accepts for this user; the manager hides the rest. */
  async function signalAccepted(accessToken: string): Promise<void> {
    if (!ceremonies.signals().signalAllAcceptedCredentials) return;
    const list = await call("GET", "/v1/credentials", undefined, accessToken).catch(() => null);
    if (!list?.userId) return;
    await signal("signalAllAcceptedCredentials", {
      rpId: list.rpId,
      userId: list.userId,
      allAcceptedCredentialIds: list.credentials.map((c: CredentialSummary) => c.id),
    });
  }

  /** Any failure of an adapter that is not already a PasskeyError becomes one. */
  async function ceremony<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      if (e instanceof PasskeyError) throw e;
      throw new PasskeyError("platform", (e as any)?.message ?? String(e), (e as any)?.name);
    }
  }
  const get = (publicKey: Json, mediation?: Mediation, signal?: AbortSignal) =>
    ceremony(() => ceremonies.get(publicKey, { mediation, signal }));
  const create = (publicKey: Json) => ceremony(() => ceremonies.create(publicKey));

  async function finishWithCognito(username: string, nonce: string, started?: Record<string, string>): Promise<SignInResult> {
    try {
      if (!started) await options.cognito.startCustomAuth(username);
      return { username, tokens: await options.cognito.answer(nonce) };
    } catch (e) {
      if (e instanceof PasskeyError) throw e;
      throw new PasskeyError("cognito", (e as any)?.message ?? "Cognito refused the sign-in.", (e as any)?.name);
    }
  }

  /** The passkey sign-in itself (`signInWithPasskey` adds the Signal API calls). */
  async function passkeySignIn(opts: SignInOptions): Promise<SignInResult> {
    if (opts.username) {
      let params: Record<string, string>;
      try {
        params = await options.cognito.startCustomAuth(opts.username);
      } catch (e) {
        throw new PasskeyError("cognito", (e as any)?.message ?? "Cognito refused the sign-in.", (e as any)?.name);
      }
      const assertion = await get(JSON.parse(params.publicKey));
      const { nonce } = await call("POST", "/v1/authentication/verify", { ceremonyId: params.ceremonyId, credential: assertion });
      return finishWithCognito(params.USERNAME ?? opts.username, nonce, params);
    }
    conditional?.abort();
    const controller = opts.conditional ? new AbortController() : null;
    conditional = controller;
    const { ceremonyId, publicKey } = await call("POST", "/v1/authentication/options", opts.hints ? { hints: opts.hints } : {});
    const mediation = opts.conditional ? "conditional" : opts.immediate ? "immediate" : undefined;
    const assertion = await get(publicKey, mediation, controller?.signal);
    if (conditional === controller) conditional = null;
    const { nonce, username } = await call("POST", "/v1/authentication/verify", { ceremonyId, credential: assertion });
    return finishWithCognito(username, nonce);
  }

  return {
    /**
     * What this browser or device can do (`getClientCapabilities()`'s names, e.g.
     * `conditionalGet`, `conditionalCreate`, `hybridTransport`,
     * `passkeyPlatformAuthenticator`, `signalUnknownCredential`). Decide from it whether
     * to start autofill, offer a silent upgrade, or show "use a phone".
     */
    async capabilities(): Promise<Record<string, boolean>> {
      return ceremonies.capabilities().catch(() => ({}));
    },

    /** Whether the browser can offer passkeys in the username field's autofill. */
    async conditionalMediationAvailable(): Promise<boolean> {
      return Boolean((await this.capabilities()).conditionalGet);
    },

    /**
     * Signs in with a passkey. Without `username`: passkey first (one prompt; with
     * `conditional: true` the prompt is the autofill of an `autocomplete="username webauthn"`
     * field; with `immediate: true` there is no prompt at all unless a passkey is at hand).
     * With `username`: Cognito first, restricted to that user's passkeys.
     */
    async signInWithPasskey(opts: SignInOptions = {}): Promise<SignInResult> {
      try {
        const result = await passkeySignIn(opts);
        void signalAccepted(result.tokens.accessToken);
        return result;
      } catch (e) {
        await signalRefused(e);
        throw e;
      }
    },

    /** Aborts a pending conditional (autofill) request, e.g. before a modal sign-in. */
    abortConditional(): void {
      conditional?.abort();
      conditional = null;
    },

    /** Adds a passkey for a signed-in user (or with an admin-issued enrolment token). */
    async registerPasskey(opts: { accessToken: string; nickname?: string; hints?: Hint[] }): Promise<CredentialSummary> {
      const { ceremonyId, publicKey } = await call("POST", "/v1/registration/options", { nickname: opts.nickname, hints: opts.hints }, opts.accessToken);
      const credential = await create(publicKey);
      return call("POST", "/v1/registration/verify", { ceremonyId, credential, nickname: opts.nickname }, opts.accessToken);
    },

    /**
     * Emails a one-time code. The answer is the same whether or not the address has an
     * account (no enumeration); `rate_limited` when asked again too soon.
     */
    async sendEmailCode(opts: { email: string; purpose: EmailPurpose }): Promise<CodeSent> {
      const sent: CodeSent = await call("POST", "/v1/email/codes", { email: opts.email, purpose: opts.purpose });
      codeRequests.set(requestKey(opts.purpose, opts.email), sent.codeRequestId);
      return sent;
    },

    /**
     * Proves the address before sign-up: a right code answers the `signupToken` that
     * `signUpWithPasskey` takes. A wrong code is `rejected` (`CODE_INVALID`); an expired,
     * used or exhausted one `expired` (`CODE_EXPIRED`); after too many wrong codes for the
     * address, `rate_limited` with detail `CODE_LOCKED`. Only on the page that asked for
     * the code (`other_device` elsewhere).
     */
    async verifySignUpEmail(opts: { email: string; code: string }): Promise<{ signupToken: string; expiresAt: string }> {
      const codeRequestId = codeRequestFor("sign_up", opts.email);
      return call("POST", "/v1/email/verify", { email: opts.email, code: opts.code, purpose: "sign_up", codeRequestId });
    },

    /** Signs in with an emailed code (when the server allows it), then with Cognito as for a passkey. */
    async signInWithEmailCode(opts: { email: string; code: string }): Promise<SignInResult> {
      const codeRequestId = codeRequestFor("sign_in", opts.email);
      const { nonce, username } = await call("POST", "/v1/email/verify", { email: opts.email, code: opts.code, purpose: "sign_in", codeRequestId });
      const result = await finishWithCognito(username, nonce);
      void signalAccepted(result.tokens.accessToken);
      return result;
    },

    /**
     * Completes the link of a code message on the page that asked for the code: its
     * fragment (`#code=…&purpose=…&email=…`, never sent to a server) signs in, or proves
     * the address for sign-up. Opened in another tab of the same site (a mail client's
     * link), it hands the code to the tab that asked (see `onEmailLink`) and throws
     * `other_device`; on another device it only throws `other_device`: the code is to be
     * entered where it was asked for. `null` when `hash` is not such a link.
     */
    async completeEmailLink(hash: string): Promise<EmailLinkResult | null> {
      const f = new URLSearchParams(hash.replace(/^#/, ""));
      const code = f.get("code");
      const email = f.get("email");
      const purpose = f.get("purpose");
      if (!code || !email || (purpose !== "sign_in" && purpose !== "sign_up")) return null;
      if (!codeRequests.has(requestKey(purpose, email))) {
        const tabs = linkChannel();
        tabs?.postMessage({ purpose, email, code });
        tabs?.close();
        throw new PasskeyError("other_device", "Enter this code where you asked for it: in the tab that asked, which continues by itself if it is open, or on that device.");
      }
      return this.completeCode(purpose, email, code);
    },

    /**
     * Lets links opened in other tabs of this site finish here, where the code was asked
     * for (same-origin `BroadcastChannel`; a code this page did not ask for is ignored).
     * Returns a function that stops listening. Where there is no `BroadcastChannel`
     * (native apps), it does nothing.
     */
    onEmailLink(done: (result: EmailLinkResult) => void, failed?: (error: unknown) => void): () => void {
      const tabs = linkChannel();
      if (!tabs) return () => undefined;
      tabs.onmessage = (event) => {
        const { purpose, email, code } = (event.data ?? {}) as { purpose?: unknown; email?: unknown; code?: unknown };
        if ((purpose !== "sign_in" && purpose !== "sign_up") || typeof email !== "string" || typeof code !== "string") return;
        if (!codeRequests.has(requestKey(purpose, email))) return;
        this.completeCode(purpose, email, code).then(done, (e) => failed?.(e));
      };
      return () => tabs.close();
    },

    /** A code of this page's request, for its purpose. */
    async completeCode(purpose: EmailPurpose, email: string, code: string): Promise<EmailLinkResult> {
      if (purpose === "sign_in") return { purpose, result: await this.signInWithEmailCode({ email, code }) };
      const { signupToken } = await this.verifySignUpEmail({ email, code });
      return { purpose, email, signupToken };
    },

    /**
     * Makes ten one-time recovery codes for the signed-in user (show them once; a new set
     * voids the old). Needs a fresh sign-in that was not itself a code's
     * (`reauth_required` otherwise).
     */
    async createRecoveryCodes(accessToken: string): Promise<RecoveryCodes> {
      return call("POST", "/v1/recovery-codes", {}, accessToken);
    },

    /** How many of the signed-in user's recovery codes are left. */
    async recoveryCodesStatus(accessToken: string): Promise<RecoveryCodesStatus> {
      return call("GET", "/v1/recovery-codes", undefined, accessToken);
    },

    /**
     * Signs in with a recovery code (`username` may be the verified email), then with
     * Cognito as for a passkey. The session may add one passkey and nothing else. A wrong
     * code is `rejected` (`CODE_INVALID`), a used one `expired`; after too many,
     * `rate_limited` with detail `CODE_LOCKED`.
     */
    async signInWithRecoveryCode(opts: { username: string; code: string }): Promise<SignInResult> {
      const { nonce, username } = await call("POST", "/v1/recovery/verify", { username: opts.username, code: opts.code });
      return finishWithCognito(username, nonce);
    },

    /**
     * A silent upgrade right after a password sign-in (conditional create): where the
     * browser supports it, its password manager adds a passkey without a prompt.
     * Resolves to the new passkey, or `null` when unsupported, declined or refused —
     * never an error, so it can follow any sign-in.
     */
    async upgradeToPasskey(accessToken: string): Promise<CredentialSummary | null> {
      if (!(await this.capabilities()).conditionalCreate) return null;
      try {
        const { ceremonyId, publicKey } = await call("POST", "/v1/registration/options", { mediation: "conditional" }, accessToken);
        const credential = await ceremonies.create(publicKey, { mediation: "conditional" });
        return await call("POST", "/v1/registration/verify", { ceremonyId, credential }, accessToken);
      } catch {
        return null;
      }
    },

    /**
     * Signs in with a passkey registered with Cognito itself (`USER_AUTH`, `WEB_AUTHN`),
     * for users who have not moved to rp-server's passkeys yet; follow it with
     * `migrateFromCognitoPasskeys`.
     */
    async signInWithCognitoPasskey(opts: { username: string }): Promise<SignInResult> {
      const native = options.cognito.nativePasskeys;
      if (!native) throw new PasskeyError("unsupported", "This Cognito adapter cannot sign in with Cognito's own passkeys.");
      const tokens = await native.signIn(opts.username, (request) => ceremony(() => ceremonies.get(request)));
      return { username: opts.username, tokens };
    },

    /** Registers a passkey with Cognito itself (what users have before they move; for demos and tests). */
    async registerCognitoPasskey(accessToken: string): Promise<void> {
      const native = options.cognito.nativePasskeys;
      if (!native) throw new PasskeyError("unsupported", "This Cognito adapter cannot register Cognito's own passkeys.");
      await native.register(accessToken, (request) => ceremony(() => ceremonies.create(request)));
      await reportCognitoPasskeys(accessToken, (await native.list(accessToken)).length);
    },

    /**
     * Moves a signed-in user off Cognito's own passkeys (which cannot be exported): creates
     * one of ours — without a prompt where the browser can (conditional create), with a
     * normal prompt otherwise when `prompt` is set — and only once it is stored deletes the
     * user's Cognito passkeys with their access token, telling the password manager they
     * are gone (Signal API). `null` when the user has none, or none was created.
     */
    async migrateFromCognitoPasskeys(accessToken: string, opts: { prompt?: boolean; nickname?: string } = {}): Promise<Migrated | null> {
      const native = options.cognito.nativePasskeys;
      if (!native) return null;
      const old = await native.list(accessToken);
      if (old.length === 0) return null;
      await reportCognitoPasskeys(accessToken, old.length);
      let added: CredentialSummary | null = await this.upgradeToPasskey(accessToken);
      if (!added && opts.prompt) added = await this.registerPasskey({ accessToken, nickname: opts.nickname });
      if (!added) return null;
      // Only now that ours is stored: the Cognito passkeys go, and the password manager
      // is told so (the Signal API), so it offers ours.
      for (const c of old) {
        await native.remove(accessToken, c.credentialId);
        await signal("signalUnknownCredential", { rpId: c.relyingPartyId, credentialId: c.credentialId });
      }
      await reportCognitoPasskeys(accessToken, 0);
      return { added, removed: old.map((c) => c.credentialId) };
    },

    /**
     * Passkey-first sign-up: creates the Cognito user and signs them in. Servers that
     * verify addresses need the `signupToken` of `verifySignUpEmail`.
     */
    async signUpWithPasskey(opts: { email: string; signupToken?: string }): Promise<SignInResult> {
      const { ceremonyId, publicKey } = await call("POST", "/v1/signup/options", { email: opts.email, signupToken: opts.signupToken });
      const credential = await create(publicKey);
      const { nonce, username } = await call("POST", "/v1/signup/verify", { ceremonyId, credential });
      const result = await finishWithCognito(username, nonce);
      void signalAccepted(result.tokens.accessToken);
      return result;
    },

    async listPasskeys(accessToken: string): Promise<CredentialSummary[]> {
      return (await call("GET", "/v1/credentials", undefined, accessToken)).credentials;
    },

    /** The user's recent sign-ins and security events, newest first (`nextCursor` pages on). */
    async activity(accessToken: string, opts: { cursor?: string; limit?: number } = {}): Promise<{ events: ActivityEvent[]; nextCursor?: string }> {
      const query = [
        opts.cursor ? `cursor=${encodeURIComponent(opts.cursor)}` : "",
        opts.limit ? `limit=${opts.limit}` : "",
      ].filter(Boolean).join("&");
      return call("GET", `/v1/activity${query ? `?${query}` : ""}`, undefined, accessToken);
    },

    async renamePasskey(accessToken: string, id: string, nickname: string | null): Promise<CredentialSummary> {
      return call("PATCH", `/v1/credentials/${encodeURIComponent(id)}`, { nickname }, accessToken);
    },

    async deletePasskey(accessToken: string, id: string): Promise<void> {
      await call("DELETE", `/v1/credentials/${encodeURIComponent(id)}`, undefined, accessToken);
      await signalAccepted(accessToken);
    },

    /**
     * After the user's name or display name changed (e.g. a new email), tells the
     * password manager, so its passkey shows the new name.
     */
    async signalUserDetails(accessToken: string, name: string, displayName: string): Promise<void> {
      if (!ceremonies.signals().signalCurrentUserDetails) return;
      const list = await call("GET", "/v1/credentials", undefined, accessToken).catch(() => null);
      if (list?.userId) await signal("signalCurrentUserDetails", { rpId: list.rpId, userId: list.userId, name, displayName });
    },
  };
}

export type PasskeyClient = ReturnType<typeof createPasskeyClient>;

