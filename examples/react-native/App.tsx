// A minimal app over the passkey client: a silent passkey sign-in on opening (only if a
// passkey is at hand), verified sign-up (email code, then a passkey), usernameless
// passkey sign-in with a fallback to an email code when the device has no
// passkey or the user dismisses the sheet, and a home screen that lists and adds
// passkeys. Every error the client throws is a PasskeyError with a stable `code`.
import { useEffect, useState } from "react";
import { Button, FlatList, SafeAreaView, StyleSheet, Text, TextInput, View } from "react-native";
import { signOut } from "aws-amplify/auth";
import { PasskeyError, type CredentialSummary, type SignInResult } from "cognito-passkeys-web/native";
import { passkeys } from "./src/passkeys";

type Screen =
  | { name: "start" }
  | { name: "code"; purpose: "sign_in" | "sign_up"; email: string }
  | { name: "home"; session: SignInResult };

function explain(e: unknown): string {
  if (!(e instanceof PasskeyError)) return String(e);
  switch (e.code) {
    case "cancelled": return "No passkey was used. We can email you a code instead.";
    case "security": return "This app is not set up for the passkey server's domain (check the well-known files).";
    case "unsupported": return "This device does not support passkeys.";
    case "already_registered": return "This device already has a passkey for your account.";
    case "rejected": return e.detail === "CODE_INVALID" ? "That code is not right." : `Not accepted: ${e.message}`;
    case "expired": return "That took too long. Start again.";
    case "reauth_required": return "Sign in again before changing your passkeys.";
    case "rate_limited": return "Too many attempts. Wait a minute.";
    default: return e.message;
  }
}

export function App() {
  const [screen, setScreen] = useState<Screen>({ name: "start" });
  const [email, setEmail] = useState("");
  const [code, setCode] = useState("");
  const [message, setMessage] = useState("");

  // On opening: sign in at once if this device has a passkey at hand; no sheet, and
  // the start screen stays, if it has none.
  useEffect(() => {
    passkeys.signInWithPasskey({ immediate: true }).then(
      (session) => setScreen({ name: "home", session }),
      (e) => e instanceof PasskeyError && e.code === "cancelled" ? undefined : setMessage(explain(e)),
    );
  }, []);

  const attempt = (run: () => Promise<void>) => () => {
    setMessage("");
    run().catch((e) => setMessage(explain(e)));
  };

  async function emailCode(purpose: "sign_in" | "sign_up") {
    if (!email) throw new Error("Enter your email first.");
    await passkeys.sendEmailCode({ email, purpose });
    setCode("");
    setScreen({ name: "code", purpose, email });
  }

  // Passkey first; a device without one (or a dismissed sheet) falls back to an email
  // code, as the same `cancelled` code on iOS, Android and the web.
  const signInWithPasskey = attempt(async () => {
    try {
      setScreen({ name: "home", session: await passkeys.signInWithPasskey() });
    } catch (e) {
      if (e instanceof PasskeyError && e.code === "cancelled" && email) return emailCode("sign_in");
      throw e;
    }
  });

  const confirmCode = (purpose: "sign_in" | "sign_up", address: string) =>
    attempt(async () => {
      if (purpose === "sign_in") {
        setScreen({ name: "home", session: await passkeys.signInWithEmailCode({ email: address, code }) });
        return;
      }
      const { signupToken } = await passkeys.verifySignUpEmail({ email: address, code });
      setScreen({ name: "home", session: await passkeys.signUpWithPasskey({ email: address, signupToken }) });
    });

  if (screen.name === "home") {
    return <Home session={screen.session} onSignOut={() => signOut().finally(() => setScreen({ name: "start" }))} />;
  }
  return (
    <SafeAreaView style={styles.page}>
      <Text style={styles.title}>Passkeys for Cognito</Text>
      {screen.name === "start" ? (
        <View style={styles.stack}>
          <TextInput style={styles.input} placeholder="Email" autoCapitalize="none" keyboardType="email-address" value={email} onChangeText={setEmail} />
          <Button title="Sign in with a passkey" onPress={signInWithPasskey} />
          <Button title="Email me a sign-in code" onPress={attempt(() => emailCode("sign_in"))} />
          <Button title="Create an account" onPress={attempt(() => emailCode("sign_up"))} />
        </View>
      ) : (
        <View style={styles.stack}>
          <Text>We sent a code to {screen.email}.</Text>
          <TextInput style={styles.input} placeholder="6-digit code" keyboardType="number-pad" value={code} onChangeText={setCode} />
          <Button title={screen.purpose === "sign_up" ? "Verify and create a passkey" : "Sign in"} onPress={confirmCode(screen.purpose, screen.email)} />
          <Button title="Back" onPress={() => setScreen({ name: "start" })} />
        </View>
      )}
      {message ? <Text style={styles.error}>{message}</Text> : null}
    </SafeAreaView>
  );
}

function Home({ session, onSignOut }: { session: SignInResult; onSignOut: () => void }) {
  const [list, setList] = useState<CredentialSummary[]>([]);
  const [message, setMessage] = useState("");
  const token = session.tokens.accessToken;
  const refresh = () => passkeys.listPasskeys(token).then(setList, (e) => setMessage(explain(e)));
  useEffect(() => void refresh(), [token]);

  return (
    <SafeAreaView style={styles.page}>
      <Text style={styles.title}>Signed in as {session.username}</Text>
      <FlatList
        data={list}
        keyExtractor={(c) => c.id}
        renderItem={({ item }) => (
          <Text>
            {item.nickname ?? item.authenticatorName ?? "Passkey"} · added {item.createdAt.slice(0, 10)}
          </Text>
        )}
      />
      <Button
        title="Add a passkey on this device"
        onPress={() => passkeys.registerPasskey({ accessToken: token, nickname: "This phone" }).then(refresh, (e) => setMessage(explain(e)))}
      />
      <Button title="Sign out" onPress={onSignOut} />
      {message ? <Text style={styles.error}>{message}</Text> : null}
    </SafeAreaView>
  );
}

const styles = StyleSheet.create({
  page: { flex: 1, padding: 24, gap: 16 },
  title: { fontSize: 22, fontWeight: "600" },
  stack: { gap: 12 },
  input: { borderWidth: 1, borderColor: "#999", borderRadius: 8, padding: 12 },
  error: { color: "#b00020" },
});
