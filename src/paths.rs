//! Where amux keeps its sockets, state and cache, and the permission checks
//! that make the runtime directory safe to trust.
//!
//! `<runtime>` holds live sockets (`sessions/<id>.sock`, `daemon.sock`), so
//! it must belong to us and be closed to everyone else: we create it 0700
//! and refuse one that another uid owns or that group/others can enter.
//! `<state>` keeps dead sessions' records and the daemon log; `<cache>`
//! keeps the materialised preload.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Unix socket paths live in `sockaddr_un.sun_path` (108 bytes with NUL).
pub const MAX_SOCKET_PATH: usize = 107;

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$HOME`; without one, our own runtime directory stands in (never `/`,
/// which would put our state in `/.local/state`).
fn home() -> PathBuf {
    env_path("HOME").unwrap_or_else(|| runtime_dir().join("home"))
}

/// `$AMUX_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/amux`, else `/tmp/amux-<uid>`.
pub fn runtime_dir() -> PathBuf {
    env_path("AMUX_RUNTIME_DIR")
        .or_else(|| env_path("XDG_RUNTIME_DIR").map(|d| d.join("amux")))
        .unwrap_or_else(|| {
            PathBuf::from(format!("/tmp/amux-{}", rustix::process::getuid().as_raw()))
        })
}

pub fn sessions_dir() -> PathBuf {
    runtime_dir().join("sessions")
}

/// A runner's socket, `<runtime>/sessions/<id>.sock`.
pub fn session_socket(id: &str) -> PathBuf {
    sessions_dir().join(format!("{id}.sock"))
}

/// The runner's final `/meta`, written when its agent exits and before its
/// socket goes: the daemon learns the exit status even if it missed it.
pub fn session_exit_file(id: &str) -> PathBuf {
    sessions_dir().join(format!("{id}.exit"))
}

/// The FIFO the preload writes its events to, beside the socket.
pub fn session_fifo(id: &str) -> PathBuf {
    sessions_dir().join(format!("{id}.fifo"))
}

/// A session's own directory, beside its socket: the files its agent's
/// launch needs (a plugin directory), removed when the agent exits.
pub fn session_own_dir(id: &str) -> PathBuf {
    sessions_dir().join(format!("{id}.d"))
}

pub fn daemon_socket() -> PathBuf {
    runtime_dir().join("daemon.sock")
}

/// `$XDG_STATE_HOME/amux`, default `~/.local/state/amux`.
pub fn state_dir() -> PathBuf {
    env_path("XDG_STATE_HOME")
        .unwrap_or_else(|| home().join(".local/state"))
        .join("amux")
}

/// `$XDG_CACHE_HOME/amux`, default `~/.cache/amux`.
pub fn cache_dir() -> PathBuf {
    env_path("XDG_CACHE_HOME")
        .unwrap_or_else(|| home().join(".cache"))
        .join("amux")
}

/// Creates `<runtime>` and `<runtime>/sessions` (0700) and checks both.
pub fn ensure_runtime() -> io::Result<PathBuf> {
    let runtime = runtime_dir();
    ensure_private_dir(&runtime)?;
    ensure_private_dir(&runtime.join("sessions"))?;
    Ok(runtime)
}

/// Creates `dir` (and missing parents) 0700, and closes an existing one of
/// ours that group or others could enter: state and cache hold the user's
/// prompts (titles), command lines and conversation paths.
pub fn ensure_own_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = fs::metadata(dir)?;
    if meta.uid() == rustix::process::geteuid().as_raw() && meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates `dir` 0700 if missing, then refuses it unless we own it and
/// nobody else can enter it: a socket in a shared directory could be
/// replaced or reached by another user.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot create {}: {e}", dir.display()),
            ))
        }
    }
    let meta = fs::symlink_metadata(dir)?;
    let uid = rustix::process::geteuid().as_raw();
    if !meta.is_dir() {
        return Err(refusal(dir, "is not a directory"));
    }
    if meta.uid() != uid {
        return Err(refusal(
            dir,
            &format!("is owned by uid {}, not {uid}", meta.uid()),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refusal(
            dir,
            &format!("has mode {:04o}; it must be 0700", meta.mode() & 0o7777),
        ));
    }
    Ok(())
}

fn refusal(dir: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("refusing runtime directory {}: it {why}", dir.display()),
    )
}

/// Fails with a clear message when `path` cannot be a Unix socket address.
pub fn check_socket_path(path: &Path) -> io::Result<()> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "socket path {} is {len} bytes, over the {MAX_SOCKET_PATH}-byte limit of Unix sockets; set AMUX_RUNTIME_DIR to a shorter directory",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Whether nobody listens on `sock`. The probe never blocks: a runner too
/// busy to accept (a full backlog) answers `EAGAIN`, which means alive.
fn refused(sock: &Path) -> bool {
    use rustix::net::{socket_with, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let Ok(addr) = SocketAddrUnix::new(sock) else {
        return false;
    };
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let Ok(fd) = socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None) else {
        return false;
    };
    rustix::net::connect(&fd, &addr) == Err(rustix::io::Errno::CONNREFUSED)
}

/// Removes a socket nobody listens on any more (its runner died without
/// cleaning up), with the FIFO beside it. A live socket is left alone.
pub fn remove_if_stale(sock: &Path) {
    if refused(sock) {
        let _ = fs::remove_file(sock);
        let _ = fs::remove_file(sock.with_extension("fifo"));
    }
}

/// Writes `data` to `path` atomically: temp file in the same directory,
/// fsync, rename. A reader sees the old or the new content, never half.
/// Opens a file an agent or a user can name (a reported conversation, a
/// guess candidate, a pidfile) for reading, as untrusted: without blocking
/// (a FIFO named `x.jsonl` must not hang us), without following a symbolic
/// link in its last component (a link out of the agent's roots must not
/// make another file a conversation), and only if it is a regular file.
pub fn open_untrusted(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOFOLLOW;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(file)
}

/// `fs::read` of an untrusted file (see `open_untrusted`), at most `limit`
/// bytes.
pub fn read_untrusted(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut data = Vec::new();
    open_untrusted(path)?.take(limit).read_to_end(&mut data)?;
    Ok(data)
}

/// Writes `path` atomically (a temp file beside it, fsync, rename) for
/// only us to read: mode 0600 from creation, so not even the temp file is
/// readable by others. A failed write (a full disk) leaves no temp file.
pub fn write_private(path: &Path, data: &[u8]) -> io::Result<()> {
    let staged = Staged::write(path, data)?;
    staged.sync()?;
    staged.commit()
}

/// A file written in three steps, so that many can share each step (the
/// daemon's batches): its content in a temp file beside it (mode 0600 from
/// creation), then fsync, then the rename. Dropped before the rename, the
/// temp file is removed: a failed write (a full disk) leaves none.
pub struct Staged {
    file: fs::File,
    tmp: PathBuf,
    path: PathBuf,
    renamed: bool,
}

impl Staged {
    pub fn write(path: &Path, data: &[u8]) -> io::Result<Staged> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            "{TEMP_PREFIX}{}.{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
            std::process::id()
        ));
        let file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        let mut staged = Staged {
            file,
            tmp,
            path: path.to_path_buf(),
            renamed: false,
        };
        staged.file.write_all(data)?;
        Ok(staged)
    }

    /// Its content on disk (not yet under its name).
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_all()
    }

    /// Under its name: a reader sees the old content or the new.
    pub fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.tmp, &self.path)?;
        self.renamed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// How our temp files start (`.<name>.<pid>.tmp`).
pub const TEMP_PREFIX: &str = ".";

/// Removes temp files a killed writer left in `dir` (`.<name>.<pid>.tmp`
/// whose writer is gone).
pub fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMP_PREFIX)?.strip_suffix(".tmp"))
        else {
            continue;
        };
        let pid = rest.rsplit('.').next().and_then(|p| p.parse::<i32>().ok());
        let alive = pid
            .and_then(rustix::process::Pid::from_raw)
            .is_some_and(|p| rustix::process::test_kill_process(p).is_ok());
        if !alive || pid == Some(std::process::id() as i32) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_dir_is_created_0700_and_loose_one_refused() {
        let base = std::env::temp_dir().join(format!("amux-paths-{}", std::process::id()));
        let dir = base.join("rt");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let err = ensure_private_dir(&dir).unwrap_err();
        assert!(err.to_string().contains("mode 0755"), "{err}");
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn long_socket_path_is_refused() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(120)));
        assert!(check_socket_path(&long).is_err());
        assert!(check_socket_path(Path::new("/tmp/a.sock")).is_ok());
    }
}
