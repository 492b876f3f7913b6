// The React Native ceremony adapter: the `Passkey` class of `react-native-passkey`
// (ASAuthorization on iOS, Credential Manager on Android), which takes and returns the
// WebAuthn JSON forms rp-server speaks. Pass the class in, so this module imports
// nothing from React Native and runs (and is tested) anywhere:
//
//   import { Passkey } from "react-native-passkey";
//   const ceremonies = reactNativeCeremonies(Passkey);
//
// Needs react-native-passkey 3.4.0 or later: earlier iOS builds encode the user handle
// as UTF-8 text instead of base64url (3.3.3 fixed creation, 3.4.0 the assertion), which
// binds the passkey to the wrong user handle or garbles it at sign-in.

import type { CeremonyAdapter, Json, SignalName } from "./client";
import { PasskeyError, type PasskeyErrorCode } from "./errors";

/** What this adapter uses of `react-native-passkey`'s `Passkey` (3.4.0+). */
export interface NativePasskeyModule {
  create(request: Json): Promise<Json>;
  get(request: Json): Promise<Json>;
  /** Only a passkey at hand, else `NoCredentials` without a sheet (react-native-passkey 3.5+). */
  getImmediate?(request: Json): Promise<Json>;
  /** iOS: only the device's own passkeys (iCloud Keychain, a password manager). */
  createPlatformKey?(request: Json): Promise<Json>;
  getPlatformKey?(request: Json): Promise<Json>;
  /** iOS: only security keys. */
  createSecurityKey?(request: Json): Promise<Json>;
  getSecurityKey?(request: Json): Promise<Json>;
  isSupported(): boolean;
  /** The Signal API (react-native-passkey 3.6+; iOS 26+, recent Google Play services). */
  signalUnknownCredential?(request: { rpId: string; credentialId: string }): Promise<void>;
  signalAllAcceptedCredentials?(request: { rpId: string; userId: string; allAcceptedCredentialIds: string[] }): Promise<void>;
}

// react-native-passkey's error names (`{error, message}`, as its handleNativeError
// answers) → ours. A dismissed sheet is `UserCancelled` on both platforms; Android
// also says `NoCredentials` when the device holds no passkey for the RP, and iOS 16+
// does for an immediate request: both mean "offer another way", like the browser's
// NotAllowedError, so they share `cancelled` (the native name stays in `detail`).
const NATIVE_ERRORS: Record<string, [PasskeyErrorCode, string]> = {
  UserCancelled: ["cancelled", "The passkey prompt was dismissed."],
  NoCredentials: ["cancelled", "No passkey for this app is available on this device."],
  TimedOut: ["cancelled", "The passkey prompt timed out."],
  Interrupted: ["aborted", "The passkey request was interrupted; try again."],
  CredentialAlreadyExists: ["already_registered", "This device already has a passkey for this account."],
  NotSupported: ["unsupported", "This device does not support passkeys."],
  NoCreateOption: ["unsupported", "No passkey provider on this device can create a passkey."],
  BadConfiguration: ["security", "This app may not use the passkey server's domain: check the app's associated domain and the well-known files."],
  NotConfigured: ["security", "This app may not use the passkey server's domain: check the app's associated domain and the well-known files."],
  RequestFailed: ["security", "The platform refused the passkey request (often: the app is missing from the domain's well-known files)."],
};

function nativeError(e: unknown): PasskeyError {
  if (e instanceof PasskeyError) return e;
  const name: string | undefined = (e as any)?.error ?? (e as any)?.code;
  const message: string | undefined = (e as any)?.message;
  const known = name ? NATIVE_ERRORS[name] : undefined;
  if (known) return new PasskeyError(known[0], known[1], name);
  return new PasskeyError("platform", message ?? String(name ?? e), name);
}

/** iOS can be steered to the device's passkeys or to security keys, as a hint asks. */
function pick(
  module: NativePasskeyModule,
  hints: unknown,
  any: (r: Json) => Promise<Json>,
  platform?: (r: Json) => Promise<Json>,
  securityKey?: (r: Json) => Promise<Json>,
): (r: Json) => Promise<Json> {
  const first = Array.isArray(hints) ? hints[0] : undefined;
  if (first === "security-key" && securityKey) return securityKey.bind(module);
  if (first === "client-device" && platform) return platform.bind(module);
  return any.bind(module);
}

/**
 * Only what rp-server reads: the JSON forms, `type` filled in, and the one extension
 * result it asked for (`credProps`; native large-blob or PRF results are binary and
 * not sent).
 */
function responseJson(result: Json): Json {
  const extensions = result.clientExtensionResults ?? {};
  return {
    id: result.id,
    rawId: result.rawId ?? result.id,
    type: result.type ?? "public-key",
    authenticatorAttachment: result.authenticatorAttachment ?? null,
    response: result.response,
    clientExtensionResults: extensions.credProps ? { credProps: extensions.credProps } : {},
  };
}

/** Ceremonies with `react-native-passkey` (pass its `Passkey` class). */
export function reactNativeCeremonies(passkey: NativePasskeyModule): CeremonyAdapter {
  function supported() {
    if (!passkey.isSupported()) {
      throw new PasskeyError("unsupported", "This device does not support passkeys (iOS 15 or Android 9 and later).", "NotSupported");
    }
  }

  async function run(op: (request: Json) => Promise<Json>, request: Json): Promise<Json> {
    supported();
    let result: Json;
    try {
      result = await op(request);
    } catch (e) {
      throw nativeError(e);
    }
    if (!result?.id || !result.response) throw new PasskeyError("cancelled", "No passkey was returned.");
    return responseJson(result);
  }

  return {
    async create(options, opts = {}) {
      // Native APIs have no conditional create: the flows ask only where capabilities() says so.
      if (opts.mediation) throw new PasskeyError("unsupported", "Conditional creation is not available in apps.");
      return run(pick(passkey, options.hints, passkey.create, passkey.createPlatformKey, passkey.createSecurityKey), options);
    },

    async get(options, opts = {}) {
      if (opts.mediation === "conditional") throw new PasskeyError("unsupported", "Autofill (conditional) sign-in is not available in apps.");
      if (opts.mediation === "immediate" && passkey.getImmediate) return run(passkey.getImmediate.bind(passkey), options);
      return run(pick(passkey, options.hints, passkey.get, passkey.getPlatformKey, passkey.getSecurityKey), options);
    },

    async capabilities() {
      const on = passkey.isSupported();
      return {
        passkeyPlatformAuthenticator: on,
        userVerifyingPlatformAuthenticator: on,
        hybridTransport: on,
        conditionalGet: false,
        conditionalCreate: false,
        immediateGet: on && typeof passkey.getImmediate === "function",
        signalUnknownCredential: on && typeof passkey.signalUnknownCredential === "function",
        signalAllAcceptedCredentials: on && typeof passkey.signalAllAcceptedCredentials === "function",
        signalCurrentUserDetails: false,
      };
    },

    signals() {
      const found: Partial<Record<SignalName, (args: Json) => Promise<void>>> = {};
      if (!passkey.isSupported()) return found;
      if (passkey.signalUnknownCredential) {
        found.signalUnknownCredential = (a) => passkey.signalUnknownCredential!({ rpId: a.rpId, credentialId: a.credentialId });
      }
      if (passkey.signalAllAcceptedCredentials) {
        found.signalAllAcceptedCredentials = (a) =>
          passkey.signalAllAcceptedCredentials!({ rpId: a.rpId, userId: a.userId, allAcceptedCredentialIds: a.allAcceptedCredentialIds });
      }
      return found;
    },
  };
}
