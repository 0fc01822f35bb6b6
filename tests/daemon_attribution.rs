//! The attribution rules (amux(1), How amux learns the conversation
//! file), one test each, through a real
//! daemon and real runners.
//!
//! Sessions run the stand-in agent (`pi` in a temp bin dir, a Python
//! script the preload cannot reach). Shim reports are posted to the
//! runner's own `POST /shim/event`, exactly what the preload's transport
//! delivers, so each test controls their order; the metadata test pairs
//! the stand-in with a fake pi under node carrying the real preload.

use crate::support;
use crate::support::daemon::{self, append, holds, now_s, pi_file, pi_lines, pi_name, World, T};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// A line that changes nothing in a record (a model change).
fn quiet() -> String {
    format!("{}\n", json!({"type": "model_change", "provider": "fake"}))
}

fn holder_of<'a>(records: &'a [Value], file: &Path) -> Vec<&'a str> {
    records
        .iter()
        .filter(|r| r["conversation"]["file"].as_str() == file.to_str())
        .filter_map(|r| r["id"].as_str())
        .collect()
}

/// Rule 1: a shim report replaces an earlier guess, which is released.
#[test]
fn shim_overrides_an_earlier_guess() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let dir = w.pi_dir_for(&cwd);
    let id = w.run(&cwd, &["pi"]);
    let now = now_s();
    let guessed = pi_file(&dir, "0000-guess", now);
    let data = pi_lines("0000-guess", &cwd, now, "guessed work", "ok");
    w.tell(&id, &json!({"append": guessed, "data": data}));
    w.wait_holds(&id, &guessed, "metadata");
    assert!(w.log().contains("(FALLBACK) metadata"), "{}", w.log());

    let real = pi_file(&dir, "0001-real", now - 3600);
    append(
        &real,
        &pi_lines("0001-real", &cwd, now - 3600, "the real conversation", "ok"),
    );
    w.shim_write(&id, &real);
    let r = w.wait_holds(&id, &real, "shim");
    assert_eq!(r["title"], "the real conversation");
    assert!(
        holder_of(&w.ls(false), &guessed).is_empty(),
        "guess not released"
    );

    // A reported session is never offered a guess again, even when the
    // released file changes right under it.
    append(&guessed, &pi_name("still someone else's"));
    // The guesses run on the daemon's timer (a round a second): no fact
    // says a round passed without a change, so this waits past one.
    std::thread::sleep(Duration::from_millis(1500));
    let r = w.record(&id, false).expect("live record");
    assert!(holds(&r, &real, "shim"), "{r:#}");
    assert_eq!(r["title"], "the real conversation");
}

/// Rule 2: a different file for the session moves it; the old file is
/// released and no longer feeds the session's record.
#[test]
fn rebind_moves_the_session_and_releases_the_old_file() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let dir = w.pi_dir_for(&cwd);
    let id = w.run(&cwd, &["pi"]);
    let now = now_s();
    let first = pi_file(&dir, "0000-first", now);
    let second = pi_file(&dir, "0001-second", now);
    append(
        &first,
        &pi_lines("0000-first", &cwd, now, "first topic", "ok"),
    );
    append(
        &second,
        &pi_lines("0001-second", &cwd, now, "second topic", "ok"),
    );

    w.shim_write(&id, &first);
    assert_eq!(w.wait_holds(&id, &first, "shim")["title"], "first topic");
    w.shim_write(&id, &second);
    let r = w.wait_holds(&id, &second, "shim");
    assert_eq!(r["title"], "second topic");
    assert!(
        holder_of(&w.ls(false), &first).is_empty(),
        "old file still held"
    );

    append(&first, &pi_name("renamed old"));
    append(&second, &pi_name("renamed new"));
    let r = w.wait_record(&id, "titled from the new file", |r| {
        r["title"] == "renamed new"
    });
    assert!(holds(&r, &second, "shim"));
    // The old file changed first; a later line of the held file, once
    // read, means the daemon has handled that change too.
    append(&second, &quiet());
    w.wait_lines(&id, 5);
    assert_eq!(
        w.record(&id, false).expect("record")["title"],
        "renamed new"
    );
}

/// Rule 1: two runners report one file: the later one holds it.
#[test]
fn two_runners_on_one_file_both_hold_it_and_the_survivor_keeps_it() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let dir = w.pi_dir_for(&cwd);
    let a = w.run(&cwd, &["pi"]);
    let b = w.run(&cwd, &["pi"]);
    let now = now_s();
    let file = pi_file(&dir, "0000-shared", now - 3600);
    append(
        &file,
        &pi_lines("0000-shared", &cwd, now - 3600, "shared talk", "ok"),
    );

    w.shim_write(&a, &file);
    w.wait_holds(&a, &file, "shim");
    w.shim_write(&b, &file);
    w.wait_holds(&b, &file, "shim");
    // Both write the one conversation: both hold it, both show it.
    let records = w.ls(false);
    let mut holders = holder_of(&records, &file);
    holders.sort();
    let mut both = vec![a.as_str(), b.as_str()];
    both.sort();
    assert_eq!(holders, both);
    append(&file, &pi_name("shared and renamed"));
    w.wait_record(&a, "renamed", |r| r["title"] == "shared and renamed");
    w.wait_record(&b, "renamed", |r| r["title"] == "shared and renamed");

    // The second binder's death leaves the first holding it.
    w.tell(&b, &json!({"exit": 0}));
    w.wait_record_all(&b, true, "dead", |r| r["alive"] == false);
    support::wait_until(
        T,
        || holder_of(&w.ls(false), &file) == vec![a.as_str()],
        "the survivor alone to hold the file",
    );
    append(&file, &pi_name("still shared"));
    w.wait_record(&a, "renamed again", |r| r["title"] == "still shared");
}

/// Rule 3: after hello and before any write, a session is offered no
/// guess: a matching file in its directory stays unheld for longer than a
/// session without hello waits for its hello — until such a session comes
/// along and gets it (proof the file was guessable all along).
///
/// The file's header is stamped a little ahead of the clock, so that it is
/// neither older than either session (the daemon skips those) nor outside
/// the metadata window of either: only the hello gate keeps it from the
/// first session.
#[test]
fn hello_without_write_stays_unattributed() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let dir = w.pi_dir_for(&cwd);
    let events = w.events();
    let gated = w.run(&cwd, &["pi"]);
    w.shim(&gated, &json!({"op": "hello", "pid": 1, "runtime": "node"}));
    w.wait_record(&gated, "shim-active", |r| r["shim"]["active"] == true);

    let stamp = now_s() + 30;
    let stale = pi_file(&dir, "0000-stale", stamp);
    append(
        &stale,
        &pi_lines("0000-stale", &cwd, stamp, "an old chat", "ok"),
    );
    // Past the 5 s a preload agent has to say hello, plus guess rounds:
    // the daemon's own timers are what is tested, so real time passes.
    for i in 0..8 {
        std::thread::sleep(Duration::from_millis(1000));
        append(&stale, &pi_name(&format!("old chat {i}")));
    }
    let seen = events.records(&gated);
    assert!(!seen.is_empty(), "no events for {gated}");
    assert!(
        seen.iter().all(|r| r["conversation"].is_null()),
        "the hello-gated session was attributed: {seen:#?}"
    );
    assert!(!w.log().contains("FALLBACK"), "{}", w.log());

    let open = w.run(&cwd, &["pi"]);
    w.wait_holds(&open, &stale, "metadata");
    assert!(w.record(&gated, false).expect("record")["conversation"].is_null());
}

/// Rule 4: a dead runner releases its file; the dead record keeps the
/// file and the resume command, on disk too.
#[test]
fn a_dead_runner_releases_its_file_and_keeps_resume() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let dir = w.pi_dir_for(&cwd);
    let id = w.run(&cwd, &["pi"]);
    // Stamped a little ahead, so that it is not older than the newcomer
    // below (the daemon never guesses a file older than the session).
    let stamp = now_s() + 20;
    let file = pi_file(&dir, "0000-held", stamp);
    append(
        &file,
        &pi_lines("0000-held", &cwd, stamp, "work to resume", "ok"),
    );
    w.shim_write(&id, &file);
    w.wait_holds(&id, &file, "shim");

    w.tell(&id, &json!({"exit": 0}));
    let dead = w.wait_record_all(&id, true, "dead", |r| r["alive"] == false);
    assert!(
        w.record(&id, false).is_none(),
        "dead session still listed as live"
    );
    assert_eq!(dead["last_file"].as_str(), file.to_str());
    // The dead record keeps what it held at its end.
    assert_eq!(
        dead["conversation"]["file"].as_str(),
        file.to_str(),
        "{dead:#}"
    );
    assert_eq!(dead["conversation"]["source"], "shim");
    assert_eq!(dead["exit_code"], 0);
    assert_eq!(dead["title"], "work to resume");
    let resume = json!(["pi", "--session", file, "-c"]);
    assert_eq!(dead["resume_command"], resume);
    let saved = w.state().join("sessions").join(format!("{id}.json"));
    // Saved after it is listed: a listing never waits for the disk.
    support::wait_until(T, || saved.exists(), "the dead record on disk");
    let saved: Value =
        serde_json::from_slice(&std::fs::read(&saved).expect("dead record on disk")).expect("JSON");
    assert_eq!(saved["resume_command"], resume);

    // Released: a newcomer in the same project may now be given it.
    let next = w.run(&cwd, &["pi"]);
    w.wait_holds(&next, &file, "metadata");
}

/// Rule 6 (metadata): a session the preload cannot reach, next to one it
/// does, gets its own file by header cwd and creation time.
#[test]
fn a_session_without_shim_is_attributed_by_metadata() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let dir = w.pi_dir_for(&cwd);
    let node = support::node();
    let fake = w.env.fake_pi("pi_cjs.cjs");
    let list = w.env.root.join("list");
    let shimmed = w.run(
        &cwd,
        &[
            node.to_str().expect("utf-8"),
            fake.to_str().expect("utf-8"),
            "--list",
            list.to_str().expect("utf-8"),
            "--wait-stdin",
        ],
    );
    // The list is created before its line lands: wait for the line.
    let listed = || std::fs::read_to_string(&list).is_ok_and(|t| t.contains('\n'));
    support::wait_until(daemon::T, listed, "the fake pi to list its file");
    let written = std::fs::read_to_string(&list).expect("list");
    let shim_file = Path::new(written.lines().next().expect("one file"));
    let r = w.wait_holds(&shimmed, shim_file, "shim");
    assert_eq!(r["shim"]["active"], true);

    let plain = w.run(&cwd, &["pi"]);
    let now = now_s();
    let own = pi_file(&dir, "0000-plain", now);
    let data = pi_lines("0000-plain", &cwd, now, "plain python work", "ok");
    w.tell(&plain, &json!({"append": own, "data": data}));
    let r = w.wait_holds(&plain, &own, "metadata");
    assert_eq!(r["shim"]["active"], false);
    assert_eq!(r["title"], "plain python work");
    assert!(holds(
        &w.record(&shimmed, false).expect("record"),
        shim_file,
        "shim"
    ));
    assert!(w.log().contains("(FALLBACK) metadata"), "{}", w.log());
}

/// Rule 6 (scrollback): two sessions showing the same conversation, and
/// two files holding it, are a tie: both stay unattributed. Once each
/// screen shows text only its own file has, each gets its own file.
#[test]
fn identical_sessions_make_the_scrollback_guess_abstain() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let dir = w.pi_dir_for(&cwd);
    let events = w.events();
    let common = "please refactor the configuration loader so that every option is \
                  read once and validated before the server starts listening";
    let reply = "done: the loader now validates every option up front and reports \
                 all problems together with their source file and line";
    let say = json!({"say": format!("> {common}\n{reply}")}).to_string();
    // Both files exist before either session (one file alone would be a
    // fair pick). Their headers are stamped ten minutes ahead: outside the
    // metadata window, yet not older than the sessions (those are skipped).
    let stamp = now_s() + 600;
    let fa = pi_file(&dir, "0000-a", stamp);
    let fb = pi_file(&dir, "0001-b", stamp);
    append(&fa, &pi_lines("0000-a", &cwd, stamp, common, reply));
    append(&fb, &pi_lines("0001-b", &cwd, stamp, common, reply));
    let a = w.run(&cwd, &["pi", &say]);
    let b = w.run(&cwd, &["pi", &say]);
    w.wait_screen(&a, "stand-in ready");
    w.wait_screen(&b, "stand-in ready");
    // Changes without text: the guesses run again, on full screens.
    let quiet = format!("{}\n", json!({"type": "model_change", "provider": "fake"}));
    // Past the 5 s a preload agent has to say hello, plus guess rounds:
    // the daemon's own timers are what is tested, so real time passes.
    for _ in 0..8 {
        append(&fa, &quiet);
        append(&fb, &quiet);
        std::thread::sleep(Duration::from_millis(1000));
    }
    for id in [&a, &b] {
        let seen = events.records(id);
        assert!(!seen.is_empty(), "no events for {id}");
        assert!(
            seen.iter().all(|r| r["conversation"].is_null()),
            "a tie was guessed: {seen:#?}"
        );
    }
    assert!(!w.log().contains("FALLBACK"), "{}", w.log());

    let own = |x: &str| {
        format!(
            "session {x} went on to discuss the {x} migration plan, the rollback \
             checklist for {x}, and which dashboards the {x} team watches during deploys"
        )
    };
    for (id, file, x) in [(&a, &fa, "alpha"), (&b, &fb, "bravo")] {
        w.tell(id, &json!({"say": own(x)}));
        w.wait_screen(id, "dashboards");
        let line = json!({"type": "message", "id": "m3", "timestamp": daemon::iso(stamp),
            "message": {"role": "user", "content": [{"type": "text", "text": own(x)}]}});
        append(file, &format!("{line}\n"));
    }
    w.wait_holds(&a, &fa, "scrollback");
    w.wait_holds(&b, &fb, "scrollback");
}

/// A guess another session's authority withdrew was never
/// evidence: it is not the session's `last_file`, and its dead record
/// offers nothing to resume.
#[test]
fn a_withdrawn_guess_is_not_the_last_file() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let dir = w.pi_dir_for(&cwd);
    let guessed = w.run(&cwd, &["pi"]);
    let now = now_s();
    let file = pi_file(&dir, "0000-theirs", now);
    append(
        &file,
        &pi_lines("0000-theirs", &cwd, now, "their talk", "ok"),
    );
    w.wait_holds(&guessed, &file, "metadata");

    let owner = w.run(&cwd, &["pi"]);
    w.shim_write(&owner, &file);
    w.wait_holds(&owner, &file, "shim");
    let r = w.wait_record(&guessed, "the guess withdrawn", |r| {
        r["conversation"].is_null()
    });
    assert!(r["last_file"].is_null(), "{r:#}");
    assert!(r["resume_command"].is_null(), "{r:#}");

    w.tell(&guessed, &json!({"exit": 0}));
    let dead = w.wait_record_all(&guessed, true, "dead", |r| r["alive"] == false);
    assert!(dead["last_file"].is_null(), "{dead:#}");
    assert!(dead["conversation"].is_null(), "{dead:#}");
    assert!(dead["resume_command"].is_null(), "{dead:#}");
}
