// What can go wrong, the same on every platform: the browser and native ceremony
// adapters and the Cognito adapters all throw these.

/** What went wrong, as a stable code the UI can branch on. */
export type PasskeyErrorCode =
  | "cancelled" // the user dismissed the prompt, or no passkey was available (browser: NotAllowedError; native: UserCancelled, NoCredentials, TimedOut)
  | "aborted" // the request was aborted by the app or interrupted (e.g. a conditional request replaced)
  | "already_registered" // this authenticator already holds a passkey for the account (InvalidStateError, CredentialAlreadyExists)
  | "unsupported" // no passkeys on this browser or device
  | "security" // the page's origin or the app is not allowed to use the RP ID (SecurityError; an app missing from the well-known files)
  | "platform" // the passkey API failed for another reason (see `detail`)
  | "rejected" // rp-server refused the passkey (unknown, revoked, verification failed)
  | "expired" // the ceremony expired or was used; start again
  | "unauthenticated" // an access or enrolment token is missing or invalid
  | "reauth_required" // adding or deleting a passkey needs a recent sign-in: sign in again, then retry
  | "conflict" // e.g. the email is taken at sign-up
  | "rate_limited" // too many requests; `detail` `CODE_LOCKED`: too many wrong email codes for the address
  | "other_device" // an emailed link opened where the code was not asked for: enter the code on the device that asked
  | "cognito" // Cognito refused the answer or the sign-in
  | "network"
  | "server";

export class PasskeyError extends Error {
  constructor(
    readonly code: PasskeyErrorCode,
    message: string,
    /** rp-server's, Cognito's or the platform's own error code, when there is one. */
    readonly detail?: string,
    /** rp-server's `error.details`, e.g. `{credentialId, rpId}` for a refused passkey. */
    readonly details?: Record<string, any>,
  ) {
    super(message);
    this.name = "PasskeyError";
  }
}
