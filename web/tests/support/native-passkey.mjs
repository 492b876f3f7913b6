// A software stand-in for `react-native-passkey`'s `Passkey` class on a phone: the same
// methods, taking and returning the same WebAuthn JSON, with what the platform puts in
// them and checks first.
//
// - Android (Credential Manager, Google Password Manager): the app's
//   `android:apk-key-hash:` origin and package name in clientDataJSON, GPM's AAGUID; the
//   RP ID's assetlinks.json must list the app; no passkey for the request is
//   `NoCredentials`.
// - iOS (ASAuthorization, iCloud Keychain): origin `https://<RP_ID>`, a zero AAGUID; the
//   RP ID's apple-app-site-association must list the app; with no passkey the sheet
//   still opens (to offer a phone or a key) and the user can only dismiss it:
//   `UserCancelled` — except for an immediate request, which fails with `NoCredentials`.
//
// Both make synced ES256 passkeys (BE and BS set, counter 0, "none" attestation); an app
// missing from the well-known file gets `RequestFailed` (Android's SecurityError, iOS's
// error 1004), excluded credentials refuse creation (`CredentialAlreadyExists`), and a
// dismissed sheet is `UserCancelled`. Errors are the library's `{error, message}`.

import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { encode } from "cborg";

const b64url = (buf) => Buffer.from(buf).toString("base64url");
const sha256 = (data) => createHash("sha256").update(data).digest();
const AAGUID = { android: Buffer.from("ea9b8d664d011d213ce4b6b48cb575d4", "hex"), ios: Buffer.alloc(16) };
// UP | UV | BE | BS (a synced passkey), and AT for a new credential.
const FLAGS = 0x01 | 0x04 | 0x08 | 0x10;
const AT = 0x40;

const refuse = (error, message) => Object.assign(new Error(message), { error, message });

/**
 * `platform`: "android" or "ios". `app`: Android `{ packageName, fingerprint }` (the
 * signing certificate's SHA-256, 32 bytes), iOS `{ appId }` (TEAMID.bundle.id).
 * `wellKnown(rpId, file)`: resolves to the RP ID's `/.well-known/<file>` (the platform
 * fetches `https://<rpId>/.well-known/…`); `null` skips the check, as a rooted phone or a
 * rogue provider could.
 */
export function nativePasskey({ platform, app, wellKnown }) {
  const android = platform === "android";
  const fingerprintHex = android ? [...app.fingerprint].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":") : null;
  const originOf = (rpId) => (android ? `android:apk-key-hash:${b64url(app.fingerprint)}` : `https://${rpId}`);
  const credentials = []; // { id, rpId, userHandle, privateKey }
  const signals = [];
  const calls = []; // the methods the app called, in order
  let dismissNext = false;

  async function checkAssociation(rpId) {
    if (!wellKnown) return;
    if (android) {
      const statements = await wellKnown(rpId, "assetlinks.json").catch(() => null);
      const listed = Array.isArray(statements) && statements.some((s) =>
        s.relation?.includes("delegate_permission/common.get_login_creds") &&
        s.target?.namespace === "android_app" &&
        s.target.package_name === app.packageName &&
        s.target.sha256_cert_fingerprints?.includes(fingerprintHex));
      if (!listed) throw refuse("RequestFailed", `${app.packageName} is not in ${rpId}'s assetlinks.json`);
    } else {
      const association = await wellKnown(rpId, "apple-app-site-association").catch(() => null);
      if (!association?.webcredentials?.apps?.includes(app.appId)) {
        throw refuse("RequestFailed", `Application with identifier ${app.appId} is not associated with domain ${rpId}`);
      }
    }
  }

  async function signAssertion(request, immediate) {
    await checkAssociation(request.rpId);
    const allowed = new Set((request.allowCredentials ?? []).map((c) => c.id));
    const usable = credentials.filter((c) => c.rpId === request.rpId && (allowed.size === 0 || allowed.has(c.id)));
    if (usable.length === 0) {
      if (android || immediate) throw refuse("NoCredentials", "No credentials available for login.");
      throw refuse("UserCancelled", "The user cancelled the request."); // iOS: only a sheet to dismiss
    }
    userPresent();
    const credential = usable[usable.length - 1];
    const authData = Buffer.concat([sha256(request.rpId), Buffer.from([FLAGS]), Buffer.alloc(4)]);
    const data = clientData("webauthn.get", request.challenge, request.rpId);
    const signature = sign("sha256", Buffer.concat([authData, sha256(data)]), credential.privateKey);
    return {
      id: credential.id,
      rawId: credential.id,
      type: "public-key",
      authenticatorAttachment: "platform",
      response: {
        clientDataJSON: b64url(data),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
    };
  }

  function clientData(type, challenge, rpId) {
    const data = { type, challenge, origin: originOf(rpId) };
    if (android) data.androidPackageName = app.packageName;
    return Buffer.from(JSON.stringify(data));
  }

  function userPresent() {
    if (dismissNext) {
      dismissNext = false;
      throw refuse("UserCancelled", "The user cancelled the request.");
    }
  }

  return {
    /** The origin this phone's ceremonies carry for an RP ID. */
    origin: originOf,
    credentials,
    /** Signal API calls received, in order. */
    signals,
    calls,
    /** The next prompt is dismissed by the user. */
    dismissNextPrompt() {
      dismissNext = true;
    },

    isSupported: () => true,

    async create(request) {
      calls.push("create");
      await checkAssociation(request.rp.id);
      if (!request.pubKeyCredParams?.some((p) => p.alg === -7)) throw refuse("NotSupported", "no supported algorithm");
      const excluded = new Set((request.excludeCredentials ?? []).map((c) => c.id));
      if (credentials.some((c) => c.rpId === request.rp.id && excluded.has(c.id))) {
        throw refuse("CredentialAlreadyExists", "A passkey for this account already exists on this device.");
      }
      userPresent();
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const jwk = publicKey.export({ format: "jwk" });
      const id = randomBytes(16);
      const coseKey = encode(new Map([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x, "base64url")], [-3, Buffer.from(jwk.y, "base64url")]]));
      const length = Buffer.alloc(2);
      length.writeUInt16BE(id.length);
      const authData = Buffer.concat([sha256(request.rp.id), Buffer.from([FLAGS | AT]), Buffer.alloc(4), AAGUID[platform], length, id, coseKey]);
      const attestationObject = encode(new Map([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]));
      credentials.push({ id: b64url(id), rpId: request.rp.id, userHandle: request.user.id, privateKey });
      return {
        id: b64url(id),
        rawId: b64url(id),
        type: "public-key",
        authenticatorAttachment: "platform",
        response: {
          clientDataJSON: b64url(clientData("webauthn.create", request.challenge, request.rp.id)),
          attestationObject: b64url(attestationObject),
          authenticatorData: b64url(authData),
          transports: ["internal", "hybrid"],
          publicKeyAlgorithm: -7,
          publicKey: b64url(createPublicKey(privateKey).export({ format: "der", type: "spki" })),
        },
        clientExtensionResults: { credProps: { rk: true } },
      };
    },

    get(request) {
      calls.push("get");
      return signAssertion(request, false);
    },

    // preferImmediatelyAvailableCredentials: with nothing at hand, NoCredentials and no
    // sheet on both platforms.
    getImmediate(request) {
      calls.push("getImmediate");
      return signAssertion(request, true);
    },

    async signalUnknownCredential(request) {
      signals.push({ name: "signalUnknownCredential", ...request });
    },

    async signalAllAcceptedCredentials(request) {
      signals.push({ name: "signalAllAcceptedCredentials", ...request });
    },
  };
}
