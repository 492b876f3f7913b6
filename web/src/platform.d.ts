// Everything the platform-neutral modules (core.ts, client.ts, cognito.ts, errors.ts,
// react-native.ts) may use from their host, and nothing more: browsers, Node.js 18+ and
// React Native all provide it. `npm run build` type-checks those modules against this
// file alone (tsconfig.core.json, no DOM library), so a stray `window` or `navigator`
// fails the build instead of a React Native app.

interface PlatformResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  json(): Promise<any>;
}
declare function fetch(
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<PlatformResponse>;
type Response = PlatformResponse;

interface AbortSignal {
  readonly aborted: boolean;
}
declare class AbortController {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
}
declare class URLSearchParams {
  constructor(init?: string);
  get(name: string): string | null;
}
