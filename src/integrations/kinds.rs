//! What each kind of integration needs: its settings and credential fields, checked
//! when it is saved, and the hosts its calls may reach (its egress allowlist).

use super::storage;
use serde_json::{Map, Value};
use url::Url;

/// The connector kinds insite knows.
pub const KINDS: &[&str] = &[
    "zendesk",
    "webhook",
    "slack",
    "alert_webhook",
    "smtp",
    "s3",
    "sftp",
];

/// Kinds that can be stored but have no connector in this version.
pub const NOT_YET: &[&str] = &[];

/// Kinds an alert rule can send to.
pub const ALERT_TARGETS: &[&str] = &["slack", "alert_webhook", "smtp"];

/// `settings.port` (1..=65535), or `default` when unset; None when out of range.
pub fn port(settings: &Map<String, Value>, default: u16) -> Option<u16> {
    match settings.get("port") {
        None => Some(default),
        Some(v) => v
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0),
    }
}

/// An SMTP server's port: `settings.port`, default 587 (submission).
pub fn smtp_port(settings: &Map<String, Value>) -> Option<u16> {
    port(settings, 587)
}

/// A host name or address as a setting may give it.
pub fn host_like(host: &str) -> bool {
    (1..=253).contains(&host.len())
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
}

/// The recipients of an SMTP target (`settings.to`).
pub fn smtp_recipients(settings: &Map<String, Value>) -> Vec<String> {
    settings
        .get("to")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn check_smtp(settings: &Map<String, Value>, creds: &[&str]) -> Result<(), String> {
    if !host_like(text(settings, "host").unwrap_or_default()) {
        return Err("an SMTP target needs settings.host (the submission server)".into());
    }
    smtp_port(settings).ok_or("settings.port must be 1..=65535 (default 587)")?;
    let address = |a: &str| crate::domain::email::parse_account_email(a).is_ok();
    if !text(settings, "from").is_some_and(address) {
        return Err("settings.from must be the sender's e-mail address".into());
    }
    let to = smtp_recipients(settings);
    if to.is_empty() || to.len() > 20 || !to.iter().all(|a| address(a)) {
        return Err("settings.to must list 1..=20 recipient e-mail addresses".into());
    }
    if !(creds.contains(&"username") && creds.contains(&"password")) {
        return Err("an SMTP target needs credentials username and password".into());
    }
    Ok(())
}

pub fn text<'a>(settings: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    settings.get(key).and_then(Value::as_str)
}

/// An `https://` (or, where allowed, `http://`) URL without credentials or fragment.
pub fn check_url(field: &str, value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("{field} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(format!("{field} must be an https:// URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{field} must not hold a user name, password or fragment"
        ));
    }
    Ok(url)
}

/// The allowlist entry of a URL: `host` on the scheme's port, else `host:port`.
pub fn entry_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

fn allowed_hosts(settings: &Map<String, Value>) -> Result<Vec<String>, String> {
    let Some(v) = settings.get("allowed_hosts") else {
        return Ok(Vec::new());
    };
    let list = v
        .as_array()
        .ok_or("settings.allowed_hosts must be a list of host names")?;
    if list.len() > 20 {
        return Err("settings.allowed_hosts holds at most 20 hosts".into());
    }
    list.iter()
        .map(|h| {
            let h = h.as_str().unwrap_or_default().trim().to_ascii_lowercase();
            let ok = (1..=255).contains(&h.len())
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
            if ok {
                Ok(h)
            } else {
                Err(format!(
                    "settings.allowed_hosts: '{h}' is not a host or host:port"
                ))
            }
        })
        .collect()
}

/// The Zendesk base URL: `settings.base_url`, else `https://<subdomain>.zendesk.com`.
pub fn zendesk_base(settings: &Map<String, Value>) -> Result<Url, String> {
    match (text(settings, "base_url"), text(settings, "subdomain")) {
        (Some(url), None) => check_url("settings.base_url", url),
        (None, Some(sub)) => {
            let ok = (1..=63).contains(&sub.len())
                && sub
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err("settings.subdomain must be 1..=63 characters of a-z, 0-9 and '-'".into());
            }
            Url::parse(&format!("https://{sub}.zendesk.com")).map_err(|e| e.to_string())
        }
        _ => Err("a Zendesk integration needs settings.subdomain (acme for acme.zendesk.com) or settings.base_url, not both".into()),
    }
}

/// Checks the settings and the credential fields of a kind.
pub fn check(kind: &str, settings: &Map<String, Value>, creds: &[&str]) -> Result<(), String> {
    let has = |f: &str| creds.contains(&f);
    allowed_hosts(settings)?;
    match kind {
        "zendesk" => {
            zendesk_base(settings)?;
            if let Some(v) = settings.get("start_time") {
                if !matches!(v.as_i64(), Some(t) if t >= 0) {
                    return Err("settings.start_time must be a Unix time in seconds".into());
                }
            }
            if !(has("oauth_token") || (has("email") && has("api_token"))) {
                return Err(
                    "a Zendesk integration needs credentials oauth_token, or email and api_token"
                        .into(),
                );
            }
        }
        "webhook" => {
            if !has("secret") {
                return Err("a webhook receiver needs credentials.secret (the HMAC-SHA256 key shared with the sender)".into());
            }
            if let Some(v) = settings.get("tolerance_seconds") {
                if !matches!(v.as_u64(), Some(t) if (30..=3600).contains(&t)) {
                    return Err("settings.tolerance_seconds must be between 30 and 3600".into());
                }
            }
        }
        "slack" if !has("webhook_url") => {
            return Err(
                "a Slack integration needs credentials.webhook_url (the incoming-webhook URL)"
                    .into(),
            );
        }
        "smtp" => check_smtp(settings, creds)?,
        "s3" | "sftp" => storage::settings::check(kind, settings, creds)?,
        "alert_webhook" => {
            check_url(
                "settings.url",
                text(settings, "url").ok_or("an alert webhook needs settings.url")?,
            )?;
            if !has("secret") {
                return Err("an alert webhook needs credentials.secret (its signing key)".into());
            }
        }
        _ => {}
    }
    Ok(())
}

/// Checks a credential value that is a URL (Slack's webhook URL).
pub fn check_credentials(kind: &str, creds: &Map<String, Value>) -> Result<(), String> {
    if kind == "slack" {
        if let Some(url) = creds.get("webhook_url").and_then(Value::as_str) {
            check_url("credentials.webhook_url", url)?;
        }
    }
    if let Some(secret) = creds.get("secret").and_then(Value::as_str) {
        if secret.len() < 16 {
            return Err("credentials.secret must be at least 16 characters".into());
        }
    }
    Ok(())
}

/// The hosts an integration's calls may reach.
pub fn allowlist(kind: &str, settings: &Map<String, Value>) -> Vec<String> {
    let mut hosts = allowed_hosts(settings).unwrap_or_default();
    match kind {
        "zendesk" => hosts.extend(zendesk_base(settings).ok().map(|u| entry_of(&u))),
        "slack" if hosts.is_empty() => hosts.push("hooks.slack.com".into()),
        "smtp" => hosts.extend(
            text(settings, "host")
                .zip(smtp_port(settings))
                .map(|(h, p)| format!("{}:{p}", h.to_ascii_lowercase())),
        ),
        "s3" | "sftp" => hosts.extend(storage::settings::allowlist(kind, settings)),
        "alert_webhook" => hosts.extend(
            text(settings, "url")
                .and_then(|u| Url::parse(u).ok())
                .map(|u| entry_of(&u)),
        ),
        _ => {}
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn zendesk_needs_a_base_and_credentials() {
        let s = map(json!({"subdomain": "acme"}));
        assert!(check("zendesk", &s, &["oauth_token"]).is_ok());
        assert!(check("zendesk", &s, &["email", "api_token"]).is_ok());
        assert!(check("zendesk", &s, &["api_token"]).is_err());
        assert!(check("zendesk", &map(json!({})), &["oauth_token"]).is_err());
        assert!(check(
            "zendesk",
            &map(json!({"subdomain": "a.b"})),
            &["oauth_token"]
        )
        .is_err());
        assert_eq!(
            allowlist("zendesk", &s),
            vec!["acme.zendesk.com".to_string()]
        );
        let local = map(
            json!({"base_url": "https://127.0.0.1:9443", "allowed_hosts": ["rec.example.com"]}),
        );
        assert_eq!(
            allowlist("zendesk", &local),
            vec!["rec.example.com".to_string(), "127.0.0.1:9443".to_string()]
        );
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("u", "https://hooks.slack.com/services/x").is_ok());
        assert!(check_url("u", "ftp://x").is_err());
        assert!(check_url("u", "https://user:pw@x/").is_err());
        assert!(check_url("u", "not a url").is_err());
        assert_eq!(
            allowlist("slack", &Map::new()),
            vec!["hooks.slack.com".to_string()]
        );
    }
}
