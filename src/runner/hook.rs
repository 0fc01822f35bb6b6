//! The preload on disk and in the agent's environment (DESIGN §4).
//!
//! The hook is compiled into the binary. Node and bun need it as a file, so
//! `materialise` uses the installed copy (`$(DATADIR)/amux/hook.mjs`, the
//! prefix baked in by `build.rs`) when its bytes are identical, else writes
//! `<cache>/hook-<12 hex of sha256>.mjs` once (content-addressed: versions
//! never overwrite each other). Bun ignores a preload path with spaces, so
//! a cache under such a path falls back to the runtime directory.
//! `inject` then appends our flags to `NODE_OPTIONS` and `BUN_OPTIONS`,
//! keeping what the user had; the hook removes exactly those tokens again.

use crate::hash;
use crate::paths;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

pub const SOURCE: &str = include_str!("../../hook/hook.mjs");
const INSTALLED: &str = concat!(env!("AMUX_DATADIR"), "/amux/hook.mjs");

pub fn materialise(runtime: &Path) -> io::Result<PathBuf> {
    if let Some(installed) = installed_copies().into_iter().find(|p| identical(p)) {
        return Ok(installed);
    }
    let name = format!(
        "hook-{}.mjs",
        &hash::hex(&hash::sha256(SOURCE.as_bytes()))[..12]
    );
    let cache = paths::cache_dir();
    let dir = if usable(&cache) {
        cache
    } else {
        runtime.to_path_buf()
    };
    let path = dir.join(name);
    if identical(&path) {
        return Ok(path);
    }
    paths::ensure_own_dir(&dir)?;
    paths::write_private(&path, SOURCE.as_bytes())?;
    Ok(path)
}

/// Where an installed preload may be: beside the binary's prefix
/// (`<prefix>/bin/amux` → `<prefix>/share/amux/hook.mjs`, which also holds
/// in a `DESTDIR` staging tree), then the `DATADIR` baked in at build time.
fn installed_copies() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(prefix) = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.to_path_buf()))
    {
        out.push(prefix.join("share/amux/hook.mjs"));
    }
    out.push(PathBuf::from(INSTALLED));
    out
}

fn identical(path: &Path) -> bool {
    usable(path) && std::fs::read(path).is_ok_and(|b| b == SOURCE.as_bytes())
}

fn usable(path: &Path) -> bool {
    path.is_absolute()
        && path
            .to_str()
            .is_some_and(|s| !s.contains(char::is_whitespace))
}

/// The environment additions that arm the hook in a node or bun child.
pub fn inject(hook: &Path, runner_sock: &Path, fifo: &Path) -> Vec<(OsString, OsString)> {
    let append = |var: &str, token: String| {
        let value = match std::env::var_os(var).filter(|v| !v.is_empty()) {
            Some(mut old) => {
                old.push(" ");
                old.push(&token);
                old
            }
            None => token.into(),
        };
        (OsString::from(var), value)
    };
    vec![
        append("NODE_OPTIONS", format!("--import {}", file_url(hook))),
        append("BUN_OPTIONS", format!("--preload {}", hook.display())),
        ("AMUX_RUNNER_SOCK".into(), runner_sock.into()),
        ("AMUX_HOOK_FIFO".into(), fifo.into()),
    ]
}

/// `file://` URL of an absolute path, percent-encoding what a URL path
/// may not hold.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                url.push(*b as char)
            }
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_are_encoded() {
        assert_eq!(file_url(Path::new("/a/hook-1.mjs")), "file:///a/hook-1.mjs");
        assert_eq!(file_url(Path::new("/a b/%")), "file:///a%20b/%25");
    }
}
