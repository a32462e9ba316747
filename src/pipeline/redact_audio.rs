//! Audio redaction: the stored recording is replaced by a 16 kHz PCM WAV in which the
//! stretches of redacted turns are silence or a tone, so what was redacted from the
//! transcript can no longer be heard either.

use super::track::{Track, BLOCK};
use std::io::{self, Write};

/// What covers a redacted stretch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cover {
    Silence,
    /// A 1 kHz tone at about -20 dBFS, audible as a bleep.
    Tone,
}

impl Cover {
    /// The organization's setting (`off`, `silence`, `tone`); `None` when off.
    pub fn from_setting(setting: &str) -> Option<Self> {
        match setting {
            "silence" => Some(Cover::Silence),
            "tone" => Some(Cover::Tone),
            _ => None,
        }
    }
}

/// Covers the part of `[start, end)` seconds that falls in `block`, a stretch of a
/// track beginning at sample `offset`.
pub fn cover(block: &mut [f32], offset: usize, start: f64, end: f64, with: Cover) {
    let a = (start.max(0.0) * 16_000.0) as usize;
    let b = (end.max(0.0) * 16_000.0).ceil() as usize;
    let from = a.max(offset);
    let to = b.min(offset + block.len());
    for i in from..to.max(from) {
        block[i - offset] = match with {
            Cover::Silence => 0.0,
            // The tone's phase counts from the start of the covered stretch.
            Cover::Tone => {
                0.1 * (2.0 * std::f32::consts::PI * 1000.0 * (i - a) as f32 / 16_000.0).sin()
            }
        };
    }
}

/// The header of a 16-bit PCM WAV of `frames` frames.
pub(crate) fn wav_header(
    out: &mut impl Write,
    rate: u32,
    channels: u16,
    frames: usize,
) -> io::Result<()> {
    let data_len = (frames * channels as usize * 2) as u32;
    out.write_all(b"RIFF")?;
    out.write_all(&(36 + data_len).to_le_bytes())?;
    out.write_all(b"WAVEfmt ")?;
    out.write_all(&16u32.to_le_bytes())?;
    out.write_all(&1u16.to_le_bytes())?; // PCM
    out.write_all(&channels.to_le_bytes())?;
    out.write_all(&rate.to_le_bytes())?;
    out.write_all(&(rate * u32::from(channels) * 2).to_le_bytes())?;
    out.write_all(&(channels * 2).to_le_bytes())?;
    out.write_all(&16u16.to_le_bytes())?;
    out.write_all(b"data")?;
    out.write_all(&data_len.to_le_bytes())
}

/// Writes the tracks as one 16-bit PCM WAV at 16 kHz (interleaved channels), with the
/// stretches in `covers[i]` (seconds) of track `i` covered; streamed block by block.
pub fn write_wav(
    tracks: &mut [Track],
    covers: &[Vec<(f64, f64)>],
    with: Cover,
    out: &mut impl Write,
) -> io::Result<()> {
    let channels = tracks.len().max(1);
    let frames = tracks.iter().map(Track::len).min().unwrap_or(0);
    wav_header(out, 16_000, channels as u16, frames)?;
    let mut blocks = vec![Vec::with_capacity(BLOCK); tracks.len()];
    let mut bytes = Vec::with_capacity(BLOCK * channels * 2);
    let mut at = 0;
    while at < frames {
        let take = BLOCK.min(frames - at);
        for (i, (track, block)) in tracks.iter_mut().zip(&mut blocks).enumerate() {
            track.read_into(at, take, block)?;
            for (start, end) in covers.get(i).into_iter().flatten() {
                cover(block, at, *start, *end, with);
            }
        }
        bytes.clear();
        for f in 0..take {
            for block in &blocks {
                let v = (block[f].clamp(-1.0, 1.0) * 32767.0) as i16;
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        out.write_all(&bytes)?;
        at += take;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_stretches_are_silent_and_the_wav_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let samples: Vec<f32> = (0..100_000)
            .map(|i| 0.5 * (i as f32 * 0.05).sin())
            .collect();
        let mut tracks: Vec<Track> = (0..2)
            .map(|_| {
                let mut w = crate::pipeline::track::TrackWriter::create(dir.path()).unwrap();
                w.push(&samples).unwrap();
                w.finish().unwrap()
            })
            .collect();
        // 3.9-4.2 s crosses a block boundary (4 s); only the second track is covered.
        let covers = vec![vec![], vec![(0.5, 1.0), (3.9, 4.2)]];
        let path = dir.path().join("x.wav");
        let mut file = std::fs::File::create(&path).unwrap();
        write_wav(&mut tracks, &covers, Cover::Silence, &mut file).unwrap();
        drop(file);
        let back = crate::pipeline::decode::decode_channels_16k(&path).unwrap();
        assert_eq!(back.channels.len(), 2);
        assert_eq!(back.channels[0].len(), 100_000);
        let [left, right] = &back.channels[..] else {
            panic!()
        };
        assert!(right[8_000..16_000].iter().all(|s| *s == 0.0));
        assert!(right[62_400..67_200].iter().all(|s| *s == 0.0));
        assert!(right[16_001..17_000].iter().any(|s| *s != 0.0));
        assert!(right[67_300..68_000].iter().any(|s| *s != 0.0));
        assert!(left[8_000..16_000].iter().any(|s| *s != 0.0));
        for (a, b) in left.iter().zip(&samples) {
            assert!((a - b).abs() < 1e-3);
        }
    }

    #[test]
    fn a_tone_covers_with_a_bleep() {
        let mut block = vec![0.0f32; 16_000];
        cover(&mut block, 16_000, 1.25, 1.5, Cover::Tone);
        assert!(block[..4_000].iter().all(|s| *s == 0.0));
        assert!(block[4_000..8_000].iter().any(|s| s.abs() > 0.09));
        assert!(block[8_000..].iter().all(|s| *s == 0.0));
    }
}
