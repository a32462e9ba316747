//! The Slaney-scale mel filterbank (librosa's default, as OpenAI's `mel_filters.npz`).

/// `n_mels` x (n_fft/2 + 1) filters for 16 kHz audio with a 400-point FFT, row-major.
pub fn filterbank(n_mels: usize) -> Vec<f32> {
    const SAMPLE_RATE: f64 = 16000.0;
    const N_FFT: usize = 400;
    let n_bins = N_FFT / 2 + 1;
    let fft_freqs: Vec<f64> = (0..n_bins)
        .map(|i| i as f64 * (SAMPLE_RATE / 2.0) / (n_bins - 1) as f64)
        .collect();
    let min_mel = hz_to_mel(0.0);
    let max_mel = hz_to_mel(SAMPLE_RATE / 2.0);
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(min_mel + (max_mel - min_mel) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut out = vec![0f32; n_mels * n_bins];
    for m in 0..n_mels {
        let lower_width = mel_f[m + 1] - mel_f[m];
        let upper_width = mel_f[m + 2] - mel_f[m + 1];
        let enorm = 2.0 / (mel_f[m + 2] - mel_f[m]);
        for (k, f) in fft_freqs.iter().enumerate() {
            let lower = (f - mel_f[m]) / lower_width;
            let upper = (mel_f[m + 2] - f) / upper_width;
            let w = lower.min(upper).max(0.0);
            out[m * n_bins + k] = (w * enorm) as f32;
        }
    }
    out
}

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

#[cfg(test)]
mod tests {
    use super::filterbank;

    #[test]
    fn matches_openai_mel_filters_at_known_points() {
        // Values of OpenAI whisper's assets/mel_filters.npz["mel_80"].
        let f = filterbank(80);
        assert_eq!(f.len(), 80 * 201);
        assert!((f[1] - 0.024_862_594).abs() < 1e-7, "{}", f[1]);
        assert!((f[201 + 2] - 0.022_871_772).abs() < 1e-7, "{}", f[203]);
        assert!((f[79 * 201 + 199] - 0.000_448_759).abs() < 1e-7);
        // Triangles: zero far from their peak.
        assert_eq!(f[40 * 201 + 30], 0.0);
        assert_eq!(f[79 * 201 + 200], 0.0);
    }
}
