//! A decoded channel kept on disk instead of in memory, so a recording of hours is
//! processed in bounded memory (an hour of one channel is 230 MB of 16 kHz samples;
//! a job holds a block or a window of it at a time).
//!
//! The samples are sealed (crypto::stream) under a random key that exists only in the
//! job's memory: what is left on disk after a crash cannot be read by anyone.

use crate::crypto::aead::{key, random_key_bytes};
use crate::crypto::stream::{OpenReader, SealWriter};
use crate::engines::worker::protocol::{samples_from_bytes, samples_to_bytes};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use tempfile::NamedTempFile;
use zeroize::Zeroizing;

/// Samples read or written per step by code that walks a whole track (4 s).
pub const BLOCK: usize = 16_000 * 4;

const CONTEXT: &str = crate::crypto::stream::SCRATCH;

/// A sealed samples file and its key (hex), for the engine worker.
pub struct Sealed {
    pub file: NamedTempFile,
    pub key_hex: zeroize::Zeroizing<String>,
}

/// A track being written.
pub struct TrackWriter {
    writer: SealWriter<NamedTempFile>,
    key: Zeroizing<[u8; 32]>,
    len: usize,
    bytes: Vec<u8>,
}

impl TrackWriter {
    /// A new track in `dir` (created when missing).
    pub fn create(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let bytes = random_key_bytes().map_err(io::Error::other)?;
        let file = tempfile::Builder::new().prefix("track-").tempfile_in(dir)?;
        let writer = SealWriter::new(file, key(&bytes), 1, CONTEXT.into())?;
        Ok(Self {
            writer,
            key: bytes,
            len: 0,
            bytes: Vec::new(),
        })
    }

    pub fn push(&mut self, samples: &[f32]) -> io::Result<()> {
        self.bytes.clear();
        samples_to_bytes(samples, &mut self.bytes);
        self.writer.write_all(&self.bytes)?;
        self.len += samples.len();
        Ok(())
    }

    /// Ends writing and hands the file over with its key (an engine window).
    pub fn seal(self) -> io::Result<Sealed> {
        let file = self.writer.finish()?;
        Ok(Sealed {
            file,
            key_hex: zeroize::Zeroizing::new(hex::encode(self.key.as_ref())),
        })
    }

    /// Ends writing; the track is then read with random access.
    pub fn finish(self) -> io::Result<Track> {
        let file = self.writer.finish()?;
        let bytes = self.key;
        let reader = OpenReader::new(
            file.reopen()?,
            |v| (v == 1).then(|| key(&bytes)),
            CONTEXT.into(),
        )?;
        Ok(Track {
            _file: file,
            reader,
            len: self.len,
            bytes: self.bytes,
        })
    }
}

/// A finished track: 16 kHz samples, read by position. The file goes when it drops.
pub struct Track {
    _file: NamedTempFile,
    reader: OpenReader<File>,
    len: usize,
    /// Read buffer, kept between reads (a walk reads block after block).
    bytes: Vec<u8>,
}

impl Track {
    /// Length in samples.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The scratch directory the track lives in.
    pub fn dir(&self) -> &Path {
        self._file.path().parent().unwrap_or(Path::new("."))
    }

    pub fn duration_secs(&self) -> f64 {
        self.len as f64 / 16_000.0
    }

    /// Up to `n` samples from `start` into `out` (replacing its content); fewer at the
    /// end of the track.
    pub fn read_into(&mut self, start: usize, n: usize, out: &mut Vec<f32>) -> io::Result<()> {
        out.clear();
        let start = start.min(self.len);
        let n = n.min(self.len - start);
        self.bytes.resize(n * 4, 0);
        self.reader.seek(SeekFrom::Start(start as u64 * 4))?;
        self.reader.read_exact(&mut self.bytes)?;
        out.extend(samples_from_bytes(&self.bytes));
        Ok(())
    }

    /// Calls `f` with consecutive blocks of `[start, end)` (samples) and each block's
    /// position in the track.
    pub fn walk(
        &mut self,
        start: usize,
        end: usize,
        mut f: impl FnMut(usize, &[f32]),
    ) -> io::Result<()> {
        let end = end.min(self.len);
        let mut block = Vec::with_capacity(BLOCK);
        let mut at = start;
        while at < end {
            self.read_into(at, BLOCK.min(end - at), &mut block)?;
            f(at, &block);
            at += block.len().max(1);
        }
        Ok(())
    }

    /// Root mean square of `[start, end)` seconds (0 for an empty stretch).
    pub fn energy(&mut self, start_secs: f64, end_secs: f64) -> io::Result<f32> {
        let a = ((start_secs.max(0.0) * 16_000.0) as usize).min(self.len);
        let b = ((end_secs.max(0.0) * 16_000.0) as usize).clamp(a, self.len);
        let mut sum = 0f64;
        self.walk(a, b, |_, block| {
            sum += block.iter().map(|x| f64::from(x * x)).sum::<f64>();
        })?;
        Ok(((sum / (b - a).max(1) as f64).sqrt()) as f32)
    }
}

/// Removes tracks left behind by a process that died (unreadable without the key it
/// took with it) that nothing has touched for a day.
pub fn clear_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let day = std::time::Duration::from_secs(86_400);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if stale && name.to_string_lossy().starts_with("track-") {
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!(error = %e, file = ?entry.path(), "cannot remove stale scratch");
            }
        }
    }
}

/// All tracks averaged into one new track in `dir`.
pub fn mix(tracks: &mut [Track], dir: &Path) -> io::Result<Track> {
    let mut out = TrackWriter::create(dir)?;
    let len = tracks.iter().map(Track::len).min().unwrap_or(0);
    let n = tracks.len().max(1) as f32;
    let mut sum = Vec::with_capacity(BLOCK);
    let mut block = Vec::with_capacity(BLOCK);
    let mut at = 0;
    while at < len {
        let take = BLOCK.min(len - at);
        sum.clear();
        sum.resize(take, 0.0);
        for t in tracks.iter_mut() {
            t.read_into(at, take, &mut block)?;
            for (s, x) in sum.iter_mut().zip(&block) {
                *s += x / n;
            }
        }
        out.push(&sum)?;
        at += take;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Vec<f32> {
        (0..n).map(|i| (i % 1000) as f32 / 1000.0 - 0.5).collect()
    }

    #[test]
    fn samples_read_back_at_any_position_and_nothing_is_stored_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let samples = ramp(200_000);
        let mut w = TrackWriter::create(dir.path()).unwrap();
        for part in samples.chunks(7_777) {
            w.push(part).unwrap();
        }
        let mut t = w.finish().unwrap();
        assert_eq!(t.len(), samples.len());
        let mut out = Vec::new();
        t.read_into(123_457, 40_000, &mut out).unwrap();
        assert_eq!(out, samples[123_457..163_457]);
        t.read_into(199_990, 100, &mut out).unwrap();
        assert_eq!(out, samples[199_990..]);
        // The file on disk holds no run of the samples' bytes.
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let raw = std::fs::read(file.path()).unwrap();
        let needle: Vec<u8> = samples[5_000..5_016]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        assert!(!raw.windows(needle.len()).any(|w| w == needle));
        drop(t);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_sealed_window_opens_only_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let samples = ramp(70_000);
        let mut w = TrackWriter::create(dir.path()).unwrap();
        w.push(&samples).unwrap();
        let sealed = w.seal().unwrap();
        let bytes =
            crate::crypto::stream::read_scratch(sealed.file.path(), &sealed.key_hex).unwrap();
        let back: Vec<f32> = samples_from_bytes(&bytes).collect();
        assert_eq!(back, samples);
        let other = "00".repeat(32);
        assert!(crate::crypto::stream::read_scratch(sealed.file.path(), &other).is_err());
        assert!(crate::crypto::stream::read_scratch(sealed.file.path(), "zz").is_err());
    }

    #[test]
    fn energy_and_mix_match_the_samples() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = TrackWriter::create(dir.path()).unwrap();
        a.push(&vec![0.5; 32_000]).unwrap();
        let mut b = TrackWriter::create(dir.path()).unwrap();
        b.push(&vec![-0.1; 16_000]).unwrap();
        b.push(&vec![0.1; 16_000]).unwrap();
        let mut tracks = vec![a.finish().unwrap(), b.finish().unwrap()];
        assert!((tracks[0].energy(0.5, 1.5).unwrap() - 0.5).abs() < 1e-6);
        assert_eq!(tracks[0].energy(3.0, 4.0).unwrap(), 0.0);
        let mut m = mix(&mut tracks, dir.path()).unwrap();
        let mut out = Vec::new();
        m.read_into(15_999, 2, &mut out).unwrap();
        assert!((out[0] - 0.2).abs() < 1e-6 && (out[1] - 0.3).abs() < 1e-6);
    }
}
