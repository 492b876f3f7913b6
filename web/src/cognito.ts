// The Cognito side of a sign-in: `InitiateAuth(CUSTOM_AUTH)` and the answer with
// rp-server's nonce, through Cognito's JSON API directly or through Amplify JS v6.
// Platform-neutral (`fetch` only), like the client.

import type { CognitoAdapter, Json } from "./client";
import { PasskeyError } from "./errors";

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
