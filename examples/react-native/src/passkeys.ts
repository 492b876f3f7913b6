// The passkey client for this app: the platform-neutral core with react-native-passkey
// for the ceremonies and Amplify JS v6 for Cognito.
import { Amplify } from "aws-amplify";
import { confirmSignIn, fetchAuthSession, signIn } from "aws-amplify/auth";
import { Passkey } from "react-native-passkey";
import { amplifyCognito, createPasskeyClient, reactNativeCeremonies } from "cognito-passkeys-web/native";
import { config } from "./config";

Amplify.configure({
  Auth: { Cognito: { userPoolId: config.userPoolId, userPoolClientId: config.userPoolClientId } },
});

export const passkeys = createPasskeyClient({
  rpUrl: config.rpUrl,
  cognito: amplifyCognito({ signIn, confirmSignIn, fetchAuthSession }),
  ceremonies: reactNativeCeremonies(Passkey),
});
