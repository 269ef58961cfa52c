//! The write-ahead log behind a persistent sending queue: append-only segment files of
//! checksummed records, one directory per exporter.
//!
//! A record is `len: u32 LE | crc32: u32 LE | kind: u8 | id: u64 LE | payload`, where `len`
//! counts the bytes after the checksum and the checksum covers them. A `data` record holds a
//! batch; a `done` record says the batch with that id was delivered (or failed permanently).
//! Recovery reads every segment in order: data records without a `done` are pending again,
//! in id order. A record that is short or fails its checksum ends its segment; in the last
//! segment that is a torn write from a crash, and the file is truncated there. A segment
//! whose data records are all done is deleted once it is no longer the one being written.
//! A length is trusted only up to the bytes the file still holds, so no allocation follows
//! a corrupt length.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    fs::{File, OpenOptions},
    io::{self, Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

const HEADER: usize = 8;
const BODY_PREFIX: usize = 9;
const DATA: u8 = 1;
const DONE: u8 = 2;

/// How a log is opened.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// `fsync` after every group of appends, before the writers are told their data is kept.
    pub fsync: bool,
    /// Start a new segment once the current one holds this many bytes.
    pub segment_bytes: u64,
    /// Refuse appends that would make the segments larger than this (0: no limit).
    pub max_bytes: u64,
    /// Refuse appends while this many records are pending (0: no limit).
    pub max_records: usize,
}

/// Why an append was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The log holds `max_bytes` or `max_records`.
    #[error("the persistent queue is full ({0})")]
    Full(&'static str),
    /// Writing failed (the disk is full, say); nothing of the record is left in the log.
    #[error("writing the persistent queue failed: {0}")]
    Io(#[from] io::Error),
}

/// Where a data record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The record's id: ids grow in append order.
    pub id: u64,
    segment: u64,
    offset: u64,
    len: u32,
}

#[derive(Debug, Default)]
struct Segment {
    bytes: u64,
    /// Data records not yet done.
    live: usize,
}

/// What recovery found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Data records pending again.
    pub pending: usize,
    /// Bytes cut from the end of the last segment (a torn write).
    pub truncated_bytes: u64,
    /// Segments that ended early on a corrupt record (not the last one).
    pub corrupt_segments: usize,
    /// Segments deleted because everything in them was done.
    pub deleted_segments: usize,
}

/// An open log.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    segments: BTreeMap<u64, Segment>,
    active: File,
    active_segment: u64,
    next_id: u64,
    pending: VecDeque<Location>,
    dispatched: HashMap<u64, Location>,
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:016x}.wal"))
}

fn encode(kind: u8, id: u64, payload: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(HEADER + BODY_PREFIX + payload.len());
    let len = (BODY_PREFIX + payload.len()) as u32;
    record.extend_from_slice(&len.to_le_bytes());
    record.extend_from_slice(&[0; 4]);
    record.push(kind);
    record.extend_from_slice(&id.to_le_bytes());
    record.extend_from_slice(payload);
    let crc = crc32fast::hash(&record[HEADER..]);
    record[4..8].copy_from_slice(&crc.to_le_bytes());
    record
}

/// One record parsed from `bytes` at `offset`: `(kind, id, payload range, next offset)`, or
/// `None` when what is there is short or corrupt.
fn parse(bytes: &[u8], offset: usize) -> Option<(u8, u64, std::ops::Range<usize>, usize)> {
    let header = bytes.get(offset..offset.checked_add(HEADER)?)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    if len < BODY_PREFIX {
        return None;
    }
    let start = offset + HEADER;
    let body = bytes.get(start..start.checked_add(len)?)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let id = u64::from_le_bytes(body[1..BODY_PREFIX].try_into().ok()?);
    Some((body[0], id, start + BODY_PREFIX..start + len, start + len))
}

impl Wal {
    /// Opens (creating if needed) the log in `dir` and recovers what it holds.
    pub fn open(dir: &Path, options: WalOptions) -> io::Result<(Wal, Recovery)> {
        std::fs::create_dir_all(dir)?;
        let mut numbers: Vec<u64> = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(number) =
                name.strip_suffix(".wal").and_then(|n| u64::from_str_radix(n, 16).ok())
            {
                numbers.push(number);
            }
        }
        numbers.sort_unstable();
        let mut recovery = Recovery::default();
        let mut segments = BTreeMap::new();
        let mut data: BTreeMap<u64, Location> = BTreeMap::new();
        let mut next_id = 0;
        let last = numbers.last().copied();
        for &number in &numbers {
            let path = segment_path(dir, number);
            let bytes = std::fs::read(&path)?;
            let mut offset = 0;
            while offset < bytes.len() {
                let Some((kind, id, payload, next)) = parse(&bytes, offset) else { break };
                match kind {
                    DATA => {
                        let len = (payload.end - offset) as u32;
                        data.insert(
                            id,
                            Location { id, segment: number, offset: offset as u64, len },
                        );
                    }
                    DONE => {
                        data.remove(&id);
                    }
                    _ => break,
                }
                next_id = next_id.max(id + 1);
                offset = next;
            }
            if offset < bytes.len() {
                if Some(number) == last {
                    recovery.truncated_bytes = (bytes.len() - offset) as u64;
                    OpenOptions::new().write(true).open(&path)?.set_len(offset as u64)?;
                } else {
                    recovery.corrupt_segments += 1;
                }
                tracing::warn!(segment = %path.display(), offset, dropped_bytes = bytes.len() - offset,
                    "persistent queue: a record is short or corrupt; reading stops there");
            }
            segments.insert(number, Segment { bytes: offset as u64, live: 0 });
        }
        for location in data.values() {
            segments.get_mut(&location.segment).expect("read above").live += 1;
        }
        // Everything in a segment done: delete it (a fresh segment is written from here on).
        let done: Vec<u64> =
            segments.iter().filter(|(_, s)| s.live == 0).map(|(n, _)| *n).collect();
        for number in done {
            std::fs::remove_file(segment_path(dir, number))?;
            segments.remove(&number);
            recovery.deleted_segments += 1;
        }
        let active_segment = numbers.last().map_or(0, |n| n + 1);
        let active =
            OpenOptions::new().create(true).append(true).open(segment_path(dir, active_segment))?;
        segments.insert(active_segment, Segment::default());
        recovery.pending = data.len();
        let wal = Wal {
            dir: dir.to_owned(),
            options,
            segments,
            active,
            active_segment,
            next_id,
            pending: data.into_values().collect(),
            dispatched: HashMap::new(),
        };
        if wal.options.fsync {
            File::open(dir)?.sync_all()?;
        }
        Ok((wal, recovery))
    }

    /// Bytes in all segments.
    pub fn bytes(&self) -> u64 {
        self.segments.values().map(|s| s.bytes).sum()
    }

    /// Records not yet done (waiting or being delivered).
    pub fn len(&self) -> usize {
        self.pending.len() + self.dispatched.len()
    }

    /// Whether no record waits or is being delivered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a data record; it is durable against a process crash when this returns, and
    /// against a machine crash after [`Wal::sync`] (with `fsync`).
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, AppendError> {
        if self.options.max_records > 0 && self.len() >= self.options.max_records {
            return Err(AppendError::Full("sending_queue.queue_size records"));
        }
        let id = self.next_id;
        let record = encode(DATA, id, payload);
        if self.options.max_bytes > 0 && self.bytes() + record.len() as u64 > self.options.max_bytes
        {
            return Err(AppendError::Full("file_storage max_size_mib"));
        }
        let offset = self.write(&record)?;
        self.next_id += 1;
        let segment = self.segments.get_mut(&self.active_segment).expect("active");
        segment.live += 1;
        let location =
            Location { id, segment: self.active_segment, offset, len: record.len() as u32 };
        self.pending.push_back(location);
        Ok(id)
    }

    /// Writes `record` at the end of the active segment, rolling to a new segment first when
    /// the active one is full; on failure nothing of it stays in the file.
    fn write(&mut self, record: &[u8]) -> io::Result<u64> {
        let active = self.segments.get(&self.active_segment).expect("active").bytes;
        if active >= self.options.segment_bytes {
            self.roll()?;
        }
        let offset = self.segments[&self.active_segment].bytes;
        if let Err(error) = self.active.write_all(record) {
            // a partial record would read as a torn tail at recovery, but not every write
            // after it: cut it now
            let _ = self.active.set_len(offset);
            return Err(error);
        }
        self.segments.get_mut(&self.active_segment).expect("active").bytes += record.len() as u64;
        Ok(offset)
    }

    fn roll(&mut self) -> io::Result<()> {
        if self.options.fsync {
            self.active.sync_data()?;
        }
        let next = self.active_segment + 1;
        let file =
            OpenOptions::new().create(true).append(true).open(segment_path(&self.dir, next))?;
        if self.options.fsync {
            File::open(&self.dir)?.sync_all()?;
        }
        let previous = std::mem::replace(&mut self.active_segment, next);
        self.active = file;
        self.segments.insert(next, Segment::default());
        self.delete_if_done(previous)
    }

    /// Flushes appended records to the disk (with `fsync`; otherwise they are in the
    /// operating system's cache, which survives the process but not the machine).
    pub fn sync(&mut self) -> io::Result<()> {
        if self.options.fsync { self.active.sync_data() } else { Ok(()) }
    }

    /// The oldest record not being delivered, now marked as being delivered.
    pub fn dispatch(&mut self) -> Option<Location> {
        let location = self.pending.pop_front()?;
        self.dispatched.insert(location.id, location);
        Some(location)
    }

    /// Puts a record being delivered back at the front (its delivery was interrupted).
    pub fn requeue(&mut self, id: u64) {
        if let Some(location) = self.dispatched.remove(&id) {
            self.pending.push_front(location);
        }
    }

    /// The payload of a record.
    pub fn read(&self, location: &Location) -> io::Result<Vec<u8>> {
        let mut file = File::open(segment_path(&self.dir, location.segment))?;
        file.seek(SeekFrom::Start(location.offset))?;
        let mut record = vec![0; location.len as usize];
        file.read_exact(&mut record)?;
        match parse(&record, 0) {
            Some((DATA, id, payload, _)) if id == location.id => Ok(record[payload].to_vec()),
            _ => Err(io::Error::new(io::ErrorKind::InvalidData, "record changed on disk")),
        }
    }

    /// Marks a record done: it will not be delivered again, even after a restart. A segment
    /// whose records are all done is deleted (the one being written is first replaced by a
    /// fresh one, so a drained log takes no space); otherwise a `done` record says so.
    pub fn done(&mut self, id: u64) -> io::Result<()> {
        let Some(location) = self.dispatched.remove(&id) else { return Ok(()) };
        let segment = self.segments.get_mut(&location.segment).expect("a record's segment");
        segment.live -= 1;
        if segment.live > 0 {
            self.write(&encode(DONE, id, &[]))?;
            return Ok(());
        }
        if location.segment == self.active_segment {
            self.roll()
        } else {
            self.delete_if_done(location.segment)
        }
    }

    fn delete_if_done(&mut self, number: u64) -> io::Result<()> {
        let done = self.segments.get(&number).is_some_and(|s| s.live == 0);
        if done && number != self.active_segment {
            self.segments.remove(&number);
            std::fs::remove_file(segment_path(&self.dir, number))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> WalOptions {
        WalOptions { fsync: false, segment_bytes: 1 << 20, max_bytes: 0, max_records: 0 }
    }

    fn payload(i: usize) -> Vec<u8> {
        format!("record {i} ").repeat(i % 7 + 1).into_bytes()
    }

    fn drain(wal: &mut Wal) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(location) = wal.dispatch() {
            out.push(wal.read(&location).unwrap());
        }
        out
    }

    #[test]
    fn records_come_back_in_order_after_reopening_and_done_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, recovery) = Wal::open(dir.path(), options()).unwrap();
        assert_eq!(recovery, Recovery::default());
        for i in 0..10 {
            wal.append(&payload(i)).unwrap();
        }
        let first = wal.dispatch().unwrap();
        wal.done(first.id).unwrap();
        let _in_flight = wal.dispatch().unwrap();
        drop(wal);
        let (mut wal, recovery) = Wal::open(dir.path(), options()).unwrap();
        assert_eq!(recovery.pending, 9, "the one in flight is pending again");
        assert_eq!(drain(&mut wal), (1..10).map(payload).collect::<Vec<_>>());
    }

    #[test]
    fn a_torn_last_record_is_cut_at_every_byte_and_everything_before_it_survives() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), options()).unwrap();
        for i in 0..5 {
            wal.append(&payload(i)).unwrap();
        }
        let before = wal.bytes();
        wal.append(&payload(5)).unwrap();
        let after = wal.bytes();
        let segment = wal.active_segment;
        drop(wal);
        let path = segment_path(dir.path(), segment);
        let whole = std::fs::read(&path).unwrap();
        assert_eq!(whole.len() as u64, after);
        for cut in before..after {
            std::fs::write(&path, &whole[..cut as usize]).unwrap();
            let (mut wal, recovery) = Wal::open(dir.path(), options()).unwrap();
            assert_eq!(recovery.pending, 5, "cut at {cut}");
            assert_eq!(recovery.truncated_bytes, cut - before, "cut at {cut}");
            assert_eq!(drain(&mut wal), (0..5).map(payload).collect::<Vec<_>>(), "cut at {cut}");
            drop(wal);
            // reopening left an empty segment behind; start each cut from the same files
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                let p = entry.unwrap().path();
                if p != path {
                    std::fs::remove_file(p).unwrap();
                }
            }
        }
    }

    #[test]
    fn a_flipped_byte_ends_its_segment_there() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), options()).unwrap();
        let mut offsets = Vec::new();
        for i in 0..4 {
            offsets.push(wal.bytes());
            wal.append(&payload(i)).unwrap();
        }
        let segment = wal.active_segment;
        drop(wal);
        let path = segment_path(dir.path(), segment);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[offsets[2] as usize + 12] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let (mut wal, recovery) = Wal::open(dir.path(), options()).unwrap();
        assert_eq!(recovery.pending, 2);
        assert_eq!(drain(&mut wal), (0..2).map(payload).collect::<Vec<_>>());
    }

    #[test]
    fn a_corrupt_length_does_not_allocate_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = segment_path(dir.path(), 0);
        let mut bytes = encode(DATA, 0, b"fine");
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0; 12]);
        std::fs::write(&path, &bytes).unwrap();
        let (mut wal, recovery) = Wal::open(dir.path(), options()).unwrap();
        assert_eq!((recovery.pending, recovery.truncated_bytes), (1, 16));
        assert_eq!(drain(&mut wal), vec![b"fine".to_vec()]);
    }

    #[test]
    fn segments_roll_and_are_deleted_once_done() {
        let dir = tempfile::tempdir().unwrap();
        let options = WalOptions { segment_bytes: 200, ..options() };
        let (mut wal, _) = Wal::open(dir.path(), options.clone()).unwrap();
        for i in 0..40 {
            wal.append(&payload(i)).unwrap();
        }
        let files = || std::fs::read_dir(dir.path()).unwrap().count();
        assert!(files() > 5, "rolled into {} segments", files());
        while let Some(location) = wal.dispatch() {
            wal.done(location.id).unwrap();
        }
        // the done records themselves fill segments; one more append rolls past them
        for _ in 0..3 {
            let id = wal.append(b"last").unwrap();
            let location = wal.dispatch().unwrap();
            assert_eq!(location.id, id);
            wal.done(id).unwrap();
        }
        assert!(files() <= 2, "{} segments left", files());
        drop(wal);
        let (wal, recovery) = Wal::open(dir.path(), options).unwrap();
        assert_eq!(recovery.pending, 0);
        assert!(wal.is_empty());
    }

    #[test]
    fn bounds_refuse_appends() {
        let dir = tempfile::tempdir().unwrap();
        let options = WalOptions { max_records: 3, ..options() };
        let (mut wal, _) = Wal::open(dir.path(), options).unwrap();
        for i in 0..3 {
            wal.append(&payload(i)).unwrap();
        }
        assert!(matches!(wal.append(b"x"), Err(AppendError::Full(_))));
        let location = wal.dispatch().unwrap();
        wal.done(location.id).unwrap();
        wal.append(b"x").unwrap();

        let dir = tempfile::tempdir().unwrap();
        let options = WalOptions { max_bytes: 100, ..super::tests::options() };
        let (mut wal, _) = Wal::open(dir.path(), options).unwrap();
        wal.append(&[7; 60]).unwrap();
        assert!(matches!(wal.append(&[7; 60]), Err(AppendError::Full(_))));
        assert_eq!(wal.len(), 1);
    }
}
