//! Running a verb against the hosts `-H`/`AMUX_HOST` name (amux(1),
//! Remote hosts).
//!
//! No host, or `local` alone: the verb runs here as always. One other
//! host: the same verb with that host's daemon as the target, over ssh;
//! `run` and `resume` start their runner *there*, by running `amux run`
//! / `amux resume` through ssh (`-t` when it is a foreground terminal),
//! so the agent lives on the remote machine and the remote daemon finds
//! it as it finds any. Several hosts: `ls`, `events` and `top` are
//! merged (`fleet.rs`, `top/`); a verb about one session takes a `host:`
//! prefix on its key, or else asks every host at once and goes to the one
//! that has it.

use super::{client, fleet, Command};
use crate::error::{Error, Result};
use crate::remote::{self, Host, Target};
use std::ffi::OsString;
use std::process::ExitCode;

pub fn run(targets: Vec<Target>, mut cmd: Command) -> Result<ExitCode> {
    if matches!(
        cmd,
        Command::Daemon { .. } | Command::DialStdio { .. } | Command::Hook { .. }
    ) && !targets.is_empty()
    {
        return Err(Error::Usage(
            "daemon, dial-stdio and hook run on this machine: no -H".into(),
        ));
    }
    let fleet = targets.len() > 1;
    if let Some(key) = cmd.key_mut() {
        let (named, rest) = remote::split_key(&targets, key);
        let rest = rest.to_string();
        if let Some(target) = named {
            *key = rest;
            return on(target, cmd);
        }
        if fleet {
            let (target, id) = fleet::find(&targets, key)?;
            *key = id;
            return on(target, cmd);
        }
    }
    match targets.as_slice() {
        [] => super::run_here(cmd),
        [one] => on(one.clone(), cmd),
        _ => match cmd {
            Command::Ls { all, json, wide } => fleet::ls(&targets, all, json, wide),
            Command::Events => fleet::events(&targets),
            Command::Top => super::top::top(targets),
            Command::Run(..) => Err(Error::Usage(
                "run starts one session: name one host with -H".into(),
            )),
            Command::Forget { .. } => Err(Error::Usage(
                "forget works on one host's records: name one host with -H".into(),
            )),
            other => super::run_here(other),
        },
    }
}

/// `cmd` with `target`'s daemon.
fn on(target: Target, cmd: Command) -> Result<ExitCode> {
    let Target::Ssh(host) = &target else {
        return super::run_here(cmd);
    };
    match cmd {
        Command::Run(opts, detach) => over_ssh(host, !detach, &run_args(&opts, detach)),
        Command::Resume { key, detach } => {
            let mut args: Vec<OsString> = vec!["resume".into()];
            if detach {
                args.push("-d".into());
            }
            args.push(key.into());
            over_ssh(host, !detach, &args)
        }
        cmd => {
            client::set_target(target);
            super::run_here(cmd)
        }
    }
}

/// `amux run`'s own options again, for the remote `amux run`.
fn run_args(opts: &crate::runner::Options, detach: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["run".into()];
    if detach {
        args.push("-d".into());
    }
    if let Some((cols, rows)) = opts.size {
        args.extend(["--size".into(), format!("{cols}x{rows}").into()]);
    }
    if opts.keep != crate::runner::DEFAULT_KEEP {
        args.extend(["--keep".into(), opts.keep.to_string().into()]);
    }
    if !opts.inject {
        args.push("--no-inject".into());
    }
    args.push("--".into());
    args.extend(opts.argv.iter().cloned());
    args
}

/// Runs `amux ARGS…` on `host` with our stdin, stdout and stderr; its
/// exit status is ours (ssh's 255 when ssh itself failed, which ssh has
/// already explained on stderr; 127 when the remote has no amux).
fn over_ssh(host: &Host, tty: bool, args: &[OsString]) -> Result<ExitCode> {
    let mut cmd = remote::ssh_command(host, tty, args)?;
    let program = cmd.get_program().to_string_lossy().into_owned();
    let status = cmd
        .status()
        .map_err(|source| Error::Spawn { program, source })?;
    match status.code() {
        Some(127) => Err(Error::Failed(remote::not_installed(host))),
        Some(code) => Ok(ExitCode::from(u8::try_from(code).unwrap_or(1))),
        None => Err(Error::Exit(1)),
    }
}
