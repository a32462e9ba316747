//! What makes an acceptable password.

/// Passwords attackers try first; refused whatever their length.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "123456789012",
    "qwertyuiop",
    "letmein123",
    "welcome12345",
    "iloveyou1234",
    "administrator",
    "changeme1234",
    "passw0rd1234",
    "trustno1trustno1",
    "correcthorsebatterystaple",
];

/// Shortest accepted password.
pub const MIN_LENGTH: usize = 12;
/// Longest accepted password (argon2 cost grows with input).
pub const MAX_LENGTH: usize = 256;

/// Checks a new password; the error says what to change.
pub fn check(password: &str, email: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return Err(format!("password must be at least {MIN_LENGTH} characters"));
    }
    if len > MAX_LENGTH {
        return Err(format!("password must be at most {MAX_LENGTH} characters"));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return Err("password is on the list of commonly used passwords".into());
    }
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if local.chars().count() >= 4 && lower.contains(&local) {
        return Err("password must not contain the e-mail address".into());
    }
    if password
        .chars()
        .all(|c| c == password.chars().next().unwrap_or(' '))
    {
        return Err("password must not be one repeated character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn policy() {
        assert!(check("short", "a@b.c").is_err());
        assert!(check("Password123", "a@b.c").is_err());
        assert!(check("correcthorsebatterystaple", "a@b.c").is_err());
        assert!(check("alice-is-great-2026", "alice@example.com").is_err());
        assert!(check("aaaaaaaaaaaaaa", "x@y.z").is_err());
        assert!(check("tangerine-orbit-lamp", "alice@example.com").is_ok());
    }
}
