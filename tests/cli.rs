//! The command line as a user meets it: mistyped verbs,
//! `amux help VERB`, one-line errors that name what was wrong, the `ls`
//! table fitted to the terminal, completions through bash itself,
//! `forget`, detaching, and the daemon's log and event order.

use crate::support::{self, TestEnv};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// Every verb `amux help` knows.
const VERBS: &[&str] = &[
    "run",
    "ls",
    "show",
    "events",
    "wait",
    "send",
    "kill",
    "attach",
    "resume",
    "forget",
    "daemon",
    "completions",
    "dial-stdio",
    "help",
];

fn output(mut cmd: Command) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    support::output_within(cmd, T)
}

fn run(env: &TestEnv, args: &[&str]) -> Output {
    output(env.amux(args))
}

/// `amux ARGS…` allowed to start (and use) a daemon.
fn run_with_daemon(env: &TestEnv, args: &[&str]) -> Output {
    let mut cmd = env.amux(args);
    cmd.env_remove("AMUX_NO_DAEMON");
    output(cmd)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_mistyped_verb_is_named_and_starts_nothing() {
    let env = TestEnv::new();
    for (word, line) in [
        (
            "lss",
            "amux: unknown verb or command 'lss' (did you mean ls?)\n",
        ),
        (
            "atach",
            "amux: unknown verb or command 'atach' (did you mean attach?)\n",
        ),
        (
            "xyzzy",
            "amux: unknown verb or command 'xyzzy' (see 'amux --help')\n",
        ),
    ] {
        let out = run_with_daemon(&env, &[word, "--all"]);
        assert_eq!(out.status.code(), Some(127), "{word}: {}", stderr(&out));
        assert_eq!(stderr(&out), line);
        assert!(out.stdout.is_empty());
    }
    assert!(
        !env.runtime().exists(),
        "a mistyped verb created the runtime dir"
    );
    // A real command still means `amux run CMD`.
    let out = run(&env, &["sh", "-c", "echo ran; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("ran"), "{}", stdout(&out));
}

#[test]
fn help_verb_is_the_verbs_own_help() {
    let env = TestEnv::new();
    let general = run(&env, &["--help"]);
    assert_eq!(stdout(&run(&env, &["help"])), stdout(&general));
    for verb in VERBS {
        let help = run(&env, &["help", verb]);
        assert!(help.status.success(), "help {verb}: {}", stderr(&help));
        let own = run(&env, &[verb, "--help"]);
        assert!(own.status.success(), "{verb} --help: {}", stderr(&own));
        assert_eq!(stdout(&help), stdout(&own), "help {verb}");
        assert_ne!(
            stdout(&help),
            stdout(&general),
            "help {verb} is the general help"
        );
        assert!(stdout(&help).starts_with("Usage: amux "), "{verb}");
    }
    let out = run(&env, &["help", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no verb \"nosuch\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_name_the_verb_once_and_what_was_wrong() {
    let env = TestEnv::new();
    let cases: &[(&[&str], &str)] = &[
        (&["show"], "amux show: missing ID (see 'amux help show')\n"),
        (&["kill"], "amux kill: missing ID (see 'amux help kill')\n"),
        (&["attach"], "amux attach: missing ID (see 'amux help attach')\n"),
        (&["send", "x"], "amux send: missing TEXT (or - for stdin) (see 'amux help send')\n"),
        (
            &["wait", "x", "--timeout", "abc"],
            "amux wait: --timeout takes a number of seconds, not \"abc\" (see 'amux help wait')\n",
        ),
        (
            &["wait", "x", "--until", "done"],
            "amux wait: --until takes idle, working, waiting, exit or attributed, not \"done\" (see 'amux help wait')\n",
        ),
        (
            &["run", "--keep", "lots", "sh"],
            "amux run: --keep takes a number of bytes, not \"lots\" (see 'amux help run')\n",
        ),
        (&["ls", "--bogus"], "amux ls: invalid option '--bogus' (see 'amux help ls')\n"),
        (&["forget"], "amux forget: missing ID (or --dead) (see 'amux help forget')\n"),
    ];
    for (args, line) in cases {
        let out = run(&env, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(&stderr(&out), line, "{args:?}");
    }
}

#[test]
fn acting_on_a_dead_session_points_at_resume() {
    let env = TestEnv::new();
    let id = env.run_detached(["true"]);
    env.wait_gone(&id, T);
    let out = run_with_daemon(&env, &["send", &id, "hello"]);
    assert_eq!(out.status.code(), Some(1));
    let resume = format!("'amux resume {id}' continues its conversation");
    assert!(stderr(&out).contains(&resume), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    // attach needs a terminal: the same words there.
    let mut pty = crate::support::pty::Pty::spawn_with(&env, ["attach", &id], 80, 24, |c| {
        c.env_remove("AMUX_NO_DAEMON");
    });
    let status = pty.wait_exit(T);
    assert_eq!(status.code(), Some(1));
    assert!(pty.text().contains(&resume), "{}", pty.text());
}

/// The daemon's pid, from its health.
fn daemon_pid(env: &TestEnv) -> i32 {
    let health = support::http::get(&env.runtime().join("daemon.sock"), "/v1/health");
    let health: serde_json::Value = serde_json::from_str(&health.text()).expect("health JSON");
    health["pid"].as_i64().expect("pid") as i32
}

/// Stops the test's daemon (SIGTERM, by its pid) and waits for it to go.
fn stop_daemon(env: &TestEnv) {
    let pid = rustix::process::Pid::from_raw(daemon_pid(env)).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("kill");
    let sock = env.runtime().join("daemon.sock");
    support::wait_until(T, || !sock.exists(), "the daemon to stop");
}

/// `ls --all` rows as (id, state).
fn rows(env: &TestEnv) -> Vec<(String, String)> {
    let out = run_with_daemon(env, &["ls", "--all"]);
    assert!(out.status.success(), "ls --all: {}", stderr(&out));
    let text = stdout(&out);
    text.lines()
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            (cells[0].to_string(), cells[2].to_string())
        })
        .collect()
}

fn dead_session(env: &TestEnv) -> String {
    let id = env.run_detached(["true"]);
    env.wait_gone(&id, T);
    support::wait_until(
        T,
        || {
            rows(env)
                .iter()
                .any(|(i, s)| *i == id && s.starts_with("exited"))
        },
        "the dead session in ls --all",
    );
    id
}

#[test]
fn forget_drops_dead_records_for_good_and_refuses_live_ones() {
    let env = TestEnv::new();
    let (a, b, c) = (dead_session(&env), dead_session(&env), dead_session(&env));
    let live = env.run_detached(["sleep", "30"]);
    let out = run_with_daemon(&env, &["forget", &live]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("amux: session {live} is still running: 'amux kill {live}' ends it first\n")
    );
    let out = run_with_daemon(&env, &["forget", &a]);
    assert!(out.status.success(), "forget: {}", stderr(&out));
    let records = env.root.join("state/amux/sessions");
    assert!(
        !records.join(format!("{a}.json")).exists(),
        "its file stays"
    );
    assert!(records.join(format!("{b}.json")).exists());
    let ids: Vec<String> = rows(&env).into_iter().map(|(i, _)| i).collect();
    assert!(!ids.contains(&a) && ids.contains(&b), "{ids:?}");
    // A new daemon does not bring it back.
    stop_daemon(&env);
    let ids: Vec<String> = rows(&env).into_iter().map(|(i, _)| i).collect();
    assert!(
        !ids.contains(&a) && ids.contains(&b) && ids.contains(&c),
        "{ids:?}"
    );
    // --dead: every dead one, the live one stays.
    let out = run_with_daemon(&env, &["forget", "--dead"]);
    assert!(out.status.success(), "forget --dead: {}", stderr(&out));
    let ids: Vec<String> = rows(&env).into_iter().map(|(i, _)| i).collect();
    assert_eq!(ids, [live]);
    let out = run_with_daemon(&env, &["forget", &b]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "forgetting twice: {}",
        stderr(&out)
    );
}

#[test]
fn a_resumed_session_is_marked_resumed() {
    let env = TestEnv::new();
    let agent = env.fake_pi("pi_turns.mjs");
    let node = support::node();
    let id = env.run_detached([node.as_os_str(), agent.as_os_str()]);
    support::wait_until(
        T,
        || {
            support::http::get(&env.sock(&id), "/scrollback/text")
                .text()
                .contains("ready>")
        },
        "agent prompt",
    );
    assert!(run_with_daemon(&env, &["send", &id, "hello", "--enter"])
        .status
        .success());
    let out = run_with_daemon(&env, &["wait", &id, "--until", "idle", "--timeout", "20"]);
    assert!(out.status.success(), "wait: {}", stderr(&out));
    assert!(run_with_daemon(&env, &["kill", &id]).status.success());
    env.wait_gone(&id, T);
    support::wait_until(
        T,
        || {
            rows(&env)
                .iter()
                .any(|(i, s)| *i == id && s.starts_with("exited"))
        },
        "the dead session",
    );
    let out = run_with_daemon(&env, &["resume", "-d", &id]);
    assert!(out.status.success(), "resume -d: {}", stderr(&out));
    let new = stdout(&out).trim().to_string();
    let state = |env: &TestEnv| {
        rows(env)
            .into_iter()
            .find(|(i, _)| *i == id)
            .map(|(_, s)| s)
    };
    assert_eq!(state(&env).as_deref(), Some("resumed"));
    // Saved so: a new daemon says the same.
    stop_daemon(&env);
    assert_eq!(state(&env).as_deref(), Some("resumed"));
    let out = run_with_daemon(&env, &["show", &id, "--json"]);
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("show --json");
    assert!(record["resumed_at"].is_string(), "{record}");
    let _ = run_with_daemon(&env, &["kill", &new]);
}

/// The shells whose completion scripts `amux completions` prints.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// What `shell` offers for `words` (the last one being completed), through
/// the script `amux completions SHELL` prints, with this test's amux first
/// on `PATH` for the id lists. Bash runs the completion function as
/// readline would; zsh runs it with `compadd` printing what it is given
/// (zsh itself then keeps what starts with the word, as here); fish
/// answers `complete -C`.
fn complete(env: &TestEnv, shell: Shell, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = words.join(" ");
    let (program, args, script) = match shell {
        Shell::Bash => (
            "bash",
            vec!["--norc", "-c"],
            format!(
                "source <(amux completions bash) || exit 9\n\
                 complete -p amux >/dev/null || exit 8\n\
                 COMP_WORDS=({}); COMP_CWORD={}\n\
                 _amux\n\
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
                quoted.join(" "),
                words.len() - 1
            ),
        ),
        Shell::Zsh => (
            "zsh",
            vec!["-f", "-c"],
            format!(
                "compadd() {{ [[ $1 == -- ]] && shift; print -l -- \"$@\" }}\n\
                 words=({}); CURRENT={}\n\
                 source <(amux completions zsh)\n\
                 true\n",
                quoted.join(" "),
                words.len()
            ),
        ),
        Shell::Fish => (
            "fish",
            vec!["--no-config", "-c"],
            format!("amux completions fish | source; or exit 9; complete -C '{line}'"),
        ),
    };
    let bin = std::path::Path::new(support::amux_bin())
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut argv = args;
    argv.push(&script);
    let mut cmd = env.command(program, argv);
    cmd.env("PATH", path).env_remove("AMUX_NO_DAEMON");
    let out = output(cmd);
    // Status 1 from a completion function is "no matches": the error
    // output tells a broken script.
    assert!(
        out.status.success() && stderr(&out).is_empty(),
        "{shell:?}: {out:?}"
    );
    let word = words.last().copied().unwrap_or("");
    let mut got: Vec<String> = (stdout(&out).lines())
        // fish: `candidate<TAB>description`.
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .filter(|l| !l.is_empty() && l.starts_with(word))
        .collect();
    got.sort();
    got.dedup();
    got
}

fn sorted(words: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    v.sort();
    v
}

/// Each verb's own options and the ids it accepts, in `shell`. Fish
/// offers options only once the word starts with `-` (its way), so
/// there an empty word expects the rest.
fn completes_each_verbs_own_options_and_ids(shell: Shell) {
    let env = TestEnv::new();
    let dead = dead_session(&env);
    let live = env.run_detached(["sleep", "30"]);
    let resumed = dead_session(&env);
    // A record marked resumed is done with (as `amux resume` leaves it).
    let mark = support::http::post(
        &env.runtime().join("daemon.sock"),
        &format!("/v1/sessions/{resumed}/resumed"),
        b"",
    );
    assert_eq!(mark.status, 204);
    let offers = |words: &[&str], want: &[&str]| {
        let fish_empty = shell == Shell::Fish && words.last() == Some(&"");
        let want: Vec<&str> = (want.iter().copied())
            .filter(|w| !(fish_empty && w.starts_with('-')))
            .collect();
        assert_eq!(
            complete(&env, shell, words),
            sorted(&want),
            "{shell:?}: {words:?}"
        );
    };
    offers(&["amux", "attach", ""], &[&live]);
    offers(&["amux", "kill", ""], &[&live]);
    offers(&["amux", "resume", ""], &["-d", "--detach", &dead]);
    offers(
        &["amux", "wait", ""],
        &["--until", "--timeout", "--json", &live],
    );
    offers(
        &["amux", "wait", &live, "--"],
        &["--until", "--timeout", "--json"],
    );
    offers(
        &["amux", "wait", &live, "--until", ""],
        &["idle", "working", "waiting", "exit", "attributed"],
    );
    offers(&["amux", "send", ""], &["-e", "--enter", &live]);
    assert!(
        complete(&env, shell, &["amux", "attach", &live, ""]).is_empty(),
        "one id only"
    );
    offers(&["amux", "forget", ""], &["--dead", &dead, &resumed]);
    offers(
        &["amux", "ls", "-"],
        &["-a", "--all", "-w", "--wide", "--json"],
    );
    let top = complete(&env, shell, &["amux", ""]);
    for word in ["attach", "forget", "resume", "help"] {
        assert!(top.contains(&word.to_string()), "{word}: {top:?}");
    }
    let top = complete(&env, shell, &["amux", "-"]);
    for word in ["-H", "--host"] {
        assert!(top.contains(&word.to_string()), "{word}: {top:?}");
    }
    // -H before the verb: still the verb's completions (here `local`).
    offers(&["amux", "-H", "local", "attach", ""], &[&live]);
    offers(&["amux", "help", "att"], &["attach"]);
}

#[test]
fn bash_completes_each_verbs_own_options_and_ids() {
    completes_each_verbs_own_options_and_ids(Shell::Bash);
}

#[test]
fn zsh_completes_each_verbs_own_options_and_ids() {
    completes_each_verbs_own_options_and_ids(Shell::Zsh);
}

#[test]
fn fish_completes_each_verbs_own_options_and_ids() {
    completes_each_verbs_own_options_and_ids(Shell::Fish);
}

#[test]
fn the_daemon_logs_its_start_and_events_list_as_ls_does() {
    let env = TestEnv::new();
    // Sessions started a second apart until one started later has the
    // smaller id: then the order by start is not the order by id.
    let mut ids: Vec<String> = Vec::new();
    while ids.len() < 2 || ids.windows(2).all(|w| w[0] < w[1]) {
        assert!(ids.len() < 8, "ids kept coming in order: {ids:?}");
        if !ids.is_empty() {
            std::thread::sleep(Duration::from_millis(1100));
        }
        ids.push(env.run_detached(["sleep", "60"]));
    }
    let ls = run_with_daemon(&env, &["ls"]);
    let listed: Vec<String> = stdout(&ls)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(listed, ids, "ls lists by start");
    let head = format!("amux events | head -n {}", ids.len());
    let mut cmd = env.command("sh", ["-c", &head]);
    let bin = std::path::Path::new(support::amux_bin())
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env("PATH", path).env_remove("AMUX_NO_DAEMON");
    let events = output(cmd);
    let snapshot: Vec<String> = stdout(&events)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("an event line");
            v["session"]["id"]
                .as_str()
                .expect("a session line")
                .to_string()
        })
        .collect();
    assert_eq!(snapshot, ids, "the events snapshot is in ls's order");

    let log = std::fs::read_to_string(env.root.join("state/amux/daemon.log")).expect("daemon.log");
    let start = format!(
        "daemon started: pid {}, amux {}, 0 dead records, watching ",
        daemon_pid(&env),
        env!("CARGO_PKG_VERSION")
    );
    let line = log
        .lines()
        .find(|l| l.contains(&start))
        .unwrap_or_else(|| panic!("{log}"));
    let pi_root = env.pi_sessions().display().to_string();
    assert!(line.contains(&pi_root), "{line}");
    assert!(
        log.lines()
            .next()
            .is_some_and(|l| l.contains("daemon started")),
        "{log}"
    );
}

/// `text` without its SGR sequences and carriage returns.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// `amux ls` on a `cols`-wide terminal: what it printed, as is.
fn ls_on_terminal(env: &TestEnv, cols: u16, no_color: bool) -> String {
    let mut pty = crate::support::pty::Pty::spawn_with(env, ["ls"], cols, 24, |c| {
        c.env_remove("AMUX_NO_DAEMON").env_remove("COLUMNS");
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
    });
    assert!(pty.wait_exit(T).success(), "{}", pty.text());
    pty.text()
}

#[test]
fn ls_fits_the_terminal_and_colours_its_states() {
    let env = TestEnv::new();
    let agent = env.fake_pi("pi_turns.mjs");
    let node = support::node();
    let id = env.run_detached([node.as_os_str(), agent.as_os_str()]);
    support::wait_until(
        T,
        || {
            support::http::get(&env.sock(&id), "/scrollback/text")
                .text()
                .contains("ready>")
        },
        "agent prompt",
    );
    let title = "please find out why the flaky integration test fails on the second run only";
    assert!(run_with_daemon(&env, &["send", &id, title, "--enter"])
        .status
        .success());
    let out = run_with_daemon(&env, &["wait", &id, "--until", "idle", "--timeout", "20"]);
    assert!(out.status.success(), "wait: {}", stderr(&out));
    let record: serde_json::Value =
        serde_json::from_slice(&run_with_daemon(&env, &["show", &id, "--json"]).stdout).unwrap();
    let file = record["conversation"]["file"]
        .as_str()
        .expect("attributed")
        .to_string();
    assert!(file.len() > 80, "{file}");

    // A pipe: the stable tab-separated line, nothing cut.
    let piped = stdout(&run_with_daemon(&env, &["ls"]));
    assert_eq!(piped, format!("{id}\tpi\tunread\tshim\t{title}\t{file}\n"));

    for cols in [80u16, 150] {
        let raw = ls_on_terminal(&env, cols, false);
        let text = plain(&raw);
        let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 2, "{cols}: one line a row:\n{text}");
        for l in &lines {
            assert!(
                l.chars().count() <= usize::from(cols),
                "{cols}: wraps: {l:?}"
            );
        }
        assert!(
            lines[0].starts_with("ID") && lines[1].starts_with(&id),
            "{text}"
        );
        assert!(
            lines[1].contains("please find out") && lines[1].contains('…'),
            "{text}"
        );
        assert!(
            raw.contains("\x1b[1munread\x1b[0m"),
            "{cols}: unread in bold: {raw:?}"
        );
        if cols == 150 {
            assert!(lines[0].ends_with("CONVERSATION"), "{text}");
            assert!(lines[1].ends_with(".jsonl"), "{text}");
        }
        let uncoloured = ls_on_terminal(&env, cols, true);
        assert!(!uncoloured.contains("\x1b["), "NO_COLOR: {uncoloured:?}");
    }
    // --wide: nothing cut, whatever the width.
    let mut pty = crate::support::pty::Pty::spawn_with(&env, ["ls", "--wide"], 80, 24, |c| {
        c.env_remove("AMUX_NO_DAEMON");
    });
    assert!(pty.wait_exit(T).success());
    let wide = plain(&pty.text());
    assert!(wide.contains(title) && wide.contains(&file), "{wide}");
}

/// Attaches to a session running `script`, waits for `drawn`, detaches:
/// what amux wrote after the agent's drawing.
fn detach_after(env: &TestEnv, script: &str, drawn: &str) -> String {
    let id = env.run_detached(["sh", "-c", script]);
    let mut pty = crate::support::pty::Pty::spawn_with(env, ["attach", &id], 80, 24, |c| {
        c.env_remove("AMUX_NO_DAEMON");
    });
    let from = pty.wait_for(drawn, T);
    pty.wait_raw(T);
    pty.write(&[0x1c]);
    assert!(pty.wait_exit(T).success(), "detach exits 0: {}", pty.text());
    String::from_utf8_lossy(&pty.output[from..]).into_owned()
}

#[test]
fn detaching_gives_back_the_screen_the_user_had() {
    let env = TestEnv::new();
    // An agent on the alternate screen, its cursor mid-drawing, hidden,
    // in reverse video with bracketed paste on.
    let full = detach_after(
        &env,
        r"printf '\033[?1049h\033[2J\033[?25l\033[?2004h\033[7m\033[5;10Hdrawing'; sleep 60",
        "drawing",
    );
    let leave = full
        .find("\x1b[?1049l")
        .unwrap_or_else(|| panic!("{full:?}"));
    let note = full
        .find("[detached]")
        .unwrap_or_else(|| panic!("{full:?}"));
    assert!(leave < note, "{full:?}");
    assert!(
        full[leave..note].ends_with("\r\x1b[K"),
        "a clean line: {full:?}"
    );
    for mode in ["\x1b[0m", "\x1b[?25h", "\x1b[?2004l"] {
        assert!(full[..note].contains(mode), "{mode:?} not undone: {full:?}");
    }
    // An agent drawing inline: the note goes below it, on a new line.
    let inline = detach_after(&env, r"printf '\033[5;10Hinline'; sleep 60", "inline");
    let note = inline
        .find("[detached]")
        .unwrap_or_else(|| panic!("{inline:?}"));
    assert!(inline[..note].ends_with("\x1b[24;1H\r\n"), "{inline:?}");
    assert!(!inline.contains("\x1b[?1049l"), "{inline:?}");
}

/// The README tour's scripted lines, from "# Script an agent" up to
/// "# Look in", as written.
fn readme_script() -> String {
    let readme = std::fs::read_to_string(support::manifest_dir().join("README.md")).unwrap();
    let start = readme.find("# Script an agent").expect("the scripted flow");
    let block = &readme[start..];
    let end = block.find("# Look in").expect("its end");
    block[..end].to_string()
}

#[test]
fn the_readme_scripted_flow_works_as_written() {
    let env = TestEnv::new();
    // `pi` on PATH: a stand-in that takes its last argument as the first
    // prompt, as pi does, and then reads the terminal.
    let bin = env.root.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let agent = env.fake_pi("pi_turns.mjs");
    let script = format!(
        "#!/bin/sh\neval first=\\${{$#}}\n{{ printf '%s\\n' \"$first\"; exec cat; }} | exec {} {}\n",
        support::node().display(),
        agent.display()
    );
    let pi = bin.join("pi");
    std::fs::write(&pi, script).unwrap();
    std::fs::set_permissions(&pi, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let amux_dir = std::path::Path::new(support::amux_bin()).parent().unwrap();
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        amux_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let flow = format!("set -e\n{}\necho \"id=$id\"\n", readme_script());
    assert!(
        flow.contains("amux send") && !flow.contains(" -p "),
        "{flow}"
    );
    let mut cmd = env.command("bash", ["--norc", "-c", &flow]);
    cmd.env("PATH", path).env_remove("AMUX_NO_DAEMON");
    let out = output(cmd);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(!text.contains("no answer"), "{text}{}", stderr(&out));
    let mut lines = text.lines();
    let file = lines.next().unwrap_or_default();
    assert!(file.ends_with(".jsonl"), "the conversation file: {text}");
    let saved = std::fs::read_to_string(file).expect("the conversation");
    assert!(
        saved.contains("echo now run the tests"),
        "answered: {saved}"
    );
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("id="))
        .expect("id");
    let _ = run_with_daemon(&env, &["kill", id]);
}

/// A dead record a newer amux saved, of an agent this one has no adapter
/// for and with a state source it does not know: the daemon carries it and
/// every verb prints it as itself (never as `shell`).
#[test]
fn an_unknown_kind_is_carried_and_printed_as_itself() {
    let env = TestEnv::new();
    let dir = env.root.join("state/amux/sessions");
    std::fs::create_dir_all(&dir).expect("state dir");
    let record = serde_json::json!({
        "id": "g1abcdefgh", "kind": "gemini", "command": ["gemini"], "cwd": "/w",
        "alive": false, "exit_code": 0, "started_at": "2026-12-06T00:00:00Z",
        "exited_at": "2026-12-06T00:01:00Z", "slug": "hi", "title": "hi",
        "status": {"state": "idle", "source": "osc0"},
        "conversation": {"file": "/w/.gemini/tmp/x/chats/session-1.jsonl", "source": "sqlite-row"},
        "future_field": {"anything": 1}
    });
    std::fs::write(dir.join("g1abcdefgh.json"), record.to_string()).expect("record");
    let listed = run_with_daemon(&env, &["ls", "--all", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("ls --json");
    assert_eq!(listed[0]["kind"], "gemini", "{listed:#}");
    assert_eq!(listed[0]["status"]["source"], "osc0", "{listed:#}");
    assert_eq!(
        listed[0]["conversation"]["source"], "sqlite-row",
        "{listed:#}"
    );
    let table = stdout(&run(&env, &["ls", "--all"]));
    assert!(
        table.contains("g1abcdefgh\tgemini\texited:0\tsqlite-row\thi\t"),
        "{table}"
    );
    let shown = stdout(&run(&env, &["show", "g1abcdefgh"]));
    assert!(
        shown.contains("kind\tgemini\n") && shown.contains("state-source\tosc0\n"),
        "{shown}"
    );
    let explained = stdout(&run(&env, &["explain", "g1abcdefgh"]));
    assert!(explained.contains("kind\tgemini\n"), "{explained}");
    stop_daemon(&env);
}

/// `amux hook AGENT` (what Claude's and Codex's hooks run): the hook's
/// JSON on stdin becomes one `hook` line on the runner's FIFO; it prints
/// nothing and exits 0 — with no FIFO, with no reader, with garbage.
#[test]
fn hook_reports_one_line_and_never_speaks() {
    use std::io::{Read, Write};
    let env = TestEnv::new();
    let fifo = env.root.join("h.fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");
    let hook = |fifo: Option<&std::path::Path>, input: &[u8]| {
        let mut cmd = env.amux(["hook", "claude"]);
        match fifo {
            Some(f) => cmd.env("AMUX_HOOK_FIFO", f),
            None => cmd.env_remove("AMUX_HOOK_FIFO"),
        };
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn amux hook");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().expect("amux hook");
        assert!(out.status.success(), "{out:?}");
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    };
    let asked = br#"{"hook_event_name":"PermissionRequest","session_id":"s",
        "transcript_path":"/p/s.jsonl","tool_name":"Bash","tool_input":{"command":"touch x"}}"#;
    // No reader: nothing to tell, no error, no wait.
    hook(Some(&fifo), asked);
    // The runner's end: read and write, so it never sees end of file.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .expect("open the FIFO");
    hook(Some(&fifo), asked);
    hook(Some(&fifo), b"not json at all");
    hook(None, asked);
    let mut buf = [0u8; 4096];
    let n = reader.read(&mut buf).expect("the hook's line");
    let text = std::str::from_utf8(&buf[..n]).expect("text");
    assert_eq!(
        text.lines().count(),
        1,
        "one line, and garbage made none: {text:?}"
    );
    let event: serde_json::Value = serde_json::from_str(text.trim_end()).expect("JSON");
    assert_eq!(event["op"], "hook", "{event}");
    assert_eq!(event["event"], "PermissionRequest", "{event}");
    assert_eq!(event["tool"], "Bash", "{event}");
    assert_eq!(event["text"], "touch x", "{event}");
    assert_eq!(event["path"], "/p/s.jsonl", "{event}");
}

/// A starting daemon's first listing waits for the runners it found:
/// one that has not replayed yet (here stopped, as a runner short of CPU
/// on a loaded machine is late) is listed once it does, not left out.
#[test]
fn the_first_ls_of_a_new_daemon_waits_for_a_late_runner() {
    let env = TestEnv::new();
    let id = env.run_detached(["sleep", "60"]);
    let meta = support::http::meta(&env.sock(&id));
    let runner = meta["runner_pid"].as_u64().expect("runner_pid") as i32;
    let runner = rustix::process::Pid::from_raw(runner).expect("pid");
    rustix::process::kill_process(runner, rustix::process::Signal::STOP).expect("SIGSTOP");
    let ls = {
        let mut cmd = env.amux(["ls"]);
        cmd.env_remove("AMUX_NO_DAEMON");
        std::thread::spawn(move || output(cmd))
    };
    // The daemon is up (and has found the stopped runner) before the
    // runner may answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !env.root.join("state/amux/daemon.log").exists() {
        assert!(Instant::now() < deadline, "no daemon started");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    rustix::process::kill_process(runner, rustix::process::Signal::CONT).expect("SIGCONT");
    let ls = ls.join().expect("ls");
    assert!(ls.status.success(), "{ls:?}");
    assert!(
        stdout(&ls).lines().any(|l| l.starts_with(&id)),
        "the late runner is missing: {}",
        stdout(&ls)
    );
}
