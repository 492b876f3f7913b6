// The browser client: the platform-neutral core with the browser's ceremony adapter
// (`navigator.credentials`) as the default. Dependency-free: it talks to rp-server with
// `fetch` and to Cognito through an adapter (Amplify JS v6, or Cognito's JSON API).
import { browserCeremonies } from "./browser";
import { createPasskeyClient as createClient, type PasskeyClientOptions } from "./client";

export * from "./core";
export { browserCeremonies } from "./browser";
export { mountAccountPage, type AccountPage, type AccountPageOptions } from "./account";

/** The client with the browser's passkeys, unless `ceremonies` says otherwise. */
export function createPasskeyClient(options: Omit<PasskeyClientOptions, "ceremonies"> & Partial<Pick<PasskeyClientOptions, "ceremonies">>) {
  return createClient({ ...options, ceremonies: options.ceremonies ?? browserCeremonies() });
}
