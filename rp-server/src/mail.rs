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

/// The message bodies, compile-checked templates in `templates/mail/` (HTML escaped by
/// askama, the text versions not).
mod templates {
    #[derive(askama::Template)]
    #[template(path = "mail/code.txt")]
    pub struct CodeText<'a> {
        pub rp_name: &'a str,
        pub what: &'a str,
        pub code: &'a str,
        pub minutes: u64,
        pub link: Option<String>,
    }

    #[derive(askama::Template)]
    #[template(path = "mail/code.html")]
    pub struct CodeHtml<'a> {
        pub rp_name: &'a str,
        pub what: &'a str,
        pub code: &'a str,
        pub minutes: u64,
        pub link: Option<String>,
    }

    #[derive(askama::Template)]
    #[template(path = "mail/account_exists.txt")]
    pub struct AccountExistsText<'a> {
        pub rp_name: &'a str,
    }

    #[derive(askama::Template)]
    #[template(path = "mail/account_exists.html")]
    pub struct AccountExistsHtml<'a> {
        pub rp_name: &'a str,
    }

    #[derive(askama::Template)]
    #[template(path = "mail/notice.txt")]
    pub struct NoticeText<'a> {
        pub what: &'a str,
        pub when: String,
    }

    #[derive(askama::Template)]
    #[template(path = "mail/notice.html")]
    pub struct NoticeHtml<'a> {
        pub rp_name: &'a str,
        pub what: &'a str,
        pub when: String,
    }
}

use askama::Template as _;

/// A one-time code for `to`, with a link that completes it when `link` is set (code,
/// purpose and address go in the URL fragment, which browsers never send to a server).
pub fn code(
    rp_name: &str,
    to: &str,
    code: &str,
    sign_up: bool,
    minutes: u64,
    link: Option<&url::Url>,
) -> Result<Mail, askama::Error> {
    let what = purpose_words(sign_up);
    let link = link.map(|l| {
        let mut l = l.clone();
        let fragment = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("code", code)
            .append_pair("purpose", if sign_up { "sign_up" } else { "sign_in" })
            .append_pair("email", to)
            .finish();
        l.set_fragment(Some(&fragment));
        l.to_string()
    });
    Ok(Mail {
        subject: format!("{code} is your {rp_name} code"),
        text: templates::CodeText {
            rp_name,
            what,
            code,
            minutes,
            link: link.clone(),
        }
        .render()?,
        html: templates::CodeHtml {
            rp_name,
            what,
            code,
            minutes,
            link,
        }
        .render()?,
    })
}

/// Sent instead of a sign-up code to an address that already has an account: the owner
/// learns someone tried, and the requester learns nothing from the API's answer.
pub fn account_exists(rp_name: &str) -> Result<Mail, askama::Error> {
    Ok(Mail {
        subject: format!("You already have a {rp_name} account"),
        text: templates::AccountExistsText { rp_name }.render()?,
        html: templates::AccountExistsHtml { rp_name }.render()?,
    })
}

/// A security notice: what happened to the account, and when. Never a secret.
pub fn notice(
    rp_name: &str,
    what: &str,
    when: chrono::DateTime<chrono::Utc>,
) -> Result<Mail, askama::Error> {
    let when = when.format("%Y-%m-%d %H:%M UTC").to_string();
    Ok(Mail {
        subject: format!("Security notice from {rp_name}"),
        text: templates::NoticeText {
            what,
            when: when.clone(),
        }
        .render()?,
        html: templates::NoticeHtml {
            rp_name,
            what,
            when,
        }
        .render()?,
    })
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_code_message_carries_the_code_and_an_escaped_name() {
        let link = url::Url::parse("https://app.example.com/email").ok();
        let m = code("A <b>&", "x@y.z", "042917", true, 10, link.as_ref()).unwrap();
        assert_eq!(m.subject, "042917 is your A <b>& code");
        assert!(m.text.contains("042917") && m.text.contains("10 minutes"));
        assert!(
            m.text
                .contains("https://app.example.com/email#code=042917&purpose=sign_up")
        );
        assert!(
            m.html.contains("A &#60;b&#62;&#38;") && !m.html.contains("<b>&"),
            "{}",
            m.html
        );
        let m = account_exists("Example").unwrap();
        assert!(!m.text.chars().any(|c| c.is_ascii_digit()));
    }
}
