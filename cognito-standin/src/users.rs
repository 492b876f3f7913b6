//! Users: sign-up and confirmation, and the admin operations.

use chrono::Utc;
use serde_json::{Value, json};

use crate::error::CognitoError;
use crate::pool::{User, UserStatus, filter_matches, opaque_token, parse_filter};
use crate::{Standin, Trigger, attributes, required, string_map};

fn exists() -> CognitoError {
    CognitoError::new("UsernameExistsException", "User account already exists")
}

fn email_exists() -> CognitoError {
    CognitoError::new(
        "UsernameExistsException",
        "An account with the given email already exists.",
    )
}

/// Runs PreSignUp (if configured) with the attributes the caller supplied (not the
/// generated `sub`) and returns its `response`.
async fn pre_sign_up(
    s: &Standin,
    pool_id: &str,
    source: &str,
    username: &str,
    client_id: Option<&str>,
    attributes: &std::collections::BTreeMap<String, String>,
    input: &Value,
) -> Result<Value, CognitoError> {
    let pool = s.pool_config(pool_id)?;
    let event = s.event(
        &pool,
        source,
        username,
        client_id,
        json!({
            "userAttributes": attributes
                .iter()
                .filter(|(k, _)| k.as_str() != "sub")
                .collect::<std::collections::BTreeMap<_, _>>(),
            // A list of {Name, Value} on the wire, a map in the event.
            "validationData": crate::attributes(input, "ValidationData"),
            "clientMetadata": string_map(input, "ClientMetadata"),
        }),
        json!({ "autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false }),
    );
    Ok(s.trigger(&pool, Trigger::PreSignUp, event)
        .await?
        .map(|e| e["response"].clone())
        .unwrap_or_else(|| json!({})))
}

/// `SignUp`.
pub async fn sign_up(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let client_id = required(input, "ClientId")?.to_owned();
    let pool_id = s.pool_of_client(&client_id)?;
    let name = required(input, "Username")?.to_owned();
    let password = required(input, "Password")?.to_owned();
    let mut attrs = attributes(input, "UserAttributes");
    let username = s.with_pool(&pool_id, |p| {
        crate::auth::check_secret_hash(p, &client_id, &name, input.get("SecretHash"))?;
        p.check_password_policy(&password)?;
        p.check_new_username(&name)?;
        let username = p.username_for(&name, &mut attrs);
        if p.find(&username).is_some() || p.find(&name).is_some() {
            return Err(if p.uses_email_as_username() {
                email_exists()
            } else {
                exists()
            });
        }
        Ok(username)
    })?;
    let response = pre_sign_up(
        s,
        &pool_id,
        "PreSignUp_SignUp",
        &username,
        Some(&client_id),
        &attrs,
        input,
    )
    .await?;
    let flag = |k: &str| response.get(k).and_then(Value::as_bool).unwrap_or(false);
    s.with_pool(&pool_id, |p| {
        if p.find(&username).is_some() {
            return Err(exists());
        }
        let mut user = User::new(username.clone(), attrs.clone(), Utc::now());
        user.set_password(p.config.name(), &password)?;
        if flag("autoVerifyEmail") && user.attributes.contains_key("email") {
            user.attributes.insert("email_verified".to_owned(), "true".to_owned());
        }
        let confirmed = flag("autoConfirmUser");
        let mut delivery = Value::Null;
        if confirmed {
            user.status = UserStatus::Confirmed;
        } else {
            let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
            tracing::info!(pool = %p.config.id, username = %user.username, code = %code, "ConfirmSignUp code (the stand-in sends no email)");
            user.confirmation_code = Some(code);
            if let Some(email) = user.attributes.get("email") {
                delivery = json!({ "Destination": mask(email), "DeliveryMedium": "EMAIL", "AttributeName": "email" });
            }
        }
        let sub = user.sub().to_owned();
        p.users.push(user);
        let mut out = json!({ "UserConfirmed": confirmed, "UserSub": sub });
        if !delivery.is_null() {
            out["CodeDeliveryDetails"] = delivery;
        }
        Ok(out)
    })
}

fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!(
            "{}***@{}",
            local.chars().next().unwrap_or('*'),
            domain
                .chars()
                .next()
                .map(|c| format!("{c}***"))
                .unwrap_or_default()
        ),
        None => "***".to_owned(),
    }
}

/// `ConfirmSignUp`.
pub fn confirm_sign_up(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let client_id = required(input, "ClientId")?.to_owned();
    let pool_id = s.pool_of_client(&client_id)?;
    let name = required(input, "Username")?;
    let code = required(input, "ConfirmationCode")?;
    let force_alias = input
        .get("ForceAliasCreation")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    s.with_pool(&pool_id, |p| {
        let user = p.user_mut(name)?;
        if user.status != UserStatus::Unconfirmed {
            return Err(CognitoError::not_authorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.status.as_str()
            )));
        }
        if user.confirmation_code.as_deref() != Some(code) {
            return Err(CognitoError::new(
                "CodeMismatchException",
                "Invalid verification code provided, please try again.",
            ));
        }
        let (username, email) = (user.username.clone(), user.attributes.get("email").cloned());
        // Confirming verifies the email, which in an alias pool claims the alias.
        if let Some(email) = &email {
            p.claim_email_alias(email, Some(&username), force_alias)?;
        }
        let user = p.user_mut(&username)?;
        user.status = UserStatus::Confirmed;
        user.confirmation_code = None;
        if email.is_some() {
            user.attributes
                .insert("email_verified".to_owned(), "true".to_owned());
        }
        user.modified = Utc::now();
        Ok(json!({}))
    })
}

/// The email of these attributes when they mark it verified.
fn verified_email(attrs: &std::collections::BTreeMap<String, String>) -> Option<String> {
    (attrs.get("email_verified").map(String::as_str) == Some("true"))
        .then(|| attrs.get("email").cloned())
        .flatten()
}

/// `AdminUpdateUserAttributes`: sets the attributes; a new email is unverified unless
/// the same call verifies it, and a verified email claims the alias (see
/// [`crate::pool::Pool::claim_email_alias`]) — this operation has no
/// `ForceAliasCreation`, so another user's verified alias is always
/// `AliasExistsException`. `sub` cannot change.
pub fn admin_update_user_attributes(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?;
    let name = required(input, "Username")?;
    let changes = attributes(input, "UserAttributes");
    if changes.is_empty() {
        return Err(CognitoError::invalid_parameter(
            "1 validation error detected: Value at 'userAttributes' failed to satisfy constraint: Member must not be null",
        ));
    }
    if changes.contains_key("sub") {
        return Err(CognitoError::invalid_parameter(
            "Cannot modify the non-mutable attribute sub",
        ));
    }
    s.with_pool(pool_id, |p| {
        let user = p.user(name)?;
        let username = user.username.clone();
        let mut after = user.attributes.clone();
        if changes.contains_key("email") && !changes.contains_key("email_verified") {
            after.insert("email_verified".to_owned(), "false".to_owned());
        }
        after.extend(changes.clone());
        if p.uses_email_as_username()
            && let Some(email) = changes.get("email")
            && p.email_taken(email, Some(&username))
        {
            return Err(CognitoError::new(
                "AliasExistsException",
                "An account with the email already exists.",
            ));
        }
        if let Some(email) = verified_email(&after) {
            p.claim_email_alias(&email, Some(&username), false)?;
        }
        let user = p.user_mut(&username)?;
        user.attributes = after;
        user.modified = Utc::now();
        Ok(json!({}))
    })
}

/// `AdminCreateUser`.
pub async fn admin_create_user(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?.to_owned();
    let name = required(input, "Username")?.to_owned();
    let mut attrs = attributes(input, "UserAttributes");
    let suppress = input.get("MessageAction").and_then(Value::as_str) == Some("SUPPRESS");
    let temporary = input
        .get("TemporaryPassword")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let username = s.with_pool(&pool_id, |p| {
        if let Some(t) = &temporary {
            p.check_password_policy(t)?;
        }
        p.check_new_username(&name)?;
        let username = p.username_for(&name, &mut attrs);
        if p.find(&name).is_some() {
            return Err(if p.uses_email_as_username() {
                email_exists()
            } else {
                exists()
            });
        }
        if p.uses_email_as_username() && attrs.get("email").is_some_and(|e| p.email_taken(e, None))
        {
            return Err(email_exists());
        }
        Ok(username)
    })?;
    // Cognito ignores autoConfirmUser, autoVerifyEmail and autoVerifyPhone in a
    // PreSignUp_AdminCreateUser answer: the administrator decides those.
    pre_sign_up(
        s,
        &pool_id,
        "PreSignUp_AdminCreateUser",
        &username,
        None,
        &attrs,
        input,
    )
    .await?;
    let force_alias = input
        .get("ForceAliasCreation")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    s.with_pool(&pool_id, |p| {
        if p.find(&username).is_some() {
            return Err(exists());
        }
        if let Some(email) = verified_email(&attrs) {
            p.claim_email_alias(&email, None, force_alias)?;
        }
        let mut user = User::new(username.clone(), attrs.clone(), Utc::now());
        let password = temporary.clone().unwrap_or_else(|| opaque_token(12));
        user.set_password(p.config.name(), &password)?;
        user.status = UserStatus::ForceChangePassword;
        if !suppress {
            tracing::info!(pool = %p.config.id, username = %user.username, "invitation (the stand-in sends no email); temporary password set");
        }
        let out = json!({ "User": user.user_type() });
        p.users.push(user);
        Ok(out)
    })
}

/// `AdminSetUserPassword`.
pub fn admin_set_user_password(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?;
    let name = required(input, "Username")?;
    let password = required(input, "Password")?;
    let permanent = input
        .get("Permanent")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    s.with_pool(pool_id, |p| {
        p.check_password_policy(password)?;
        let pool_name = p.config.name().to_owned();
        let user = p.user_mut(name)?;
        user.set_password(&pool_name, password)?;
        user.status = if permanent {
            UserStatus::Confirmed
        } else {
            UserStatus::ForceChangePassword
        };
        user.modified = Utc::now();
        Ok(json!({}))
    })
}

/// `AdminGetUser`.
pub fn admin_get_user(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?;
    let name = required(input, "Username")?;
    s.with_pool(pool_id, |p| {
        let u = p.user(name)?;
        let t = u.user_type();
        Ok(json!({
            "Username": t["Username"],
            "UserAttributes": t["Attributes"],
            "UserCreateDate": t["UserCreateDate"],
            "UserLastModifiedDate": t["UserLastModifiedDate"],
            "Enabled": t["Enabled"],
            "UserStatus": t["UserStatus"],
        }))
    })
}

/// `CreateGroup`.
pub fn create_group(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?;
    let name = required(input, "GroupName")?.to_owned();
    s.with_pool(pool_id, |p| {
        if !p.groups.insert(name.clone()) {
            return Err(CognitoError::new(
                "GroupExistsException",
                "A group with the name already exists.",
            ));
        }
        Ok(json!({ "Group": { "GroupName": name, "UserPoolId": pool_id } }))
    })
}

/// `AdminAddUserToGroup` / `AdminRemoveUserFromGroup`.
pub fn admin_group_membership(
    s: &Standin,
    input: &Value,
    add: bool,
) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?;
    let name = required(input, "Username")?;
    let group = required(input, "GroupName")?.to_owned();
    s.with_pool(pool_id, |p| {
        if !p.groups.contains(&group) {
            return Err(CognitoError::resource_not_found("Group not found."));
        }
        let user = p.user_mut(name)?;
        if add {
            user.groups.insert(group);
        } else {
            user.groups.remove(&group);
        }
        Ok(json!({}))
    })
}

/// `AdminListGroupsForUser`.
pub fn admin_list_groups_for_user(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?;
    let name = required(input, "Username")?;
    s.with_pool(pool_id, |p| {
        let groups: Vec<Value> = p
            .user(name)?
            .groups
            .iter()
            .map(|g| json!({ "GroupName": g, "UserPoolId": pool_id }))
            .collect();
        Ok(json!({ "Groups": groups }))
    })
}

/// `AdminDeleteUser`: the user, and every session and token of theirs.
pub fn admin_delete_user(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?;
    let name = required(input, "Username")?;
    s.with_pool(pool_id, |p| {
        let i = p.find(name).ok_or_else(CognitoError::user_not_found)?;
        let user = p.users.remove(i);
        p.sign_out_everywhere(&user.username);
        p.sessions.retain(|_, sess| sess.username != user.username);
        Ok(json!({}))
    })
}

/// `AdminUserGlobalSignOut`: every refresh token of the user, and the access tokens
/// minted from them, stop working (an unknown user is `UserNotFoundException`).
pub fn admin_user_global_sign_out(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?;
    let name = required(input, "Username")?;
    s.with_pool(pool_id, |p| {
        let username = p.user(name)?.username.clone();
        p.sign_out_everywhere(&username);
        Ok(json!({}))
    })
}

/// `ListUsers` with Cognito's filter syntax (`attr = "v"`, `attr ^= "prefix"`).
pub fn list_users(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?;
    let filter = parse_filter(
        input
            .get("Filter")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    )?;
    let limit = input
        .get("Limit")
        .and_then(Value::as_u64)
        .unwrap_or(60)
        .clamp(1, 60) as usize;
    let start: usize = match input.get("PaginationToken").and_then(Value::as_str) {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| CognitoError::invalid_parameter("Invalid pagination token."))?,
    };
    let wanted: Option<Vec<String>> =
        input
            .get("AttributesToGet")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            });
    s.with_pool(pool_id, |p| {
        let matching: Vec<&User> = p
            .users
            .iter()
            .filter(|u| match &filter {
                None => true,
                Some((attr, prefix, value)) => filter_matches(u, attr, *prefix, value),
            })
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(limit)
            .map(|u| {
                let mut t = u.user_type();
                if let Some(w) = &wanted {
                    let attrs: Vec<Value> = t["Attributes"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter(|x| {
                                    x["Name"].as_str().is_some_and(|n| w.iter().any(|k| k == n))
                                })
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default();
                    t["Attributes"] = Value::Array(attrs);
                }
                t
            })
            .collect();
        let mut out = json!({ "Users": page });
        if start + limit < matching.len() {
            out["PaginationToken"] = json!((start + limit).to_string());
        }
        Ok(out)
    })
}

/// `DescribeUserPool`: the settings rp-server reads (how users are named, the password
/// policy, the triggers).
pub fn describe_user_pool(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?;
    s.with_pool(pool_id, |p| {
        let c = &p.config;
        let policy = &c.password_policy;
        let mut pool = json!({
            "Id": c.id,
            "Name": c.name(),
            "Arn": format!("arn:aws:cognito-idp:{}:000000000000:userpool/{}", c.region(), c.id),
            "Policies": { "PasswordPolicy": {
                "MinimumLength": policy.minimum_length,
                "RequireUppercase": policy.require_uppercase,
                "RequireLowercase": policy.require_lowercase,
                "RequireNumbers": policy.require_numbers,
                "RequireSymbols": policy.require_symbols,
                "TemporaryPasswordValidityDays": 7,
            }},
            "LambdaConfig": {},
            "UsernameConfiguration": { "CaseSensitive": false },
            "EstimatedNumberOfUsers": p.users.len(),
            "MfaConfiguration": "OFF",
        });
        if !c.username_attributes.is_empty() {
            pool["UsernameAttributes"] = json!(c.username_attributes);
        }
        if !c.alias_attributes.is_empty() {
            pool["AliasAttributes"] = json!(c.alias_attributes);
        }
        Ok(json!({ "UserPool": pool }))
    })
}

/// `DescribeUserPoolClient`.
pub fn describe_user_pool_client(s: &Standin, input: &Value) -> Result<Value, CognitoError> {
    let pool_id = required(input, "UserPoolId")?;
    let client_id = required(input, "ClientId")?;
    s.with_pool(pool_id, |p| {
        let c = p.client(client_id)?;
        Ok(json!({ "UserPoolClient": {
            "UserPoolId": p.config.id,
            "ClientId": c.id,
            "ClientName": c.name.clone().unwrap_or_else(|| c.id.clone()),
            "ExplicitAuthFlows": c.explicit_auth_flows,
            "PreventUserExistenceErrors": if c.prevent_user_existence_errors { "ENABLED" } else { "LEGACY" },
            "AuthSessionValidity": c.auth_session_validity,
            "EnableTokenRevocation": true,
        }}))
    })
}
