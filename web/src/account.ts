// A ready-made account page for the browser: the signed-in user's passkeys (authenticator
// name and icon, created, last used, synced or device-bound), rename, delete, add one,
// and their recent sign-ins and security events. Mount it into any element; it renders
// plain DOM with `pk-` class names to style, sets every value as text (nicknames and
// user agents are the user's to choose), and asks the app for a fresh sign-in when
// rp-server wants one before a change (`reauth_required`).
import type { ActivityEvent, CredentialSummary, PasskeyClient } from "./client";
import { PasskeyError } from "./errors";

export interface AccountPageOptions {
  client: PasskeyClient;
  /** The current Cognito access token. */
  accessToken(): string;
  /**
   * Signs the user in again (e.g. `client.signInWithPasskey({ username })`) and resolves
   * to the new access token; called when a change needs a fresh sign-in.
   */
  reauthenticate(): Promise<string>;
  /** Told of what happened, for the app to show (default: the page's own status line). */
  notify?(kind: "ok" | "error", text: string): void;
  /** The nickname of a passkey added here (default "This device"). */
  newPasskeyName?: string;
  /** How many events of activity to show (default 10). */
  activityLimit?: number;
}

export interface AccountPage {
  /** Reads the passkeys and the activity again. */
  refresh(): Promise<void>;
  /** Empties the element. */
  unmount(): void;
}

const ACTIONS: Record<string, string> = {
  "authentication.succeeded": "Signed in with a passkey",
  "authentication.failed": "A passkey sign-in failed",
  "credential.registered": "Passkey added",
  "credential.renamed": "Passkey renamed",
  "credential.deleted": "Passkey deleted",
  "credential.revoked": "Passkey revoked",
  "account.reset": "Account reset",
  "enrolment_token.issued": "Enrolment link issued",
  "enrolment_token.used": "Passkey added with an enrolment link",
  "email.code_sent": "Email code sent",
  "email.code_verified": "Email code used",
  "email.code_failed": "A wrong email code",
  "email.code_locked": "Email codes locked",
  "email.unlocked": "Email codes unlocked",
  "recovery.codes_created": "Recovery codes made",
  "recovery.code_used": "Recovery code used",
  "recovery.code_failed": "A wrong recovery code",
  "nonce.redeemed": "Signed in",
  "user.signed_up": "Account created",
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const when = (s: string | null) => (s ? new Date(s).toLocaleString() : "never");

/** Mounts the account page into `root`. */
export function mountAccountPage(root: HTMLElement, opts: AccountPageOptions): AccountPage {
  const status = el("p", "pk-status");
  status.setAttribute("role", "status");
  const notify = opts.notify ?? ((kind: "ok" | "error", text: string) => {
    status.textContent = text;
    status.dataset.kind = kind;
  });
  const add = el("button", "pk-add", "Add a passkey");
  add.type = "button";
  const table = el("table", "pk-passkeys");
  const caption = el("caption", "pk-caption", "Your passkeys");
  const head = el("thead");
  const headRow = el("tr");
  for (const c of ["Passkey", "Authenticator", "Created", "Last used", "Kind", ""]) {
    const th = el("th", undefined, c);
    th.scope = "col";
    headRow.append(th);
  }
  head.append(headRow);
  const body = el("tbody");
  table.append(caption, head, body);
  const activityTitle = el("h3", "pk-activity-title", "Recent activity");
  const activity = el("ul", "pk-activity");
  root.replaceChildren(add, table, status, activityTitle, activity);

  /** Runs a change; after `reauth_required`, signs in again and runs it once more. */
  async function freshly<T>(change: (token: string) => Promise<T>): Promise<T> {
    try {
      return await change(opts.accessToken());
    } catch (e) {
      if (!(e instanceof PasskeyError) || e.code !== "reauth_required") throw e;
      notify("ok", "Confirm it's you: sign in again.");
      return change(await opts.reauthenticate());
    }
  }

  async function attempt(change: () => Promise<unknown>, done: string) {
    try {
      await change();
      notify("ok", done);
    } catch (e) {
      notify("error", e instanceof Error ? e.message : String(e));
    }
    await refresh();
  }

  function icon(p: CredentialSummary & { authenticatorIcon?: string }): HTMLElement {
    if (p.authenticatorIcon) {
      const img = el("img", "pk-icon");
      img.src = p.authenticatorIcon;
      img.alt = "";
      return img;
    }
    const mono = el("span", "pk-icon pk-monogram", (p.authenticatorName ?? "?").slice(0, 1).toUpperCase());
    mono.setAttribute("aria-hidden", "true");
    return mono;
  }

  function row(p: CredentialSummary): HTMLTableRowElement {
    const tr = el("tr");
    tr.dataset.id = p.id;
    const name = el("td", "pk-name", p.nickname ?? "Passkey");
    const authenticator = el("td", "pk-authenticator");
    authenticator.append(icon(p), el("span", undefined, p.authenticatorName ?? "Unknown authenticator"));
    const kind = p.backupEligible ? "Synced" : "Device-bound";
    const actions = el("td", "pk-actions");
    const rename = el("button", "pk-rename rename", "Rename");
    rename.type = "button";
    rename.setAttribute("aria-label", `Rename ${p.nickname ?? "passkey"}`);
    const remove = el("button", "pk-delete delete", "Delete");
    remove.type = "button";
    remove.setAttribute("aria-label", `Delete ${p.nickname ?? "passkey"}`);
    actions.append(rename, remove);
    tr.append(name, authenticator, el("td", undefined, when(p.createdAt)), el("td", undefined, when(p.lastUsedAt)), el("td", undefined, kind), actions);

    rename.addEventListener("click", () => {
      const form = el("form", "pk-rename-form");
      const input = el("input", "pk-rename-input");
      input.value = p.nickname ?? "";
      input.maxLength = 64;
      input.setAttribute("aria-label", "New name");
      const save = el("button", "pk-save", "Save");
      save.type = "submit";
      const cancel = el("button", "pk-cancel", "Cancel");
      cancel.type = "button";
      form.append(input, save, cancel);
      name.replaceChildren(form);
      input.focus();
      cancel.addEventListener("click", () => void refresh());
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        const nickname = input.value.trim() || null;
        void attempt(() => opts.client.renamePasskey(opts.accessToken(), p.id, nickname), "Passkey renamed.");
      });
    });
    remove.addEventListener("click", () => {
      void attempt(() => freshly((token) => opts.client.deletePasskey(token, p.id)), "Passkey deleted.");
    });
    return tr;
  }

  function event(e: ActivityEvent): HTMLLIElement {
    const li = el("li", "pk-event");
    li.dataset.action = e.action;
    const what = el("strong", undefined, ACTIONS[e.action] ?? e.action);
    const detail = [when(e.occurredAt), e.byAdmin ? "by an administrator" : null, e.ip, e.userAgent].filter(Boolean).join(" · ");
    li.append(what, el("span", "pk-event-detail", ` ${detail}`));
    return li;
  }

  async function refresh(): Promise<void> {
    try {
      const [list, recent] = await Promise.all([
        opts.client.listPasskeys(opts.accessToken()),
        opts.client.activity(opts.accessToken(), { limit: opts.activityLimit ?? 10 }),
      ]);
      body.replaceChildren(...list.map(row));
      if (list.length === 0) {
        const tr = el("tr", "pk-empty");
        const td = el("td", undefined, "No passkeys yet.");
        td.colSpan = 6;
        tr.append(td);
        body.append(tr);
      }
      activity.replaceChildren(...recent.events.map(event));
    } catch (e) {
      notify("error", e instanceof Error ? e.message : String(e));
    }
  }

  add.addEventListener("click", () => {
    void attempt(
      () => freshly((token) => opts.client.registerPasskey({ accessToken: token, nickname: opts.newPasskeyName ?? "This device" })),
      "Passkey added.",
    );
  });

  void refresh();
  return { refresh, unmount: () => root.replaceChildren() };
}
