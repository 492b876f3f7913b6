//! The one codec for WebAuthn credential ids in URLs, JSON bodies and the CLI: unpadded
//! base64url (trailing `=` padding is tolerated on input).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn encode(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

/// The id's bytes; `None` for anything that is not non-empty base64url.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_an_id() {
        let id = [0xfb, 0xff, 0x00, 0x01];
        assert_eq!(encode(&id), "-_8AAQ");
        assert_eq!(decode("-_8AAQ").as_deref(), Some(id.as_slice()));
        assert_eq!(decode("-_8AAQ==").as_deref(), Some(id.as_slice()));
        assert_eq!(decode(""), None);
        assert_eq!(decode("+/8AAQ"), None);
        assert_eq!(decode("not base64!"), None);
    }
}
