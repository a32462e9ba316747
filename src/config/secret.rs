//! Secret-bearing config values that never print their content.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use zeroize::Zeroizing;

/// A database URL; its password is masked in `Debug`, `Display` and `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(Zeroizing<String>);

impl DatabaseUrl {
    pub fn new(raw: impl Into<String>) -> Self {
        Self(Zeroizing::new(raw.into()))
    }

    /// The URL with its password, for the database driver only.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// The URL with any password replaced by `***`, safe for logs and output.
    pub fn redacted(&self) -> String {
        match url::Url::parse(self.expose()) {
            Ok(mut parsed) if parsed.password().is_some() => {
                // set_password only fails for URLs that cannot carry one.
                if parsed.set_password(Some("***")).is_ok() {
                    parsed.to_string()
                } else {
                    "<redacted>".to_string()
                }
            }
            Ok(parsed) => parsed.to_string(),
            Err(_) => "<unparseable url>".to_string(),
        }
    }
}

/// Which backend a database URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// Embedded SQLite database file at this path.
    Sqlite(std::path::PathBuf),
    /// PostgreSQL server; the URL goes to libpq unchanged.
    Postgres,
}

impl DatabaseUrl {
    /// The backend named by the URL scheme; an unknown scheme is refused, never guessed.
    pub fn target(&self) -> Result<DatabaseTarget, String> {
        let raw = self.expose();
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite URL has no file path (use sqlite:///path/to/insite.db)".into());
            }
            return Ok(DatabaseTarget::Sqlite(std::path::PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return match url::Url::parse(raw) {
                Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => {
                    Ok(DatabaseTarget::Postgres)
                }
                Ok(_) => Err("postgres URL has no host".into()),
                Err(e) => Err(format!("postgres URL is malformed: {e}")),
            };
        }
        let scheme = raw
            .split("://")
            .next()
            .filter(|s| *s != raw)
            .unwrap_or("<none>");
        Err(format!(
            "unsupported scheme '{scheme}' (use sqlite:///path/to/insite.db or postgres://user@host/db)"
        ))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(DatabaseUrl::new)
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_masked_everywhere() {
        let url = DatabaseUrl::new("postgres://insite:hunter2@db.local:5432/insite");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(!format!("{url}").contains("hunter2"));
        assert!(url.redacted().contains("insite:***@db.local"));
        assert_eq!(
            url.expose(),
            "postgres://insite:hunter2@db.local:5432/insite"
        );
    }

    #[test]
    fn scheme_selects_backend_and_unknown_is_refused() {
        let sqlite = DatabaseUrl::new("sqlite:///tmp/x.db").target();
        assert_eq!(sqlite, Ok(DatabaseTarget::Sqlite("/tmp/x.db".into())));
        let pg = DatabaseUrl::new("postgresql://u@localhost/db").target();
        assert_eq!(pg, Ok(DatabaseTarget::Postgres));
        let mysql = DatabaseUrl::new("mysql://u@h/db").target();
        assert!(mysql.is_err_and(|e| e.contains("'mysql'")));
        assert!(DatabaseUrl::new("/var/lib/x.db").target().is_err());
        assert!(DatabaseUrl::new("sqlite://").target().is_err());
    }

    #[test]
    fn sqlite_url_is_shown_whole() {
        let url = DatabaseUrl::new("sqlite:///var/lib/insite/insite.db");
        assert_eq!(url.redacted(), "sqlite:///var/lib/insite/insite.db");
    }
}
