//! Audio redaction: the stored recording is replaced by a 16 kHz PCM WAV in which the
//! stretches of redacted turns are silence or a tone, so what was redacted from the
//! transcript can no longer be heard either.

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

/// Covers `[start, end)` seconds of `track`.
pub fn cover(track: &mut [f32], start: f64, end: f64, with: Cover) {
    let a = ((start.max(0.0)) * 16_000.0) as usize;
    let b = ((end.max(0.0)) * 16_000.0).ceil() as usize;
    let (a, b) = (a.min(track.len()), b.min(track.len()));
    for (i, s) in track[a..b].iter_mut().enumerate() {
        *s = match with {
            Cover::Silence => 0.0,
            Cover::Tone => 0.1 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin(),
        };
    }
}

/// Writes the tracks as one 16-bit PCM WAV at 16 kHz (interleaved channels).
pub fn write_wav(tracks: &[Vec<f32>], out: &mut impl Write) -> io::Result<()> {
    let channels = tracks.len().max(1) as u16;
    let frames = tracks.iter().map(Vec::len).min().unwrap_or(0);
    let data_len = (frames * channels as usize * 2) as u32;
    let rate = 16_000u32;
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
    out.write_all(&data_len.to_le_bytes())?;
    let mut buf = Vec::with_capacity(64 * 1024);
    for i in 0..frames {
        for t in tracks {
            let v = (t[i].clamp(-1.0, 1.0) * 32767.0) as i16;
            buf.extend_from_slice(&v.to_le_bytes());
        }
        if buf.len() >= 60 * 1024 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_stretches_are_silent_and_the_wav_reads_back() {
        let mut track: Vec<f32> = (0..32_000).map(|i| 0.5 * (i as f32 * 0.05).sin()).collect();
        cover(&mut track, 0.5, 1.0, Cover::Silence);
        assert!(track[8_000..16_000].iter().all(|s| *s == 0.0));
        assert!(track[16_001..17_000].iter().any(|s| *s != 0.0));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        let mut file = std::fs::File::create(&path).unwrap();
        write_wav(&[track.clone(), track], &mut file).unwrap();
        drop(file);
        let back = crate::pipeline::decode::decode_channels_16k(&path).unwrap();
        assert_eq!(back.channels.len(), 2);
        assert_eq!(back.channels[0].len(), 32_000);
        assert!(back.channels[1][8_000..16_000].iter().all(|s| *s == 0.0));
    }
}
