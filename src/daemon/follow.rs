//! Incremental reader of complete lines from an append-only file.
//!
//! Each `poll` opens the path afresh (the agents reopen or rename their
//! files, so a long-held fd could read a stale inode), checks that the file
//! is still the one we were reading, seeks to our offset, and reads to EOF in
//! fixed 64 KiB chunks through one reused buffer. Complete lines are handed
//! out straight from that chunk. A partial last line is not kept: only where
//! it starts is remembered, and once its newline arrives the whole line is
//! read back from the file with one `pread`.
//!
//! "Still the same file" means: same device and inode, not shorter than our
//! offset, and the last 32 bytes before our offset unchanged (one small
//! `pread`). Otherwise the file was rewritten and is read again from 0; that
//! poll returns `truncated` alone so the caller resets its parser before any
//! new line arrives. Limitation: a rewrite in place (pi's `writeFileSync` on
//! `/clone`) that keeps the same length-or-more and the same 32 bytes at our
//! offset goes unnoticed; lines after it are read, earlier ones are not.
//!
//! A line longer than `MAX_LINE` is never held at all: its length is known
//! from where it starts and where its newline is, so it is skipped without
//! being read back — but never silently: it is handed out as
//! [`Line::TooLong`] with its length, in its place among the others, so the
//! reader can say that what it says is not known. Memory stays at one
//! chunk plus the one line delivered.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;

/// Longest line delivered; longer ones are skipped.
pub const MAX_LINE: usize = 16 * 1024 * 1024;
/// Read size: large enough for throughput, small enough to keep per file.
const CHUNK: usize = 64 * 1024;
/// Bytes before the offset compared on each poll to notice a rewrite.
const TAIL: usize = 32;

/// One complete line, as `poll` hands it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A non-empty line, without its `\n`.
    Whole(&'a [u8]),
    /// A line of this many bytes (its `\n` not counted), over `MAX_LINE`:
    /// skipped unread.
    TooLong(u64),
}

/// What one `poll` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The file was rewritten: the reader restarted from 0 and delivered
    /// nothing yet. Reset the parser, then poll again.
    pub truncated: bool,
    /// Complete non-empty lines delivered (`TooLong` ones included).
    pub lines: usize,
    /// Bytes read from the file.
    pub bytes: u64,
    /// The budget ran out before the end of the file: poll again.
    pub more: bool,
}

/// Follows one file from its last offset.
pub struct Follower {
    path: PathBuf,
    offset: u64,
    /// (device, inode) of the file read so far; `None` before the first poll.
    identity: Option<(u64, u64)>,
    /// The last up-to-`TAIL` bytes before `offset`.
    tail: Vec<u8>,
    /// Where the unterminated line read so far starts, if any.
    line_start: Option<u64>,
    chunk: Vec<u8>,
}

impl Follower {
    /// A follower that starts at offset 0.
    pub fn new(path: PathBuf) -> Self {
        Follower {
            path,
            offset: 0,
            identity: None,
            tail: Vec::with_capacity(TAIL),
            line_start: None,
            chunk: Vec::new(),
        }
    }

    /// Bytes of the file read so far (a partial last line included).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads what was appended since the last call and calls `on_line` for
    /// each complete, non-empty line. See `Progress` for the rewrite case.
    #[cfg(test)]
    pub fn poll(&mut self, on_line: &mut dyn FnMut(Line<'_>)) -> io::Result<Progress> {
        self.poll_budget(on_line, u64::MAX)
    }

    /// `poll`, stopping once about `budget` bytes were read (at a chunk's
    /// end; `more` says so): the daemon reads a big file in slices, or off
    /// its executor, and never stalls its other work on one.
    pub fn poll_budget(
        &mut self,
        on_line: &mut dyn FnMut(Line<'_>),
        budget: u64,
    ) -> io::Result<Progress> {
        let mut file = crate::paths::open_untrusted(&self.path)?;
        let meta = file.metadata()?;
        let identity = (meta.dev(), meta.ino());
        let same = !matches!(self.identity, Some(id) if id != identity);
        if !same || meta.len() < self.offset || !self.tail_matches(&file)? {
            self.restart(identity);
            return Ok(Progress {
                truncated: true,
                ..Progress::default()
            });
        }
        self.identity = Some(identity);
        file.seek(SeekFrom::Start(self.offset))?;
        let mut chunk = std::mem::take(&mut self.chunk);
        chunk.resize(CHUNK, 0);
        let result = self.read_to_end(&mut file, &mut chunk, on_line, budget);
        self.chunk = chunk;
        result
    }

    fn read_to_end(
        &mut self,
        file: &mut File,
        chunk: &mut [u8],
        on_line: &mut dyn FnMut(Line<'_>),
        budget: u64,
    ) -> io::Result<Progress> {
        let mut progress = Progress::default();
        loop {
            if progress.bytes >= budget {
                progress.more = true;
                return Ok(progress);
            }
            let n = match file.read(chunk) {
                Ok(0) => return Ok(progress),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            let data = &chunk[..n];
            let base = self.offset;
            self.offset += n as u64;
            progress.bytes += n as u64;
            self.remember_tail(data);
            progress.lines += self.split(file, base, data, on_line)?;
        }
    }

    /// Whether the bytes just before our offset are still what we read.
    fn tail_matches(&self, file: &File) -> io::Result<bool> {
        if self.tail.is_empty() {
            return Ok(true);
        }
        let mut now = [0u8; TAIL];
        let now = &mut now[..self.tail.len()];
        match file.read_exact_at(now, self.offset - self.tail.len() as u64) {
            Ok(()) => Ok(now == self.tail.as_slice()),
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(err) => Err(err),
        }
    }

    fn remember_tail(&mut self, data: &[u8]) {
        self.tail
            .extend_from_slice(&data[data.len().saturating_sub(TAIL)..]);
        let excess = self.tail.len().saturating_sub(TAIL);
        self.tail.drain(..excess);
    }

    fn restart(&mut self, identity: (u64, u64)) {
        self.identity = Some(identity);
        self.offset = 0;
        self.tail.clear();
        self.line_start = None;
    }

    /// Delivers the complete lines of `data` (read at file offset `base`).
    /// A line begun in an earlier chunk is read back whole from `file`, or
    /// told as `TooLong` when longer than `MAX_LINE`; an unterminated rest
    /// is only remembered by its start.
    fn split(
        &mut self,
        file: &File,
        base: u64,
        mut data: &[u8],
        on_line: &mut dyn FnMut(Line<'_>),
    ) -> io::Result<usize> {
        let mut lines = 0;
        let mut pos = base;
        while let Some(end) = data.iter().position(|&b| b == b'\n') {
            match self.line_start.take() {
                None if end > 0 => {
                    on_line(Line::Whole(&data[..end]));
                    lines += 1;
                }
                None => {}
                Some(start) => {
                    let len = pos + end as u64 - start;
                    if len > MAX_LINE as u64 {
                        on_line(Line::TooLong(len));
                        lines += 1;
                    } else if len > 0 {
                        let mut line = vec![0; len as usize];
                        file.read_exact_at(&mut line, start)?;
                        on_line(Line::Whole(&line));
                        lines += 1;
                    }
                }
            }
            data = &data[end + 1..];
            pos += end as u64 + 1;
        }
        if !data.is_empty() && self.line_start.is_none() {
            self.line_start = Some(pos);
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::io::Write;
    use std::path::Path;

    use crate::scratch::Scratch;

    use std::fs;

    fn append(path: &Path, data: &[u8]) {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(data).unwrap();
    }

    /// A line as the tests compare it: a skipped one as `<its length>`.
    fn owned(line: Line<'_>) -> Vec<u8> {
        match line {
            Line::Whole(l) => l.to_vec(),
            Line::TooLong(len) => format!("<{len}>").into_bytes(),
        }
    }

    fn poll_lines(f: &mut Follower) -> (Progress, Vec<Vec<u8>>) {
        let mut lines = Vec::new();
        let p = f.poll(&mut |l| lines.push(owned(l))).unwrap();
        (p, lines)
    }

    #[test]
    fn line_in_two_halves_is_delivered_once_and_whole() {
        let dir = Scratch::new("halves");
        let path = dir.0.join("s.jsonl");
        append(&path, b"{\"a\":");
        let mut f = Follower::new(path.clone());
        let (p, lines) = poll_lines(&mut f);
        assert_eq!((p.lines, p.bytes, lines.len()), (0, 5, 0));
        append(&path, b"1}\n{\"b\"");
        let (p, lines) = poll_lines(&mut f);
        assert_eq!(lines, vec![b"{\"a\":1}".to_vec()]);
        assert_eq!((p.truncated, p.lines, f.offset()), (false, 1, 12));
        let (_, lines) = poll_lines(&mut f);
        assert!(lines.is_empty());
    }

    #[test]
    fn every_split_point_gives_the_same_lines() {
        let content: &[u8] = b"a\nbb\n\n\nccc\n\xff\xfe\nlast";
        let want: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            b"bb".to_vec(),
            b"ccc".to_vec(),
            b"\xff\xfe".to_vec(),
        ];
        for cut in 0..=content.len() {
            let dir = Scratch::new("split");
            let path = dir.0.join("s.jsonl");
            append(&path, &content[..cut]);
            let mut f = Follower::new(path.clone());
            let (_, mut got) = poll_lines(&mut f);
            append(&path, &content[cut..]);
            got.extend(poll_lines(&mut f).1);
            assert_eq!(got, want, "cut at {cut}");
            assert_eq!(f.offset(), content.len() as u64);
        }
    }

    #[test]
    fn shrink_restarts_from_zero_and_reports_truncated_first() {
        let dir = Scratch::new("shrink");
        let path = dir.0.join("s.jsonl");
        append(&path, b"one\ntwo\n");
        let mut f = Follower::new(path.clone());
        assert_eq!(poll_lines(&mut f).1.len(), 2);
        fs::write(&path, b"x\n").unwrap();
        let (p, lines) = poll_lines(&mut f);
        assert!(p.truncated && lines.is_empty());
        assert_eq!(f.offset(), 0);
        let (p, lines) = poll_lines(&mut f);
        assert!(!p.truncated);
        assert_eq!(lines, vec![b"x".to_vec()]);
    }

    #[test]
    fn rewrite_by_rename_or_in_place_restarts() {
        let dir = Scratch::new("rewrite");
        let path = dir.0.join("s.jsonl");
        append(&path, b"aaaa\n");
        let mut f = Follower::new(path.clone());
        poll_lines(&mut f);
        // Longer file, new inode: only the inode tells.
        let tmp = dir.0.join("tmp");
        fs::write(&tmp, b"aaaa\nbbbb\n").unwrap();
        fs::rename(&tmp, &path).unwrap();
        assert!(poll_lines(&mut f).0.truncated);
        assert_eq!(poll_lines(&mut f).1.len(), 2);
        // Same inode, longer, different bytes at our offset: the tail tells.
        fs::write(&path, b"cccc\ndddd\neeee\n").unwrap();
        assert!(poll_lines(&mut f).0.truncated);
        let want: Vec<&[u8]> = vec![b"cccc", b"dddd", b"eeee"];
        assert_eq!(poll_lines(&mut f).1, want);
    }

    #[test]
    fn overlong_line_is_told_in_its_place_with_bounded_memory() {
        let dir = Scratch::new("long");
        let path = dir.0.join("s.jsonl");
        append(&path, b"{\"before\":1}\n");
        let mut f = Follower::new(path.clone());
        let block = vec![b'x'; 1024 * 1024];
        let mut seen = Vec::new();
        for _ in 0..20 {
            append(&path, &block);
            f.poll(&mut |l| seen.push(owned(l))).unwrap();
            // Only the start of the growing line is kept, never its bytes.
            assert_eq!(f.line_start, Some(13));
            assert!(f.chunk.capacity() <= CHUNK);
        }
        append(&path, b"tail of the long line\n{\"ok\":1}\n");
        let p = f.poll(&mut |l| seen.push(owned(l))).unwrap();
        let long = 20 * 1024 * 1024 + "tail of the long line".len();
        assert_eq!(
            seen,
            vec![
                b"{\"before\":1}".to_vec(),
                format!("<{long}>").into_bytes(),
                b"{\"ok\":1}".to_vec()
            ]
        );
        assert_eq!(p.lines, 2);
        assert_eq!(f.line_start, None);
    }

    #[test]
    fn a_line_of_max_line_is_delivered_and_one_byte_more_is_too_long() {
        let dir = Scratch::new("max");
        let path = dir.0.join("s.jsonl");
        let mut data = vec![b'y'; MAX_LINE];
        data.push(b'\n');
        append(&path, &data);
        let mut f = Follower::new(path.clone());
        let mut sizes = Vec::new();
        f.poll(&mut |l| sizes.push(owned(l).len())).unwrap();
        assert_eq!(sizes, vec![MAX_LINE]);
        // One byte more is too long, and told as such.
        let mut data = vec![b'y'; MAX_LINE + 1];
        data.push(b'\n');
        append(&path, &data);
        let mut seen = Vec::new();
        f.poll(&mut |l| seen.push(l == Line::TooLong(MAX_LINE as u64 + 1)))
            .unwrap();
        assert_eq!(seen, vec![true]);
        assert_eq!(f.line_start, None);
    }

    #[test]
    fn missing_file_is_an_error() {
        let dir = Scratch::new("missing");
        let mut f = Follower::new(dir.0.join("nope.jsonl"));
        let err = f.poll(&mut |_| {}).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    /// Throughput of appended JSONL through `poll`:
    /// `cargo test --release follow_throughput -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn follow_throughput() {
        let dir = Scratch::new("bench");
        let path = dir.0.join("s.jsonl");
        let line = format!(
            "{{\"type\":\"message\",\"text\":\"{}\"}}\n",
            "lorem ipsum ".repeat(80)
        );
        let batch = line.repeat(64);
        let mut f = Follower::new(path.clone());
        let (mut polled, mut lines, mut bytes) = (std::time::Duration::ZERO, 0usize, 0u64);
        for _ in 0..(256 * 1024 * 1024 / batch.len()) {
            append(&path, batch.as_bytes());
            let start = std::time::Instant::now();
            let p = f
                .poll(&mut |l| lines += usize::from(matches!(l, Line::Whole(l) if l[0] == b'{')))
                .unwrap();
            polled += start.elapsed();
            bytes += p.bytes;
        }
        let mbps = bytes as f64 / 1e6 / polled.as_secs_f64();
        println!("follow: {bytes} bytes, {lines} lines, {polled:?} in poll: {mbps:.0} MB/s");
        assert_eq!(bytes, f.offset());
        assert_eq!(lines as u64, bytes / line.len() as u64);
        assert!(mbps >= 200.0, "{mbps:.0} MB/s");
    }

    #[test]
    fn a_budget_reads_in_slices_and_loses_nothing() {
        let dir = Scratch::new("budget");
        let path = dir.0.join("big.jsonl");
        let mut f = std::fs::File::create(&path).unwrap();
        let want: Vec<Vec<u8>> = (0..5000)
            .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 97)).into_bytes())
            .collect();
        for line in &want {
            f.write_all(line).unwrap();
            f.write_all(b"\n").unwrap();
        }
        let mut follower = Follower::new(path);
        let mut got = Vec::new();
        let mut polls = 0;
        loop {
            polls += 1;
            let p = follower
                .poll_budget(&mut |l| got.push(owned(l)), CHUNK as u64)
                .unwrap();
            if !p.more {
                break;
            }
        }
        assert!(polls > 3, "one poll read it all: {polls}");
        assert_eq!(got, want);
    }
}
