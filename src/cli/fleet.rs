//! Several hosts as one (`-H a -H b`, `AMUX_HOST=a,b`): a merged `ls`
//! and `events`, and finding which host has a session.
//!
//! Every host is asked at once, one thread each with that host as its
//! target (`client::set_target`), so a fleet answers in about the time
//! of its slowest host, not their sum. Each thread's exchanges are bounded
//! by the per-host limit (`per_host`, 5 s, `client::set_limit`) instead of
//! the 30 s one ssh host alone gets: a host that hangs (a login that
//! never completes, a remote that never answers) is dropped when the
//! limit passes, its ssh killed, and the answers that came are printed
//! then, not after the long deadline. Ids are written `host:id` and each
//! record or event line carries `host`. A host that fails or is late is
//! reported in one line on stderr (`amux: HOST: why`, `amux: HOST: no
//! answer within 5 s`) while the others still answer; the exit status
//! then is that failure's (5 unreachable or late, 1 otherwise).

use super::{client, query};
use crate::error::{Error, Result};
use crate::protocol::{EventLine, HostedLine, Record};
use crate::remote::Target;
use std::process::ExitCode;
use std::time::Duration;

/// How long a fleet waits for each host by default: an ssh login and an
/// answer take a second or two; a host slower than this would hold up
/// every other host's answer.
const PER_HOST: Duration = Duration::from_secs(5);

/// The per-host limit: `AMUX_HOST_TIMEOUT`'s, else `PER_HOST`.
fn per_host() -> Result<Duration> {
    parse_limit(&std::env::var("AMUX_HOST_TIMEOUT").unwrap_or_default())
}

/// `text` as a per-host limit: seconds above zero, fractions allowed,
/// too many for a `Duration` meaning none; empty, `PER_HOST`.
fn parse_limit(text: &str) -> Result<Duration> {
    if text.is_empty() {
        return Ok(PER_HOST);
    }
    let secs = text.trim().parse::<f64>().ok();
    let secs = secs.filter(|s| s.is_finite() && *s > 0.0).ok_or_else(|| {
        Error::Usage(format!(
            "AMUX_HOST_TIMEOUT takes a number of seconds above zero, not {text:?}"
        ))
    })?;
    Ok(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

/// This thread talks to `target`, each exchange bounded by `limit`.
fn enter(target: &Target, limit: Duration) {
    client::set_target(target.clone());
    client::set_limit(limit);
}

/// `work` on every target in parallel, results in the targets' order;
/// a host that takes longer than the per-host limit is a late one's
/// error (`Unreachable`, "no answer within …").
fn each<T: Send>(
    targets: &[Target],
    work: impl Fn() -> Result<T> + Sync,
) -> Result<Vec<Result<T>>> {
    let limit = per_host()?;
    Ok(std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|t| {
                let work = &work;
                scope.spawn(move || {
                    enter(t, limit);
                    work()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Failed("a host's thread failed".into())))
            })
            .collect()
    }))
}

/// Which host has the session `key` names, and its full id there. A
/// host that is late is passed over like one that failed: the session
/// another host has is the answer once the per-host limit has passed.
pub fn find(targets: &[Target], key: &str) -> Result<(Target, String)> {
    client::check_key(key)?;
    let answers = each(targets, || client::lookup(key))?;
    let mut found = Vec::new();
    let mut failed = Vec::new();
    for (target, answer) in targets.iter().zip(answers) {
        match answer {
            Ok(Some(record)) => found.push((target.clone(), record.id)),
            Ok(None) => {}
            // Several sessions there match (409): that host's own answer.
            Err(Error::Failed(e)) => return Err(Error::Failed(format!("{target}: {e}"))),
            Err(e) => failed.push(about(target, &e)),
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 if failed.is_empty() => Err(Error::Failed(format!(
            "no session matches {key:?} on {}",
            labels(targets)
        ))),
        0 => Err(Error::Unreachable(format!(
            "no session matches {key:?} on the hosts that answered; {}",
            failed.join("; ")
        ))),
        _ => {
            let ids: Vec<String> = found.iter().map(|(t, id)| format!("{t}:{id}")).collect();
            Err(Error::Failed(format!(
                "{key:?} matches sessions on several hosts: {} (write host:id)",
                ids.join(", ")
            )))
        }
    }
}

fn labels(targets: &[Target]) -> String {
    let names: Vec<&str> = targets.iter().map(Target::label).collect();
    names.join(", ")
}

/// A host's failure, naming the host once (an ssh error names it itself).
fn about(target: &Target, e: &Error) -> String {
    let said = e.to_string();
    let label = target.label();
    match said
        .strip_prefix(label)
        .is_some_and(|rest| rest.starts_with(':'))
    {
        true => said,
        false => format!("{target}: {said}"),
    }
}

/// `id` as a fleet writes it.
fn hosted(target: &Target, id: &str) -> String {
    format!("{}:{id}", target.label())
}

/// The merged `ls`: every host's records, in the order the hosts were
/// named, after one line for each host that failed or was late. Printed
/// once the last host has answered or the per-host limit has passed.
pub fn ls(targets: &[Target], all: bool, as_json: bool, wide: bool) -> Result<ExitCode> {
    let answers = each(targets, || query::records(all))?;
    let mut merged: Vec<Record> = Vec::new();
    let mut failure = None;
    for (target, answer) in targets.iter().zip(answers) {
        match answer {
            Ok((records, warnings)) => {
                for warning in warnings {
                    eprintln!("amux: warning: {target}: {warning}");
                }
                merged.extend(records.into_iter().map(|mut r| {
                    r.id = hosted(target, &r.id);
                    r.host = Some(target.label().to_string());
                    r
                }));
            }
            Err(e) => {
                eprintln!("amux: {}", about(target, &e));
                failure.get_or_insert(e.exit_status());
            }
        }
    }
    query::print_records(&merged, as_json, wide)?;
    Ok(failure.map_or(ExitCode::SUCCESS, ExitCode::from))
}

/// The merged `events`: each host's lines as they come, with `host`; a
/// host that fails, or does not answer within the per-host limit, is
/// reported while the others go on. Runs until stdout's reader leaves or
/// every host has failed.
pub fn events(targets: &[Target]) -> Result<ExitCode> {
    let limit = per_host()?;
    let (tx, rx) = async_channel::unbounded::<u8>();
    for target in targets {
        let (target, tx) = (target.clone(), tx.clone());
        std::thread::spawn(move || {
            enter(&target, limit);
            let emit = |line: EventLine| print_hosted(&target, line);
            let end = client::ensure().and_then(|()| async_io::block_on(query::event_loop(emit)));
            let status = match end {
                Ok(_) => 0,
                Err(e) if e.is_broken_pipe() => 0,
                Err(e) => {
                    eprintln!("amux: {}", about(&target, &e));
                    e.exit_status()
                }
            };
            let _ = tx.send_blocking(status);
        });
    }
    drop(tx);
    query::until_stdout_closes(async move {
        let mut failure = 0;
        while let Ok(status) = rx.recv().await {
            failure = failure.max(status);
        }
        Ok(ExitCode::from(failure))
    })
}

/// One host's line, its ids written `host:id`, as one whole write.
fn print_hosted(target: &Target, mut line: EventLine) -> Result<()> {
    match &mut line {
        EventLine::Session { session } => {
            session.id = hosted(target, &session.id);
            session.host = Some(target.label().to_string());
        }
        EventLine::Remove { id } | EventLine::Notification { id, .. } => {
            *id = hosted(target, id);
        }
    }
    let hosted = HostedLine {
        line,
        host: target.label().to_string(),
    };
    // One locked write per line: the hosts' threads never interleave.
    query::print_line(&mut std::io::stdout().lock(), &hosted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_its_host_once() {
        let targets = crate::remote::targets(&["hang".to_string()]).expect("a target");
        let hang = &targets[0];
        let ssh = Error::Unreachable("hang: no answer within 30 s".into());
        assert_eq!(about(hang, &ssh), "hang: no answer within 30 s");
        let other = Error::Failed("no session matches \"x\"".into());
        assert_eq!(about(hang, &other), "hang: no session matches \"x\"");
        // A host whose name only begins another's words is still named.
        let said = Error::Failed("hangover".into());
        assert_eq!(about(hang, &said), "hang: hangover");
    }

    #[test]
    fn the_per_host_limit_is_seconds_above_zero() {
        let ms = Duration::from_millis;
        for (text, want) in [
            ("", Some(PER_HOST)),
            ("2", Some(ms(2000))),
            (" 0.25 ", Some(ms(250))),
            ("1e300", Some(Duration::MAX)),
            ("0", None),
            ("-1", None),
            ("inf", None),
            ("NaN", None),
            ("5s", None),
        ] {
            assert_eq!(parse_limit(text).ok(), want, "{text:?}");
        }
    }
}
