//! What a notification rule must be before it is stored: a name, a filter
//! that can match something, and a channel that can be sent to — an
//! `http`/`https` URL with a secret of its own, or sane email addresses.

use nexus_model::{Channel, NotificationFilter, TransitionKind};

/// Most alarm types, severities or recipients a rule may list.
pub const MAX_LIST: usize = 50;
/// Longest webhook URL accepted.
pub const MAX_URL_CHARS: usize = 2048;
/// Shortest and longest webhook secret accepted, in characters.
pub const SECRET_CHARS: std::ops::RangeInclusive<usize> = 16..=256;
/// Longest alarm type a filter may name (as rules' signals).
const MAX_TYPE_CHARS: usize = 255;

/// Why a notification rule was refused; nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The name is blank or too long.
    #[error("name must be 1 to {} characters, not blank", crate::MAX_NAME_CHARS)]
    Name,
    /// The filter can match nothing, or is ambiguous.
    #[error("filter: {0}")]
    Filter(String),
    /// The webhook URL is not an absolute `http` or `https` URL.
    #[error("webhook url: {0}")]
    Url(String),
    /// The webhook secret is missing, too short or too long.
    #[error("webhook secret: {0}")]
    Secret(String),
    /// An email address is not one.
    #[error("email: {0}")]
    Email(String),
    /// Email was asked for and this host sends none.
    #[error("this host sends no email (its SMTP server is not configured: NEXUS_SMTP_URL)")]
    EmailDisabled,
}

impl RuleError {
    /// The stable code of the problem document.
    pub fn code(&self) -> &'static str {
        match self {
            RuleError::Name | RuleError::Filter(_) => "invalid-request",
            RuleError::Url(_) => "invalid-webhook-url",
            RuleError::Secret(_) => "invalid-webhook-secret",
            RuleError::Email(_) => "invalid-email",
            RuleError::EmailDisabled => "email-not-configured",
        }
    }
}

/// Checks a rule's name; returns it trimmed.
pub(crate) fn name(name: &str) -> Result<String, RuleError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > crate::MAX_NAME_CHARS {
        return Err(RuleError::Name);
    }
    Ok(trimmed.to_string())
}

/// Checks a filter; returns it with its lists deduplicated.
pub(crate) fn filter(mut filter: NotificationFilter) -> Result<NotificationFilter, RuleError> {
    let invalid = |message: &str| Err(RuleError::Filter(message.to_string()));
    if filter.transitions.is_empty() {
        return invalid("transitions must name at least one transition");
    }
    if filter.transitions.contains(&TransitionKind::Updated) {
        return invalid("UPDATED is not an event (an alarm raised again at the same severity); it is never sent");
    }
    if filter.min_severity.is_some() && !filter.severities.is_empty() {
        return invalid("give min_severity or severities, not both");
    }
    if [filter.alarm_types.len(), filter.severities.len(), filter.transitions.len()].iter().any(|n| *n > MAX_LIST) {
        return invalid(&format!("at most {MAX_LIST} alarm types, severities and transitions"));
    }
    if filter.alarm_types.iter().any(|t| t.trim().is_empty() || t.chars().count() > MAX_TYPE_CHARS) {
        return invalid(&format!("an alarm type is 1 to {MAX_TYPE_CHARS} characters, not blank"));
    }
    dedup(&mut filter.alarm_types);
    dedup(&mut filter.severities);
    dedup(&mut filter.transitions);
    Ok(filter)
}

fn dedup<T: PartialEq + Clone>(items: &mut Vec<T>) {
    let mut seen: Vec<T> = Vec::with_capacity(items.len());
    items.retain(|item| {
        let new = !seen.contains(item);
        if new {
            seen.push(item.clone());
        }
        new
    });
}

/// Checks a channel; `email` says whether this host sends email.
pub(crate) fn channel(channel: Channel, email: bool) -> Result<Channel, RuleError> {
    match channel {
        Channel::Webhook { url, secret } => {
            Ok(Channel::Webhook { url: webhook_url(&url)?, secret: secret_of(secret)? })
        }
        Channel::Email { to } => {
            if !email {
                return Err(RuleError::EmailDisabled);
            }
            if to.is_empty() || to.len() > MAX_LIST {
                return Err(RuleError::Email(format!("to must list 1 to {MAX_LIST} addresses")));
            }
            let mut addresses = to.iter().map(|a| address(a)).collect::<Result<Vec<_>, _>>()?;
            dedup(&mut addresses);
            Ok(Channel::Email { to: addresses })
        }
    }
}

/// An absolute `http` or `https` URL with a host, as `url` normalizes it.
fn webhook_url(text: &str) -> Result<String, RuleError> {
    if text.chars().count() > MAX_URL_CHARS {
        return Err(RuleError::Url(format!("longer than {MAX_URL_CHARS} characters")));
    }
    let url = url::Url::parse(text.trim()).map_err(|e| RuleError::Url(format!("`{text}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(RuleError::Url(format!("`{text}`: the scheme must be http or https, not {}", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(RuleError::Url(format!("`{text}` has no host")));
    }
    if url.fragment().is_some() {
        return Err(RuleError::Url(format!("`{text}`: a fragment is never sent; leave it out")));
    }
    Ok(url.to_string())
}

fn secret_of(secret: String) -> Result<String, RuleError> {
    let chars = secret.chars().count();
    if !SECRET_CHARS.contains(&chars) {
        return Err(RuleError::Secret(format!(
            "must be {} to {} characters (got {chars})",
            SECRET_CHARS.start(),
            SECRET_CHARS.end()
        )));
    }
    if secret.chars().any(char::is_control) {
        return Err(RuleError::Secret("must not contain control characters".into()));
    }
    Ok(secret)
}

/// A plain address, `local@domain`: no display name, no spaces or
/// control characters, a dot-separated domain of letters, digits and
/// hyphens. Returned trimmed, the domain lower-cased.
fn address(text: &str) -> Result<String, RuleError> {
    let invalid = || RuleError::Email(format!("`{text}` is not an email address (local@domain)"));
    let text = text.trim();
    let (local, domain) = text.rsplit_once('@').ok_or_else(invalid)?;
    let local_ok = (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let domain_ok = (1..=253).contains(&domain.len())
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !local_ok || !domain_ok {
        return Err(invalid());
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use nexus_model::Severity;

    use super::*;

    fn transitions(kinds: &[TransitionKind]) -> NotificationFilter {
        NotificationFilter { transitions: kinds.to_vec(), ..NotificationFilter::default() }
    }

    #[test]
    fn a_filter_must_be_able_to_match_and_be_unambiguous() {
        assert!(filter(transitions(&[])).is_err());
        assert!(filter(transitions(&[TransitionKind::Updated])).is_err());
        let mut both = transitions(&[TransitionKind::Raised]);
        both.min_severity = Some(Severity::Major);
        both.severities = vec![Severity::Critical];
        assert!(matches!(filter(both), Err(RuleError::Filter(_))));
        let mut blank = transitions(&[TransitionKind::Raised]);
        blank.alarm_types = vec![" ".into()];
        assert!(filter(blank).is_err());
        let mut twice = transitions(&[TransitionKind::Raised, TransitionKind::Raised]);
        twice.alarm_types = vec!["High".into(), "High".into()];
        let kept = filter(twice).expect("valid");
        assert_eq!((kept.transitions.len(), kept.alarm_types.len()), (1, 1));
    }

    #[test]
    fn webhooks_need_an_http_url_with_a_host_and_a_secret_of_16_characters() {
        let hook = |url: &str, secret: &str| Channel::Webhook { url: url.into(), secret: secret.into() };
        let secret = "0123456789abcdef";
        assert!(channel(hook("https://hooks.example.com/a?b=c", secret), false).is_ok());
        assert!(channel(hook("http://127.0.0.1:9000/hook", secret), false).is_ok());
        for url in ["ftp://example.com/", "example.com/hook", "https://", "mailto:a@b.c", "https://x/#frag", ""] {
            let refused = channel(hook(url, secret), false);
            assert!(matches!(refused, Err(RuleError::Url(_))), "{url}: {refused:?}");
        }
        assert!(matches!(channel(hook("https://example.com", "short"), false), Err(RuleError::Secret(_))));
        let bell = "0123456789abcdef\u{7}";
        assert!(matches!(channel(hook("https://example.com", bell), false), Err(RuleError::Secret(_))));
    }

    #[test]
    fn email_needs_smtp_and_plain_addresses() {
        let mail = |to: &[&str]| Channel::Email { to: to.iter().map(|a| a.to_string()).collect() };
        assert_eq!(channel(mail(&["ops@example.com"]), false), Err(RuleError::EmailDisabled));
        let kept = channel(mail(&[" ops@Example.COM ", "ops@example.com", "a.b+c@x-y.io"]), true).expect("valid");
        assert_eq!(kept, mail(&["ops@example.com", "a.b+c@x-y.io"]));
        for bad in ["", "ops", "@example.com", "ops@", "Ops <ops@example.com>", "o ps@example.com", "ops@exa_mple.com"]
        {
            assert!(matches!(channel(mail(&[bad]), true), Err(RuleError::Email(_))), "{bad}");
        }
        assert!(matches!(channel(mail(&[]), true), Err(RuleError::Email(_))));
        assert!(matches!(channel(mail(&["a..b@example.com"]), true), Err(RuleError::Email(_))));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("  pager  ").as_deref(), Ok("pager"));
        assert_eq!(name(" "), Err(RuleError::Name));
        assert_eq!(name(&"x".repeat(crate::MAX_NAME_CHARS + 1)), Err(RuleError::Name));
    }
}
