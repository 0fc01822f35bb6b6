//! The Debian package: `make dist` makes the release tarball (crates
//! vendored); `make deb` in the unpacked tarball — no git there, and here
//! no network at all under `unshare -n` when we may make a network
//! namespace — builds `amux_<version>_<arch>.deb` beside it, as the README
//! says; lintian finds no error and no warning;
//! `dpkg -x` into a scratch root gives exactly the expected files, the
//! units say what the daemon needs, and the unpacked binary arms an agent
//! with the unpacked preload.
//!
//! The build is the real one, release profile and LTO: about a minute on
//! two cores. Without dpkg-buildpackage, debhelper or lintian (run
//! `.ci/setup-tools`) the test says so and passes.

use super::{files_under, uses_installed_hooks};
use crate::support::{self, TestEnv};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A cold release build with LTO, vendoring and lintian, with room for a
/// busy machine.
const BUILD: Duration = Duration::from_secs(900);

/// What the package holds (files; `dpkg -x` also makes the directories).
const PACKAGE: &[&str] = &[
    "usr/bin/amux",
    "usr/lib/systemd/user/amux-notify.service",
    "usr/lib/systemd/user/amux.service",
    "usr/lib/systemd/user/amux.socket",
    "usr/share/amux/hook.mjs",
    "usr/share/amux/pi-extension.mjs",
    "usr/share/bash-completion/completions/amux",
    "usr/share/doc/amux/changelog.gz",
    "usr/share/doc/amux/copyright",
    "usr/share/fish/vendor_completions.d/amux.fish",
    "usr/share/man/man1/amux.1.gz",
    "usr/share/man/man7/amux-protocol.7.gz",
    "usr/share/zsh/vendor-completions/_amux",
];

/// `unshare -n` works (root, or user namespaces allowed): the build then
/// runs without any network, which proves it offline.
fn no_network_wrapper() -> Option<&'static str> {
    let ok = Command::new("unshare")
        .args(["-n", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some("unshare -n")
}

#[test]
fn deb_builds_offline_lints_clean_and_runs_unpacked() {
    support::require_tools(&["dpkg-buildpackage", "dh", "lintian"]);
    let env = TestEnv::new();
    let version = env!("CARGO_PKG_VERSION");
    let tarball = make_dist(&env);
    let dist = env.root.join("unpacked");
    std::fs::create_dir(&dist).expect("unpacked dir");
    let st = Command::new("tar")
        .arg("-xJf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dist)
        .status()
        .expect("tar");
    assert!(st.success(), "tar -xJf {}", tarball.display());
    let tree = dist.join(format!("amux-{version}"));
    assert!(!tree.join(".git").exists() && tree.join("vendor").is_dir());
    // The test runner's own environment (cargo and rustup under HOME),
    // without a target directory of ours leaking into the package build;
    // the whole `make deb` cut from the network when we can.
    let wrapper = no_network_wrapper();
    let mut cmd = match wrapper {
        Some(_) => {
            let mut c = Command::new("unshare");
            c.args(["-n", "make"]);
            c
        }
        None => Command::new("make"),
    };
    cmd.arg("-s")
        .arg("-C")
        .arg(&tree)
        .arg("deb")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("MAKEFLAGS")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let started = std::time::Instant::now();
    let out = support::output_within(cmd, BUILD);
    assert!(
        out.status.success(),
        "make deb:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "make deb ({}): {:.0} s",
        if wrapper.is_some() {
            "no network"
        } else {
            "network not cut"
        },
        started.elapsed().as_secs_f64()
    );
    let arch = String::from_utf8(
        Command::new("dpkg")
            .arg("--print-architecture")
            .output()
            .expect("dpkg")
            .stdout,
    )
    .expect("utf-8");
    let deb = dist.join(format!("amux_{version}_{}.deb", arch.trim()));
    assert!(deb.exists(), "no {}", deb.display());
    let changelog = Command::new("dpkg-parsechangelog")
        .args(["-S", "Version", "-l"])
        .arg(support::manifest_dir().join("debian/changelog"))
        .output()
        .expect("dpkg-parsechangelog");
    assert_eq!(
        String::from_utf8_lossy(&changelog.stdout).trim(),
        version,
        "debian/changelog's version is not Cargo.toml's"
    );

    lints_clean(&deb);

    let root = env.root.join("root");
    let out = Command::new("dpkg")
        .arg("-x")
        .arg(&deb)
        .arg(&root)
        .output()
        .expect("dpkg -x");
    assert!(out.status.success(), "dpkg -x");
    assert_eq!(files_under(&root), PACKAGE, "the package's files");
    units_say_what_the_daemon_needs(&root);
    uses_installed_hooks(&env, &root);
}

/// `make dist` of this checkout into the test's directory: the tarball.
fn make_dist(env: &TestEnv) -> std::path::PathBuf {
    let out = env.root.join("dist");
    let mut cmd = Command::new("make");
    cmd.arg("-s")
        .arg("-C")
        .arg(support::manifest_dir())
        .arg("dist")
        .arg(format!("DISTDIR={}", out.display()))
        .env_remove("MAKEFLAGS")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let o = support::output_within(cmd, BUILD);
    assert!(
        o.status.success(),
        "make dist:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out.join(format!("amux-{}.tar.xz", env!("CARGO_PKG_VERSION")))
}

/// No error and no warning; the informational tags are printed for the log.
fn lints_clean(deb: &Path) {
    let out = Command::new("lintian")
        .args(["--fail-on", "error,warning", "--display-info"])
        .arg(deb)
        .output()
        .expect("lintian");
    let said = String::from_utf8_lossy(&out.stdout);
    let tags: Vec<&str> = said.lines().filter(|l| l.get(1..3) == Some(": ")).collect();
    eprintln!("lintian: {tags:?}");
    assert!(
        out.status.success() && !tags.iter().any(|t| t.starts_with(['E', 'W'])),
        "lintian:\n{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn units_say_what_the_daemon_needs(root: &Path) {
    let units = root.join("usr/lib/systemd/user");
    let socket = std::fs::read_to_string(units.join("amux.socket")).expect("amux.socket");
    for line in [
        "ListenStream=%t/amux/daemon.sock",
        "SocketMode=0600",
        // amux refuses a runtime directory others can enter.
        "DirectoryMode=0700",
    ] {
        assert!(socket.lines().any(|l| l == line), "{line}:\n{socket}");
    }
    let service = std::fs::read_to_string(units.join("amux.service")).expect("amux.service");
    assert!(
        service
            .lines()
            .any(|l| l == "ExecStart=/usr/bin/amux daemon --foreground"),
        "{service}"
    );
}
