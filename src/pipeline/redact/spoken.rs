//! Numbers as people say them: digits written out as words in English, Spanish,
//! French, Italian, German and Russian ("four one one one", "cuatro uno", "quatre"),
//! English teens and tens ("nineteen eighty-five"), "double"/"triple" and "oh", mixed
//! with written digits. A run of such words becomes its digits with the exact byte
//! span of the words, so a match can be replaced where it was said.

use regex::Regex;
use std::sync::LazyLock;

/// A word of the text with its byte span.
#[derive(Debug, Clone)]
pub struct Word<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

static WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\w+(?:['’-]\w+)*").unwrap_or_else(super::unreachable_regex));

/// The words of `text` in order.
pub fn words(text: &str) -> Vec<Word<'_>> {
    WORD.find_iter(text)
        .map(|m| Word {
            text: m.as_str(),
            start: m.start(),
            end: m.end(),
        })
        .collect()
}

/// One digit said as a word, in any supported language.
fn digit_word(w: &str) -> Option<char> {
    let d = match w {
        "zero" | "oh" | "cero" | "zéro" | "null" | "ноль" | "нуль" => '0',
        "one" | "uno" | "una" | "un" | "une" | "eins" | "один" | "одна" | "раз" => '1',
        "two" | "dos" | "deux" | "due" | "zwei" | "zwo" | "два" | "две" => '2',
        "three" | "tres" | "trois" | "tre" | "drei" | "три" => '3',
        "four" | "cuatro" | "quatre" | "quattro" | "vier" | "четыре" => '4',
        "five" | "cinco" | "cinq" | "cinque" | "fünf" | "funf" | "пять" => '5',
        "six" | "seis" | "sei" | "sechs" | "шесть" => '6',
        "seven" | "siete" | "sept" | "sette" | "sieben" | "семь" => '7',
        "eight" | "ocho" | "huit" | "otto" | "acht" | "восемь" => '8',
        "nine" | "nueve" | "neuf" | "nove" | "neun" | "девять" => '9',
        _ => return None,
    };
    Some(d)
}

/// English 10..19 and tens.
fn english_tens(w: &str) -> Option<u32> {
    let n = match w {
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    };
    Some(n)
}

/// The digits one word stands for ("4111", "four", "twenty-seven"), if any.
pub fn word_digits(w: &str) -> Option<String> {
    let lower = w.to_lowercase();
    // "4111", and "1985-03-12" or "5500-0000" as one word
    if lower.chars().any(|c| c.is_ascii_digit())
        && lower.chars().all(|c| c.is_ascii_digit() || c == '-')
    {
        return Some(lower.replace('-', ""));
    }
    if let Some(d) = digit_word(&lower) {
        return Some(d.to_string());
    }
    if let Some(n) = english_tens(&lower) {
        return Some(n.to_string());
    }
    // "twenty-seven"
    let (tens, unit) = lower.split_once('-')?;
    match (english_tens(tens), digit_word(unit)) {
        (Some(t), Some(u)) if t >= 20 && t % 10 == 0 && u != '0' => Some(format!("{}{u}", t / 10)),
        _ => None,
    }
}

/// A run of number words (and written digits) with its span and digits.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub start: usize,
    pub end: usize,
    pub digits: String,
    /// Index of its first and one past its last word.
    pub words: std::ops::Range<usize>,
}

/// Whether only separators a reader puts between groups lie between two words.
fn joined(text: &str, a: &Word, b: &Word) -> bool {
    text[a.end..b.start]
        .chars()
        .all(|c| c.is_whitespace() || matches!(c, ',' | '-' | '/' | '.'))
        && text[a.end..b.start].chars().filter(|c| *c == '.').count() <= 1
        && !text[a.end..b.start].contains(". ")
}

/// The number runs of `text`: consecutive number words, "double"/"triple" repeating
/// the next digit, a tens word followed by a unit ("twenty seven") as two digits.
pub fn runs(text: &str) -> Vec<Run> {
    let ws = words(text);
    let mut out: Vec<Run> = Vec::new();
    let mut i = 0;
    while i < ws.len() {
        let mut digits = String::new();
        let mut j = i;
        let mut repeat = 1;
        while j < ws.len() {
            if j > i && !joined(text, &ws[j - 1], &ws[j]) {
                break;
            }
            let lower = ws[j].text.to_lowercase();
            let times = match lower.as_str() {
                "double" => Some(2),
                "triple" => Some(3),
                _ => None,
            };
            if let Some(t) = times {
                // Only when a digit follows.
                if ws
                    .get(j + 1)
                    .and_then(|w| digit_word(&w.text.to_lowercase()))
                    .is_none()
                {
                    break;
                }
                repeat = t;
                j += 1;
                continue;
            }
            let Some(mut d) = word_digits(ws[j].text) else {
                break;
            };
            // "twenty seven" -> 27
            if let (Some(t), Some(next)) = (english_tens(&lower), ws.get(j + 1)) {
                if t >= 20 && joined(text, &ws[j], next) {
                    if let Some(u) = digit_word(&next.text.to_lowercase()).filter(|u| *u != '0') {
                        d = format!("{}{u}", t / 10);
                        j += 1;
                    }
                }
            }
            // "oh" counts only beside other digits.
            if lower == "oh" && digits.is_empty() {
                let next_is_digit = ws
                    .get(j + 1)
                    .is_some_and(|w| joined(text, &ws[j], w) && word_digits(w.text).is_some());
                if !next_is_digit {
                    break;
                }
            }
            for _ in 0..repeat {
                digits.push_str(&d);
            }
            repeat = 1;
            j += 1;
        }
        if !digits.is_empty() {
            out.push(Run {
                start: ws[i].start,
                end: ws[j - 1].end,
                digits,
                words: i..j,
            });
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(text: &str) -> Vec<String> {
        runs(text).into_iter().map(|r| r.digits).collect()
    }

    #[test]
    fn spoken_digits_in_every_language_become_digits() {
        assert_eq!(
            digits("it's four one one one, one one one one, 1111 one one one one thanks"),
            ["4111111111111111"]
        );
        assert_eq!(digits("cuatro cinco uno dos"), ["4512"]);
        assert_eq!(digits("quatre cinq un deux"), ["4512"]);
        assert_eq!(digits("quattro cinque uno due"), ["4512"]);
        assert_eq!(digits("vier fünf eins zwo"), ["4512"]);
        assert_eq!(digits("четыре пять один два"), ["4512"]);
        assert_eq!(digits("double four triple oh seven"), ["440007"]);
        assert_eq!(digits("nineteen eighty-five"), ["1985"]);
        assert_eq!(digits("twenty seven"), ["27"]);
    }

    #[test]
    fn spans_are_the_spoken_words() {
        let text = "Sure, it is four one one one. Thanks";
        let r = &runs(text)[0];
        assert_eq!(&text[r.start..r.end], "four one one one");
        // "oh" alone is not a number; a sentence end splits runs.
        assert!(runs("oh I see").is_empty());
        assert_eq!(digits("one two. Three four"), ["12", "34"]);
    }
}
