//! E-mail addresses as account names: compared case-insensitively, checked for shape.

/// The address trimmed and lower-cased.
pub fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The normalized address, or why it cannot be an account name.
pub fn parse_account_email(email: &str) -> Result<String, String> {
    let email = normalize(email);
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !valid || email.len() > 254 {
        return Err(format!("'{email}' is not an e-mail address"));
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalizes_addresses() {
        assert_eq!(
            parse_account_email(" Ann@Example.TEST ").unwrap(),
            "ann@example.test"
        );
        for bad in ["", "ann", "@x.test", "ann@", "a b@x.test", "a@b@c"] {
            assert!(parse_account_email(bad).is_err(), "{bad}");
        }
    }
}
