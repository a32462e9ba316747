//! `insite models list|verify|import-ct2`: the approved models and their files.

use super::CommandError;
use crate::engines::{ct2, manifest};
use std::io::Write;
use std::path::Path;

/// One line per approved model, with whether its file is present and verified.
pub fn list(models_dir: &Path) -> Result<String, CommandError> {
    let mut out = vec![format!(
        "{:<30} {:<8} {:<42} status",
        "name", "kind", "file"
    )];
    for e in manifest::entries() {
        let status = match manifest::verify_named(models_dir, &e.name) {
            Ok(_) => "verified".to_string(),
            Err(manifest::ModelError::Missing { .. }) => "not fetched".to_string(),
            Err(err) => format!("REFUSED: {err}"),
        };
        out.push(format!(
            "{:<30} {:<8} {:<42} {status}",
            e.name,
            format!("{:?}", e.kind).to_lowercase(),
            e.file
        ));
    }
    Ok(out.join("\n"))
}

/// Verifies the given model files (or every fetched model); fails if any is refused.
pub fn verify(models_dir: &Path, files: &[String]) -> Result<String, CommandError> {
    let mut lines = Vec::new();
    let mut refused = Vec::new();
    let results: Vec<Result<manifest::VerifiedModel, manifest::ModelError>> = if files.is_empty() {
        manifest::entries()
            .iter()
            .filter(|e| models_dir.join(&e.file).exists())
            .map(|e| manifest::verify_named(models_dir, &e.name))
            .collect()
    } else {
        files
            .iter()
            .map(|f| manifest::verify_path(Path::new(f)))
            .collect()
    };
    for r in results {
        match r {
            Ok(v) => lines.push(format!("ok: {} ({})", v.path.display(), v.entry.name)),
            Err(e) => refused.push(e.to_string()),
        }
    }
    if let Some(first) = refused.first() {
        return Err(CommandError::from_display(if refused.len() == 1 {
            first.clone()
        } else {
            format!("{} models refused; first: {first}", refused.len())
        }));
    }
    if lines.is_empty() {
        lines.push(format!("no model files in {}", models_dir.display()));
    }
    Ok(lines.join("\n"))
}

/// Converts a CTranslate2 Whisper directory, with progress on stderr.
pub fn import_ct2(dir: &Path, out: &Path) -> Result<String, CommandError> {
    let mut last = 0;
    let report = ct2::import(dir, out, &mut |done, total| {
        let pct = done * 100 / total.max(1);
        if pct >= last + 10 || done == total {
            last = pct;
            let _ = writeln!(
                std::io::stderr(),
                "converting: {pct}% ({done}/{total} tensors)"
            );
        }
    })
    .map_err(CommandError::from_display)?;
    let digest = manifest::sha256_file(&report.output).map_err(CommandError::from_display)?;
    Ok(format!(
        "wrote {} ({} bytes, {} tensors, {} mel bins, {} encoder + {} decoder layers)\nsha256 {digest}",
        report.output.display(),
        report.bytes,
        report.tensors,
        report.n_mels,
        report.n_audio_layer,
        report.n_text_layer
    ))
}
