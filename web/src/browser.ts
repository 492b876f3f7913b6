// The browser's ceremony adapter: `navigator.credentials` and `PublicKeyCredential`,
// converting between the WebAuthn JSON forms rp-server speaks and the browser's
// ArrayBuffers where the browser cannot (`parse*OptionsFromJSON`, `toJSON()`).

import type { CeremonyAdapter, Json, SignalName } from "./client";
import { PasskeyError } from "./errors";

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
      return new PasskeyError("platform", message, name);
  }
}

function ensureWebAuthn() {
  if (!PKC() || !(globalThis as any).navigator?.credentials) {
    throw new PasskeyError("unsupported", "This browser does not support passkeys.");
  }
}

async function run(op: () => Promise<Credential | null>, none: string): Promise<Json> {
  ensureWebAuthn();
  let cred: Credential | null;
  try {
    cred = await op();
  } catch (e) {
    throw webauthnError(e);
  }
  if (!cred) throw new PasskeyError("cancelled", none);
  return credentialJson(cred);
}

// getClientCapabilities() where it exists, otherwise what the older checks tell.
async function capabilities(): Promise<Record<string, boolean>> {
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
}

const SIGNALS: SignalName[] = ["signalUnknownCredential", "signalAllAcceptedCredentials", "signalCurrentUserDetails"];

/** Ceremonies with the browser's WebAuthn API (`navigator.credentials`). */
export function browserCeremonies(): CeremonyAdapter {
  return {
    create(options, opts = {}) {
      return run(
        () => navigator.credentials.create({ publicKey: creationOptions(options), mediation: opts.mediation } as CredentialCreationOptions),
        "No passkey was created.",
      );
    },

    async get(options, opts = {}) {
      let mediation = opts.mediation;
      // Immediate mediation is new (Chromium's `immediateGet`); elsewhere, a modal prompt.
      if (mediation === "immediate" && !(await capabilities()).immediateGet) mediation = undefined;
      return run(
        () => navigator.credentials.get({ publicKey: requestOptions(options), mediation, signal: opts.signal } as CredentialRequestOptions),
        "No passkey was chosen.",
      );
    },

    capabilities,

    // Looked up at each call: a page may install them (or a test wrap them) after load.
    signals() {
      const pk = PKC();
      const found: Partial<Record<SignalName, (args: Json) => Promise<void>>> = {};
      for (const name of SIGNALS) {
        if (typeof pk?.[name] === "function") found[name] = (args) => pk[name](args);
      }
      return found;
    },
  };
}
