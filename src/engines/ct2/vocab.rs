//! GPT-2 byte-level token strings back to raw bytes (the tokens whisper.cpp stores).

use std::collections::HashMap;

/// The inverse of GPT-2's `bytes_to_unicode`: printable stand-in char -> byte.
pub fn byte_decoder() -> HashMap<char, u8> {
    let mut printable: Vec<u32> = (u32::from('!')..=u32::from('~'))
        .chain(u32::from('¡')..=u32::from('¬'))
        .chain(u32::from('®')..=u32::from('ÿ'))
        .collect();
    let mut chars = printable.clone();
    let mut extra = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            printable.push(b);
            chars.push(256 + extra);
            extra += 1;
        }
    }
    printable
        .iter()
        .zip(chars)
        .filter_map(|(b, c)| Some((char::from_u32(c)?, u8::try_from(*b).ok()?)))
        .collect()
}

/// Decodes one vocabulary line; characters outside the map are kept as UTF-8.
pub fn decode_token(token: &str, decoder: &HashMap<char, u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(token.len());
    for c in token.chars() {
        match decoder.get(&c) {
            Some(b) => out.push(*b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_space_and_newline_markers() {
        let d = byte_decoder();
        assert_eq!(d.len(), 256);
        assert_eq!(decode_token("Ġthe", &d), b" the");
        assert_eq!(decode_token("Ċ", &d), b"\n");
        assert_eq!(decode_token("<|endoftext|>", &d), b"<|endoftext|>");
    }
}
