//! The authorization request (`GET /oidc/authorize`) and its checks, in the order RFC
//! 6749 §4.1.2.1 sets: a request whose client or redirect URI cannot be trusted gets an
//! error page and is never redirected; any other fault is redirected back to the client
//! with `error`, `error_description`, `state` and `iss`.

use serde::{Deserialize, Serialize};

use super::{ACR_EMAIL_OTP, ACR_PASSKEY};
use crate::config::OidcClient;

/// The scopes a client may ask for.
pub const SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// Longest `state`, `nonce` or `login_hint` accepted (they travel in a cookie).
const MAX_PARAM_LEN: usize = 512;

/// A checked authorization request: what the sign-in page carries (sealed into its
/// cookie) until a sign-in finishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub login_hint: Option<String>,
    /// `acr_values` asked for a passkey only: the email code is not offered or accepted.
    pub passkey_required: bool,
    pub max_age: Option<u64>,
    /// The username-first challenge the page started for this request, if any: a nonce
    /// bound to it may finish the request.
    #[serde(default)]
    pub challenge_id: Option<uuid::Uuid>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The client or its redirect URI is unknown: answer with a page, never a redirect.
    Page(&'static str),
    /// Tell the client at its (verified) redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: &'static str,
    },
}

/// Parses and checks the raw query of an authorization request against the registered
/// `clients`.
pub fn check(query: &str, clients: &[OidcClient]) -> Result<AuthorizationRequest, Refusal> {
    let params = super::Params::parse(query.as_bytes());
    let get = |name: &str| params.get(name);
    let client = get("client_id")
        .and_then(|id| clients.iter().find(|c| c.client_id == id))
        .ok_or(Refusal::Page(
            "The application that sent you here is not registered with this sign-in service.",
        ))?;
    let redirect_uri = get("redirect_uri")
        .filter(|uri| client.redirect_uris.iter().any(|r| r == uri))
        .ok_or(Refusal::Page(
            "The application asked to return to an address it has not registered.",
        ))?
        .to_owned();
    let state = get("state").map(str::to_owned);
    let refuse = |error, description| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone().filter(|s| s.len() <= MAX_PARAM_LEN),
        error,
        description,
    };
    if params.repeated {
        return Err(refuse("invalid_request", "A parameter is repeated."));
    }
    if get("request").is_some() {
        return Err(refuse(
            "request_not_supported",
            "Request objects are not supported.",
        ));
    }
    if get("request_uri").is_some() {
        return Err(refuse(
            "request_uri_not_supported",
            "Request objects are not supported.",
        ));
    }
    match get("response_type") {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type is required.")),
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "Only the authorization code flow (response_type=code) is supported.",
            ));
        }
    }
    if get("response_mode").is_some_and(|m| m != "query") {
        return Err(refuse(
            "invalid_request",
            "Only response_mode=query is supported.",
        ));
    }
    let scopes: Vec<String> = get("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(refuse("invalid_scope", "The openid scope is required."));
    }
    if scopes.iter().any(|s| !client.scopes.contains(s)) {
        return Err(refuse(
            "invalid_scope",
            "A requested scope is not allowed for this application.",
        ));
    }
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) if client.public => {
            return Err(refuse(
                "invalid_request",
                "PKCE (code_challenge with S256) is required for this application.",
            ));
        }
        (None, None) => None,
        (Some(c), Some("S256")) if is_s256_challenge(c) => Some(c.to_owned()),
        (Some(_), Some("S256")) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge is not a base64url SHA-256 hash.",
            ));
        }
        (Some(_), None | Some(_)) | (None, Some(_)) => {
            return Err(refuse(
                "invalid_request",
                "Only code_challenge_method=S256 is supported, with a code_challenge.",
            ));
        }
    };
    let prompt: Vec<&str> = get("prompt").unwrap_or_default().split(' ').collect();
    if prompt.contains(&"none") {
        // There is no session here to sign in silently with: every sign-in is a ceremony.
        return Err(refuse(
            "login_required",
            "Signing in needs a passkey or an email code; there is no session to reuse.",
        ));
    }
    let max_age = match get("max_age") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            refuse(
                "invalid_request",
                "max_age must be a whole number of seconds.",
            )
        })?),
    };
    let acr_values: Vec<&str> = get("acr_values").unwrap_or_default().split(' ').collect();
    let passkey_required =
        acr_values.contains(&ACR_PASSKEY) && !acr_values.contains(&ACR_EMAIL_OTP);
    let bounded = |name: &str| -> Result<Option<String>, Refusal> {
        match get(name) {
            Some(v) if v.len() > MAX_PARAM_LEN || v.chars().any(char::is_control) => Err(refuse(
                "invalid_request",
                "A parameter is too long or holds control characters.",
            )),
            v => Ok(v.map(str::to_owned)),
        }
    };
    let nonce = bounded("nonce")?;
    let login_hint = bounded("login_hint")?;
    bounded("state")?;
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        scopes,
        state,
        nonce,
        code_challenge,
        login_hint,
        passkey_required,
        max_age,
        challenge_id: None,
    })
}

/// A PKCE S256 challenge: 43 base64url characters (32 bytes).
fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where a refused request is sent back to: its redirect URI with the error.
pub fn error_redirect(
    redirect_uri: &str,
    issuer: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> String {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return redirect_uri.to_owned(),
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("error", error);
        q.append_pair("error_description", description);
        if let Some(state) = state {
            q.append_pair("state", state);
        }
        q.append_pair("iss", issuer);
    }
    url.into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn clients() -> Vec<OidcClient> {
        vec![
            OidcClient {
                client_id: "pool".into(),
                secret_sha256: Some([0; 32]),
                public: false,
                redirect_uris: vec!["https://auth.example.com/oauth2/idpresponse".into()],
                scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
                cognito_provider_name: None,
            },
            OidcClient {
                client_id: "spa".into(),
                secret_sha256: None,
                public: true,
                redirect_uris: vec!["https://app.example.com/cb".into()],
                scopes: vec!["openid".into()],
                cognito_provider_name: None,
            },
        ]
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn error_of(query: &str) -> String {
        match check(query, &clients()) {
            Err(Refusal::Redirect { error, .. }) => error.to_owned(),
            Err(Refusal::Page(_)) => "page".into(),
            Ok(_) => "ok".into(),
        }
    }

    #[test]
    fn requests_are_checked_in_the_order_the_rfc_sets() {
        let pool =
            "client_id=pool&redirect_uri=https%3A%2F%2Fauth.example.com%2Foauth2%2Fidpresponse";
        let spa = "client_id=spa&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb";
        let pkce = format!("code_challenge={CHALLENGE}&code_challenge_method=S256");
        let cases: Vec<(String, &str)> = vec![
            (format!("{pool}&response_type=code&scope=openid%20email"), "ok"),
            (format!("{spa}&response_type=code&scope=openid&{pkce}"), "ok"),
            // Unknown client, unregistered or missing redirect URI: a page, never a redirect.
            ("client_id=nope&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&scope=openid".into(), "page"),
            ("client_id=spa&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid".into(), "page"),
            ("client_id=spa&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%2F&response_type=code".into(), "page"),
            ("client_id=spa&response_type=code&scope=openid".into(), "page"),
            (format!("{pool}&response_type=token&scope=openid"), "unsupported_response_type"),
            (format!("{pool}&scope=openid"), "invalid_request"),
            (format!("{pool}&response_type=code&scope=email"), "invalid_scope"),
            (format!("{spa}&response_type=code&scope=openid%20email&{pkce}"), "invalid_scope"),
            (format!("{spa}&response_type=code&scope=openid"), "invalid_request"),
            (format!("{spa}&response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=plain"), "invalid_request"),
            (format!("{spa}&response_type=code&scope=openid&code_challenge=short&code_challenge_method=S256"), "invalid_request"),
            (format!("{pool}&response_type=code&scope=openid&scope=openid"), "invalid_request"),
            (format!("{pool}&response_type=code&scope=openid&prompt=none"), "login_required"),
            (format!("{pool}&response_type=code&scope=openid&max_age=soon"), "invalid_request"),
            (format!("{pool}&response_type=code&scope=openid&request=x"), "request_not_supported"),
            (format!("{pool}&response_type=code&scope=openid&response_mode=fragment"), "invalid_request"),
            (format!("{pool}&response_type=code&scope=openid&nonce={}", "n".repeat(600)), "invalid_request"),
        ];
        for (query, want) in cases {
            assert_eq!(error_of(&query), want, "{query}");
        }
    }

    #[test]
    fn what_a_checked_request_keeps() {
        let q = format!(
            "client_id=spa&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&scope=openid&state=s1&nonce=n1&login_hint=ann&max_age=0&acr_values=urn%3Arp-server%3Aacr%3Apasskey&code_challenge={CHALLENGE}&code_challenge_method=S256"
        );
        let r = check(&q, &clients()).unwrap();
        assert_eq!(r.state.as_deref(), Some("s1"));
        assert_eq!(r.nonce.as_deref(), Some("n1"));
        assert_eq!(r.login_hint.as_deref(), Some("ann"));
        assert_eq!(r.max_age, Some(0));
        assert!(r.passkey_required);
        assert_eq!(r.code_challenge.as_deref(), Some(CHALLENGE));
        let r = check(
            &q.replace("passkey", "passkey%20urn%3Arp-server%3Aacr%3Aemail-otp"),
            &clients(),
        )
        .unwrap();
        assert!(!r.passkey_required);
    }

    #[test]
    fn an_error_redirect_carries_state_and_issuer() {
        let url = error_redirect(
            "https://app.example.com/cb?x=1",
            "https://id.example.com",
            Some("s&1"),
            "invalid_scope",
            "no",
        );
        assert_eq!(
            url,
            "https://app.example.com/cb?x=1&error=invalid_scope&error_description=no&state=s%261&iss=https%3A%2F%2Fid.example.com"
        );
    }
}
