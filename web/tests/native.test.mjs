// The platform-neutral client under Node.js, as a React Native app runs it: the built
// `dist/native.js` with its `react-native-passkey` ceremony adapter over a software
// passkey provider as Android and iOS behave (tests/support/native-passkey.mjs: the
// `android:apk-key-hash:` or `https://<RP_ID>` origin, the well-known file checks, the
// platforms' errors), against the real local stack (rp-server, the Cognito stand-in and
// the triggers, mail over SMTP on loopback). Every flow runs on both platforms, with the
// direct Cognito adapter and with Amplify JS v6, which runs under Node as in React Native.
//
// Needs what browser.test.mjs needs, without Chromium.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Amplify } from "aws-amplify";
import { confirmSignIn, fetchAuthSession, signIn, signOut } from "aws-amplify/auth";
import { amplifyCognito, createPasskeyClient, directCognito, PasskeyError, reactNativeCeremonies } from "../dist/native.js";
import { nativePasskey } from "./support/native-passkey.mjs";
import { codeOf, startStack } from "./support/stack.mjs";

const APPS = {
  android: { packageName: "com.example.passkeys", fingerprint: createHash("sha256").update("the app's signing certificate").digest() },
  ios: { appId: "ABCDE12345.com.example.passkeys" },
};
const IMPOSTORS = {
  android: { packageName: "com.example.impostor", fingerprint: createHash("sha256").update("another certificate").digest() },
  ios: { appId: "ZYXWV98765.com.example.impostor" },
};
const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");

let stack, config;

before(async () => {
  stack = await startStack({
    name: "native",
    args: ["--android-apps", `${APPS.android.packageName}:${hex(APPS.android.fingerprint)}`, "--apple-app-ids", APPS.ios.appId],
  });
  config = stack.config;
  assert.ok(config.mailbox, "the local stack needs its SMTP mailbox (python3 -m pip install aiosmtpd)");
  Amplify.configure({
    Auth: { Cognito: { userPoolId: config.userPoolId, userPoolClientId: config.clientId, userPoolEndpoint: config.cognitoEndpoint } },
  });
});

after(() => stack?.stop());

/** A phone with the app installed: a passkey provider and the client over it. */
function phone(platform, adapter, { app = APPS[platform], checkAssociation = true } = {}) {
  const passkey = nativePasskey({
    platform,
    app,
    // The platform reads https://<RP_ID>/.well-known/<file>; here rp-server serves the RP ID's site.
    wellKnown: checkAssociation ? async (_rpId, file) => (await fetch(`${config.rpUrl}/.well-known/${file}`)).json() : null,
  });
  const cognito =
    adapter === "amplify"
      ? amplifyCognito({ signIn, confirmSignIn, fetchAuthSession })
      : directCognito({ clientId: config.clientId, endpoint: config.cognitoEndpoint });
  const client = createPasskeyClient({ rpUrl: config.rpUrl, cognito, ceremonies: reactNativeCeremonies(passkey) });
  return { passkey, client };
}

/** Amplify keeps one signed-in user per app: sign out between the flows, as an app does. */
async function signedOut(adapter) {
  if (adapter === "amplify") await signOut();
}

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

function assertSignedIn(result, email) {
  assert.equal(claims(result.tokens.idToken).email, email);
  assert.equal(claims(result.tokens.accessToken).token_use, "access");
}

async function rejectsWith(promise, code, detail) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof PasskeyError, `a PasskeyError, not ${e}`);
    assert.equal(e.code, code, e.message);
    if (detail) assert.equal(e.detail, detail);
    return true;
  });
}

/** Verified sign-up on `device`: the emailed code, then a passkey. */
async function signUp(device, email) {
  await device.client.sendEmailCode({ email, purpose: "sign_up" });
  const { signupToken } = await device.client.verifySignUpEmail({ email, code: codeOf(await stack.mail(email)) });
  return device.client.signUpWithPasskey({ email, signupToken });
}

test("the well-known files list the apps, and the phones carry the origins rp-server derives", async () => {
  const aasa = await fetch(`${config.rpUrl}/.well-known/apple-app-site-association`);
  assert.equal(aasa.status, 200);
  assert.match(aasa.headers.get("content-type"), /^application\/json/);
  assert.deepEqual((await aasa.json()).webcredentials.apps, [APPS.ios.appId]);
  const links = await (await fetch(`${config.rpUrl}/.well-known/assetlinks.json`)).json();
  const { packageName, fingerprint } = APPS.android;
  assert.deepEqual(links[0].target, { namespace: "android_app", package_name: packageName, sha256_cert_fingerprints: [hex(fingerprint)] });
  assert.equal(phone("android", "direct").passkey.origin("localhost"), `android:apk-key-hash:${fingerprint.toString("base64url")}`);
  assert.equal(phone("ios", "direct").passkey.origin("localhost"), "https://localhost");
});

for (const [platform, adapter] of [["android", "direct"], ["android", "amplify"], ["ios", "direct"], ["ios", "amplify"]]) {
  const noPasskey = platform === "android" ? "NoCredentials" : "UserCancelled"; // iOS opens a sheet to dismiss
  test(`${platform}, ${adapter}: sign-up with an email code, then usernameless and username-first sign-in`, async () => {
    const email = `native-${platform}-${adapter}@example.com`;
    const device = phone(platform, adapter);
    const up = await signUp(device, email);
    assertSignedIn(up, email);
    const [created] = device.passkey.credentials;
    assert.deepEqual((await device.client.listPasskeys(up.tokens.accessToken)).map((c) => c.id), [created.id]);
    await signedOut(adapter);

    const usernameless = await device.client.signInWithPasskey();
    assertSignedIn(usernameless, email);
    assert.equal(usernameless.username, up.username);
    await signedOut(adapter);

    // "Only if a passkey is at hand" (the app's opening screen): the same sign-in.
    assertSignedIn(await device.client.signInWithPasskey({ immediate: true }), email);
    assert.equal(device.passkey.calls.at(-1), "getImmediate");
    await signedOut(adapter);

    const usernameFirst = await device.client.signInWithPasskey({ username: email });
    assertSignedIn(usernameFirst, email);
    await signedOut(adapter);

    // The provider hears which passkeys the server accepts (Signal API), after each sign-in.
    const accepted = device.passkey.signals.filter((s) => s.name === "signalAllAcceptedCredentials");
    assert.ok(accepted.length >= 1);
    assert.deepEqual(accepted.at(-1), { name: "signalAllAcceptedCredentials", rpId: "localhost", userId: created.userHandle, allAcceptedCredentialIds: [created.id] });
  });

  test(`${platform}, ${adapter}: a new phone has no passkey, signs in with an email code, adds its own with a recovery code`, async () => {
    const email = `native-new-phone-${platform}-${adapter}@example.com`;
    const first = phone(platform, adapter);
    const up = await signUp(first, email);
    const { codes } = await first.client.createRecoveryCodes(up.tokens.accessToken);
    assert.equal(codes.length, 10);
    await signedOut(adapter);

    // No passkey here: the same code as a browser's NotAllowedError, on either platform.
    const second = phone(platform, adapter);
    await rejectsWith(second.client.signInWithPasskey(), "cancelled", noPasskey);
    await rejectsWith(second.client.signInWithPasskey({ username: email }), "cancelled", noPasskey);
    await rejectsWith(second.client.signInWithPasskey({ immediate: true }), "cancelled", "NoCredentials");
    assert.deepEqual(second.passkey.calls, ["get", "get", "getImmediate"]);

    await second.client.sendEmailCode({ email, purpose: "sign_in" });
    const byCode = await second.client.signInWithEmailCode({ email, code: codeOf(await stack.mail(email, 2)) });
    assertSignedIn(byCode, email);
    // An emailed code proves the mailbox, not the account: it adds no passkey to an
    // account that has one.
    await rejectsWith(second.client.registerPasskey({ accessToken: byCode.tokens.accessToken, nickname: "Pixel" }), "reauth_required", "REAUTH_REQUIRED");
    await signedOut(adapter);

    // A recovery code (kept from the first phone) may add this phone's passkey.
    const recovered = await second.client.signInWithRecoveryCode({ username: email, code: codes[0] });
    assertSignedIn(recovered, email);
    const added = await second.client.registerPasskey({ accessToken: recovered.tokens.accessToken, nickname: "Pixel" });
    assert.equal(added.nickname, "Pixel");
    assert.equal(added.id, second.passkey.credentials[0].id);
    assert.equal((await second.client.listPasskeys(recovered.tokens.accessToken)).length, 2);
    await signedOut(adapter);

    // Registering the same phone again is refused by the provider (excludeCredentials).
    const again = await second.client.signInWithPasskey();
    assertSignedIn(again, email);
    await rejectsWith(second.client.registerPasskey({ accessToken: again.tokens.accessToken }), "already_registered", "CredentialAlreadyExists");
    await signedOut(adapter);
  });
}

test("a dismissed sheet is `cancelled`, and the next attempt works", async () => {
  const email = "native-dismissed@example.com";
  const device = phone("ios", "direct");
  await signUp(device, email);
  device.passkey.dismissNextPrompt();
  await rejectsWith(device.client.signInWithPasskey(), "cancelled", "UserCancelled");
  assertSignedIn(await device.client.signInWithPasskey(), email);
});

test("an Android app missing from assetlinks.json gets no passkey, and rp-server refuses its origin anyway", async () => {
  /** The sign-up an impostor app attempts, up to the passkey. */
  async function impostorSignUp(device, email) {
    await device.client.sendEmailCode({ email, purpose: "sign_up" });
    const { signupToken } = await device.client.verifySignUpEmail({ email, code: codeOf(await stack.mail(email)) });
    return device.client.signUpWithPasskey({ email, signupToken });
  }
  // Credential Manager checks the association first: the app cannot even ask.
  const impostor = phone("android", "direct", { app: IMPOSTORS.android });
  await rejectsWith(impostorSignUp(impostor, "native-impostor@example.com"), "security", "RequestFailed");
  assert.equal(impostor.passkey.credentials.length, 0);

  // A provider that skips the check (a rooted phone) still meets rp-server's origin list.
  const rogue = phone("android", "direct", { app: IMPOSTORS.android, checkAssociation: false });
  await rejectsWith(impostorSignUp(rogue, "native-rogue@example.com"), "rejected", "ORIGIN_NOT_ALLOWED");

  const victim = phone("android", "direct");
  await signUp(victim, "native-victim@example.com");
  rogue.passkey.credentials.push(...victim.passkey.credentials); // even with the victim's key
  await rejectsWith(rogue.client.signInWithPasskey(), "rejected", "ORIGIN_NOT_ALLOWED");
});

test("an iOS app missing from apple-app-site-association gets no passkey", async () => {
  const impostor = phone("ios", "direct", { app: IMPOSTORS.ios });
  await rejectsWith(impostor.client.signInWithPasskey(), "security", "RequestFailed");
  // Its origin would be the RP's own (https://<RP_ID>): only Apple's association check
  // stands between another team's app and the RP's passkeys, which is why the file lists
  // exactly RP_APPLE_APP_IDS.
});

test("a revoked passkey is signalled as unknown to the provider", async () => {
  const email = "native-revoked@example.com";
  const device = phone("android", "direct");
  await signUp(device, email);
  const [credential] = device.passkey.credentials;
  const res = await fetch(`${stack.adminUrl}/admin/v1/credentials/${credential.id}/revoke`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${stack.adminToken}` },
    body: JSON.stringify({ reason: "lost phone" }),
  });
  assert.equal(res.status, 200, await res.text());
  await rejectsWith(device.client.signInWithPasskey(), "rejected", "CREDENTIAL_REVOKED");
  assert.deepEqual(device.passkey.signals.at(-1), { name: "signalUnknownCredential", rpId: "localhost", credentialId: credential.id });
});
