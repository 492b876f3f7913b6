// The client for React Native apps: the platform-neutral core and the
// `react-native-passkey` ceremony adapter.
//
//   import { Passkey } from "react-native-passkey";
//   const passkeys = createPasskeyClient({ rpUrl, cognito, ceremonies: reactNativeCeremonies(Passkey) });
export * from "./core";
export * from "./react-native";
