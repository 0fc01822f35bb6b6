//! The daemon's log, `<state>/daemon.log`: one timestamped line per
//! notable event (runners found and gone, attributions and their sources,
//! every guess marked `(FALLBACK)`). Appended with `O_APPEND` so several
//! daemon generations share one file safely.

use std::fs::{File, OpenOptions};
use std::io::Write;

pub struct Log {
    file: Option<File>,
}

impl Log {
    pub fn open() -> Log {
        let dir = crate::paths::state_dir();
        let _ = std::fs::create_dir_all(&dir);
        let file = OpenOptions::new().create(true).append(true).open(dir.join("daemon.log")).ok();
        Log { file }
    }

    pub fn line(&mut self, text: &str) {
        if let Some(file) = self.file.as_mut() {
            let _ = writeln!(file, "{} {text}", crate::timefmt::now());
        }
    }
}
