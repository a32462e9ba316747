//! Who the customer is, by name, from what was said: the name a customer gives ("my
//! name is …", "it's …", "ich bin …", "me llamo …", a turn that is only a name, a
//! ticket's signature) and the name an agent addresses them by after a title ("Mrs.
//! Patel", "Frau Weber", "Sra. López"). The agent's own name (after "this is …",
//! "speaking", "mein Name ist …") is never the customer's. Used by the exact check of
//! greeting questions: an agent turn that holds one of these names greets by name.

/// Words after which a speaker gives their own name.
const SELF: &[&str] = &[
    "my name is",
    "my name's",
    "name is",
    "it's",
    "it is",
    "this is",
    "i'm",
    "i am",
    "speaking with",
    "through to",
    "ich bin",
    "mein name ist",
    "hier ist",
    "hier spricht",
    "am apparat",
    "me llamo",
    "mi nombre es",
    "soy",
    "le habla",
    "habla",
    "le atiende",
    "je suis",
    "je m'appelle",
    "c'est",
];

/// Titles before a name.
const TITLES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "dr",
    "mister",
    "herr",
    "frau",
    "sr",
    "sra",
    "srta",
    "señor",
    "señora",
    "señorita",
    "don",
    "doña",
    "m",
    "mme",
    "mlle",
    "monsieur",
    "madame",
];

/// Closing words after which a ticket is signed.
const SIGN_OFF: &[&str] = &[
    "thanks",
    "thank you",
    "regards",
    "best",
    "cheers",
    "sincerely",
    "gruß",
    "grüße",
    "grüßen",
    "danke",
    "saludos",
    "gracias",
    "atentamente",
    "cordialement",
    "merci",
];

fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '!' | '?' | '(' | ')' | '"'))
        .map(|w| w.trim_matches(|c: char| c == '.' || c == ':' || c == '\''))
        .filter(|w| !w.is_empty())
        .collect()
}

fn is_name(w: &str) -> bool {
    let mut c = w.chars();
    c.next().is_some_and(char::is_uppercase)
        && w.chars().count() >= 2
        && w.chars()
            .skip(1)
            .all(|c| c.is_lowercase() || c == '-' || c == '\'')
}

/// Capitalized words right after each `phrases` match in `text` (at most `max`).
fn after(text: &str, phrases: &[&str], max: usize) -> Vec<String> {
    let w = words(text);
    let lower: Vec<String> = w.iter().map(|s| s.to_lowercase()).collect();
    let mut out = Vec::new();
    for p in phrases {
        let pw: Vec<&str> = p.split(' ').collect();
        for i in 0..lower.len().saturating_sub(pw.len() - 1) {
            if lower[i..i + pw.len()].iter().zip(&pw).all(|(a, b)| a == b) {
                let names = w[i + pw.len()..]
                    .iter()
                    .take(max)
                    .take_while(|x| is_name(x));
                out.extend(names.map(|s| s.to_string()));
            }
        }
    }
    out
}

/// A turn that is nothing but a name ("Sam Rivera.", "Yes, Amara Osei").
fn bare_name(text: &str) -> Vec<String> {
    let w: Vec<&str> = words(text)
        .into_iter()
        .filter(|w| {
            !matches!(
                w.to_lowercase().as_str(),
                "yes" | "yeah" | "ja" | "sí" | "si" | "oui" | "hi" | "hello"
            )
        })
        .collect();
    if (1..=3).contains(&w.len()) && w.iter().all(|x| is_name(x)) {
        w.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    }
}

/// The customer's names; `turns` are (is_agent, text) in order.
pub fn customer_names(turns: &[(bool, &str)]) -> Vec<String> {
    let mut agent_own: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (agent, text) in turns {
        if *agent {
            agent_own.extend(after(text, SELF, 2));
            // "Vireo Mobile, Craig speaking": the word before "speaking".
            let w = words(text);
            for (i, x) in w.iter().enumerate().skip(1) {
                if x.eq_ignore_ascii_case("speaking") && is_name(w[i - 1]) {
                    agent_own.push(w[i - 1].to_string());
                }
            }
            names.extend(after(text, TITLES, 1));
        } else {
            names.extend(after(text, SELF, 2));
            names.extend(bare_name(text));
            names.extend(after(text, SIGN_OFF, 2));
        }
    }
    names.retain(|n| !agent_own.contains(n));
    names.sort();
    names.dedup();
    names
}

/// Whether `text` holds one of `names` as a word.
pub fn mentions(text: &str, names: &[String]) -> bool {
    words(text).iter().any(|w| names.iter().any(|n| n == w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_customers_name_not_the_agents() {
        let t = [
            (
                true,
                "Good afternoon, Harbour Bank, you're through to Leon. Can I take your name?",
            ),
            (false, "Hi Leon, it's Amara Osei."),
            (true, "Thanks, Ms. Osei. How can I help?"),
        ];
        assert_eq!(customer_names(&t), vec!["Amara", "Osei"]);
        assert!(mentions(t[2].1, &customer_names(&t)));
        assert!(!mentions(t[0].1, &customer_names(&t)));
        let t = [
            (true, "Vireo Mobile, Craig speaking."),
            (false, "Sam Rivera."),
        ];
        assert_eq!(customer_names(&t), vec!["Rivera", "Sam"]);
        let t = [
            (false, "Mi nombre es Lucía Gómez."),
            (true, "Buenos días, Sra. Gómez."),
        ];
        assert!(mentions(t[1].1, &customer_names(&t)));
    }
}
