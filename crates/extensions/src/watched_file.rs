//! A small file whose text is read again when it changes (checked at most once a second): a
//! token or header value mounted from a rotated secret is picked up without a restart.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime},
};

/// How often a watched file is checked for a change.
const RECHECK: Duration = Duration::from_secs(1);

/// The trimmed text of a file, kept current.
#[derive(Debug)]
pub(crate) struct WatchedFile {
    /// Who reads it, for logs (`bearertokenauth`, `headers_setter`).
    owner: &'static str,
    path: PathBuf,
    text: String,
    modified: Option<SystemTime>,
    checked: Instant,
}

impl WatchedFile {
    /// Reads `path` once; an error names the owner and the file.
    pub(crate) fn open(owner: &'static str, path: &Path) -> std::io::Result<WatchedFile> {
        let (text, modified) = read(path).map_err(|e| {
            std::io::Error::new(e.kind(), format!("{owner}: {}: {e}", path.display()))
        })?;
        Ok(WatchedFile { owner, path: path.to_owned(), text, modified, checked: Instant::now() })
    }

    /// The text, read again if the file changed since it was last checked; a file that
    /// cannot be read keeps the previous text (logged).
    pub(crate) fn current(&mut self) -> &str {
        if self.checked.elapsed() >= RECHECK {
            self.checked = Instant::now();
            let modified = std::fs::metadata(&self.path).ok().and_then(|m| m.modified().ok());
            if modified != self.modified {
                match read(&self.path) {
                    Ok((text, modified)) => {
                        (self.text, self.modified) = (text, modified);
                        tracing::info!(file = %self.path.display(), "{}: file reloaded", self.owner);
                    }
                    Err(error) => tracing::warn!(file = %self.path.display(), %error,
                        "{}: keeping the previous value", self.owner),
                }
            }
        }
        &self.text
    }
}

fn read(path: &Path) -> std::io::Result<(String, Option<SystemTime>)> {
    let modified = std::fs::metadata(path)?.modified().ok();
    Ok((std::fs::read_to_string(path)?.trim().to_owned(), modified))
}
