//! Sentences of a turn, for quotes and summary checks: a sentence ends at `.`, `!` or
//! `?` followed by a space, except after a known abbreviation ("Mrs.", "Dr.", "e.g.",
//! "z. B.", "Nr.", "Sra.", "p. ej.", …, in English, German, Spanish and French), a
//! single letter ("J. Smith") or an ordinal number in German ("am 3. Mai"). Decimal
//! points and times ("3.5%", "10.30") never end one, having no space after them.

/// Abbreviations (lower case, with their dot) that do not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    // English
    "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "jr.", "sr.", "no.", "nos.", "vs.", "etc.", "e.g.",
    "i.e.", "approx.", "appt.", "dept.", "est.", "inc.", "ltd.", "co.", "corp.", "ref.", "acct.",
    "tel.", "ext.", "jan.", "feb.", "mar.", "apr.", "jun.", "jul.", "aug.", "sep.", "sept.",
    "oct.", "nov.", "dec.", "mon.", "tue.", "wed.", "thu.", "fri.", "sat.", "sun.", "a.m.", "p.m.",
    "u.s.", "u.k.", // German
    "hr.", "fr.", "nr.", "z.", "b.", "bzw.", "ca.", "usw.", "ggf.", "inkl.", "zzgl.", "evtl.",
    "d.h.", "z.b.", "u.a.", "vgl.", "str.", "tel.", "abs.", "bzgl.", "geb.",
    // Spanish
    "sra.", "srta.", "dra.", "lic.", "ud.", "uds.", "núm.", "pág.", "p.", "ej.", "aprox.", "av.",
    "avda.", "c/.", "dña.", "d.", // French
    "mme.", "mlle.", "m.", "env.", "cf.", "n°.",
];

/// Whether `word` (as written, with its dot) is an abbreviation or an initial.
pub fn is_abbreviation(word: &str) -> bool {
    let w = word.trim_start_matches(['(', '"', '\'', '«', '¿', '¡']);
    let lower = w.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return true;
    }
    let body = w.trim_end_matches('.');
    let mut chars = body.chars();
    // An initial ("J.") or a German ordinal ("3." before a month or a noun).
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_alphabetic() && c.is_uppercase() => true,
        _ => !body.is_empty() && body.len() <= 2 && body.chars().all(|c| c.is_ascii_digit()),
    }
}

/// The sentences of `text`, trimmed, none empty.
pub fn split(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if !matches!(b, b'.' | b'!' | b'?') || bytes.get(i + 1) != Some(&b' ') {
            continue;
        }
        if *b == b'.' {
            let word_start = text[..i].rfind(' ').map_or(0, |p| p + 1);
            if is_abbreviation(&text[word_start..=i]) {
                continue;
            }
        }
        let s = text[start..=i].trim();
        if !s.is_empty() {
            out.push(s);
        }
        start = i + 1;
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn abbreviations_and_numbers_do_not_end_sentences() {
        assert_eq!(
            split("Thank you, Mrs. Patel. The rate is 3.5% from No. 5 onwards! Is that ok?"),
            vec![
                "Thank you, Mrs. Patel.",
                "The rate is 3.5% from No. 5 onwards!",
                "Is that ok?"
            ]
        );
        assert_eq!(
            split("Das ist z. B. am 3. Mai möglich. Danke, Fr. Weber."),
            vec!["Das ist z. B. am 3. Mai möglich.", "Danke, Fr. Weber."]
        );
        assert_eq!(
            split("Sí, Sra. López, p. ej. mañana. Gracias."),
            vec!["Sí, Sra. López, p. ej. mañana.", "Gracias."]
        );
        assert_eq!(
            split("Call J. Smith at 10.30 today."),
            vec!["Call J. Smith at 10.30 today."]
        );
    }
}
