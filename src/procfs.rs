//! Linux `/proc` helpers: process trees, open files, cwd, memory and CPU.
//!
//! Everything here reads small text files or symlinks under `/proc` and
//! treats any failure as "not there": processes and fds come and go between
//! listing a directory and reading an entry, so a vanished one is skipped
//! rather than reported. The process tree is built from the `ppid` field of
//! every `/proc/<pid>/stat` (one pass, then a walk down from the root),
//! which works without `CONFIG_PROC_CHILDREN` and sees children of every
//! thread. Open-file flags come from the octal `flags:` line of
//! `/proc/<pid>/fdinfo/<fd>`. This is the only platform-specific file.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// `O_ACCMODE` and its values, and `O_APPEND`, as printed (octal) in fdinfo.
const O_ACCMODE: u32 = 0o3;
const O_WRONLY: u32 = 0o1;
const O_RDWR: u32 = 0o2;
const O_APPEND: u32 = 0o2000;

/// One open file descriptor of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFile {
    pub path: PathBuf,
    pub fd: u32,
    pub writable: bool,
    pub append: bool,
}

/// Numeric entries of a `/proc` directory (pids, fds).
fn numeric_entries(dir: &Path) -> Vec<u32> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    (entries.flatten())
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The fields after `comm` in a stat line; `comm` may hold spaces and
/// parentheses, so we cut at the last `)`.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_ascii_whitespace().collect())
}

/// `ppid` from a stat line (field 4, the second after `comm`).
fn parse_ppid(stat: &str) -> Option<u32> {
    stat_fields(stat)?.get(1)?.parse().ok()
}

/// The octal `flags:` value of an fdinfo file.
fn parse_fdinfo_flags(fdinfo: &str) -> Option<u32> {
    let line = fdinfo.lines().find_map(|l| l.strip_prefix("flags:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

/// `pid` and every process below it (order: breadth-first from `pid`).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for child in numeric_entries(Path::new("/proc")) {
        let Ok(stat) = fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        if let Some(ppid) = parse_ppid(&stat) {
            children.entry(ppid).or_default().push(child);
        }
    }
    let mut tree = vec![pid];
    let mut next = 0;
    while let Some(&p) = tree.get(next) {
        next += 1;
        for &c in children.get(&p).into_iter().flatten() {
            // A pid cycle cannot happen, but a reused pid racing the scan
            // must not make us loop.
            if !tree.contains(&c) {
                tree.push(c);
            }
        }
    }
    tree
}

/// Every process (other than us) with `path` open: who still holds a
/// terminal after its session's leader is gone. Walks all of `/proc`:
/// call it off the executor.
pub fn holders(path: &Path) -> Vec<u32> {
    let me = std::process::id();
    numeric_entries(Path::new("/proc"))
        .into_iter()
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let fds = numeric_entries(Path::new(&format!("/proc/{pid}/fd")));
            fds.iter()
                .any(|fd| fs::read_link(format!("/proc/{pid}/fd/{fd}")).is_ok_and(|l| l == path))
        })
        .collect()
}

/// The files `pid` has open (sockets, pipes and other non-paths skipped).
pub fn open_files(pid: u32) -> Vec<OpenFile> {
    let mut files = Vec::new();
    for fd in numeric_entries(Path::new(&format!("/proc/{pid}/fd"))) {
        let Ok(path) = fs::read_link(format!("/proc/{pid}/fd/{fd}")) else {
            continue;
        };
        if !path.is_absolute() {
            continue;
        }
        let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"));
        let Some(flags) = info.ok().as_deref().and_then(parse_fdinfo_flags) else {
            continue;
        };
        let mode = flags & O_ACCMODE;
        files.push(OpenFile {
            path,
            fd,
            writable: mode == O_WRONLY || mode == O_RDWR,
            append: flags & O_APPEND != 0,
        });
    }
    files
}

/// Codex's own report of its file: among the tree's fds, the `*.jsonl` files
/// open for writing with `O_APPEND` that `accept` approves; the newest
/// opened wins (after `/new` Codex keeps the old rollout open too). That
/// is the highest fd: the kernel hands out the lowest free one, so a later
/// open gets a higher number unless an earlier fd was closed. Not the
/// file's mtime: another session resumed on the old rollout writes it too.
pub fn newest_append_writer(root_pid: u32, accept: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    let mut best: Option<(u32, PathBuf)> = None;
    for pid in descendants(root_pid) {
        for file in open_files(pid) {
            let jsonl = file.path.extension().is_some_and(|e| e == "jsonl");
            if !(file.writable && file.append && jsonl && accept(&file.path)) {
                continue;
            }
            // A deleted file reads as "path (deleted)" and fails here.
            if !file.path.exists() {
                continue;
            }
            if best.as_ref().is_none_or(|(fd, _)| file.fd > *fd) {
                best = Some((file.fd, file.path));
            }
        }
    }
    best.map(|(_, path)| path)
}

#[cfg(test)]
pub fn process_cwd(pid: u32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{File, OpenOptions};
    use std::os::fd::AsRawFd;

    use crate::scratch::Scratch;

    #[test]
    fn stat_lines_parse_despite_odd_comm() {
        let cases: &[(&str, Option<u32>)] = &[
            (
                "42 (bash) S 7 42 42 0 -1 4194560 1 2 3 4 15 6 0 0 20 0 1 0",
                Some(7),
            ),
            ("9 (a) b (c)) R 1 9 9 0 -1 0 0 0 0 0 100 200 0 0", Some(1)),
            ("5 (x", None),
            ("5 (x) S", None),
            ("5 (x) S 1 2", Some(1)),
        ];
        for &(line, ppid) in cases {
            assert_eq!(parse_ppid(line), ppid, "{line}");
        }
    }

    #[test]
    fn fdinfo_flags_parse() {
        let cases: &[(&str, Option<u32>)] = &[
            ("pos:\t0\nflags:\t0102002\nmnt_id:\t30\n", Some(0o102002)),
            ("pos:\t0\nflags:\t02\n", Some(2)),
            ("pos:\t0\nflags:\t09\n", None),
            ("pos:\t0\n", None),
        ];
        for &(text, flags) in cases {
            assert_eq!(parse_fdinfo_flags(text), flags, "{text:?}");
        }
    }

    fn find(pid: u32, file: &File) -> OpenFile {
        let fd = file.as_raw_fd() as u32;
        let found = open_files(pid).into_iter().find(|f| f.fd == fd);
        found.expect("fd listed")
    }

    #[test]
    fn open_files_report_access_and_append() {
        let dir = Scratch::new("open");
        let log = dir.0.join("a.jsonl");
        let appender = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let reader = File::open(&log).unwrap();
        let me = std::process::id();
        let a = find(me, &appender);
        assert_eq!(
            (a.path.as_path(), a.writable, a.append),
            (log.as_path(), true, true)
        );
        let r = find(me, &reader);
        assert_eq!((r.writable, r.append), (false, false));
        let accept = |p: &Path| p.starts_with(&dir.0);
        assert_eq!(newest_append_writer(me, &accept), Some(log.clone()));
        assert_eq!(newest_append_writer(me, &|_: &Path| false), None);
    }

    #[test]
    fn newest_append_writer_prefers_the_latest_opened() {
        let dir = Scratch::new("newest");
        let open = |name: &str| {
            let path = dir.0.join(name);
            let f = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(&path);
            (path, f.unwrap())
        };
        let (old, old_f) = open("old.jsonl");
        let (new, new_f) = open("new.jsonl");
        let (_other, _other_f) = open("not-a-session.log");
        assert!(new_f.as_raw_fd() > old_f.as_raw_fd());
        let accept = |p: &Path| p.starts_with(&dir.0);
        assert_eq!(
            newest_append_writer(std::process::id(), &accept),
            Some(new.clone())
        );
        // Someone else writing the old one (a second session resumed on
        // it) does not make it this process's conversation again.
        let now = std::time::SystemTime::now();
        new_f
            .set_modified(now - std::time::Duration::from_secs(120))
            .unwrap();
        old_f.set_modified(now).unwrap();
        assert_eq!(newest_append_writer(std::process::id(), &accept), Some(new));
        drop(new_f);
        assert_eq!(newest_append_writer(std::process::id(), &accept), Some(old));
    }

    #[test]
    fn descendants_include_a_spawned_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let tree = descendants(me);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(tree.first(), Some(&me));
        assert!(tree.contains(&child.id()), "{tree:?}");
        assert!(!descendants(child.id()).contains(&me));
    }

    #[test]
    fn own_process_facts() {
        let me = std::process::id();
        assert_eq!(process_cwd(me), std::env::current_dir().ok());
        assert!(open_files(u32::MAX).is_empty());
    }
}
