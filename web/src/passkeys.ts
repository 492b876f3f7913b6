/**
 * Browser client of the self-hosted passkey relying party for Amazon Cognito.
 * Dependency-free: it talks to rp-server with `fetch`, to the authenticator with
 * `navigator.credentials`, and to Cognito through an adapter (Amplify JS v6, or
 * Cognito's JSON API directly).
 */

/** Cognito's custom-auth round trip, as the two adapters implement it. */
export interface CognitoAdapter {
  /** `InitiateAuth(CUSTOM_AUTH)`: returns the challenge parameters. */
  startCustomAuth(username: string): Promise<Record<string, string>>;
  /** `RespondToAuthChallenge(ANSWER)`: resolves to the tokens, or throws. */
  answer(nonce: string): Promise<CognitoTokens>;
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

/** What went wrong, as a stable code the UI can branch on. */
export type PasskeyErrorCode =
  | "cancelled" // the user dismissed the prompt, or no passkey was available (NotAllowedError)
  | "aborted" // the request was aborted by the app (e.g. a conditional request replaced)
  | "already_registered" // InvalidStateError: this authenticator already holds a passkey for the account
  | "unsupported" // no WebAuthn in this browser
  | "security" // SecurityError: wrong origin / RP ID for this page
  | "rejected" // rp-server refused the passkey (unknown, revoked, verification failed)
  | "expired" // the ceremony expired or was used; start again
  | "unauthenticated" // an access or enrolment token is missing or invalid
  | "reauth_required" // adding or deleting a passkey needs a recent sign-in: sign in again, then retry
  | "conflict" // e.g. the email is taken at sign-up
  | "rate_limited"
  | "cognito" // Cognito refused the answer or the sign-in
  | "network"
  | "server";

export class PasskeyError extends Error {
  constructor(
    readonly code: PasskeyErrorCode,
    message: string,
    /** rp-server's or Cognito's own error code, when there is one. */
    readonly detail?: string,
    /** rp-server's `error.details`, e.g. `{credentialId, rpId}` for a refused passkey. */
    readonly details?: Record<string, any>,
  ) {
    super(message);
    this.name = "PasskeyError";
  }
}

export interface PasskeyClientOptions {
  /** rp-server's base URL, e.g. https://passkeys.example.com */
  rpUrl: string;
  cognito: CognitoAdapter;
}

// --- base64url and the WebAuthn JSON forms ---------------------------------------------

function b64urlToBytes(s: string): ArrayBuffer {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

function bytesToB64url(buf: ArrayBuffer | ArrayBufferView): string {
  const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

type Json = Record<string, any>;
const PKC = (): any => (globalThis as any).PublicKeyCredential;

function creationOptions(json: Json): PublicKeyCredentialCreationOptions {
  if (typeof PKC()?.parseCreationOptionsFromJSON === "function") return PKC().parseCreationOptionsFromJSON(json);
  return {
    ...json,
    challenge: b64urlToBytes(json.challenge),
    user: { ...json.user, id: b64urlToBytes(json.user.id) },
    excludeCredentials: (json.excludeCredentials ?? []).map((c: Json) => ({ ...c, id: b64urlToBytes(c.id) })),
  } as PublicKeyCredentialCreationOptions;
}

function requestOptions(json: Json): PublicKeyCredentialRequestOptions {
  if (typeof PKC()?.parseRequestOptionsFromJSON === "function") return PKC().parseRequestOptionsFromJSON(json);
  return {
    ...json,
    challenge: b64urlToBytes(json.challenge),
    allowCredentials: (json.allowCredentials ?? []).map((c: Json) => ({ ...c, id: b64urlToBytes(c.id) })),
  } as PublicKeyCredentialRequestOptions;
}

function credentialJson(cred: any): Json {
  if (typeof cred.toJSON === "function") return cred.toJSON();
  const r = cred.response;
  const response: Json = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = bytesToB64url(r.attestationObject);
    response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
  } else {
    response.authenticatorData = bytesToB64url(r.authenticatorData);
    response.signature = bytesToB64url(r.signature);
    response.userHandle = r.userHandle ? bytesToB64url(r.userHandle) : null;
  }
  return {
    id: cred.id,
    rawId: bytesToB64url(cred.rawId),
    type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment ?? null,
    response,
    clientExtensionResults: cred.getClientExtensionResults?.() ?? {},
  };
}

function webauthnError(e: unknown): PasskeyError {
  const name = (e as any)?.name;
  const message = (e as any)?.message ?? String(e);
  switch (name) {
    case "NotAllowedError":
      return new PasskeyError("cancelled", "The passkey prompt was dismissed or timed out, or no passkey was available.", name);
    case "AbortError":
      return new PasskeyError("aborted", "The passkey request was cancelled.", name);
    case "InvalidStateError":
      return new PasskeyError("already_registered", "This device already has a passkey for this account.", name);
    case "SecurityError":
      return new PasskeyError("security", "Passkeys are not allowed on this page (origin or relying party mismatch).", name);
    case "NotSupportedError":
      return new PasskeyError("unsupported", "This authenticator does not support the requested passkey.", name);
    default:
      return new PasskeyError("server", message, name);
  }
}

// --- the client ----------------------------------------------------------------------------

/** A WebAuthn hint: steer the user to a security key, this device, or a phone. */
export type Hint = "security-key" | "client-device" | "hybrid";

export interface SignInOptions {
  /** Offer passkeys in the username field's autofill instead of a prompt. */
  conditional?: boolean;
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
  expiresAt: string;
  resendAfter: string;
}

/** What a link from a code message completes (see `completeEmailLink`). */
export type EmailLinkResult =
  | { purpose: "sign_in"; result: SignInResult }
  | { purpose: "sign_up"; email: string; signupToken: string };

export function createPasskeyClient(options: PasskeyClientOptions) {
  const rp = options.rpUrl.replace(/\/+$/, "");
  let conditional: AbortController | null = null;

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

  // --- Signal API: tell the password manager what the server knows ---------------------
  // Feature-detected, best effort: a browser without it, or one that refuses, changes
  // nothing for the flow that called it.

  async function signal(name: string, args: Json): Promise<void> {
    const fn = PKC()?.[name];
    if (typeof fn !== "function") return;
    try {
      await fn.call(PKC(), args);
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
    if (typeof PKC()?.signalAllAcceptedCredentials !== "function") return;
    const list = await call("GET", "/v1/credentials", undefined, accessToken).catch(() => null);
    if (!list?.userId) return;
    await signal("signalAllAcceptedCredentials", {
      rpId: list.rpId,
      userId: list.userId,
      allAcceptedCredentialIds: list.credentials.map((c: CredentialSummary) => c.id),
    });
  }

  function ensureWebAuthn() {
    if (!PKC() || !navigator.credentials) throw new PasskeyError("unsupported", "This browser does not support passkeys.");
  }

  async function get(publicKey: Json, mediation?: "conditional", signal?: AbortSignal): Promise<Json> {
    ensureWebAuthn();
    try {
      const cred = await navigator.credentials.get({ publicKey: requestOptions(publicKey), mediation, signal } as CredentialRequestOptions);
      if (!cred) throw new PasskeyError("cancelled", "No passkey was chosen.");
      return credentialJson(cred);
    } catch (e) {
      throw e instanceof PasskeyError ? e : webauthnError(e);
    }
  }

  async function create(publicKey: Json): Promise<Json> {
    ensureWebAuthn();
    try {
      const cred = await navigator.credentials.create({ publicKey: creationOptions(publicKey) });
      if (!cred) throw new PasskeyError("cancelled", "No passkey was created.");
      return credentialJson(cred);
    } catch (e) {
      throw e instanceof PasskeyError ? e : webauthnError(e);
    }
  }

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
    const assertion = await get(publicKey, opts.conditional ? "conditional" : undefined, controller?.signal);
    if (conditional === controller) conditional = null;
    const { nonce, username } = await call("POST", "/v1/authentication/verify", { ceremonyId, credential: assertion });
    return finishWithCognito(username, nonce);
  }

  return {
    /**
     * What this browser can do (`PublicKeyCredential.getClientCapabilities()` where it
     * exists, e.g. `conditionalGet`, `conditionalCreate`, `hybridTransport`,
     * `passkeyPlatformAuthenticator`, `signalUnknownCredential`; otherwise what the older
     * feature checks tell). Decide from it whether to start autofill, offer a silent
     * upgrade, or show "use a phone".
     */
    async capabilities(): Promise<Record<string, boolean>> {
      const pk = PKC();
      if (!pk) return {};
      if (typeof pk.getClientCapabilities === "function") {
        try {
          return await pk.getClientCapabilities();
        } catch {
          /* fall back to the older checks */
        }
      }
      return {
        conditionalGet: Boolean(await pk.isConditionalMediationAvailable?.().catch(() => false)),
        passkeyPlatformAuthenticator: Boolean(await pk.isUserVerifyingPlatformAuthenticatorAvailable?.().catch(() => false)),
      };
    },

    /** Whether the browser can offer passkeys in the username field's autofill. */
    async conditionalMediationAvailable(): Promise<boolean> {
      return Boolean((await this.capabilities()).conditionalGet);
    },

    /**
     * Signs in with a passkey. Without `username`: passkey first (one prompt; with
     * `conditional: true` the prompt is the autofill of an `autocomplete="username webauthn"`
     * field). With `username`: Cognito first, restricted to that user's passkeys.
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
      return call("POST", "/v1/email/codes", { email: opts.email, purpose: opts.purpose });
    },

    /**
     * Proves the address before sign-up: a right code answers the `signupToken` that
     * `signUpWithPasskey` takes. A wrong code is `rejected` (`CODE_INVALID`); an expired,
     * used or exhausted one `expired` (`CODE_EXPIRED`).
     */
    async verifySignUpEmail(opts: { email: string; code: string }): Promise<{ signupToken: string; expiresAt: string }> {
      return call("POST", "/v1/email/verify", { email: opts.email, code: opts.code, purpose: "sign_up" });
    },

    /** Signs in with an emailed code (when the server allows it), then with Cognito as for a passkey. */
    async signInWithEmailCode(opts: { email: string; code: string }): Promise<SignInResult> {
      const { nonce, username } = await call("POST", "/v1/email/verify", { email: opts.email, code: opts.code, purpose: "sign_in" });
      const result = await finishWithCognito(username, nonce);
      void signalAccepted(result.tokens.accessToken);
      return result;
    },

    /**
     * Completes the link of a code message on the device that opened it: its fragment
     * (`#code=…&purpose=…&email=…`, never sent to a server) signs in, or proves the
     * address for sign-up. `null` when `hash` is not such a link.
     */
    async completeEmailLink(hash: string): Promise<EmailLinkResult | null> {
      const f = new URLSearchParams(hash.replace(/^#/, ""));
      const code = f.get("code");
      const email = f.get("email");
      const purpose = f.get("purpose");
      if (!code || !email || (purpose !== "sign_in" && purpose !== "sign_up")) return null;
      if (purpose === "sign_in") return { purpose, result: await this.signInWithEmailCode({ email, code }) };
      const { signupToken } = await this.verifySignUpEmail({ email, code });
      return { purpose, email, signupToken };
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
        const cred = await navigator.credentials.create({ publicKey: creationOptions(publicKey), mediation: "conditional" } as any);
        if (!cred) return null;
        return await call("POST", "/v1/registration/verify", { ceremonyId, credential: credentialJson(cred) }, accessToken);
      } catch {
        return null;
      }
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
      if (typeof PKC()?.signalCurrentUserDetails !== "function") return;
      const list = await call("GET", "/v1/credentials", undefined, accessToken).catch(() => null);
      if (list?.userId) await signal("signalCurrentUserDetails", { rpId: list.rpId, userId: list.userId, name, displayName });
    },
  };
}

export type PasskeyClient = ReturnType<typeof createPasskeyClient>;

// --- Cognito adapters ---------------------------------------------------------------------

/**
 * Cognito's JSON API called directly with `fetch` (no SDK). `endpoint` defaults to
 * `https://cognito-idp.<region>.amazonaws.com/`.
 */
export function directCognito(opts: { clientId: string; region?: string; endpoint?: string }): CognitoAdapter {
  const endpoint = opts.endpoint ?? `https://cognito-idp.${opts.region}.amazonaws.com/`;
  let session: { value: string; username: string } | null = null;
  async function op(target: string, body: Json): Promise<Json> {
    const res = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": `AWSCognitoIdentityProviderService.${target}` },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const type = String(data.__type ?? res.headers.get("x-amzn-errortype") ?? "CognitoError").split(/[#:]/).filter(Boolean).pop();
      throw new PasskeyError("cognito", data.message ?? "Cognito refused the request.", type);
    }
    return data;
  }
  return {
    async startCustomAuth(username) {
      const r = await op("InitiateAuth", { ClientId: opts.clientId, AuthFlow: "CUSTOM_AUTH", AuthParameters: { USERNAME: username } });
      session = { value: r.Session, username: r.ChallengeParameters?.USERNAME ?? username };
      return r.ChallengeParameters ?? {};
    },
    async answer(nonce) {
      if (!session) throw new PasskeyError("cognito", "No sign-in is in progress.");
      const r = await op("RespondToAuthChallenge", {
        ClientId: opts.clientId,
        ChallengeName: "CUSTOM_CHALLENGE",
        Session: session.value,
        ChallengeResponses: { USERNAME: session.username, ANSWER: nonce },
      });
      if (!r.AuthenticationResult) {
        session = { value: r.Session, username: session.username };
        throw new PasskeyError("cognito", "Cognito did not accept the passkey answer.", "CUSTOM_CHALLENGE");
      }
      session = null;
      const a = r.AuthenticationResult;
      return { idToken: a.IdToken, accessToken: a.AccessToken, refreshToken: a.RefreshToken };
    },
  };
}

/**
 * Amplify JS v6: pass its `signIn`, `confirmSignIn` and `fetchAuthSession` (from
 * `aws-amplify/auth`), so this module stays dependency-free.
 */
export function amplifyCognito(amplify: {
  signIn(input: any): Promise<any>;
  confirmSignIn(input: any): Promise<any>;
  fetchAuthSession(options?: any): Promise<any>;
}): CognitoAdapter {
  return {
    async startCustomAuth(username) {
      const { nextStep } = await amplify.signIn({ username, options: { authFlowType: "CUSTOM_WITHOUT_SRP" } });
      if (nextStep?.signInStep !== "CONFIRM_SIGN_IN_WITH_CUSTOM_CHALLENGE") {
        throw new PasskeyError("cognito", `Unexpected sign-in step ${nextStep?.signInStep}.`);
      }
      return nextStep.additionalInfo ?? {};
    },
    async answer(nonce) {
      const { isSignedIn, nextStep } = await amplify.confirmSignIn({ challengeResponse: nonce });
      if (!isSignedIn) throw new PasskeyError("cognito", "Cognito did not accept the passkey answer.", nextStep?.signInStep);
      const { tokens } = await amplify.fetchAuthSession();
      return { idToken: tokens?.idToken?.toString() ?? "", accessToken: tokens?.accessToken?.toString() ?? "" };
    },
  };
}
