// The OpenID provider's sign-in page: a passkey (autofill, or the button) or, when the
// page offers it, an email code. Every way ends with a one-time nonce, which
// /oidc/authorize/finish trades for the application's authorization code. No framework,
// no other origin; served inline under the page's CSP nonce.
(function () {
  "use strict";
  var root = document.getElementById("signin");
  var requestId = root.getAttribute("data-request");
  var status = document.getElementById("status");
  function say(text) { status.textContent = text; }

  function fromB64url(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function requestOptions(json) {
    var PKC = window.PublicKeyCredential;
    if (PKC && typeof PKC.parseRequestOptionsFromJSON === "function") return PKC.parseRequestOptionsFromJSON(json);
    var o = Object.assign({}, json);
    o.challenge = fromB64url(json.challenge);
    o.allowCredentials = (json.allowCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: fromB64url(c.id) });
    });
    return o;
  }
  function assertionJSON(cred) {
    if (typeof cred.toJSON === "function") return cred.toJSON();
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      response: {
        clientDataJSON: toB64url(r.clientDataJSON),
        authenticatorData: toB64url(r.authenticatorData),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null,
      },
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    };
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error((j && j.error && j.error.message) || "The server answered " + r.status + ".");
        return j;
      });
    });
  }

  var finishing = false;
  function finish(nonce) {
    finishing = true;
    say("Signed in. Returning to the application…");
    return post("/oidc/authorize/finish", { requestId: requestId, nonce: nonce }).then(function (r) {
      window.location.assign(r.redirectTo);
    }, function (e) { finishing = false; throw e; });
  }

  var pending = null;
  // Usernameless (autofill, or the button with the field empty), or username-first: the
  // button with a name in the field asks for options restricted to that user's passkeys.
  function passkey(mediation, username) {
    if (pending) pending.abort();
    var controller = new AbortController();
    pending = controller;
    var options = username
      ? post("/oidc/authorize/options", { requestId: requestId, username: username })
      : post("/v1/authentication/options", {});
    return options.then(function (opts) {
      var publicKey = requestOptions(opts.publicKey);
      var ask = { publicKey: publicKey, signal: controller.signal };
      if (mediation) ask.mediation = mediation;
      return navigator.credentials.get(ask).then(function (cred) {
        if (!cred) throw new Error("No passkey was chosen.");
        say("Checking your passkey…");
        return post("/v1/authentication/verify", { ceremonyId: opts.ceremonyId, credential: assertionJSON(cred) });
      });
    }).then(function (signedIn) { return finish(signedIn.nonce); });
  }
  function failed(e) {
    if (finishing) return;
    if (e && (e.name === "AbortError")) return;
    if (e && e.name === "NotAllowedError") { say("The passkey prompt was closed. Try again, or sign in another way."); return; }
    say(e && e.message ? e.message : String(e));
  }

  document.getElementById("passkey-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    say("Waiting for your passkey…");
    passkey(null, document.getElementById("username").value.trim()).catch(failed);
  });
  if (window.PublicKeyCredential && typeof PublicKeyCredential.isConditionalMediationAvailable === "function") {
    PublicKeyCredential.isConditionalMediationAvailable().then(function (yes) {
      if (yes) passkey("conditional", "").catch(failed);
    });
  }

  var emailStart = document.getElementById("email-start");
  if (emailStart) {
    var emailForm = document.getElementById("email-form");
    var codeForm = document.getElementById("code-form");
    var codeRequestId = null;
    emailStart.addEventListener("click", function () {
      emailForm.hidden = false;
      var hint = document.getElementById("username").value;
      if (hint.indexOf("@") > 0) document.getElementById("email").value = hint;
      document.getElementById("email").focus();
    });
    emailForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var email = document.getElementById("email").value;
      post("/v1/email/codes", { email: email, purpose: "sign_in" }).then(function (sent) {
        codeRequestId = sent.codeRequestId;
        codeForm.hidden = false;
        say("If that address has an account, a code is on its way.");
        document.getElementById("code").focus();
      }).catch(failed);
    });
    codeForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      post("/v1/email/verify", {
        email: document.getElementById("email").value,
        code: document.getElementById("code").value.trim(),
        purpose: "sign_in",
        codeRequestId: codeRequestId,
      }).then(function (signedIn) { return finish(signedIn.nonce); }).catch(failed);
    });
  }
})();
