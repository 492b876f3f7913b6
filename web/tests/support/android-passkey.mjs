// A software stand-in for `react-native-passkey`'s `Passkey` class on Android: the same
// methods, taking and returning the same WebAuthn JSON, with what Android's Credential
// Manager and Google Password Manager put in them — the app's `android:apk-key-hash:`
// origin and package name in clientDataJSON, a synced ES256 passkey (BE and BS set,
// counter 0, "none" attestation, GPM's AAGUID) — and its checks: the RP ID's
// assetlinks.json must list the app (else `RequestFailed`, as a SecurityError maps),
// excluded credentials refuse creation (`CredentialAlreadyExists`), no passkey for the
// request is `NoCredentials`, and a dismissed sheet is `UserCancelled`. Errors are the
// library's `{error, message}` objects.

import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { Encoder } from "cbor-x";

const cbor = new Encoder({ mapsAsObjects: false, useRecords: false, tagUint8Array: false });
const b64url = (buf) => Buffer.from(buf).toString("base64url");
const sha256 = (data) => createHash("sha256").update(data).digest();
const GPM_AAGUID = Buffer.from("ea9b8d664d011d213ce4b6b48cb575d4", "hex");
// UP | UV | BE | BS (a synced passkey), and AT for a new credential.
const FLAGS = 0x01 | 0x04 | 0x08 | 0x10;
const AT = 0x40;

const refuse = (error, message) => Object.assign(new Error(message), { error, message });

/**
 * `app`: `{ packageName, fingerprint }` (the signing certificate's SHA-256, 32 bytes).
 * `assetLinks(rpId)`: resolves to the RP ID's assetlinks.json (real Android fetches
 * `https://<rpId>/.well-known/assetlinks.json`); `null` skips the check, like a rooted
 * device or a malicious app would.
 */
export function androidPasskey({ app, assetLinks }) {
  const origin = `android:apk-key-hash:${b64url(app.fingerprint)}`;
  const fingerprintHex = [...app.fingerprint].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
  const credentials = []; // { id, rpId, userHandle, privateKey }
  const signals = [];
  const calls = []; // the methods the app called, in order
  let dismissNext = false;

  async function checkAssociation(rpId) {
    if (!assetLinks) return;
    const statements = await assetLinks(rpId).catch(() => null);
    const listed = Array.isArray(statements) && statements.some((s) =>
      s.relation?.includes("delegate_permission/common.get_login_creds") &&
      s.target?.namespace === "android_app" &&
      s.target.package_name === app.packageName &&
      s.target.sha256_cert_fingerprints?.includes(fingerprintHex));
    if (!listed) throw refuse("RequestFailed", `${app.packageName} is not in ${rpId}'s assetlinks.json`);
  }

  async function signAssertion(request) {
    await checkAssociation(request.rpId);
    const allowed = new Set((request.allowCredentials ?? []).map((c) => c.id));
    const usable = credentials.filter((c) => c.rpId === request.rpId && (allowed.size === 0 || allowed.has(c.id)));
    if (usable.length === 0) throw refuse("NoCredentials", "No credentials available for login.");
    userPresent();
    const credential = usable[usable.length - 1];
    const authData = Buffer.concat([sha256(request.rpId), Buffer.from([FLAGS]), Buffer.alloc(4)]);
    const data = clientData("webauthn.get", request.challenge);
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

  function clientData(type, challenge) {
    return Buffer.from(JSON.stringify({ type, challenge, origin, androidPackageName: app.packageName }));
  }

  function userPresent() {
    if (dismissNext) {
      dismissNext = false;
      throw refuse("UserCancelled", "The user cancelled the request.");
    }
  }

  return {
    origin,
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
      const coseKey = cbor.encode(new Map([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x, "base64url")], [-3, Buffer.from(jwk.y, "base64url")]]));
      const length = Buffer.alloc(2);
      length.writeUInt16BE(id.length);
      const authData = Buffer.concat([sha256(request.rp.id), Buffer.from([FLAGS | AT]), Buffer.alloc(4), GPM_AAGUID, length, id, coseKey]);
      const attestationObject = cbor.encode(new Map([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]));
      credentials.push({ id: b64url(id), rpId: request.rp.id, userHandle: request.user.id, privateKey });
      return {
        id: b64url(id),
        rawId: b64url(id),
        type: "public-key",
        authenticatorAttachment: "platform",
        response: {
          clientDataJSON: b64url(clientData("webauthn.create", request.challenge)),
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
      return signAssertion(request);
    },

    // preferImmediatelyAvailableCredentials: the same, and with nothing at hand Credential
    // Manager answers NoCredentials without showing a sheet (as get() does on Android).
    getImmediate(request) {
      calls.push("getImmediate");
      return signAssertion(request);
    },

    async signalUnknownCredential(request) {
      signals.push({ name: "signalUnknownCredential", ...request });
    },

    async signalAllAcceptedCredentials(request) {
      signals.push({ name: "signalAllAcceptedCredentials", ...request });
    },
  };
}
