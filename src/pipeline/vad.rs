//! Voice activity by energy: silent stretches are cut out before Whisper (it invents
//! text over silence and music) and transcript times are mapped back to the recording.

/// 16 kHz samples per 30 ms analysis frame.
const FRAME: usize = 480;
/// Frames louder than this RMS (about -46 dBFS) count as voice.
const THRESHOLD: f32 = 0.005;
/// Voice keeps a region open this long after it stops (frames: 300 ms).
const HANGOVER: usize = 10;
/// Silence kept between two regions in the compacted audio (2 s, so Whisper ends a
/// segment there).
const GAP: usize = 32_000;

/// One voiced stretch: where it sits in the compacted audio and in the recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub compact_start: usize,
    pub original_start: usize,
    pub len: usize,
}

/// The voiced regions of (a window of) one channel and the way back to recording time.
#[derive(Debug, Clone, Default)]
pub struct Voiced {
    pub spans: Vec<Span>,
}

impl Voiced {
    /// Which voiced region a time in the compacted audio falls in.
    pub fn span_index(&self, compact_secs: f64) -> usize {
        let at = (compact_secs * 16_000.0).max(0.0) as usize;
        self.spans
            .iter()
            .rposition(|s| s.compact_start <= at)
            .unwrap_or(0)
    }

    /// Recording time (s) of a time in the compacted audio.
    pub fn original_secs(&self, compact_secs: f64) -> f64 {
        let at = (compact_secs * 16_000.0).max(0.0) as usize;
        let span = self.spans.get(self.span_index(compact_secs));
        match span {
            Some(s) => {
                let offset = at.saturating_sub(s.compact_start).min(s.len);
                (s.original_start + offset) as f64 / 16_000.0
            }
            None => compact_secs,
        }
    }

    /// A stretch of the compacted audio (seconds) in recording time. Whisper's segment
    /// bounds drift into the silence between regions, so the stretch is narrowed to the
    /// regions it really overlaps (by 0.1 s or more; else the one it overlaps most).
    pub fn to_original(&self, start: f64, end: f64) -> (f64, f64) {
        let rate = 16_000.0;
        let overlaps: Vec<(usize, f64)> = self
            .spans
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let a = s.compact_start as f64 / rate;
                let b = (s.compact_start + s.len) as f64 / rate;
                (i, end.min(b) - start.max(a))
            })
            .collect();
        let real: Vec<usize> = overlaps
            .iter()
            .filter(|(_, o)| *o >= 0.1)
            .map(|(i, _)| *i)
            .collect();
        let (first, last) = match (real.first(), real.last()) {
            (Some(f), Some(l)) => (*f, *l),
            _ => {
                let best = overlaps
                    .iter()
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map_or(0, |(i, _)| *i);
                (best, best)
            }
        };
        let (Some(f), Some(l)) = (self.spans.get(first), self.spans.get(last)) else {
            return (start, end);
        };
        let a = start.max(f.compact_start as f64 / rate);
        let b = end.min((l.compact_start + l.len) as f64 / rate);
        let from = (f.original_start as f64 + (a * rate - f.compact_start as f64).max(0.0)) / rate;
        let to = (l.original_start as f64 + (b * rate - l.compact_start as f64).max(0.0)) / rate;
        (from, to.max(from))
    }

    /// Voiced audio in seconds.
    pub fn voiced_secs(&self) -> f64 {
        self.spans.iter().map(|s| s.len).sum::<usize>() as f64 / 16_000.0
    }
}

fn rms(frame: &[f32]) -> f32 {
    (frame.iter().map(|x| x * x).sum::<f32>() / frame.len().max(1) as f32).sqrt()
}

/// Where the voiced regions of a 16 kHz track sit, in the recording and in the
/// compacted audio (regions joined by 2 s gaps); no samples are copied.
pub fn spans(track: &[f32]) -> Vec<Span> {
    let mut d = Detector::default();
    d.push(track);
    d.finish()
}

/// Finds the voiced regions of a track fed to it block by block (a frame's loudness
/// is all it keeps: 2 bits a second, so hours of audio need not be in memory).
#[derive(Debug, Default)]
pub struct Detector {
    loud: Vec<bool>,
    carry: Vec<f32>,
    len: usize,
}

impl Detector {
    pub fn push(&mut self, samples: &[f32]) {
        self.len += samples.len();
        let mut rest = samples;
        if !self.carry.is_empty() {
            let take = (FRAME - self.carry.len()).min(rest.len());
            self.carry.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.carry.len() < FRAME {
                return;
            }
            self.loud.push(rms(&self.carry) > THRESHOLD);
            self.carry.clear();
        }
        let whole = rest.len() / FRAME * FRAME;
        self.loud
            .extend(rest[..whole].chunks(FRAME).map(|f| rms(f) > THRESHOLD));
        self.carry.extend_from_slice(&rest[whole..]);
    }

    pub fn finish(mut self) -> Vec<Span> {
        if !self.carry.is_empty() {
            self.loud.push(rms(&self.carry) > THRESHOLD);
        }
        regions_to_spans(&self.loud, self.len)
    }
}

fn regions_to_spans(loud: &[bool], len: usize) -> Vec<Span> {
    let mut regions: Vec<(usize, usize)> = Vec::new();
    let mut quiet_run = usize::MAX;
    for (i, &is_loud) in loud.iter().enumerate() {
        if is_loud {
            match regions.last_mut() {
                Some(r) if quiet_run <= HANGOVER => r.1 = i + 1,
                _ => regions.push((i, i + 1)),
            }
            quiet_run = 0;
        } else {
            quiet_run = quiet_run.saturating_add(1);
        }
    }
    let mut out: Vec<Span> = Vec::new();
    let mut compact = 0;
    for (first, last) in regions {
        // A little context either side, so words are not clipped.
        let start = (first.saturating_sub(HANGOVER / 2)) * FRAME;
        let end = ((last + HANGOVER / 2) * FRAME).min(len);
        if !out.is_empty() {
            compact += GAP;
        }
        out.push(Span {
            compact_start: compact,
            original_start: start,
            len: end - start,
        });
        compact += end - start;
    }
    out
}

/// Splits spans into windows of at most `max` compacted samples each (a span longer
/// than `max` is cut), every window re-based to start at 0: the pieces a long
/// recording is transcribed in, so no single piece has to be held whole.
pub fn windows(spans: &[Span], max: usize) -> Vec<Vec<Span>> {
    let mut out: Vec<Vec<Span>> = Vec::new();
    let mut current: Vec<Span> = Vec::new();
    let mut used = 0;
    for span in spans {
        let mut offset = 0;
        while offset < span.len {
            let gap = if current.is_empty() { 0 } else { GAP };
            if used + gap >= max {
                out.push(std::mem::take(&mut current));
                used = 0;
                continue;
            }
            let take = (span.len - offset).min(max - used - gap);
            current.push(Span {
                compact_start: used + gap,
                original_start: span.original_start + offset,
                len: take,
            });
            used += gap + take;
            offset += take;
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(secs: f64) -> Vec<f32> {
        (0..(secs * 16_000.0) as usize)
            .map(|i| 0.3 * (i as f32 * 0.1).sin())
            .collect()
    }

    #[test]
    fn windows_cover_every_voiced_sample_once_within_the_limit() {
        let mut track = tone(3.0);
        track.extend(vec![0.0; 16_000 * 4]);
        track.extend(tone(5.0));
        let all = spans(&track);
        let max = 16_000 * 4;
        let parts = windows(&all, max);
        assert!(parts.len() >= 2, "{parts:?}");
        let mut covered = Vec::new();
        for w in &parts {
            let last = w.last().unwrap();
            assert!(last.compact_start + last.len <= max);
            assert_eq!(w[0].compact_start, 0);
            for s in w {
                covered.extend(s.original_start..s.original_start + s.len);
            }
        }
        let want: Vec<usize> = all
            .iter()
            .flat_map(|s| s.original_start..s.original_start + s.len)
            .collect();
        assert_eq!(covered, want);
    }

    #[test]
    fn silence_is_cut_and_times_map_back() {
        let mut track = vec![0.0; 16_000 * 10];
        track.extend(tone(2.0));
        track.extend(vec![0.0; 16_000 * 20]);
        track.extend(tone(1.0));
        let v = Voiced {
            spans: spans(&track),
        };
        assert_eq!(v.spans.len(), 2, "{:?}", v.spans);
        let compact = v.spans[1].compact_start + v.spans[1].len;
        assert!(compact < 16_000 * 6, "{compact}");
        // The start of the first region is just before 10 s in the recording.
        let first = v.original_secs(0.2);
        assert!((9.7..10.3).contains(&first), "{first}");
        // The second region starts about 32 s into the recording.
        let second = v.original_secs(v.spans[1].compact_start as f64 / 16_000.0 + 0.15);
        assert!((31.7..32.3).contains(&second), "{second}");
    }

    #[test]
    fn segment_bounds_drifting_into_the_gap_are_narrowed_to_their_region() {
        let mut track = tone(2.0);
        track.extend(vec![0.0; 16_000 * 10]);
        track.extend(tone(2.0));
        let v = Voiced {
            spans: spans(&track),
        };
        assert_eq!(v.spans.len(), 2);
        let second = v.spans[1].compact_start as f64 / 16_000.0;
        // Whisper says the second utterance starts where the first ended.
        let (from, to) = v.to_original(2.1, second + 2.0);
        assert!((11.6..12.1).contains(&from), "{from}");
        assert!((13.8..14.3).contains(&to), "{to}");
    }

    #[test]
    fn fed_in_blocks_of_any_size_the_regions_are_the_same() {
        let mut track = vec![0.0; 16_000 * 3];
        track.extend(tone(2.0));
        track.extend(vec![0.0; 16_000 * 5]);
        track.extend(tone(1.3));
        for block in [1, 479, 481, 16_000, 100_000] {
            let mut d = Detector::default();
            for part in track.chunks(block) {
                d.push(part);
            }
            assert_eq!(d.finish(), spans(&track), "blocks of {block}");
        }
        assert_eq!(spans(&track).len(), 2);
    }

    #[test]
    fn a_silent_track_has_nothing_to_transcribe() {
        assert!(spans(&vec![0.0; 16_000 * 5]).is_empty());
    }
}
