// Amplify's React Native polyfills (crypto.getRandomValues) before anything else.
import "react-native-get-random-values";
import "@aws-amplify/react-native";
import { registerRootComponent } from "expo";
import { App } from "./App";

registerRootComponent(App);
