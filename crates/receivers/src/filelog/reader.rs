//! One file followed: where it is, what identifies it (its first bytes), how far it was read,
//! and the entry being assembled. The handle is kept between polls, so a file renamed away or
//! deleted is still read to its end.

use std::{
    fs::File,
    io,
    os::unix::fs::FileExt,
    path::PathBuf,
    time::{Duration, Instant},
};

use super::config::{Settings, Split};

/// The most bytes read from one file in one poll: files are read in turns.
const READ_PER_POLL: usize = 1 << 20;

/// A followed file.
pub(crate) struct Reader {
    pub(crate) path: PathBuf,
    file: File,
    pub(crate) fingerprint: Vec<u8>,
    pub(crate) offset: u64,
    /// The bytes of an unfinished line.
    partial: Vec<u8>,
    /// Skipping the rest of a line cut at `max_log_size`.
    skipping: bool,
    /// The multiline entry being assembled.
    pending: Option<String>,
    /// Dropping the rest of a multiline entry cut at `max_log_size`.
    overflowing: bool,
    /// When bytes last came.
    last_data: Instant,
}

/// The first `size` bytes of `file` (fewer if it is shorter).
pub(crate) fn fingerprint(file: &File, size: usize) -> io::Result<Vec<u8>> {
    let mut buffer = vec![0u8; size];
    let mut read = 0;
    while read < size {
        match file.read_at(&mut buffer[read..], read as u64)? {
            0 => break,
            n => read += n,
        }
    }
    buffer.truncate(read);
    Ok(buffer)
}

impl Reader {
    pub(crate) fn new(path: PathBuf, file: File, fingerprint: Vec<u8>, offset: u64) -> Reader {
        Reader {
            path,
            file,
            fingerprint,
            offset,
            partial: Vec::new(),
            skipping: false,
            pending: None,
            overflowing: false,
            last_data: Instant::now(),
        }
    }

    /// Whether `fingerprint` is this file's: one begins the other.
    pub(crate) fn matches(&self, fingerprint: &[u8]) -> bool {
        fingerprint.starts_with(&self.fingerprint) || self.fingerprint.starts_with(fingerprint)
    }

    /// Takes over a newer view of the same file (renamed, grown).
    pub(crate) fn update(&mut self, path: PathBuf, fingerprint: Vec<u8>) {
        self.path = path;
        if fingerprint.len() > self.fingerprint.len() {
            self.fingerprint = fingerprint;
        }
    }

    /// Reads what was written since the last read (from the start again if the file was
    /// truncated) into `entries`; counts the entries cut at `max_log_size` in `cut`. An
    /// unfinished line or entry waits for more, for at most `force_flush_period`.
    pub(crate) fn read(
        &mut self,
        settings: &Settings,
        entries: &mut Vec<String>,
        cut: &mut u64,
    ) -> io::Result<bool> {
        let length = self.file.metadata()?.len();
        if length < self.offset {
            // truncated (copytruncate): what is there now is new
            self.offset = 0;
            self.partial.clear();
            self.skipping = false;
        }
        let mut buffer = vec![0u8; (length - self.offset).min(READ_PER_POLL as u64) as usize];
        let mut read = 0;
        while read < buffer.len() {
            match self.file.read_at(&mut buffer[read..], self.offset + read as u64)? {
                0 => break,
                n => read += n,
            }
        }
        buffer.truncate(read);
        self.offset += read as u64;
        if !buffer.is_empty() {
            self.last_data = Instant::now();
        }
        let mut rest = &buffer[..];
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            let (line, after) = rest.split_at(end);
            rest = &after[1..];
            if self.skipping {
                self.skipping = false;
                continue;
            }
            self.partial.extend_from_slice(line);
            let mut text = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            if text.ends_with('\r') {
                text.pop();
            }
            self.line(text, settings, entries, cut);
        }
        if !self.skipping {
            self.partial.extend_from_slice(rest);
            if self.partial.len() > settings.max_log_size {
                let text =
                    String::from_utf8_lossy(&self.partial[..settings.max_log_size]).into_owned();
                self.partial.clear();
                self.skipping = true;
                *cut += 1;
                self.emit(text, entries);
            }
        }
        // at the end of what is written, an unfinished line waits for force_flush_period
        let at_end = self.offset >= length;
        if at_end && self.last_data.elapsed() >= settings.force_flush_period {
            self.flush(entries);
        }
        Ok(read > 0 && (self.offset as usize) < length as usize)
    }

    /// Reads a file no longer matched (rotated away, deleted) to its end. One truncated in
    /// place is not read again: what it holds now is another file's, read under its name.
    pub(crate) fn drain(&mut self, settings: &Settings, entries: &mut Vec<String>, cut: &mut u64) {
        loop {
            let truncated = self.file.metadata().map_or(true, |m| m.len() < self.offset);
            if truncated || !matches!(self.read(settings, entries, cut), Ok(true)) {
                break;
            }
        }
        self.flush(entries);
    }

    /// Emits what is unfinished: the last line without its newline, the entry being assembled.
    pub(crate) fn flush(&mut self, entries: &mut Vec<String>) {
        if !self.partial.is_empty() && !self.skipping {
            let text = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            match &mut self.pending {
                Some(pending) => {
                    pending.push('\n');
                    pending.push_str(&text);
                }
                None => self.pending = Some(text),
            }
        }
        if let Some(pending) = self.pending.take() {
            entries.push(pending);
        }
    }

    fn emit(&mut self, text: String, entries: &mut Vec<String>) {
        if let Some(pending) = self.pending.take() {
            entries.push(pending);
        }
        entries.push(text);
    }

    /// A complete line, into an entry as `multiline` says.
    fn line(
        &mut self,
        text: String,
        settings: &Settings,
        entries: &mut Vec<String>,
        cut: &mut u64,
    ) {
        match &settings.split {
            Split::Lines => {
                let text = cut_to(text, settings.max_log_size, cut);
                entries.push(text);
            }
            Split::Start(start) => {
                if start.is_match(&text) {
                    self.overflowing = false;
                    if let Some(done) = self.pending.take() {
                        entries.push(done);
                    }
                    self.pending = Some(cut_to(text, settings.max_log_size, cut));
                } else if !self.overflowing {
                    self.append(text, settings, entries, cut);
                }
            }
            Split::End(end) => {
                let ends = end.is_match(&text);
                if !self.overflowing {
                    self.append(text, settings, entries, cut);
                }
                if ends {
                    self.overflowing = false;
                    if let Some(done) = self.pending.take() {
                        entries.push(done);
                    }
                }
            }
        }
    }

    fn append(
        &mut self,
        text: String,
        settings: &Settings,
        entries: &mut Vec<String>,
        cut: &mut u64,
    ) {
        let pending = match self.pending.take() {
            Some(mut pending) => {
                pending.push('\n');
                pending.push_str(&text);
                pending
            }
            None => text,
        };
        if pending.len() > settings.max_log_size {
            // the rest of this entry is dropped with what was cut
            self.overflowing = true;
            entries.push(cut_to(pending, settings.max_log_size, cut));
        } else {
            self.pending = Some(pending);
        }
    }

    /// Time since bytes last came.
    pub(crate) fn quiet_for(&self) -> Duration {
        self.last_data.elapsed()
    }
}

/// `text` cut at `max` bytes (on a character boundary), counted in `cut` when it was.
fn cut_to(mut text: String, max: usize, cut: &mut u64) -> String {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        *cut += 1;
    }
    text
}
