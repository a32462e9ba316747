//! Classes found by what is said around them: a date of birth after "date of birth",
//! "born on", "fecha de nacimiento", …; a card's security code after "security code",
//! "CVV", "the three digits on the back"; its expiry after "expiry", "valid until";
//! and national ids by their form (US SSN with dashes, or nine digits after "social
//! security"; UK National Insurance numbers). Each finder returns byte spans of the
//! value only, never of the words that announced it.

use super::spoken::{self, Run, Word};
use regex::Regex;
use std::sync::LazyLock;

fn re(p: &str) -> Regex {
    Regex::new(p).unwrap_or_else(super::unreachable_regex)
}

static DOB_CUE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:date of birth|birth ?date|born on|born|d\.?o\.?b\.?|birthday is|fecha de nacimiento|nac[ií] el|naci[oó] el|date de naissance|n[ée]e? le|data di nascita|nat[oa] il|geburtsdatum|geboren am|дата рождения|родил(?:ся|ась))(?:\W|$)",
    )
});
static CVV_CUE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:security code|cvv2?|cvc2?|cv2|card verification(?: code| value)?|(?:three|3|four|4) digits on the (?:back|front)|c[oó]digo de seguridad|cryptogramme|codice di sicurezza|pr[üu]fnummer|sicherheitscode|код безопасности)\b",
    )
});
static EXPIRY_CUE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:expir(?:y|es|ation)(?: date)?|exp(?:\.|iry)? date|valid (?:until|thru|through)|fecha de (?:caducidad|vencimiento)|caduca|date d'expiration|expire le|scadenza|g[üu]ltig bis|ablaufdatum|срок действия)\b",
    )
});
static SSN_CUE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(?:social security(?: number)?|ssn)\b"));
static SSN: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d{3}-\d{2}-\d{4}\b"));
static NINO: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"));

/// Month names (and common short forms) in the supported languages.
fn is_month(w: &str) -> bool {
    const MONTHS: &[&str] = &[
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "setiembre",
        "octubre",
        "noviembre",
        "diciembre",
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
        "gennaio",
        "febbraio",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "settembre",
        "ottobre",
        "dicembre",
        "januar",
        "februar",
        "märz",
        "juni",
        "juli",
        "oktober",
        "dezember",
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ];
    MONTHS.contains(&w.to_lowercase().as_str())
}

/// An ordinal day ("1st", "twelfth", "twenty-first", "primero", "1er").
fn is_ordinal(w: &str) -> bool {
    let l = w.to_lowercase();
    const WORDS: &[&str] = &[
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "eleventh",
        "twelfth",
        "thirteenth",
        "fourteenth",
        "fifteenth",
        "sixteenth",
        "seventeenth",
        "eighteenth",
        "nineteenth",
        "twentieth",
        "thirtieth",
        "primero",
        "premier",
        "primo",
    ];
    if WORDS.contains(&l.as_str()) {
        return true;
    }
    if let Some((tens, unit)) = l.split_once('-') {
        return matches!(tens, "twenty" | "thirty") && WORDS.contains(&unit);
    }
    let digits: String = l.chars().take_while(char::is_ascii_digit).collect();
    !digits.is_empty()
        && digits.len() <= 2
        && matches!(
            &l[digits.len()..],
            "st" | "nd" | "rd" | "th" | "er" | "e" | "º" | "o"
        )
}

/// Words that may sit inside a spoken date without ending it.
fn is_joiner(w: &str) -> bool {
    matches!(
        w.to_lowercase().as_str(),
        "the" | "of" | "de" | "del" | "and" | "thousand" | "mil" | "hundred" | "года" | "г"
    )
}

/// The span of a date starting within the first few words after `from`: written
/// (12/03/1985, 1985-03-12, 12.03.1985) or spoken ("the twelfth of March nineteen
/// eighty-five", "12 March 1985", "March 3rd, 1985").
fn date_after(text: &str, from: usize) -> Option<(usize, usize)> {
    let ws: Vec<Word> = spoken::words(&text[from..])
        .into_iter()
        .map(|w| Word {
            start: w.start + from,
            end: w.end + from,
            text: w.text,
        })
        .collect();
    let part =
        |w: &Word| is_month(w.text) || is_ordinal(w.text) || spoken::word_digits(w.text).is_some();
    // The first date word within six words of the cue.
    let first = ws.iter().take(6).position(part)?;
    let mut last = first;
    let mut numbers = 0;
    let mut month = false;
    for (k, w) in ws.iter().enumerate().skip(first) {
        // Nothing but spaces, commas, dots, slashes and dashes between date words.
        if k > first {
            let gap = &text[ws[k - 1].end..w.start];
            if gap
                .chars()
                .any(|c| !(c.is_whitespace() || matches!(c, ',' | '.' | '/' | '-')))
                || gap.contains(". ")
            {
                break;
            }
        }
        if part(w) {
            month |= is_month(w.text);
            numbers += 1;
            last = k;
        } else if !is_joiner(w.text) {
            break;
        }
        if k - first > 10 {
            break;
        }
    }
    let span = (ws[first].start, ws[last].end);
    let written = &text[span.0..span.1];
    let digits = written.chars().filter(char::is_ascii_digit).count();
    // A month and a number, or a written date of six or more digits, or spoken words
    // making a day, a month and a year.
    (month && numbers >= 2 || digits >= 6 || numbers >= 3).then_some(span)
}

/// Dates of birth: the date after each cue.
pub fn dates_of_birth(text: &str) -> Vec<(usize, usize)> {
    DOB_CUE
        .find_iter(text)
        .filter_map(|m| date_after(text, m.end()))
        .collect()
}

/// The words and number runs of a text, read once for all its cues.
struct Read<'t> {
    words: Vec<Word<'t>>,
    runs: Vec<Run>,
}

impl<'t> Read<'t> {
    fn of(text: &'t str) -> Self {
        Read {
            words: spoken::words(text),
            runs: spoken::runs(text),
        }
    }

    /// The first number run of one of the lengths `lens` starting within `words`
    /// words after byte `from`.
    fn run_after(&self, from: usize, lens: &[usize], words: usize) -> Option<&Run> {
        let first = self.words.iter().position(|w| w.start >= from)?;
        self.runs
            .iter()
            .filter(|r| r.words.start >= first)
            .take_while(|r| r.words.start < first + words)
            .find(|r| lens.contains(&r.digits.len()))
    }
}

/// Card security codes: three or four digits said after a cue.
pub fn security_codes(text: &str) -> Vec<(usize, usize)> {
    let read = Read::of(text);
    CVV_CUE
        .find_iter(text)
        .filter_map(|m| read.run_after(m.end(), &[3, 4], 10))
        .map(|r| (r.start, r.end))
        .collect()
}

/// Card expiry dates after a cue: "12/27", "oh four twenty-seven", "April 2027".
pub fn expiries(text: &str) -> Vec<(usize, usize)> {
    let read = Read::of(text);
    EXPIRY_CUE
        .find_iter(text)
        .filter_map(|m| {
            date_after(text, m.end()).or_else(|| {
                read.run_after(m.end(), &[3, 4, 6], 8)
                    .map(|r| (r.start, r.end))
            })
        })
        .collect()
}

/// US Social Security numbers (dashed, or nine digits after a cue, with the ranges
/// never issued excluded) and UK National Insurance numbers.
pub fn national_ids(text: &str) -> Vec<(usize, usize)> {
    let valid_ssn = |d: &str| {
        d.len() == 9
            && !d.starts_with("000")
            && !d.starts_with("666")
            && !d.starts_with('9')
            && &d[3..5] != "00"
            && &d[5..] != "0000"
    };
    let mut out: Vec<(usize, usize)> = SSN
        .find_iter(text)
        .filter(|m| valid_ssn(&m.as_str().replace('-', "")))
        .map(|m| (m.start(), m.end()))
        .collect();
    let read = Read::of(text);
    for m in SSN_CUE.find_iter(text) {
        let Some(r) = read.run_after(m.end(), &[9], 8) else {
            continue;
        };
        if valid_ssn(&r.digits) && !out.iter().any(|(a, _)| *a == r.start) {
            out.push((r.start, r.end));
        }
    }
    for m in NINO.find_iter(text) {
        let p = m.as_str()[..2].to_uppercase();
        if !matches!(p.as_str(), "BG" | "GB" | "NK" | "KN" | "TN" | "NT" | "ZZ") {
            out.push((m.start(), m.end()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str, spans: &[(usize, usize)]) -> Vec<String> {
        spans
            .iter()
            .map(|(a, b)| text[*a..*b].to_string())
            .collect()
    }

    #[test]
    fn dates_of_birth_written_and_spoken() {
        for (text, date) in [
            ("My date of birth is 12/03/1985, thanks.", "12/03/1985"),
            ("DOB 1985-03-12.", "1985-03-12"),
            (
                "I was born on the twelfth of March nineteen eighty-five.",
                "twelfth of March nineteen eighty-five",
            ),
            ("born on March 3rd, 1985 in Leeds", "March 3rd, 1985"),
            (
                "date of birth: four four nineteen seventy",
                "four four nineteen seventy",
            ),
            (
                "fecha de nacimiento el 3 de marzo de 1985",
                "3 de marzo de 1985",
            ),
            ("Geburtsdatum 12.03.1985", "12.03.1985"),
            ("дата рождения 12 марта 1985 года", "12 марта 1985"),
        ] {
            assert_eq!(cut(text, &dates_of_birth(text)), [date], "{text}");
        }
        // Dates that are not birth dates stay.
        assert!(dates_of_birth("The parcel left on 12/03/2026.").is_empty());
        assert!(dates_of_birth("born in a small town").is_empty());
    }

    #[test]
    fn card_codes_and_expiry_by_context() {
        let t = "and the three digits on the back are seven three nine.";
        assert_eq!(cut(t, &security_codes(t)), ["seven three nine"]);
        let t = "CVV 123 please";
        assert_eq!(cut(t, &security_codes(t)), ["123"]);
        assert!(security_codes("it costs 123 euros").is_empty());
        let t = "the expiry date is oh four twenty-seven";
        assert_eq!(cut(t, &expiries(t)), ["oh four twenty-seven"]);
        let t = "expires 12/27.";
        assert_eq!(cut(t, &expiries(t)), ["12/27"]);
        let t = "valid until April 2027";
        assert_eq!(cut(t, &expiries(t)), ["April 2027"]);
    }

    #[test]
    fn national_ids_by_form_and_cue() {
        let t = "SSN 123-45-6789 and NI number AB 12 34 56 C.";
        assert_eq!(cut(t, &national_ids(t)), ["123-45-6789", "AB 12 34 56 C"]);
        let t = "my social security number is one two three four five six seven eight nine";
        assert_eq!(
            cut(t, &national_ids(t)),
            ["one two three four five six seven eight nine"]
        );
        // Never-issued ranges and a plain nine-digit order number stay.
        assert!(national_ids("000-12-3456").is_empty());
        assert!(national_ids("order 123456789").is_empty());
    }
}
