// Headless Chromium (Debian's, never a downloaded one) and "devices": fresh browser
// profiles with a DevTools virtual platform authenticator that holds passkeys.

import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * A fresh browser profile with a platform authenticator (CTAP2, internal, resident keys,
 * user verification) on a new page, which `prepare(page)` may set up before it opens `url`.
 */
export async function newDevice(browser, url, prepare = async () => {}) {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  await prepare(page);
  await page.goto(url);
  return { context, page, cdp, authenticatorId };
}
