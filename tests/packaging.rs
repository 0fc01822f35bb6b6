//! Packaging: `make install` into a staging tree puts exactly the expected
//! files where a distribution expects them, the installed binary takes
//! the installed preload and pi extension, `make uninstall` removes every
//! file, and both man pages render and lint clean. `deb.rs`: the Debian
//! package, built offline and checked by lintian.

mod deb;

use crate::support::{self, TestEnv};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

const TREE: &[&str] = &[
    "usr/bin/amux",
    "usr/lib/systemd/user/amux-notify.service",
    "usr/lib/systemd/user/amux.service",
    "usr/lib/systemd/user/amux.socket",
    "usr/share/amux/hook.mjs",
    "usr/share/amux/pi-extension.mjs",
    "usr/share/bash-completion/completions/amux",
    "usr/share/fish/vendor_completions.d/amux.fish",
    "usr/share/man/man1/amux.1",
    "usr/share/man/man7/amux-protocol.7",
    "usr/share/zsh/site-functions/_amux",
];

pub fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap_or(&path)
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

fn make(env: &TestEnv, targets: &[&str], dest: &Path) -> Output {
    let mut cmd = Command::new("make");
    cmd.arg("-s")
        .arg("-C")
        .arg(support::manifest_dir())
        .args(targets)
        .arg(format!("DESTDIR={}", dest.display()))
        .arg("PREFIX=/usr")
        // The test binary stands in for `make`'s release build.
        .arg(format!("BIN={}", support::amux_bin()))
        .arg(format!("COMPL={}", env.root.join("compl").display()))
        .stderr(std::process::Stdio::piped());
    support::output_within(cmd, T)
}

#[test]
fn install_stages_the_tree_and_uninstall_removes_it() {
    let env = TestEnv::new();
    let dest = env.root.join("stage");
    let out = make(&env, &["completions", "install"], &dest);
    assert!(
        out.status.success(),
        "make install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(files_under(&dest), TREE, "installed tree");
    let service = std::fs::read_to_string(dest.join("usr/lib/systemd/user/amux.service"))
        .expect("amux.service");
    assert!(
        service.contains("\nExecStart=/usr/bin/amux daemon --foreground\n"),
        "{service}"
    );
    uses_installed_hooks(&env, &dest);

    let out = make(&env, &["uninstall"], &dest);
    assert!(
        out.status.success(),
        "make uninstall: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        files_under(&dest),
        Vec::<String>::new(),
        "files left after uninstall"
    );
}

/// The binary installed under `root` (`root/usr/bin/amux`) arms the agent
/// with the installed preload, gives a pi the installed extension, and
/// never materialises a cache copy.
pub fn uses_installed_hooks(env: &TestEnv, root: &Path) {
    for name in ["hook.mjs", "pi-extension.mjs"] {
        let installed = std::fs::read(root.join("usr/share/amux").join(name)).expect(name);
        let source = support::manifest_dir().join("hook").join(name);
        assert_eq!(installed, std::fs::read(source).expect(name), "{name}");
    }
    let amux = root.join("usr/bin/amux");
    let agent = env.fake_pi("pi_esm.mjs");
    let mut cmd = env.command(&amux, ["run", "-d", "--"]);
    cmd.arg(support::node()).arg(agent).arg("--wait-stdin");
    let out = support::output_within(cmd, T);
    assert!(out.status.success(), "installed amux run -d");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let sock = env.sock(&id);
    support::wait_until(
        T,
        || support::http::meta(&sock)["shim"]["active"] == true,
        "the shim's hello",
    );
    let pid = support::http::meta(&sock)["pid"].as_u64().expect("pid");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("the agent's cmdline");
    let extension = root.join("usr/share/amux/pi-extension.mjs");
    let words: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    assert!(
        words
            .windows(2)
            .any(|w| w[0] == b"-e" && w[1] == extension.as_os_str().as_encoded_bytes()),
        "{}",
        String::from_utf8_lossy(&cmdline)
    );
    let cached: Vec<PathBuf> = std::fs::read_dir(env.root.join("cache/amux"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        cached.is_empty(),
        "the cache was used instead of the installed hook: {cached:?}"
    );
    support::http::post(&sock, "/kill", b"");
}

#[test]
fn man_pages_render_and_lint_clean() {
    for page in ["man/amux.1", "man/amux-protocol.7"] {
        let path = support::manifest_dir().join(page);
        let out = Command::new("man")
            .args(["-P", "cat", "-l"])
            .arg(&path)
            .env("MANWIDTH", "80")
            .output()
            .expect("man");
        assert!(out.status.success(), "man -l {page}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("amux"),
            "{page} renders no text"
        );
        let lint = Command::new("mandoc")
            .args(["-Tlint", "-Wwarning"])
            .arg(&path)
            .output()
            .expect("mandoc (run .ci/setup-tools)");
        let said = String::from_utf8_lossy(&lint.stdout).to_string()
            + &String::from_utf8_lossy(&lint.stderr);
        assert!(
            lint.status.success() && said.trim().is_empty(),
            "mandoc -Tlint {page}:\n{said}"
        );
        let groff = Command::new("groff")
            .args(["-ww", "-man", "-z"])
            .arg(&path)
            .output()
            .expect("groff");
        let said = String::from_utf8_lossy(&groff.stderr);
        assert!(
            groff.status.success() && said.trim().is_empty(),
            "groff -ww {page}:\n{said}"
        );
    }
}
