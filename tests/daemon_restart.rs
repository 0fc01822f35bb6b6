//! A daemon killed with SIGKILL and started again re-learns every live
//! attribution from the runners' replay, not from disk: the
//! state directory holds only the log and dead records.

use crate::support;
use crate::support::daemon::{self, append, holds, now_s, pi_file, pi_lines, World};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn restart_relearns_three_shim_attributions_from_the_runners() {
    let mut w = World::new();
    w.start_daemon();
    let node = support::node();
    let fake = w.env.fake_pi("pi_cjs.cjs");
    let mut live = Vec::new();
    for n in 0..3 {
        let cwd = w.cwd(&format!("p{n}"));
        let list = w.env.root.join(format!("list{n}"));
        let id = w.run(
            &cwd,
            &[
                node.to_str().expect("utf-8"),
                fake.to_str().expect("utf-8"),
                "--list",
                list.to_str().expect("utf-8"),
                "--wait-stdin",
            ],
        );
        live.push((id, list));
    }
    let live: Vec<(String, PathBuf)> = live
        .into_iter()
        .map(|(id, list)| {
            // The list is created before its line lands: wait for the line.
            let listed = || std::fs::read_to_string(&list).is_ok_and(|t| t.contains('\n'));
            support::wait_until(daemon::T, listed, "the fake pi to list its file");
            let text = std::fs::read_to_string(&list).expect("list");
            let file = PathBuf::from(text.lines().next().expect("a file"));
            w.wait_holds(&id, &file, "shim");
            (id, file)
        })
        .collect();

    // One dead session, so the state directory has a dead record to keep.
    let cwd = w.cwd("gone");
    let dead = w.run(&cwd, &["pi"]);
    let now = now_s();
    let dead_file = pi_file(&w.pi_dir_for(&cwd), "0000-gone", now);
    append(
        &dead_file,
        &pi_lines("0000-gone", &cwd, now, "finished work", "ok"),
    );
    w.shim_write(&dead, &dead_file);
    w.wait_holds(&dead, &dead_file, "shim");
    w.tell(&dead, &json!({"exit": 0}));
    w.wait_record_all(&dead, true, "dead", |r| r["alive"] == false);

    let since_before: Vec<Value> = (live.iter())
        .map(|(id, _)| w.record(id, false).expect("live")["conversation"]["since"].clone())
        .collect();
    // At least a second on: a `since` the new daemon made up would differ.
    std::thread::sleep(Duration::from_millis(1100));
    w.kill_daemon();
    let start = Instant::now();
    w.start_daemon();
    let all_back = || {
        let records = w.ls(false);
        live.iter().all(|(id, file)| {
            records
                .iter()
                .any(|r| r["id"] == id.as_str() && holds(r, file, "shim"))
        })
    };
    support::wait_until(
        Duration::from_secs(10),
        all_back,
        "all three attributions back",
    );
    let took = start.elapsed();
    println!("daemon restart: all three attributions back after {took:?} (target 1 s)");
    let since_after: Vec<Value> = (live.iter())
        .map(|(id, _)| w.record(id, false).expect("live")["conversation"]["since"].clone())
        .collect();
    assert_eq!(
        since_after, since_before,
        "conversation.since survives a restart"
    );

    let records = w.ls(true);
    assert_eq!(records.len(), 4, "{records:#?}");
    let gone = records
        .iter()
        .find(|r| r["id"] == dead.as_str())
        .expect("dead record");
    assert_eq!(gone["alive"], false);
    assert_eq!(
        gone["resume_command"],
        json!(["pi", "--session", dead_file, "-c"])
    );

    // Nothing on disk says who holds what: only the log and dead records.
    let state = w.state();
    for path in files_under(&state) {
        let rel = path.strip_prefix(&state).expect("under state");
        if rel == Path::new("daemon.log") {
            continue;
        }
        assert_eq!(
            rel,
            Path::new("sessions").join(format!("{dead}.json")),
            "unexpected state file {}",
            path.display()
        );
    }
}
