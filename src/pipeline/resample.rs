//! Streaming conversion of decoded channels to 16 kHz: the sinks samples go into, and
//! the resampler that feeds them without holding the source-rate audio whole.

use super::decode::{DecodeError, TARGET_RATE};
use super::track::{Track, TrackWriter};
use rubato::{FftFixedIn, Resampler};

/// Where one channel's 16 kHz samples go as they are decoded. Its errors are faults of
/// the machine (scratch space), never of the recording.
pub trait Sink: Sized {
    type Done;
    fn push(&mut self, samples: &[f32]) -> std::io::Result<()>;
    fn done(self) -> std::io::Result<Self::Done>;
}

impl Sink for Vec<f32> {
    type Done = Vec<f32>;
    fn push(&mut self, samples: &[f32]) -> std::io::Result<()> {
        self.extend_from_slice(samples);
        Ok(())
    }
    fn done(self) -> std::io::Result<Vec<f32>> {
        Ok(self)
    }
}

impl Sink for TrackWriter {
    type Done = Track;
    fn push(&mut self, samples: &[f32]) -> std::io::Result<()> {
        TrackWriter::push(self, samples)
    }
    fn done(self) -> std::io::Result<Track> {
        self.finish()
    }
}

/// Why converting a channel stopped: the resampler (the audio) or the sink (the machine).
pub(super) enum Fault {
    Resample(String),
    Sink(std::io::Error),
}

impl Fault {
    pub(super) fn into_error(self, path: &str) -> DecodeError {
        match self {
            Fault::Resample(detail) => DecodeError::Corrupt {
                path: path.to_string(),
                detail,
            },
            Fault::Sink(e) => DecodeError::Io {
                path: path.to_string(),
                message: format!("scratch space for decoded audio: {e}"),
            },
        }
    }
}

pub(super) fn resampler_fault(e: impl std::fmt::Display) -> Fault {
    Fault::Resample(e.to_string())
}

/// Streaming conversion of one channel to 16 kHz into a sink: samples go in as they
/// are decoded, so the source-rate audio is never held whole. The output is exactly
/// `consumed * 16000 / rate` samples long, without the resampler's delay.
pub(super) struct ToTarget<S: Sink> {
    rate: usize,
    resampler: Option<FftFixedIn<f32>>,
    pending: Vec<f32>,
    sink: S,
    /// Output samples of the resampler's delay still to drop.
    skip: usize,
    /// Output held back until the input says it belongs to the result.
    held: Vec<f32>,
    emitted: usize,
    pub(super) consumed: usize,
}

/// Input samples per resampler step.
pub(super) const STEP: usize = 1024;

impl<S: Sink> ToTarget<S> {
    pub(super) fn new(rate: usize, sink: S) -> Result<Self, Fault> {
        let resampler = if rate == TARGET_RATE {
            None
        } else {
            Some(FftFixedIn::<f32>::new(rate, TARGET_RATE, STEP, 2, 1).map_err(resampler_fault)?)
        };
        Ok(Self {
            rate,
            skip: resampler.as_ref().map_or(0, |r| r.output_delay()),
            resampler,
            pending: Vec::with_capacity(2 * STEP),
            sink,
            held: Vec::new(),
            emitted: 0,
            consumed: 0,
        })
    }

    /// Output samples the input consumed so far accounts for.
    fn due(&self) -> usize {
        self.consumed * TARGET_RATE / self.rate
    }

    /// Takes resampler output: drops the delay, passes on what is due, holds the rest.
    fn take(&mut self, mut out: &[f32]) -> Result<(), Fault> {
        let skip = self.skip.min(out.len());
        self.skip -= skip;
        out = &out[skip..];
        self.held.extend_from_slice(out);
        let n = self.due().saturating_sub(self.emitted).min(self.held.len());
        if n > 0 {
            self.sink.push(&self.held[..n]).map_err(Fault::Sink)?;
            self.held.drain(..n);
            self.emitted += n;
        }
        Ok(())
    }

    pub(super) fn push(&mut self, samples: &[f32]) -> Result<(), Fault> {
        self.consumed += samples.len();
        if self.resampler.is_none() {
            self.emitted += samples.len();
            return self.sink.push(samples).map_err(Fault::Sink);
        }
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (STEP - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == STEP {
                let r = self
                    .resampler
                    .as_mut()
                    .ok_or_else(|| resampler_fault("no resampler"))?;
                let block = r
                    .process(&[&self.pending[..]], None)
                    .map_err(resampler_fault)?;
                self.take(&block[0])?;
                self.pending.clear();
            }
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<S::Done, Fault> {
        if let Some(mut r) = self.resampler.take() {
            // A length that is a whole number of steps leaves nothing pending, and the
            // resampler refuses an empty partial block.
            if !self.pending.is_empty() {
                let tail = r
                    .process_partial(Some(&[&self.pending[..]]), None)
                    .map_err(resampler_fault)?;
                self.take(&tail[0])?;
            }
            // Flush the resampler's delay line.
            let flush = r
                .process_partial::<&[f32]>(None, None)
                .map_err(resampler_fault)?;
            self.take(&flush[0])?;
        }
        self.sink.done().map_err(Fault::Sink)
    }
}
