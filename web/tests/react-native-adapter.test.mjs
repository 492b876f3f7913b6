// The react-native-passkey ceremony adapter on its own (no stack): every error the
// library names maps to the client's code, hints steer iOS to the right sheet, and only
// what rp-server reads leaves the device. The flows themselves run end to end in
// native.test.mjs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { PasskeyError, reactNativeCeremonies } from "../dist/native.js";

const OPTIONS = { challenge: "Y2hhbGxlbmdl", rp: { id: "example.com", name: "Example" }, user: { id: "dXNlcg", name: "a@example.com", displayName: "a" } };
const RESULT = { id: "Y3JlZA", rawId: "Y3JlZA", response: { clientDataJSON: "e30", attestationObject: "oA" } };

/** A module whose every call answers `answer` (a result, or an error to throw). */
function module(answer, { supported = true } = {}) {
  const calls = [];
  const op = (name) => async (request) => {
    calls.push({ name, request });
    if (answer instanceof Error || answer?.error) throw answer;
    return answer;
  };
  return {
    calls,
    isSupported: () => supported,
    create: op("create"),
    get: op("get"),
    createPlatformKey: op("createPlatformKey"),
    getPlatformKey: op("getPlatformKey"),
    createSecurityKey: op("createSecurityKey"),
    getSecurityKey: op("getSecurityKey"),
  };
}

test("each native error maps to the client's code, keeping the native name", async () => {
  const expected = {
    UserCancelled: "cancelled",
    NoCredentials: "cancelled",
    TimedOut: "cancelled",
    Interrupted: "aborted",
    CredentialAlreadyExists: "already_registered",
    NotSupported: "unsupported",
    NoCreateOption: "unsupported",
    BadConfiguration: "security",
    NotConfigured: "security",
    RequestFailed: "security",
    "Unknown error": "platform",
    InvalidChallenge: "platform",
  };
  for (const [native, code] of Object.entries(expected)) {
    const ceremonies = reactNativeCeremonies(module({ error: native, message: "native words" }));
    for (const op of [() => ceremonies.create(OPTIONS), () => ceremonies.get({ challenge: "x", rpId: "example.com" })]) {
      await assert.rejects(op(), (e) => e instanceof PasskeyError && e.code === code && e.detail === native, `${native} → ${code}`);
    }
  }
});

test("an unsupported device is refused before the library is called", async () => {
  const m = module(RESULT, { supported: false });
  const ceremonies = reactNativeCeremonies(m);
  await assert.rejects(ceremonies.create(OPTIONS), (e) => e.code === "unsupported");
  assert.equal(m.calls.length, 0);
  assert.equal((await ceremonies.capabilities()).passkeyPlatformAuthenticator, false);
  assert.deepEqual(ceremonies.signals(), {});
});

test("apps have no conditional mediation, and say so in capabilities", async () => {
  const ceremonies = reactNativeCeremonies(module(RESULT));
  const caps = await ceremonies.capabilities();
  assert.equal(caps.conditionalGet, false);
  assert.equal(caps.immediateGet, false, "this module has no getImmediate");
  assert.equal(caps.conditionalCreate, false);
  await assert.rejects(ceremonies.create(OPTIONS, { mediation: "conditional" }), (e) => e.code === "unsupported");
  await assert.rejects(ceremonies.get({}, { mediation: "conditional" }), (e) => e.code === "unsupported");
});

test("an immediate sign-in uses getImmediate where the library has it, else get", async () => {
  const m = module(RESULT);
  await reactNativeCeremonies(m).get({ challenge: "x", rpId: "example.com" }, { mediation: "immediate" });
  const calls = [];
  const withImmediate = { ...module(RESULT), getImmediate: async (request) => (calls.push(request), RESULT) };
  const ceremonies = reactNativeCeremonies(withImmediate);
  assert.equal((await ceremonies.capabilities()).immediateGet, true);
  await ceremonies.get({ challenge: "x", rpId: "example.com" }, { mediation: "immediate" });
  assert.deepEqual([m.calls.map((c) => c.name), calls.length], [["get"], 1]);
});

test("a security-key or client-device hint picks iOS's matching sheet; none picks both", async () => {
  for (const [hints, create, get] of [
    [undefined, "create", "get"],
    [["hybrid"], "create", "get"],
    [["security-key"], "createSecurityKey", "getSecurityKey"],
    [["client-device"], "createPlatformKey", "getPlatformKey"],
  ]) {
    const m = module(RESULT);
    const ceremonies = reactNativeCeremonies(m);
    await ceremonies.create({ ...OPTIONS, hints });
    await ceremonies.get({ challenge: "x", rpId: "example.com", hints });
    assert.deepEqual(m.calls.map((c) => c.name), [create, get], String(hints));
    assert.equal(m.calls[0].request.challenge, OPTIONS.challenge);
  }
});

test("the response keeps what rp-server reads and drops binary extension results", async () => {
  const native = {
    id: "Y3JlZA",
    response: { clientDataJSON: "e30", attestationObject: "oA", transports: ["internal"] },
    clientExtensionResults: { credProps: { rk: true }, prf: { enabled: true, results: { first: new Uint8Array(32) } } },
  };
  const json = await reactNativeCeremonies(module(native)).create(OPTIONS);
  assert.deepEqual(json, {
    id: "Y3JlZA",
    rawId: "Y3JlZA",
    type: "public-key",
    authenticatorAttachment: null,
    response: native.response,
    clientExtensionResults: { credProps: { rk: true } },
  });
  await assert.rejects(reactNativeCeremonies(module({})).create(OPTIONS), (e) => e.code === "cancelled");
});
