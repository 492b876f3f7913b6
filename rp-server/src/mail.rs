//! Outgoing mail: one-time codes and the "you already have an account" notice, as
//! plain text and HTML branded with `RP_NAME`, through SMTP (lettre) or Amazon SES v2
//! (the AWS SDK). A code appears in the message and nowhere else: not in logs, not in
//! errors.

use anyhow::Context as _;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use secrecy::ExposeSecret as _;

use crate::config::{EmailConfig, EmailTransport};

/// A message to one recipient.
#[derive(Debug, Clone)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    #[cfg(feature = "ses")]
    Ses(aws_sdk_sesv2::Client),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl Mailer {
    /// The transport the configuration names (SES from the SDK's standard sources).
    pub async fn new(config: &EmailConfig) -> anyhow::Result<Self> {
        let from: Mailbox = config.from.parse().context("RP_EMAIL_FROM")?;
        let transport = match &config.transport {
            EmailTransport::Smtp(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .context("RP_SMTP_URL")?
                    .timeout(Some(std::time::Duration::from_secs(10)))
                    .build(),
            ),
            #[cfg(feature = "ses")]
            EmailTransport::Ses => {
                let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .load()
                    .await;
                Transport::Ses(aws_sdk_sesv2::Client::new(&sdk))
            }
            #[cfg(not(feature = "ses"))]
            EmailTransport::Ses => anyhow::bail!(
                "RP_EMAIL_TRANSPORT=ses: this rp-server was built without SES (cargo build --features ses; the container image has it)"
            ),
        };
        Ok(Self { transport, from })
    }

    /// Sends `mail` to `to`. The error never carries the message's content.
    pub async fn send(&self, to: &str, mail: &Mail) -> anyhow::Result<()> {
        let to: Mailbox = to.parse().context("the recipient is not an address")?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                let message = lettre::Message::builder()
                    .from(self.from.clone())
                    .to(to)
                    .subject(&mail.subject)
                    .multipart(MultiPart::alternative_plain_html(
                        mail.text.clone(),
                        mail.html.clone(),
                    ))
                    .context("building the message")?;
                smtp.send(message)
                    .await
                    .map_err(|e| anyhow::anyhow!("SMTP delivery failed: {e}"))?;
            }
            #[cfg(feature = "ses")]
            Transport::Ses(ses) => ses::send(ses, &self.from, &to, mail).await?,
        }
        Ok(())
    }
}

/// What a code is for, in words.
fn purpose_words(sign_up: bool) -> &'static str {
    if sign_up {
        "finish creating your account"
    } else {
        "sign in"
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(rp_name: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;color:#1f2328\">\
         <h2 style=\"margin:0 0 16px\">{}</h2>{body}\
         <p style=\"color:#59636e;font-size:13px\">If you did not ask for this, ignore this message.</p>\
         </body></html>",
        escape(rp_name)
    )
}

/// A one-time code for `to`, with a link that completes it when `link` is set (code,
/// purpose and address go in the URL fragment, which browsers never send to a server).
pub fn code(
    rp_name: &str,
    to: &str,
    code: &str,
    sign_up: bool,
    minutes: u64,
    link: Option<&url::Url>,
) -> Mail {
    let what = purpose_words(sign_up);
    let link = link.map(|l| {
        let mut l = l.clone();
        let fragment = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("code", code)
            .append_pair("purpose", if sign_up { "sign_up" } else { "sign_in" })
            .append_pair("email", to)
            .finish();
        l.set_fragment(Some(&fragment));
        l
    });
    let mut text = format!(
        "Your {rp_name} code is {code}\n\nEnter it to {what}. It works once, for {minutes} minutes.\n"
    );
    let mut body = format!(
        "<p>Enter this code to {what}:</p>\
         <p style=\"font-size:28px;font-weight:700;letter-spacing:4px\">{code}</p>\
         <p>It works once, for {minutes} minutes.</p>"
    );
    if let Some(l) = &link {
        text.push_str(&format!(
            "\nOr open this link on the device you are using:\n{l}\n"
        ));
        body.push_str(&format!(
            "<p><a href=\"{}\">Or continue on this device</a></p>",
            escape(l.as_str())
        ));
    }
    text.push_str("\nIf you did not ask for this, ignore this message.\n");
    Mail {
        subject: format!("{code} is your {rp_name} code"),
        text,
        html: html(rp_name, &body),
    }
}

/// Sent instead of a sign-up code to an address that already has an account: the owner
/// learns someone tried, and the requester learns nothing from the API's answer.
pub fn account_exists(rp_name: &str) -> Mail {
    Mail {
        subject: format!("You already have a {rp_name} account"),
        text: format!(
            "Someone asked to create a {rp_name} account with this address, but you already have one.\n\n\
             Sign in instead. If it was not you, you can ignore this message.\n"
        ),
        html: html(
            rp_name,
            "<p>Someone asked to create an account with this address, but you already have one.</p>\
             <p>Sign in instead.</p>",
        ),
    }
}

/// A security notice: what happened to the account, and when. Never a secret.
pub fn notice(rp_name: &str, what: &str, when: chrono::DateTime<chrono::Utc>) -> Mail {
    let when = when.format("%Y-%m-%d %H:%M UTC");
    Mail {
        subject: format!("Security notice from {rp_name}"),
        text: format!(
            "{what} on {when}.\n\nIf this was you, there is nothing to do. If it was not, \
             sign in and review your passkeys, or contact support.\n"
        ),
        html: html(
            rp_name,
            &format!(
                "<p>{} on {when}.</p><p>If this was you, there is nothing to do. If it was not, \
                 sign in and review your passkeys, or contact support.</p>",
                escape(what)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_message_carries_the_code_and_an_escaped_name() {
        let link = url::Url::parse("https://app.example.com/email").ok();
        let m = code("A <b>&", "x@y.z", "042917", true, 10, link.as_ref());
        assert_eq!(m.subject, "042917 is your A <b>& code");
        assert!(m.text.contains("042917") && m.text.contains("10 minutes"));
        assert!(
            m.text
                .contains("https://app.example.com/email#code=042917&purpose=sign_up")
        );
        assert!(m.html.contains("A &lt;b&gt;&amp;") && !m.html.contains("<b>&"));
        let m = account_exists("Example");
        assert!(!m.text.chars().any(|c| c.is_ascii_digit()));
    }
}

/// Amazon SES v2 (`--features ses`, which the container image is built with: the local
/// stack and the tests send mail over SMTP and need not build the SES client).
#[cfg(feature = "ses")]
mod ses {
    use anyhow::Context as _;
    use lettre::message::Mailbox;

    use super::Mail;

    pub(super) async fn send(
        ses: &aws_sdk_sesv2::Client,
        from: &Mailbox,
        to: &Mailbox,
        mail: &Mail,
    ) -> anyhow::Result<()> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .context("building the SES message")
        };
        ses.send_email()
            .from_email_address(from.to_string())
            .destination(Destination::builder().to_addresses(to.to_string()).build())
            .content(
                EmailContent::builder()
                    .simple(
                        Message::builder()
                            .subject(content(&mail.subject)?)
                            .body(
                                Body::builder()
                                    .text(content(&mail.text)?)
                                    .html(content(&mail.html)?)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "SES delivery failed: {}",
                    aws_sdk_sesv2::error::DisplayErrorContext(e)
                )
            })?;
        Ok(())
    }
}
