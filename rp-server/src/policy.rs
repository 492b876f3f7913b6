//! Passkey policies (`[[policy]]` in the config file): which authenticators a user may
//! register, chosen by the user's Cognito groups, and — with `enforce_on_sign_in` —
//! which stored passkeys may still sign in. Pure: the flows ask [`Policies::for_groups`]
//! and [`Policy::check`].
//!
//! A policy with groups applies to users in any of them, the first such in file order
//! winning; a user in none gets the default policy (the one without groups), and without
//! a default, nothing is required (rp-server's behaviour without policies).

use serde::Serialize;
use uuid::Uuid;

/// One policy, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub name: String,
    pub groups: Vec<String>,
    /// Allowed authenticator models; empty: any.
    pub aaguids: Vec<Uuid>,
    pub deny_aaguids: Vec<Uuid>,
    /// Refuse backup-eligible (synced) passkeys.
    pub device_bound: bool,
    /// Stored passkeys that no longer satisfy the policy cannot sign in.
    pub enforce_on_sign_in: bool,
    /// A registration needs an attestation chaining to a root the FIDO metadata lists for
    /// the model (checked by webauthn-rs at registration, see [`crate::mds`]).
    pub attestation: bool,
}

/// Which rule a passkey breaks (`details.rule` of `POLICY_VIOLATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Attestation,
    Aaguid,
    DeviceBound,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attestation => "attestation",
            Self::Aaguid => "aaguid",
            Self::DeviceBound => "device_bound",
        }
    }
}

/// What a policy looks at in a passkey.
#[derive(Debug, Clone, Copy)]
pub struct Passkey {
    /// The authenticator model (`None` when it did not say, or said all zeros).
    pub aaguid: Option<Uuid>,
    pub backup_eligible: bool,
    /// Its attestation chained to a root the FIDO metadata lists for its model.
    pub attested: bool,
}

impl Policy {
    /// The first rule `passkey` breaks, if any: no verified attestation where one is
    /// required, a denied or unlisted model, a synced passkey where device-bound ones are.
    pub fn check(&self, passkey: Passkey) -> Result<(), Rule> {
        if self.attestation && !passkey.attested {
            return Err(Rule::Attestation);
        }
        let aaguid = passkey.aaguid.filter(|a| !a.is_nil());
        if aaguid.is_some_and(|a| self.deny_aaguids.contains(&a)) {
            return Err(Rule::Aaguid);
        }
        if !self.aaguids.is_empty() && !aaguid.is_some_and(|a| self.aaguids.contains(&a)) {
            return Err(Rule::Aaguid);
        }
        if self.device_bound && passkey.backup_eligible {
            return Err(Rule::DeviceBound);
        }
        Ok(())
    }

    /// Whether registering under this policy should steer to a security key.
    pub fn prefers_security_keys(&self) -> bool {
        self.device_bound
    }
}

/// The configured policies, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policies {
    list: Vec<Policy>,
}

impl Policies {
    pub fn new(list: Vec<Policy>) -> Self {
        Self { list }
    }

    pub fn all(&self) -> &[Policy] {
        &self.list
    }

    /// The policy of a user in `groups`: the first (in file order) naming one of them,
    /// else the default; `None` when neither exists.
    pub fn for_groups(&self, groups: &[String]) -> Option<&Policy> {
        self.list
            .iter()
            .find(|p| p.groups.iter().any(|g| groups.contains(g)))
            .or_else(|| self.list.iter().find(|p| p.groups.is_empty()))
    }

    /// The policy a user in `groups` is under and the rule `passkey` breaks, if it breaks
    /// one; `at_sign_in`: only a policy enforced at sign-in counts.
    pub fn violation(
        &self,
        groups: &[String],
        passkey: Passkey,
        at_sign_in: bool,
    ) -> Option<(&Policy, Rule)> {
        let policy = self
            .for_groups(groups)
            .filter(|p| !at_sign_in || p.enforce_on_sign_in)?;
        policy.check(passkey).err().map(|rule| (policy, rule))
    }

    /// Whether any policy is enforced at sign-in (the sign-in path reads groups only then).
    pub fn enforced_on_sign_in(&self) -> bool {
        self.list.iter().any(|p| p.enforce_on_sign_in)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEY: Uuid = Uuid::from_u128(0xcb69481e_8ff7_4039_93ec_0a2729a154a8);
    const OTHER: Uuid = Uuid::from_u128(0xfbfc3007_154e_4ecc_8c0b_6e020557d7bd);

    fn policy(name: &str, groups: &[&str]) -> Policy {
        Policy {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            aaguids: vec![],
            deny_aaguids: vec![],
            device_bound: false,
            enforce_on_sign_in: false,
            attestation: false,
        }
    }

    #[test]
    fn groups_choose_the_policy_in_file_order_and_the_default_takes_the_rest() {
        let p = Policies::new(vec![
            policy("everyone", &[]),
            policy("staff", &["admins", "finance"]),
            policy("admins", &["admins"]),
        ]);
        let name = |groups: &[&str]| {
            let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
            p.for_groups(&groups).map(|p| p.name.clone())
        };
        assert_eq!(
            name(&["admins"]).as_deref(),
            Some("staff"),
            "first match in file order"
        );
        assert_eq!(name(&["finance", "x"]).as_deref(), Some("staff"));
        assert_eq!(name(&["x"]).as_deref(), Some("everyone"));
        assert_eq!(name(&[]).as_deref(), Some("everyone"));
        assert_eq!(
            Policies::new(vec![policy("staff", &["admins"])]).for_groups(&[]),
            None
        );
    }

    #[test]
    fn what_each_rule_refuses() {
        let passkey = |aaguid: Option<Uuid>, backup_eligible| Passkey {
            aaguid,
            backup_eligible,
            attested: false,
        };
        let mut p = policy("p", &[]);
        assert_eq!(p.check(passkey(None, true)), Ok(()), "no rules: anything");
        p.deny_aaguids = vec![OTHER];
        assert_eq!(p.check(passkey(Some(OTHER), false)), Err(Rule::Aaguid));
        assert_eq!(p.check(passkey(Some(KEY), true)), Ok(()));
        p.aaguids = vec![KEY];
        assert_eq!(p.check(passkey(Some(KEY), true)), Ok(()));
        assert_eq!(
            p.check(passkey(None, false)),
            Err(Rule::Aaguid),
            "an allow list needs a model"
        );
        assert_eq!(
            p.check(passkey(Some(Uuid::nil()), false)),
            Err(Rule::Aaguid)
        );
        p.device_bound = true;
        assert_eq!(p.check(passkey(Some(KEY), true)), Err(Rule::DeviceBound));
        assert_eq!(p.check(passkey(Some(KEY), false)), Ok(()));
    }

    #[test]
    fn a_violation_at_sign_in_counts_only_under_an_enforced_policy() {
        let synced = Passkey {
            aaguid: Some(KEY),
            backup_eligible: true,
            attested: false,
        };
        let mut strict = Policy {
            device_bound: true,
            ..policy("strict", &["admins"])
        };
        let admins = vec!["admins".to_owned()];
        let p = Policies::new(vec![strict.clone()]);
        assert_eq!(
            p.violation(&admins, synced, false)
                .map(|(p, r)| (p.name.as_str(), r)),
            Some(("strict", Rule::DeviceBound))
        );
        assert!(
            p.violation(&admins, synced, true).is_none(),
            "not enforced at sign-in"
        );
        assert!(
            p.violation(&[], synced, false).is_none(),
            "no default: nothing required"
        );
        strict.enforce_on_sign_in = true;
        let p = Policies::new(vec![strict]);
        assert!(p.violation(&admins, synced, true).is_some());
        assert!(!Policies::default().enforced_on_sign_in() && p.enforced_on_sign_in());
    }
}
