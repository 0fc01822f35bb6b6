//! The preload and its companions on disk and in the agent's environment
//! (amux-protocol(7), PRELOAD CONTRACT).
//!
//! The files of `hook/` — the preload `hook.mjs` and pi's extension
//! `pi-extension.mjs` — are compiled into the binary. Node, bun and pi need
//! them as files in one directory (the extension finds nothing by path, but
//! an agent's launch is handed the directory), so `materialise` uses the
//! installed `$(DATADIR)/amux/` (the prefix baked in by `build.rs`) when
//! every file there is identical to ours, else writes
//! `<cache>/hooks-<12 hex of sha256>/` once (content-addressed over all the
//! files: versions never overwrite each other; each file is renamed into
//! place, so a runner never reads another's half-written copy). Bun ignores
//! a preload path with spaces, so a cache under such a path falls back to
//! the runtime directory. `inject` then appends our flags to `NODE_OPTIONS`
//! and `BUN_OPTIONS`, keeping what the user had; the hook removes exactly
//! those tokens again.

use crate::hash;
use crate::paths;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// The preload's name in the hook directory.
pub const PRELOAD: &str = "hook.mjs";
/// Every file of the hook directory, by name, with its contents.
pub const FILES: &[(&str, &str)] = &[
    (PRELOAD, include_str!("../../hook/hook.mjs")),
    (
        "pi-extension.mjs",
        include_str!("../../hook/pi-extension.mjs"),
    ),
];
const INSTALLED: &str = concat!(env!("AMUX_DATADIR"), "/amux");

/// The directory holding every file of `FILES` as we have it.
pub fn materialise(runtime: &Path) -> io::Result<PathBuf> {
    if let Some(installed) = installed_dirs().into_iter().find(|d| complete(d)) {
        return Ok(installed);
    }
    let cache = paths::cache_dir();
    let base = if usable(&cache) {
        cache
    } else {
        runtime.to_path_buf()
    };
    let dir = base.join(format!("hooks-{}", &hash::hex(&digest())[..12]));
    if complete(&dir) {
        return Ok(dir);
    }
    paths::ensure_own_dir(&dir)?;
    for (name, source) in FILES {
        let path = dir.join(name);
        if !identical(&path, source) {
            paths::write_private(&path, source.as_bytes())?;
        }
    }
    Ok(dir)
}

/// One digest over every file's name and contents.
fn digest() -> [u8; 32] {
    let mut all = Vec::new();
    for (name, source) in FILES {
        all.extend_from_slice(name.as_bytes());
        all.push(0);
        all.extend_from_slice(source.as_bytes());
        all.push(0);
    }
    hash::sha256(&all)
}

fn complete(dir: &Path) -> bool {
    usable(dir)
        && FILES
            .iter()
            .all(|(name, source)| identical(&dir.join(name), source))
}

/// Where installed hook files may be: beside the binary's prefix
/// (`<prefix>/bin/amux` → `<prefix>/share/amux/`, which also holds in a
/// `DESTDIR` staging tree), then the `DATADIR` baked in at build time.
fn installed_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(prefix) = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.to_path_buf()))
    {
        out.push(prefix.join("share/amux"));
    }
    out.push(PathBuf::from(INSTALLED));
    out
}

fn identical(path: &Path, source: &str) -> bool {
    std::fs::read(path).is_ok_and(|b| b == source.as_bytes())
}

fn usable(path: &Path) -> bool {
    path.is_absolute()
        && path
            .to_str()
            .is_some_and(|s| !s.contains(char::is_whitespace))
}

/// The environment additions that arm the preload of hook directory
/// `dir` in a node or bun child.
pub fn inject(dir: &Path, runner_sock: &Path, fifo: &Path) -> Vec<(OsString, OsString)> {
    let hook = dir.join(PRELOAD);
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
        append("NODE_OPTIONS", format!("--import {}", file_url(&hook))),
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
    use crate::adapters::{HookSite, Kind, Launch};

    /// pi's launch names its extension by its file name here.
    #[test]
    fn pi_gets_the_extension_of_the_hook_directory() {
        let argv = ["pi".to_string(), "-e".into(), "mine.ts".into()];
        let dir = Path::new("/h");
        let site = HookSite {
            dir: Some(dir),
            command: None,
            own: None,
        };
        let launch = Kind::PI.launch(&argv, &|_| None, true, site);
        let [flag, path] = launch.args.as_slice() else {
            panic!("{launch:?}")
        };
        assert_eq!(flag, "-e");
        let name = Path::new(path).strip_prefix(dir).expect("in the hook dir");
        assert!(FILES.iter().any(|(n, _)| Path::new(n) == name), "{path}");
        // Off with --no-inject, without an armed preload, for others.
        assert_eq!(
            Kind::PI.launch(&argv, &|_| None, false, site),
            Launch::default()
        );
        assert_eq!(
            Kind::PI.launch(&argv, &|_| None, true, HookSite::default()),
            Launch::default()
        );
        let shell = ["sh".to_string()];
        assert_eq!(
            Kind::SHELL.launch(&shell, &|_| None, true, site),
            Launch::default()
        );
        let install = ["pi".to_string(), "install".into(), "npm:x".into()];
        assert_eq!(
            Kind::PI.launch(&install, &|_| None, true, site),
            Launch::default()
        );
    }

    #[test]
    fn file_urls_are_encoded() {
        assert_eq!(file_url(Path::new("/a/hook-1.mjs")), "file:///a/hook-1.mjs");
        assert_eq!(file_url(Path::new("/a b/%")), "file:///a%20b/%25");
    }
}
