//! No silent wrong answers from a conversation amux cannot read (issue 21,
//! item 5): a line over the 16 MiB the daemon reads, and a file it cannot
//! open (a directory or FIFO where the file should be, a mode that keeps
//! the daemon out). Neither may leave a state the file never said — a
//! `working` that never ends, an `idle` `(new)` — each is an `error`
//! labelled `unreadable: …` that ends `amux wait`, with a warning in the
//! record, in `amux ls` (JSON, lines, stderr), in `/v1/health`, one line
//! in daemon.log and a reason in `amux explain`.

use crate::support;
use crate::support::daemon::{self, append, now_s, pi_file, pi_lines, World, T};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// `cmd` run to its end, stderr kept.
fn run(mut cmd: Command) -> Output {
    cmd.stderr(Stdio::piped());
    support::output_within(cmd, T)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn user(text: &str) -> String {
    let line = json!({"type": "message", "id": "u", "timestamp": daemon::iso(now_s()),
        "message": {"role": "user", "content": [{"type": "text", "text": text}]}});
    format!("{line}\n")
}

fn reply(text: &str) -> String {
    let line = json!({"type": "message", "id": "a", "timestamp": daemon::iso(now_s()),
        "message": {"role": "assistant", "content": [{"type": "text", "text": text}],
                    "stopReason": "stop"}});
    format!("{line}\n")
}

/// A stand-in `pi` in `cwd`, bound by a preload report to `file` (which
/// may be anything, or nothing yet).
fn session_on(w: &World, cwd: &Path, file: &Path) -> String {
    let id = w.run(cwd, &["pi"]);
    w.shim_write(&id, file);
    w.wait_record(&id, "bound", |r| {
        r["conversation"]["file"].as_str() == file.to_str()
    });
    id
}

/// What every surface says of session `id`, whose daemon could not read
/// what its state rests on: `label` is the record's, `warning` begins its
/// warning, `logged` is in daemon.log. `amux wait --until idle` ends at
/// once with status 4, never its timeout.
fn told_everywhere(w: &World, id: &str, label: &str, warning: &str, logged: &str) {
    let r = w.wait_record(id, "unreadable", |r| r["status"]["label"] == label);
    assert_eq!(r["status"]["state"], "error", "{r:#}");
    assert_eq!(r["status"]["working"], false, "{r:#}");
    assert_eq!(r["turn_done"], true, "{r:#}");
    let said = r["warning"].as_str().unwrap_or_default();
    assert!(said.starts_with(warning), "warning {said:?}: {r:#}");

    let started = Instant::now();
    let waited = run(w.amux(["wait", id, "--until", "idle", "--timeout", "10"]));
    let took = started.elapsed();
    assert_eq!(
        waited.status.code(),
        Some(4),
        "wait after {took:?}: {}",
        text(&waited.stderr)
    );
    assert!(
        text(&waited.stderr).contains("how the turn ended is not known"),
        "wait said {:?}",
        text(&waited.stderr)
    );

    // `ls` in a pipe: the state with its label, and the warning on stderr.
    let ls = run(w.amux(["ls"]));
    assert!(ls.status.success(), "ls: {}", text(&ls.stderr));
    let row = text(&ls.stdout);
    let row = row.lines().find(|l| l.starts_with(id)).unwrap_or_default();
    assert!(
        row.contains(&format!("\terror ({label})\t")),
        "ls row {row:?}"
    );
    let told = format!("amux: warning: session {id}: {warning}");
    assert!(
        text(&ls.stderr).contains(&told),
        "ls stderr {:?}",
        text(&ls.stderr)
    );

    let health = w.health().expect("the daemon answers");
    let warnings = health["warnings"].as_array().cloned().unwrap_or_default();
    let prefix = format!("session {id}: {warning}");
    assert!(
        (warnings.iter()).any(|v| v.as_str().is_some_and(|v| v.starts_with(&prefix))),
        "/v1/health warnings {warnings:#?}"
    );

    let log = w.log();
    assert_eq!(
        log.lines().filter(|l| l.contains(logged)).count(),
        1,
        "daemon.log says it once: {logged:?}\n{log}"
    );

    let explained = run(w.amux(["explain", id]));
    let explained = text(&explained.stdout);
    assert!(
        explained.contains(&format!("warning\t{warning}")),
        "explain:\n{explained}"
    );
    assert!(
        (explained.lines()).any(|l| l.contains(&format!("-> error ({label})"))),
        "explain has no change to the error:\n{explained}"
    );
}

/// A finished reply on a line over 16 MiB: skipped unread, as before,
/// but the session no longer stays `working` with `wait` hanging. The
/// skipped line counts as the turn's end with nothing known of it, until
/// the next turn's lines say the state again.
#[test]
fn a_reply_over_16_mib_ends_the_wait_and_is_told() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let file = pi_file(&w.pi_dir_for(&cwd), "0000-long", now_s());
    append(
        &file,
        &pi_lines("0000-long", &cwd, now_s(), "the long one", "ok"),
    );
    let id = session_on(&w, &cwd, &file);
    w.wait_record(&id, "titled", |r| r["title"] == "the long one");
    append(&file, &user("print the whole log"));
    w.wait_record(&id, "working", |r| r["status"]["state"] == "working");

    // Line 5: the reply, 17 MiB of it.
    append(&file, &reply(&"x".repeat(17 << 20)));
    let label = "unreadable: line 5 is over 16 MiB";
    let warning = "conversation line 5 is 18 MiB, over the 16 MiB amux reads: skipped";
    let logged = "line 5 is 18 MiB, over the 16 MiB amux reads";
    told_everywhere(&w, &id, label, warning, logged);
    let r = w.record(&id, false).expect("listed");
    assert_eq!(r["title"], "the long one", "the title read before stands");

    // The next turn is read again, and says its own state.
    append(&file, &user("and now briefly"));
    append(&file, &reply("done"));
    let r = w.wait_record(&id, "idle with the new reply", |r| r["unread"] == true);
    assert_eq!(r["status"]["state"], "idle", "{r:#}");
    assert_eq!(r.get("warning"), None, "{r:#}");
    let health = w.health().expect("the daemon answers");
    assert_eq!(health["warnings"], json!([]), "{health:#}");
}

/// A conversation file the daemon cannot read — a directory and a FIFO
/// where it should be, and a file of mode 000 (for root, the daemon runs
/// without the capabilities that pass file modes) — reads neither `idle`
/// nor `(new)`: it is `unreadable`, and told so, until it can be read.
#[test]
fn a_conversation_that_cannot_be_read_is_told_not_idle() {
    let mut w = World::new();
    if rustix::process::geteuid().is_root() {
        // Root reads a file of mode 000: a daemon without
        // CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH does not.
        support::require_tools(&["setpriv"]);
        let drop = "--bounding-set=-dac_override,-dac_read_search";
        w.start_daemon_under(&["setpriv", drop, "--"]);
    } else {
        w.start_daemon();
    }
    // Each in a project of its own: (its cwd, the file in its pi dir).
    let place = |name: &str| {
        let cwd = w.cwd(name);
        let dir = w.pi_dir_for(&cwd);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = pi_file(&dir, name, now_s());
        (cwd, file)
    };
    let (in_dir, directory) = place("0001-dir");
    std::fs::create_dir(&directory).expect("mkdir where the file goes");
    let (in_fifo, fifo) = place("0002-fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success(), "mkfifo");
    let (in_closed, closed) = place("0003-closed");
    let lines = pi_lines("0003-closed", &in_closed, now_s(), "kept out", "ok");
    append(&closed, &lines);
    use std::os::unix::fs::PermissionsExt;
    let mode = |m| std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(m));
    mode(0o000).expect("chmod 000");

    let not_regular = "unreadable: not a regular file";
    let denied = "unreadable: permission denied";
    for (cwd, file, label, why) in [
        (&in_dir, &directory, not_regular, "not a regular file"),
        (&in_fifo, &fifo, not_regular, "not a regular file"),
        (&in_closed, &closed, denied, "permission denied"),
    ] {
        let id = session_on(&w, cwd, file);
        let warning = format!("conversation cannot be read ({why})");
        let logged = format!("{}: cannot be read ({why})", file.display());
        told_everywhere(&w, &id, label, &warning, &logged);
        let r = w.record(&id, false).expect("listed");
        assert_eq!(r["title"], "(unreadable)", "{r:#}");

        if file == &closed {
            // Readable again: what it says is read, and the warning goes.
            mode(0o644).expect("chmod 644");
            append(&closed, &user("let me in"));
            append(&closed, &reply("welcome"));
            let r = w.wait_record(&id, "read again", |r| r["unread"] == true);
            assert_eq!(r["title"], "kept out", "{r:#}");
            assert_eq!(r["status"]["state"], "idle", "{r:#}");
            assert_eq!(r.get("warning"), None, "{r:#}");
        }
    }
    let health = w.health().expect("the daemon answers");
    let warnings = health["warnings"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        warnings.len(),
        2,
        "the directory's and the FIFO's: {warnings:#?}"
    );
}
