//! The daemon's log, `<state>/daemon.log`: one timestamped line per
//! notable event (runners found and gone, attributions and their sources,
//! every guess marked `(FALLBACK)`). Appended with `O_APPEND` so several
//! daemon generations share one file safely. Past `MAX_LOG` bytes it is
//! renamed `daemon.log.1` (replacing the one before) and begun anew, so
//! it never grows without bound. A line is written whole or not at all:
//! one `write` each, and one the disk had room for only part of (a full
//! disk) is cut off again, so no torn line is left for the next to follow.

use std::fs::{File, OpenOptions};
use std::io::Write;

/// Size past which the log is rotated.
const MAX_LOG: u64 = 1 << 20;

pub struct Log {
    file: Option<File>,
    /// Bytes in the file now (ours and other daemons' before us).
    size: u64,
}

impl Log {
    pub fn open() -> Log {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let dir = crate::paths::state_dir();
        let _ = crate::paths::ensure_own_dir(&dir);
        let path = dir.join("daemon.log");
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_LOG) {
            let _ = std::fs::rename(&path, dir.join("daemon.log.1"));
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .ok();
        // A log an older amux made world-readable is closed now.
        if let Some(f) = &file {
            let _ = f.set_permissions(std::fs::Permissions::from_mode(0o600));
        }
        let size = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        Log { file, size }
    }

    /// Makes a panic a line of the log before the process ends (the
    /// release build aborts on one; a daemon started in the background
    /// has no stderr anyone reads).
    pub fn on_panic() {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            Log::open().line(&format!("daemon panicked: {info}"));
            default(info);
        }));
    }

    pub fn line(&mut self, text: &str) {
        if self.size > MAX_LOG {
            *self = Log::open();
        }
        if let Some(file) = self.file.as_mut() {
            let line = format!("{} {text}\n", crate::timefmt::now());
            if whole_line(file, line.as_bytes()) {
                self.size += line.len() as u64;
            }
        }
    }
}

/// Appends `line` with one `write`; a part written (the disk filled up
/// under it) is truncated away. Whether the line is in the file.
fn whole_line(file: &mut File, line: &[u8]) -> bool {
    // Where the line starts: the end, as `O_APPEND` writes there.
    let Ok(start) = file.metadata().map(|m| m.len()) else {
        return false;
    };
    match file.write(line) {
        Ok(n) if n == line.len() => true,
        Ok(0) | Err(_) => false,
        Ok(_) => {
            let _ = file.set_len(start);
            false
        }
    }
}
