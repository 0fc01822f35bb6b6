//! Remote hosts (amux(1), Remote hosts): which machines a client verb
//! talks to, and the `ssh` command line that reaches one.
//!
//! A target is this machine (`local`) or an SSH destination written
//! `[ssh://][user@]host[:port]`, from `-H`/`--host` (repeatable) or
//! `AMUX_HOST` (comma-separated). The host's label is what the user wrote
//! (minus `ssh://`): it prefixes ids in a fleet view (`box:3f2a…`) and
//! names the host in errors. Reaching one runs the user's own `ssh` (or
//! `AMUX_SSH`, split on blanks, for a wrapper or extra options) with `-T`
//! and the remote command after the destination, so `~/.ssh/config`, the
//! agent and ControlMaster all apply. The remote command goes through the
//! remote user's shell, so every word is single-quoted.

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::fmt;
use std::process::Command;

/// An SSH destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// `[user@]host` as ssh takes it.
    pub dest: String,
    pub port: Option<u16>,
    /// How the user wrote it, for ids and messages.
    pub label: String,
}

/// Where a verb's daemon is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Local,
    Ssh(Host),
}

impl Target {
    /// `local`, or an SSH destination.
    pub fn parse(text: &str) -> Result<Target> {
        let text = text.trim();
        if text == "local" {
            return Ok(Target::Local);
        }
        let label = text.strip_prefix("ssh://").unwrap_or(text).to_string();
        let (dest, port) = match label.rsplit_once(':') {
            Some((dest, port)) if !dest.contains(':') => {
                let port =
                    port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                        bad_host(text, "the port is not a number from 1 to 65535")
                    })?;
                (dest.to_string(), Some(port))
            }
            _ => (label.clone(), None),
        };
        let host = dest.rsplit('@').next().unwrap_or("");
        if host.is_empty() || dest.starts_with('-') || dest.chars().any(char::is_whitespace) {
            return Err(bad_host(text, "expected [user@]host[:port] or local"));
        }
        Ok(Target::Ssh(Host { dest, port, label }))
    }

    /// The label ids are prefixed with in a fleet view.
    pub fn label(&self) -> &str {
        match self {
            Target::Local => "local",
            Target::Ssh(host) => &host.label,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

fn bad_host(text: &str, why: &str) -> Error {
    Error::Usage(format!("bad host {text:?}: {why}"))
}

/// The targets `-H` named, or else `AMUX_HOST`'s; none means this
/// machine alone. Duplicates are dropped (the first one stays).
pub fn targets(flags: &[String]) -> Result<Vec<Target>> {
    let from_env = std::env::var("AMUX_HOST").unwrap_or_default();
    let words: Vec<&str> = if flags.is_empty() {
        from_env
            .split(',')
            .filter(|w| !w.trim().is_empty())
            .collect()
    } else {
        flags.iter().map(String::as_str).collect()
    };
    let mut out: Vec<Target> = Vec::new();
    for word in words {
        let target = Target::parse(word)?;
        if !out.contains(&target) {
            out.push(target);
        }
    }
    Ok(out)
}

/// `ssh -T [-p PORT] DEST 'amux' 'ARG'…` (`-t` instead of `-T` for a
/// command that needs the remote terminal: a foreground `run`).
pub fn ssh_command(host: &Host, tty: bool, args: &[OsString]) -> Result<Command> {
    let ssh = std::env::var("AMUX_SSH").unwrap_or_default();
    let mut words = ssh.split_whitespace();
    let program = words.next().unwrap_or("ssh");
    let mut cmd = Command::new(program);
    cmd.args(words).arg(if tty { "-t" } else { "-T" });
    if let Some(port) = host.port {
        cmd.arg("-p").arg(port.to_string());
    }
    let mut line = String::from("amux");
    for arg in args {
        let arg = arg.to_str().ok_or_else(|| {
            Error::Usage(format!("{arg:?} is not UTF-8: cannot pass it over ssh"))
        })?;
        line.push(' ');
        line.push_str(&quote(arg));
    }
    cmd.arg("--").arg(&host.dest).arg(line);
    Ok(cmd)
}

/// What a user is told when `host`'s shell has no `amux` (exit 127).
pub fn not_installed(host: &Host) -> String {
    format!("amux not found on {}: install it there", host.label)
}

/// One word for a POSIX shell: single-quoted, `'` written as `'\''`.
pub fn quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The target a key names with a `host:` prefix, among `targets`, and
/// the key without it. A key with no such prefix is returned whole.
pub fn split_key<'a>(targets: &[Target], key: &'a str) -> (Option<Target>, &'a str) {
    for t in targets.iter().chain(std::iter::once(&Target::Local)) {
        if let Some(rest) = key
            .strip_prefix(t.label())
            .and_then(|k| k.strip_prefix(':'))
        {
            if !rest.is_empty() {
                return (Some(t.clone()), rest);
            }
        }
    }
    (None, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(text: &str) -> Host {
        match Target::parse(text).unwrap() {
            Target::Ssh(h) => h,
            Target::Local => panic!("{text} is local"),
        }
    }

    #[test]
    fn hosts_parse_as_ssh_takes_them() {
        assert_eq!(Target::parse("local").unwrap(), Target::Local);
        let h = host("me@box:2222");
        assert_eq!((h.dest.as_str(), h.port), ("me@box", Some(2222)));
        assert_eq!(h.label, "me@box:2222");
        let h = host("ssh://box");
        assert_eq!(
            (h.dest.as_str(), h.port, h.label.as_str()),
            ("box", None, "box")
        );
        for bad in ["", "box:0", "box:http", "-oProxyCommand=x", "me@", "a b"] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn words_survive_the_remote_shell() {
        assert_eq!(quote("ls"), "ls");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("it's $HOME"), r"'it'\''s $HOME'");
        let args: Vec<OsString> = ["dial-stdio", "--session", "a b"].map(Into::into).into();
        let cmd = ssh_command(&host("box:22"), false, &args).unwrap();
        let argv: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            argv,
            [
                "-T",
                "-p",
                "22",
                "--",
                "box",
                "amux dial-stdio --session 'a b'"
            ]
        );
    }

    #[test]
    fn keys_name_their_host() {
        let targets = [
            Target::parse("box").unwrap(),
            Target::parse("me@gpu:2200").unwrap(),
        ];
        assert_eq!(
            split_key(&targets, "box:3f2a"),
            (Some(targets[0].clone()), "3f2a")
        );
        assert_eq!(
            split_key(&targets, "me@gpu:2200:3f"),
            (Some(targets[1].clone()), "3f")
        );
        assert_eq!(split_key(&targets, "local:ab"), (Some(Target::Local), "ab"));
        assert_eq!(split_key(&targets, "3f2a"), (None, "3f2a"));
        assert_eq!(split_key(&targets, "box:"), (None, "box:"));
    }
}
