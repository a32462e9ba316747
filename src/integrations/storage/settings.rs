//! The settings of the recording-storage connectors (S3-compatible object storage and
//! SFTP), read and checked in one place: when an integration is saved and when a sync
//! opens it.

use super::mapping::Pattern;
use crate::integrations::kinds::{check_url, host_like, port, text};
use serde_json::{Map, Value};
use url::Url;

/// Audio the decoder reads, by file extension (the default of `settings.extensions`).
pub const AUDIO: &[&str] = &["wav", "mp3", "flac", "ogg", "m4a", "mp4", "aac"];

/// What both connectors share: which files are recordings and how names map.
#[derive(Debug)]
pub struct Import {
    pub pattern: Option<Pattern>,
    pub extensions: Vec<String>,
}

impl Import {
    pub fn from(s: &Map<String, Value>) -> Result<Import, String> {
        let pattern = match s.get("filename_pattern") {
            None => None,
            Some(v) => Some(Pattern::parse(
                v.as_str()
                    .ok_or("settings.filename_pattern must be a string")?,
            )?),
        };
        let extensions = match s.get("extensions") {
            None => AUDIO.iter().map(|e| e.to_string()).collect(),
            Some(v) => {
                let list = v.as_array().ok_or("settings.extensions must be a list")?;
                let exts: Vec<String> = list
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
                    .collect();
                if exts.is_empty() || exts.len() != list.len() || exts.len() > 20 {
                    return Err(format!(
                        "settings.extensions must list 1..=20 of: {}",
                        AUDIO.join(", ")
                    ));
                }
                if let Some(bad) = exts.iter().find(|e| !AUDIO.contains(&e.as_str())) {
                    return Err(format!(
                        "settings.extensions: '{bad}' is not audio insite decodes (one of: {})",
                        AUDIO.join(", ")
                    ));
                }
                exts
            }
        };
        Ok(Import {
            pattern,
            extensions,
        })
    }

    /// Whether `name` is a recording to import.
    pub fn wants(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        self.extensions
            .iter()
            .any(|e| lower.ends_with(&format!(".{e}")))
    }
}

/// An S3-compatible bucket.
#[derive(Debug)]
pub struct S3Settings {
    pub endpoint: Url,
    pub region: String,
    pub bucket: String,
    pub prefix: String,
    pub path_style: bool,
}

impl S3Settings {
    pub fn from(s: &Map<String, Value>) -> Result<S3Settings, String> {
        let bucket = text(s, "bucket").unwrap_or_default().to_string();
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c));
        if !bucket_ok {
            return Err(
                "an S3 integration needs settings.bucket: 3..=63 characters of a-z, 0-9, '.' and '-'"
                    .into(),
            );
        }
        let region = text(s, "region").unwrap_or("us-east-1").to_string();
        let region_ok = (1..=32).contains(&region.len())
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !region_ok {
            return Err("settings.region must be 1..=32 characters of a-z, 0-9 and '-'".into());
        }
        let prefix = text(s, "prefix").unwrap_or_default().to_string();
        if prefix.len() > 512 {
            return Err("settings.prefix holds at most 512 characters".into());
        }
        let (endpoint, default_path_style) = match text(s, "endpoint") {
            Some(e) => (check_url("settings.endpoint", e)?, true),
            None => (
                Url::parse(&format!("https://s3.{region}.amazonaws.com"))
                    .map_err(|e| e.to_string())?,
                false,
            ),
        };
        let path_style = match text(s, "url_style") {
            None => default_path_style,
            Some("path") => true,
            Some("virtual_host") => false,
            Some(other) => {
                return Err(format!(
                    "settings.url_style '{other}' is not path or virtual_host"
                ))
            }
        };
        Ok(S3Settings {
            endpoint,
            region,
            bucket,
            prefix,
            path_style,
        })
    }

    /// The base URL of the bucket (path style `endpoint/bucket/`, else
    /// `bucket.endpoint/`).
    pub fn bucket_url(&self) -> Result<Url, String> {
        let mut url = self.endpoint.clone();
        if self.path_style {
            let path = format!("{}/{}/", url.path().trim_end_matches('/'), self.bucket);
            url.set_path(&path);
        } else {
            let host = format!("{}.{}", self.bucket, url.host_str().unwrap_or_default());
            url.set_host(Some(&host))
                .map_err(|e| format!("settings.bucket cannot be a host name: {e}"))?;
            url.set_path("/");
        }
        url.set_query(None);
        Ok(url)
    }
}

/// An SFTP server and folder.
#[derive(Debug)]
pub struct SftpSettings {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub path: String,
    pub host_key_sha256: String,
    pub recursive: bool,
    /// A file is taken once it has not changed for this long (it may still be written).
    pub settle_seconds: i64,
}

impl SftpSettings {
    pub fn from(s: &Map<String, Value>) -> Result<SftpSettings, String> {
        let host = text(s, "host").unwrap_or_default().to_ascii_lowercase();
        if !host_like(&host) {
            return Err("an SFTP integration needs settings.host (the server's name)".into());
        }
        let port = port(s, 22).ok_or("settings.port must be 1..=65535 (default 22)")?;
        let username = text(s, "username").unwrap_or_default().to_string();
        if !(1..=64).contains(&username.len()) || username.chars().any(char::is_whitespace) {
            return Err("settings.username must be 1..=64 characters without spaces".into());
        }
        let path = text(s, "path").unwrap_or_default().to_string();
        if !path.starts_with('/') || path.len() > 1024 || path.split('/').any(|p| p == "..") {
            return Err(
                "settings.path must be the absolute folder of the recordings, e.g. /exports/calls"
                    .into(),
            );
        }
        let host_key_sha256 = text(s, "host_key_sha256").unwrap_or_default().to_string();
        let key_ok = host_key_sha256.len() == 50
            && host_key_sha256.starts_with("SHA256:")
            && host_key_sha256[7..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/".contains(c));
        if !key_ok {
            return Err("settings.host_key_sha256 must be the server's host key fingerprint as ssh-keygen -lf prints it (SHA256:…, 43 characters after the colon)".into());
        }
        let recursive = match s.get("recursive") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or("settings.recursive must be true or false")?,
        };
        let settle_seconds = match s.get("settle_seconds") {
            None => 60,
            Some(v) => v
                .as_i64()
                .filter(|t| (0..=3600).contains(t))
                .ok_or("settings.settle_seconds must be 0..=3600")?,
        };
        Ok(SftpSettings {
            host,
            port,
            username,
            // `/calls/` is `/calls`; `/` stays `/`.
            path: match path.trim_end_matches('/') {
                "" => "/".to_string(),
                p => p.to_string(),
            },
            host_key_sha256,
            recursive,
            settle_seconds,
        })
    }
}

/// Checks an S3 or SFTP integration as it is saved.
pub fn check(kind: &str, s: &Map<String, Value>, creds: &[&str]) -> Result<(), String> {
    Import::from(s)?;
    match kind {
        "s3" => {
            S3Settings::from(s)?.bucket_url()?;
            if !(creds.contains(&"access_key_id") && creds.contains(&"secret_access_key")) {
                return Err("an S3 integration needs credentials access_key_id and secret_access_key (session_token optional)".into());
            }
        }
        _ => {
            SftpSettings::from(s)?;
            if !(creds.contains(&"password") || creds.contains(&"private_key")) {
                return Err("an SFTP integration needs credentials private_key (OpenSSH format; private_key_passphrase if it has one) or password".into());
            }
        }
    }
    Ok(())
}

/// The allowlist entry of an S3 or SFTP integration.
pub fn allowlist(kind: &str, s: &Map<String, Value>) -> Option<String> {
    match kind {
        "s3" => {
            let url = S3Settings::from(s).ok()?.bucket_url().ok()?;
            Some(crate::integrations::kinds::entry_of(&url))
        }
        _ => SftpSettings::from(s)
            .ok()
            .map(|t| format!("{}:{}", t.host, t.port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn s3_urls_and_allowlists() {
        let aws = map(json!({"bucket": "acme-calls", "region": "eu-west-1"}));
        let s = S3Settings::from(&aws).unwrap();
        assert_eq!(
            s.bucket_url().unwrap().as_str(),
            "https://acme-calls.s3.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            allowlist("s3", &aws).unwrap(),
            "acme-calls.s3.eu-west-1.amazonaws.com"
        );
        let local = map(json!({"bucket": "calls", "endpoint": "https://127.0.0.1:9000/s3"}));
        let s = S3Settings::from(&local).unwrap();
        assert_eq!(
            s.bucket_url().unwrap().as_str(),
            "https://127.0.0.1:9000/s3/calls/"
        );
        assert_eq!(allowlist("s3", &local).unwrap(), "127.0.0.1:9000");
        assert!(check("s3", &local, &["access_key_id"]).is_err());
        assert!(check("s3", &map(json!({"bucket": "A_B"})), &[]).is_err());
        let exts = map(json!({"bucket": "calls", "extensions": ["exe"]}));
        assert!(Import::from(&exts).unwrap_err().contains("exe"));
    }

    #[test]
    fn sftp_needs_a_pinned_host_key_and_an_absolute_path() {
        let key = format!("SHA256:{}", "A".repeat(43));
        let good = map(
            json!({"host": "rec.acme.test", "username": "insite", "path": "/calls/", "host_key_sha256": key}),
        );
        let s = SftpSettings::from(&good).unwrap();
        assert_eq!((s.port, s.path.as_str()), (22, "/calls"));
        assert!(check("sftp", &good, &["private_key"]).is_ok());
        assert!(check("sftp", &good, &[]).is_err());
        let mut bad = good.clone();
        bad.insert("path".into(), json!("calls"));
        assert!(SftpSettings::from(&bad).is_err());
        let mut bad = good;
        bad.remove("host_key_sha256");
        assert!(SftpSettings::from(&bad).unwrap_err().contains("ssh-keygen"));
    }
}
