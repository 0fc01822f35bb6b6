//! The preload end to end: fake pi agents (tests/agents) under node and bun,
//! run by `amux run`, and what the runner's `/events` stream says about them
//! (amux-protocol(7), PRELOAD CONTRACT).
//!
//! To see every live event, a test must subscribe before the agent writes.
//! The agents start at once, so the user's own NODE_OPTIONS/BUN_OPTIONS
//! carry a tiny gate preload that blocks until a file appears; the test
//! subscribes, then opens the gate. That also checks that the user's own
//! options survive alongside the injected hook.

use crate::support::http::{self, Sse};
use crate::support::{self, TestEnv};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

const GATE: &str = r#"const f = process.env.AMUX_TEST_GATE;
if (f) {
  const fs = require("fs");
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (!fs.existsSync(f)) Atomics.wait(cell, 0, 0, 10);
}
"#;

#[derive(Clone, Copy, Debug)]
enum Agent {
    NodeEsm,
    NodeCjs,
    BunEsm,
    BunCjs,
}

impl Agent {
    fn argv(self, env: &TestEnv) -> Vec<PathBuf> {
        let runtime = match self {
            Agent::NodeEsm | Agent::NodeCjs => support::node(),
            Agent::BunEsm | Agent::BunCjs => support::bun(),
        };
        let file = match self {
            Agent::NodeEsm | Agent::BunEsm => "pi_esm.mjs",
            Agent::NodeCjs | Agent::BunCjs => "pi_cjs.cjs",
        };
        vec![runtime, env.fake_pi(file)]
    }

    fn is_bun(self) -> bool {
        matches!(self, Agent::BunEsm | Agent::BunCjs)
    }
}

/// One gated session: the runner's id, a subscriber connected before the
/// agent could write, and the file where the agent lists its session files.
struct Gated {
    id: String,
    sse: Sse,
    list: PathBuf,
    go: PathBuf,
}

/// The user's own preload options: the gate, in both runtimes' variables.
fn user_options(env: &TestEnv) -> (String, String) {
    let gate = env.root.join("gate.cjs");
    std::fs::write(&gate, GATE).expect("write gate");
    (
        format!("--require {}", gate.display()),
        format!("--preload {}", gate.display()),
    )
}

fn start_gated(env: &TestEnv, agent: Agent, flags: &[&str]) -> Gated {
    let (node_options, bun_options) = user_options(env);
    let go = env.root.join("go");
    let list = env.root.join("list");
    let mut cmd = env.amux(["run", "-d", "--"]);
    cmd.args(agent.argv(env))
        .args(flags)
        .arg("--list")
        .arg(&list);
    cmd.env("NODE_OPTIONS", node_options)
        .env("BUN_OPTIONS", bun_options)
        .env("AMUX_TEST_GATE", &go);
    let id = detached(cmd);
    let mut sse = Sse::connect(&env.sock(&id));
    let meta = sse.next();
    assert_eq!(meta.name, "meta");
    assert!(
        meta.data["session_file"].is_null(),
        "attributed before the gate opened: {}",
        meta.data
    );
    Gated { id, sse, list, go }
}

fn open_gate(g: &Gated) {
    std::fs::write(&g.go, "").expect("open the gate");
}

fn detached(mut cmd: Command) -> String {
    cmd.stderr(Stdio::inherit());
    let out = support::output_within(cmd, T);
    assert!(out.status.success(), "amux run -d: {:?}", out.status);
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

fn listed(list: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(list).unwrap_or_else(|e| panic!("{}: {e}", list.display()));
    text.lines().map(PathBuf::from).collect()
}

fn session_files(events: &[http::Event]) -> Vec<PathBuf> {
    events
        .iter()
        .filter(|e| e.name == "session_file")
        .map(|e| PathBuf::from(e.data["path"].as_str().expect("path is a string")))
        .collect()
}

fn attributes_once_despite_appends(agent: Agent) {
    let env = TestEnv::new();
    let mut g = start_gated(&env, agent, &["--appends", "1000"]);
    open_gate(&g);
    let events = g.sse.rest(T);
    assert_eq!(
        http::names(&events),
        ["shim", "session_file", "exit"],
        "{events:?}"
    );
    let shim = &events.iter().find(|e| e.name == "shim").expect("shim").data;
    assert_eq!(shim["runtime"], if agent.is_bun() { "bun" } else { "node" });
    let files = listed(&g.list);
    assert_eq!(files.len(), 1);
    assert_eq!(session_files(&events), files);
    let lines = std::fs::read_to_string(&files[0])
        .expect("session file")
        .lines()
        .count();
    assert_eq!(lines, 1003, "header, user, assistant and 1000 appends");
    assert_eq!(
        events.last().map(|e| e.data["exit_code"].clone()),
        Some(0.into())
    );
}

fn rebind_and_back(agent: Agent) {
    let env = TestEnv::new();
    let mut g = start_gated(&env, agent, &["--rebind"]);
    open_gate(&g);
    let events = g.sse.rest(T);
    let files = listed(&g.list);
    assert_eq!(files.len(), 3, "A, B, then A again");
    assert_ne!(files[0], files[1]);
    assert_eq!(files[0], files[2]);
    assert_eq!(session_files(&events), files, "{events:?}");
}

fn exit_right_after_first_write(agent: Agent) {
    let env = TestEnv::new();
    let mut g = start_gated(&env, agent, &["--exit-now"]);
    open_gate(&g);
    let events = g.sse.rest(T);
    let written = support::jsonl_files(&env.pi_sessions());
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(session_files(&events), written, "{events:?}");
    assert_eq!(http::names(&events), ["shim", "session_file", "exit"]);
}

fn project_file_is_not_a_session(agent: Agent) {
    let env = TestEnv::new();
    let mut g = start_gated(&env, agent, &["--project-file", "--wait-stdin"]);
    open_gate(&g);
    let sock = env.sock(&g.id);
    let first = g.sse.next_named("session_file");
    let project = env.work().join("project/data.jsonl");
    support::wait_until(T, || g.list.exists(), "the agent's list of files");
    assert!(project.exists(), "the agent wrote no project file");
    // The hook's report of it (if any) came before the list; and the
    // runner must refuse it when told directly too.
    let body = serde_json::json!({"op": "write", "pid": 1, "path": project}).to_string();
    assert_eq!(
        http::post(&sock, "/shim/event", body.as_bytes()).status,
        204
    );
    let meta = http::meta(&sock);
    assert_eq!(meta["session_file"], first.data["path"], "{meta}");
    assert_eq!(http::post(&sock, "/input", b"\r").status, 204);
    let events = g.sse.rest(T);
    assert_eq!(session_files(&events), Vec::<PathBuf>::new(), "{events:?}");
    assert_eq!(
        PathBuf::from(first.data["path"].as_str().expect("path")),
        listed(&g.list)[0]
    );
}

fn replay_to_a_late_subscriber(agent: Agent) {
    let env = TestEnv::new();
    let mut g = start_gated(&env, agent, &["--wait-stdin"]);
    open_gate(&g);
    let first = g.sse.next_named("session_file");
    let sock = env.sock(&g.id);
    let mut late = Sse::connect(&sock);
    let replay: Vec<_> = (0..3).map(|_| late.next()).collect();
    assert_eq!(
        http::names(&replay),
        ["meta", "shim", "session_file"],
        "{replay:?}"
    );
    assert_eq!(replay[0].data["session_file"], first.data["path"]);
    assert_eq!(replay[0].data["shim"]["active"], true);
    assert_eq!(replay[2].data, first.data);
    assert_eq!(late.next().name, "ready", "ready ends the replay");
    assert_eq!(http::post(&sock, "/input", b"\r").status, 204);
    assert_eq!(http::names(&late.rest(T)), ["exit"]);
}

/// `node -e` children of the agent: the user's options, no runner socket.
fn children_see_the_users_environment(agent: Agent) {
    let env = TestEnv::new();
    let (node_options, bun_options) = user_options(&env);
    let go = env.root.join("go");
    std::fs::write(&go, "").expect("gate open");
    let mut cmd = env.amux(["run", "--"]);
    cmd.args(agent.argv(&env))
        .args(["--spawn-child", "--spawn-self"]);
    cmd.env("NODE_OPTIONS", &node_options)
        .env("BUN_OPTIONS", &bun_options)
        .env("AMUX_TEST_GATE", &go);
    let out = support::output_within(cmd, T);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let children: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| l.starts_with("{\"child\""))
        .map(|l| serde_json::from_str(l).expect("child JSON"))
        .collect();
    assert_eq!(children.len(), 2, "{text}");
    for child in &children {
        assert_eq!(child["NODE_OPTIONS"], node_options.as_str(), "{child}");
        assert_eq!(child["BUN_OPTIONS"], bun_options.as_str(), "{child}");
        assert_eq!(child["sock"], false, "{child}");
        assert_eq!(child["fifo"], false, "{child}");
    }
}

fn run_piped(mut cmd: Command) -> (Vec<u8>, Option<i32>) {
    cmd.stderr(Stdio::null());
    let out = support::output_within(cmd, T);
    (out.stdout, out.status.code())
}

fn output_is_unchanged_by_the_preload(agent: Agent) {
    let env = TestEnv::new();
    let flags = ["--rebind", "--appends", "5", "--exit-code", "3"];
    let mut via_amux = env.amux(["run", "--"]);
    via_amux.args(agent.argv(&env)).args(flags);
    let argv = agent.argv(&env);
    let plain = env.command(&argv[0], &argv[1..]);
    let mut plain = plain;
    plain.args(flags);
    let (amux_out, amux_code) = run_piped(via_amux);
    let (plain_out, plain_code) = run_piped(plain);
    assert_eq!(plain_code, Some(3));
    assert_eq!(amux_code, plain_code);
    assert!(
        plain_out.starts_with(b"agent done:"),
        "{:?}",
        String::from_utf8_lossy(&plain_out)
    );
    assert_eq!(
        String::from_utf8_lossy(&amux_out),
        String::from_utf8_lossy(&plain_out)
    );
    assert_eq!(amux_out, plain_out);
}

/// The hook loaded by hand with a socket that does not exist: the agent
/// must behave exactly as without it. Its `node -e` child shows the hook
/// did load (it removed `AMUX_RUNNER_SOCK` from the environment).
fn no_runner_runs_normally(agent: Agent) {
    let env = TestEnv::new();
    let hook = support::manifest_dir().join("hook/hook.mjs");
    let flags = ["--rebind", "--spawn-child", "--exit-code", "5"];
    let argv = agent.argv(&env);
    let mut hooked = env.command(&argv[0], &argv[1..]);
    hooked
        .args(flags)
        .env(
            "NODE_OPTIONS",
            format!("--import file://{}", hook.display()),
        )
        .env("BUN_OPTIONS", format!("--preload {}", hook.display()))
        .env("AMUX_RUNNER_SOCK", env.root.join("nowhere.sock"))
        .env("AMUX_HOOK_FIFO", env.root.join("nowhere.fifo"));
    let mut plain = env.command(&argv[0], &argv[1..]);
    plain.args(flags);
    let (hooked_out, hooked_code) = run_piped(hooked);
    let (plain_out, plain_code) = run_piped(plain);
    assert_eq!(plain_code, Some(5));
    let text = String::from_utf8_lossy(&hooked_out).into_owned();
    assert!(
        text.contains("\"sock\":false"),
        "the hook did not load: {text}"
    );
    assert_eq!((hooked_out, hooked_code), (plain_out, plain_code));
}

macro_rules! for_each_agent {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[test]
            fn node_esm() {
                super::$scenario(super::Agent::NodeEsm)
            }
            #[test]
            fn node_cjs() {
                super::$scenario(super::Agent::NodeCjs)
            }
            #[test]
            fn bun_esm() {
                super::$scenario(super::Agent::BunEsm)
            }
            #[test]
            fn bun_cjs() {
                super::$scenario(super::Agent::BunCjs)
            }
        }
    )*};
}

for_each_agent!(
    attributes_once_despite_appends,
    rebind_and_back,
    exit_right_after_first_write,
    project_file_is_not_a_session,
    replay_to_a_late_subscriber,
    children_see_the_users_environment,
    output_is_unchanged_by_the_preload,
    no_runner_runs_normally,
);

/// An agent that re-executes itself the way Gemini CLI does: a first
/// process that only supervises a copy of itself, marked with
/// `GEMINI_CLI_NO_RELAUNCH=true`, which does the work.
const RELAUNCHER: &str = r#"import { spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
const [chats, report] = process.argv.slice(2);
if (!process.env.GEMINI_CLI_NO_RELAUNCH) {
  const env = { ...process.env, GEMINI_CLI_NO_RELAUNCH: "true" };
  const r = spawnSync(process.execPath, process.argv.slice(1), { env, stdio: "inherit" });
  process.exit(r.status ?? 1);
}
mkdirSync(chats, { recursive: true });
appendFileSync(`${chats}/session-2026-12-06T00-00-12345678.jsonl`, "{}\n");
const seen = spawnSync(process.execPath, ["-e", `process.stdout.write(JSON.stringify({
  sock: "AMUX_RUNNER_SOCK" in process.env, fifo: "AMUX_HOOK_FIFO" in process.env,
  relaunch: "AMUX_HOOK_RELAUNCH" in process.env, node_options: process.env.NODE_OPTIONS ?? null }))`]);
writeFileSync(report, seen.stdout);
"#;

/// The preload hands itself on to the copy such an agent re-executes
/// (the runner names its mark, `AMUX_HOOK_RELAUNCH`): the copy's writes
/// name the conversation; the copy's own children see the user's
/// environment, as any agent's do.
#[test]
fn a_relaunched_agent_is_armed_and_its_children_are_not() {
    let env = TestEnv::new();
    // Named as Gemini's package names its script, so amux knows it.
    let dir = env.root.join("gemini-cli");
    std::fs::create_dir_all(&dir).expect("agent dir");
    let script = dir.join("relaunch.mjs");
    std::fs::write(&script, RELAUNCHER).expect("write the agent");
    let home = env.root.join("ghome");
    let chats = home.join(".gemini/tmp/proj/chats");
    let report = env.root.join("child.json");
    let mut cmd = env.amux(["run", "-d", "--"]);
    cmd.arg(support::node())
        .arg(&script)
        .arg(&chats)
        .arg(&report);
    cmd.env("GEMINI_CLI_HOME", &home)
        .env("NODE_OPTIONS", "--no-warnings");
    let id = detached(cmd);
    let mut sse = Sse::connect(&env.sock(&id));
    let file = sse.next_named("session_file");
    let want = chats.join("session-2026-12-06T00-00-12345678.jsonl");
    assert_eq!(file.data["path"], want.to_str().unwrap_or_default());
    sse.next_named("exit");
    let seen = std::fs::read_to_string(&report).expect("the child's report");
    let seen: serde_json::Value = serde_json::from_str(&seen).expect("child JSON");
    assert_eq!(
        seen,
        serde_json::json!({"sock": false, "fifo": false, "relaunch": false,
            "node_options": "--no-warnings"})
    );
}
