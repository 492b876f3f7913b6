// The platform-neutral client (browsers, Node.js, React Native): the flows, the Cognito
// adapters and the errors. Bring a ceremony adapter: `browserCeremonies()` (passkeys.ts),
// `reactNativeCeremonies(Passkey)` (native.ts), or your own.
export * from "./errors";
export * from "./client";
export * from "./cognito";
