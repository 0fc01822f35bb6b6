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
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let dir = crate::paths::state_dir();
        let _ = crate::paths::ensure_own_dir(&dir);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(dir.join("daemon.log"))
            .ok();
        // A log an older amux made world-readable is closed now.
        if let Some(f) = &file {
            let _ = f.set_permissions(std::fs::Permissions::from_mode(0o600));
        }
        Log { file }
    }

    pub fn line(&mut self, text: &str) {
        if let Some(file) = self.file.as_mut() {
            let _ = writeln!(file, "{} {text}", crate::timefmt::now());
        }
    }
}
