// The Cognito side of a sign-in: `InitiateAuth(CUSTOM_AUTH)` and the answer with
// rp-server's nonce, through Cognito's JSON API directly or through Amplify JS v6.
// Platform-neutral (`fetch` only), like the client.

import type { CognitoAdapter, CognitoTokens, Json } from "./client";
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
  const tokensOf = (r: Json): CognitoTokens => {
    const a = r.AuthenticationResult;
    return { idToken: a.IdToken, accessToken: a.AccessToken, refreshToken: a.RefreshToken };
  };
  return {
    nativePasskeys: {
      async signIn(username, get) {
        const started = await op("InitiateAuth", {
          ClientId: opts.clientId,
          AuthFlow: "USER_AUTH",
          AuthParameters: { USERNAME: username, PREFERRED_CHALLENGE: "WEB_AUTHN" },
        });
        if (started.ChallengeName !== "WEB_AUTHN") {
          throw new PasskeyError("cancelled", "This account has no passkey registered with Cognito.", started.ChallengeName);
        }
        const credential = await get(JSON.parse(started.ChallengeParameters.CREDENTIAL_REQUEST_OPTIONS));
        const answered = await op("RespondToAuthChallenge", {
          ClientId: opts.clientId,
          ChallengeName: "WEB_AUTHN",
          Session: started.Session,
          ChallengeResponses: { USERNAME: started.ChallengeParameters.USERNAME ?? username, CREDENTIAL: JSON.stringify(credential) },
        });
        if (!answered.AuthenticationResult) throw new PasskeyError("cognito", "Cognito did not accept the passkey.", answered.ChallengeName);
        return tokensOf(answered);
      },
      async register(accessToken, create) {
        const { CredentialCreationOptions } = await op("StartWebAuthnRegistration", { AccessToken: accessToken });
        const credential = await create(CredentialCreationOptions);
        await op("CompleteWebAuthnRegistration", { AccessToken: accessToken, Credential: credential });
      },
      async list(accessToken) {
        const r = await op("ListWebAuthnCredentials", { AccessToken: accessToken });
        return (r.Credentials ?? []).map((c: Json) => ({ credentialId: c.CredentialId, relyingPartyId: c.RelyingPartyId }));
      },
      async remove(accessToken, credentialId) {
        await op("DeleteWebAuthnCredential", { AccessToken: accessToken, CredentialId: credentialId });
      },
    },
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
      return tokensOf(r);
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
