//! A real OpenSSH server for the remote-host tests: Debian's
//! `sshd` (`openssh-server`, installed by `.ci/setup-tools`), started in
//! the foreground (`-D`) on 127.0.0.1 on a free port, with a throw-away
//! host key and user key in the remote test dir and nothing of the
//! system's config (`-f` our file; the client gets `-F /dev/null` and its
//! own known_hosts).
//!
//! The "remote" is this machine seen through that sshd: `SetEnv` gives
//! every ssh session the remote `TestEnv`'s runtime dir, state, cache,
//! HOME and kill marker, and a `PATH` whose first dir holds `amux` (or
//! not: `without_amux`). So the remote daemon and runners are separate
//! from the local ones and die with the remote `TestEnv`. `ssh_command`
//! is what `AMUX_SSH` must be for a client to reach it; `host` the `-H`.

use super::TestEnv;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl Sshd {
    /// An sshd whose sessions have `amux` first on PATH.
    pub fn start(remote: &TestEnv) -> Sshd {
        Sshd::launch(remote, true)
    }

    /// An sshd whose sessions' PATH has no `amux`.
    pub fn without_amux(remote: &TestEnv) -> Sshd {
        Sshd::launch(remote, false)
    }

    fn launch(remote: &TestEnv, with_amux: bool) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: run ./.ci/setup-tools (Debian's openssh-server)"
        );
        // sshd refuses to start without its privilege separation dir.
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = remote
            .root
            .join(if with_amux { "sshd" } else { "sshd-bare" });
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).expect("sshd dir");
        if with_amux {
            std::os::unix::fs::symlink(super::amux_bin(), bin.join("amux")).expect("link amux");
        }
        for key in ["host_key", "user_key"] {
            keygen(&dir.join(key));
        }
        std::fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys")).expect("authorize");
        let port = free_port();
        let env = [
            ("AMUX_RUNTIME_DIR", remote.runtime()),
            ("XDG_STATE_HOME", remote.root.join("state")),
            ("XDG_CACHE_HOME", remote.root.join("cache")),
            ("HOME", remote.root.join("home")),
            ("AMUX_TEST_DIR", remote.root.clone()),
            (
                "PATH",
                PathBuf::from(format!("{}:/usr/bin:/bin", bin.display())),
            ),
        ]
        .map(|(k, v)| format!("{k}={}", v.display()))
        .join(" ");
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\nPidFile none\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin yes\n\
             SetEnv {env}\nLogLevel ERROR\n",
            d = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config).expect("sshd_config");
        let mut cmd = remote.command(SSHD, ["-D", "-e", "-f"]);
        cmd.arg(dir.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("sshd.log")).expect("sshd.log"));
        let child = cmd.spawn().expect("start sshd");
        let sshd = Sshd { port, dir, child };
        sshd.wait_listening();
        sshd
    }

    fn wait_listening(&self) {
        let end = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let log = std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default();
            assert!(Instant::now() < end, "sshd did not listen: {log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `-H` for this server.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `AMUX_SSH` for a client of this server: its key, no system config.
    pub fn ssh_command(&self) -> String {
        let d = self.dir.display();
        format!(
            "ssh -F /dev/null -i {d}/user_key -o IdentitiesOnly=yes -o BatchMode=yes \
             -o StrictHostKeyChecking=no -o UserKnownHostsFile={d}/known_hosts -o LogLevel=ERROR"
        )
    }

    /// A local `Command` for `amux ARGS…` that reaches this server.
    pub fn amux<I, S>(&self, local: &TestEnv, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = local.amux(args);
        cmd.env("AMUX_SSH", self.ssh_command())
            .env_remove("AMUX_NO_DAEMON");
        cmd
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (Debian's openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
}

/// A port nothing listens on now (bound and released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
