//! The decisions of the Cognito custom-auth triggers, as pure functions. The Lambda
//! handlers only read the event, call these, and write the answer back.

/// One earlier round of the sign-in, as Cognito reports it in `request.session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub challenge_name: String,
    pub challenge_result: bool,
}

/// The name of our challenge, as Cognito knows custom challenges.
pub const CUSTOM_CHALLENGE: &str = "CUSTOM_CHALLENGE";
/// What `challengeMetadata` calls our challenge (visible to Define in later rounds).
pub const CHALLENGE_METADATA: &str = "PASSKEY";
/// Default number of failed answers before the sign-in fails.
pub const DEFAULT_MAX_ATTEMPTS: usize = 3;

/// What Define Auth Challenge answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefineOutcome {
    /// Ask (again) for a passkey: `challengeName = CUSTOM_CHALLENGE`.
    Challenge,
    /// The last answer was a redeemed nonce: `issueTokens = true`.
    IssueTokens,
    /// `failAuthentication = true`.
    Fail,
}

/// Define Auth Challenge:
/// - an empty session starts our challenge;
/// - any round that is not our custom challenge (SRP, password, ...) fails the sign-in,
///   so this flow can never be mixed with another;
/// - a correct last answer issues tokens, unless Cognito says the user does not exist
///   (then nothing can be correct, and the user must look real from outside);
/// - a wrong answer challenges again until `max_attempts` failed answers, then fails.
pub fn define(session: &[Round], user_not_found: bool, max_attempts: usize) -> DefineOutcome {
    let max_attempts = max_attempts.max(1);
    let Some(last) = session.last() else {
        return DefineOutcome::Challenge;
    };
    if session.iter().any(|r| r.challenge_name != CUSTOM_CHALLENGE) {
        return DefineOutcome::Fail;
    }
    if last.challenge_result && !user_not_found {
        return DefineOutcome::IssueTokens;
    }
    let failures = session
        .iter()
        .filter(|r| !r.challenge_result || user_not_found)
        .count();
    if failures >= max_attempts {
        DefineOutcome::Fail
    } else {
        DefineOutcome::Challenge
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(name: &str, ok: bool) -> Round {
        Round {
            challenge_name: name.to_owned(),
            challenge_result: ok,
        }
    }

    #[test]
    fn define_table() {
        use DefineOutcome::*;
        let c = |ok| round(CUSTOM_CHALLENGE, ok);
        let cases: Vec<(&str, Vec<Round>, bool, usize, DefineOutcome)> = vec![
            (
                "empty session starts the challenge",
                vec![],
                false,
                3,
                Challenge,
            ),
            (
                "correct answer issues tokens",
                vec![c(true)],
                false,
                3,
                IssueTokens,
            ),
            (
                "correct after a wrong one",
                vec![c(false), c(true)],
                false,
                3,
                IssueTokens,
            ),
            (
                "one wrong answer: again",
                vec![c(false)],
                false,
                3,
                Challenge,
            ),
            (
                "two wrong answers: again",
                vec![c(false), c(false)],
                false,
                3,
                Challenge,
            ),
            (
                "three wrong answers: fail",
                vec![c(false), c(false), c(false)],
                false,
                3,
                Fail,
            ),
            (
                "max 1: one wrong answer fails",
                vec![c(false)],
                false,
                1,
                Fail,
            ),
            ("max 0 is treated as 1", vec![c(false)], false, 0, Fail),
            (
                "SRP in the session fails",
                vec![round("SRP_A", true)],
                false,
                3,
                Fail,
            ),
            (
                "password verifier then custom fails",
                vec![round("PASSWORD_VERIFIER", true), c(true)],
                false,
                3,
                Fail,
            ),
            (
                "unknown challenge name fails",
                vec![round("SMS_MFA", true)],
                false,
                3,
                Fail,
            ),
            (
                "user not found: empty session challenges",
                vec![],
                true,
                3,
                Challenge,
            ),
            (
                "user not found: never tokens",
                vec![c(true)],
                true,
                3,
                Challenge,
            ),
            (
                "user not found: wrong answer again",
                vec![c(false)],
                true,
                3,
                Challenge,
            ),
            (
                "user not found: fails after the same attempts",
                vec![c(false), c(false), c(false)],
                true,
                3,
                Fail,
            ),
            (
                "user not found: even 'correct' rounds count",
                vec![c(true), c(true), c(true)],
                true,
                3,
                Fail,
            ),
        ];
        for (name, session, not_found, max, want) in cases {
            assert_eq!(define(&session, not_found, max), want, "{name}");
        }
    }
}
