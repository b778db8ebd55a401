//! The senders of notifications, behind the services' [`ChannelSender`]
//! port: webhooks over HTTP(S) with reqwest, signed with HMAC-SHA256, and
//! email over SMTP with lettre. They live in the binary, not in the
//! services: the services decide what is sent, when, and what a failure
//! means for the delivery; only the binary (and the API) knows network
//! protocols, so the services stay testable without a network.
//!
//! A webhook is `POST`ed with the notification's JSON and:
//! - `X-Nexus-Signature: sha256=<hex HMAC-SHA256 of the body, keyed by the
//!   rule's secret>`;
//! - `X-Nexus-Delivery: <delivery id>`, the same for every attempt: the
//!   receiver's idempotency key;
//! - `X-Nexus-Timestamp: <Unix seconds of this attempt>`.
//!
//! 2xx is sent. 408, 429, 5xx, a refused connection and a timeout are
//! retried. Any other answer — a redirect (never followed) or another
//! 4xx — is the receiver refusing the request itself, which the same bytes
//! will meet again: the delivery is dead at once (fix the rule, then retry
//! it by hand). An email carries the delivery id as its `Message-ID`
//! (`<id@nexus>`) and in `X-Nexus-Delivery`; a permanent SMTP reply (5xx)
//! is dead at once, anything else is retried.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use nexus_services::{ChannelSender, Notification, SendError};
use sha2::Sha256;

/// The SMTP settings of `nexus serve`.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// `NEXUS_SMTP_URL`: `smtp://HOST:PORT` (plain), `smtp://…?tls=required`
    /// (STARTTLS), `smtps://HOST:PORT` (TLS); credentials as
    /// `smtp://USER:PASSWORD@HOST`. None: this host sends no email.
    pub smtp_url: Option<String>,
    /// `NEXUS_SMTP_FROM`: the sender address.
    pub smtp_from: String,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self { smtp_url: None, smtp_from: "nexus@localhost".into() }
    }
}

/// The webhook and SMTP senders.
pub struct Senders {
    http: reqwest::Client,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

impl Senders {
    /// Senders whose every send gives up after `timeout`. Inside a Tokio
    /// runtime (the SMTP connection pool runs on it).
    pub fn new(config: &NotifierConfig, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("nexus-notifications/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let smtp = match &config.smtp_url {
            None => None,
            Some(url) => {
                let transport: AsyncSmtpTransport<Tokio1Executor> = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("NEXUS_SMTP_URL: {e}"))?
                    .timeout(Some(timeout))
                    .build();
                let from: Mailbox = config
                    .smtp_from
                    .parse()
                    .map_err(|e| anyhow::anyhow!("NEXUS_SMTP_FROM `{}`: {e}", config.smtp_from))?;
                Some((transport, from))
            }
        };
        Ok(Self { http, smtp })
    }

    async fn post(&self, url: &str, secret: &str, n: &Notification) -> Result<(), SendError> {
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-nexus-signature", format!("sha256={}", sign(secret.as_bytes(), &n.body)))
            .header("x-nexus-delivery", n.delivery_id.as_str())
            .header("x-nexus-timestamp", (n.time / 1000).to_string())
            .body(n.body.clone())
            .send()
            .await
            .map_err(|e| {
                let e = e.without_url();
                if e.is_builder() { SendError::permanent(e.to_string()) } else { SendError::transient(e.to_string()) }
            })?;
        classify(response.status())
    }

    async fn mail(&self, to: &[String], n: &Notification) -> Result<(), SendError> {
        let Some((transport, from)) = &self.smtp else {
            return Err(SendError::permanent("this host sends no email (NEXUS_SMTP_URL is not set)"));
        };
        let mut message = Message::builder()
            .from(from.clone())
            .subject(n.subject.clone())
            .message_id(Some(format!("<{}@nexus>", n.delivery_id)))
            .header(DeliveryHeader(n.delivery_id.to_string()))
            .header(ContentType::TEXT_PLAIN);
        for address in to {
            let mailbox: Mailbox = address.parse().map_err(|e| SendError::permanent(format!("`{address}`: {e}")))?;
            message = message.to(mailbox);
        }
        let message = message.body(n.text.clone()).map_err(|e| SendError::permanent(e.to_string()))?;
        match transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::permanent(format!("SMTP: {e}"))),
            Err(e) => Err(SendError::transient(format!("SMTP: {e}"))),
        }
    }
}

#[async_trait]
impl ChannelSender for Senders {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        match &notification.channel {
            nexus_model::Channel::Webhook { url, secret } => self.post(url, secret, notification).await,
            nexus_model::Channel::Email { to } => self.mail(to, notification).await,
        }
    }
}

/// What a webhook's answer means for its delivery.
fn classify(status: reqwest::StatusCode) -> Result<(), SendError> {
    let code = status.as_u16();
    match code {
        200..=299 => Ok(()),
        408 | 429 => Err(SendError::transient(format!("HTTP {status}"))),
        300..=399 => Err(SendError::permanent(format!("HTTP {status}: redirects are not followed"))),
        400..=499 => Err(SendError::permanent(format!("HTTP {status}: the receiver refused the request"))),
        _ => Err(SendError::transient(format!("HTTP {status}"))),
    }
}

/// Hex HMAC-SHA256 of `body` keyed by `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// `X-Nexus-Delivery` of an email.
#[derive(Clone)]
struct DeliveryHeader(String);

impl Header for DeliveryHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Nexus-Delivery")
    }

    fn parse(text: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(text.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_as_rfc_4231_says() {
        // RFC 4231, test cases 1 and 2.
        assert_eq!(sign(&[0x0b; 20], b"Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn only_2xx_is_sent_and_only_the_receivers_own_refusals_are_final() {
        let permanent =
            |code: u16| classify(reqwest::StatusCode::from_u16(code).expect("status")).err().map(|e| e.permanent);
        assert_eq!(permanent(200), None);
        assert_eq!(permanent(204), None);
        for code in [301, 400, 401, 404, 410, 422] {
            assert_eq!(permanent(code), Some(true), "{code}");
        }
        for code in [408, 429, 500, 502, 503] {
            assert_eq!(permanent(code), Some(false), "{code}");
        }
    }

    #[tokio::test]
    async fn both_senders_build_with_one_tls_provider() {
        // reqwest's and lettre's rustls both use ring: building them does
        // not panic over which CryptoProvider to use. (lettre's pool needs
        // a runtime.)
        let config = NotifierConfig { smtp_url: Some("smtps://127.0.0.1:1".into()), ..NotifierConfig::default() };
        assert!(Senders::new(&config, Duration::from_secs(1)).is_ok());
        let bad = NotifierConfig { smtp_url: Some("gopher://x".into()), ..NotifierConfig::default() };
        assert!(Senders::new(&bad, Duration::from_secs(1)).is_err());
    }
}
