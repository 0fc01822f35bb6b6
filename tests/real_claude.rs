//! The real Claude Code 2.1.330 (pinned by .ci/setup-agents) under `amux
//! run -d`, interactive, against the fake Anthropic API of
//! `support::anthropic`. Claude runs with
//! `--permission-mode default`, so the model's Bash call opens its
//! permission dialog; Claude then writes nothing to its transcript and
//! only says `"status":"waiting"` in its pidfile
//! (`$CLAUDE_CONFIG_DIR/sessions/<pid>.json`).
//!
//! The test watches that pidfile itself (a thread reading it every 2 ms)
//! and polls `amux ls --json`: the record must be `waiting` for a Bash
//! permission naming the command within `WAITING` of the pidfile saying
//! so. Answering `1` makes it `working`, then `idle` with the reply
//! unread; a second dialog dismissed with Esc leaves it `idle`; `amux
//! wait --until waiting --json`, started before the prompt, prints the
//! question. Afterwards `$CLAUDE_CONFIG_DIR` and the project hold nothing
//! amux wrote: no settings layer, nothing naming the session or the
//! runtime directory.
//!
//! The config dir is the test's own, seeded with what 2.1.330 needs to
//! skip its dialogs (onboarding done, the API key's suffix approved, the
//! project trusted); telemetry, updates and other traffic are off, so the
//! only server Claude talks to is the fake one.

use crate::regress_pi;
use crate::support::anthropic::FakeAnthropic;
use crate::support::{self, http, TestEnv};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);
/// The tests take turns: each runs a Claude (a large process) and its
/// timings must not suffer another's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
/// How soon after Claude's pidfile says `waiting` the record must: its
/// dialog takes keys 700 ms after it asks (the adapter's `Grace`), and
/// the record says `waiting` from then.
const WAITING: Duration = Duration::from_millis(1200);
const REPLY: &str = "The file is there now.";
/// How long the fake model takes over its reply after the tool ran: the
/// `working` between the answer and the reply must be visible to `ls`.
const REPLY_DELAY: Duration = Duration::from_millis(1500);
pub const API_KEY: &str = "sk-ant-api03-fake-test-0123456789abcdefghij";

/// One test's world: the environment, the fake API, Claude's config dir.
struct Real {
    env: TestEnv,
    api: FakeAnthropic,
    config: PathBuf,
    cwd: PathBuf,
}

impl Real {
    fn new() -> Real {
        // Panics with "run ./.ci/setup-agents" when Claude is not installed.
        support::claude();
        let env = TestEnv::new();
        let api = FakeAnthropic::start(REPLY, REPLY_DELAY);
        let config = env.root.join("claude");
        let cwd = env.work().canonicalize().expect("the work dir");
        std::fs::create_dir(&config).expect("the config dir");
        seed(&config, &cwd);
        Real {
            env,
            api,
            config,
            cwd,
        }
    }

    /// `amux ARGS…` (allowed to start the daemon) with Claude's environment.
    fn amux<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = regress_pi::amux(&self.env, args);
        cmd.env("CLAUDE_CONFIG_DIR", &self.config)
            .env("ANTHROPIC_BASE_URL", self.api.base_url())
            .env("ANTHROPIC_API_KEY", API_KEY)
            .env_remove("ANTHROPIC_AUTH_TOKEN")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            .current_dir(&self.cwd);
        cmd
    }

    fn ok<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> String {
        let mut cmd = self.amux(args);
        cmd.stderr(Stdio::piped());
        let o = support::output_within(cmd, T);
        assert!(o.status.success(), "amux: {o:?}\n{}", self.debug(None));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    fn record(&self, id: &str) -> Option<Value> {
        let list: Vec<Value> =
            serde_json::from_str(&self.ok(&["ls", "--json"])).expect("ls --json prints an array");
        list.into_iter().find(|r| r["id"] == id)
    }

    /// Polls `ls --json` until `id`'s record satisfies `pred`: the record
    /// and the moment the `ls` that showed it returned.
    fn wait_rec(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> (Value, Instant) {
        let deadline = Instant::now() + T;
        loop {
            let r = self.record(id);
            let now = Instant::now();
            if let Some(r) = r.as_ref().filter(|r| pred(r)) {
                return (r.clone(), now);
            }
            assert!(
                now < deadline,
                "{id} not {what} within {T:?}; last record: {r:#?}\n{}",
                self.debug(Some(id))
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn screen(&self, id: &str) -> String {
        http::get(&self.env.sock(id), "/scrollback/text").text()
    }

    /// Waits until `needle` is on the screen, spaces ignored: Claude moves
    /// the cursor over a blank where text would have a space.
    fn wait_screen(&self, id: &str, needle: &str) {
        let deadline = Instant::now() + T;
        let needle = needle.replace(' ', "");
        while !self.screen(id).replace(' ', "").contains(&needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} on {id}'s screen\n{}",
                self.debug(Some(id))
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The screen, the fake API's requests and the daemon's log.
    fn debug(&self, id: Option<&str>) -> String {
        let screen = id.map(|id| self.screen(id)).unwrap_or_default();
        let log = std::fs::read_to_string(self.env.root.join("state/amux/daemon.log"));
        format!(
            "screen:\n{screen}\napi:\n{}\ndaemon log:\n{}",
            self.api.log().join("\n"),
            log.unwrap_or_default()
        )
    }

    /// `amux run -d -- claude --permission-mode default`, once its prompt is
    /// up (keys typed before are lost).
    fn start(&self) -> String {
        let claude = support::claude().display().to_string();
        let id = self.ok(&[
            "run",
            "-d",
            "--size",
            "120x40",
            "--",
            &claude,
            "--permission-mode",
            "default",
        ]);
        self.wait_screen(&id, "for shortcuts");
        id
    }

    /// Types `please touch <cwd>/NAME`, waits until Claude shows it, then
    /// presses Enter in a write of its own (a burst ending in Enter reads
    /// as a paste): the file the model's Bash call will touch.
    fn prompt_touch(&self, id: &str, name: &str) -> PathBuf {
        let target = self.cwd.join(name);
        self.ok(&["send", id, &format!("please touch {}", target.display())]);
        self.wait_screen(id, name);
        std::thread::sleep(Duration::from_millis(200));
        self.ok(&["send", id, "", "--enter"]);
        target
    }
}

/// `.claude.json` as 2.1.330 needs it to start straight at its prompt:
/// onboarding done, our API key approved (by its last 20 characters), the
/// project's trust dialog accepted.
pub fn seed(config: &Path, cwd: &Path) {
    let suffix = &API_KEY[API_KEY.len() - 20..];
    let mut projects = serde_json::Map::new();
    projects.insert(
        cwd.display().to_string(),
        json!({"hasTrustDialogAccepted": true, "allowedTools": []}),
    );
    let seed = json!({"hasCompletedOnboarding": true, "theme": "dark",
        "customApiKeyResponses": {"approved": [suffix], "rejected": []},
        "projects": projects});
    std::fs::write(config.join(".claude.json"), seed.to_string()).expect(".claude.json");
}

/// A thread reading Claude's pidfile every 2 ms, keeping each change of
/// its `status` with the moment it was seen.
struct PidWatch {
    seen: Arc<Mutex<Vec<(Instant, String)>>>,
    stop: Arc<AtomicBool>,
}

impl PidWatch {
    fn start(pidfile: PathBuf) -> PidWatch {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, flag) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut last = None;
            while !flag.load(Ordering::Relaxed) {
                let status = std::fs::read(&pidfile)
                    .ok()
                    .and_then(|data| serde_json::from_slice::<Value>(&data).ok())
                    .and_then(|v| v["status"].as_str().map(str::to_owned));
                if status.is_some() && status != last {
                    let now = Instant::now();
                    last = status.clone();
                    sink.lock()
                        .expect("lock")
                        .push((now, status.unwrap_or_default()));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        PidWatch { seen, stop }
    }

    /// The pidfile's `status` as last seen.
    fn now(&self) -> Option<String> {
        let seen = self.seen.lock().expect("lock");
        seen.last().map(|(_, s)| s.clone())
    }

    fn waitings(&self) -> Vec<Instant> {
        let seen = self.seen.lock().expect("lock");
        seen.iter()
            .filter(|(_, s)| s == "waiting")
            .map(|(at, _)| *at)
            .collect()
    }

    /// When the pidfile said `waiting` for the `n`th time (0-based),
    /// waiting a little: the daemon's inotify may beat our polling.
    fn nth_waiting(&self, n: usize) -> Instant {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if let Some(at) = self.waitings().get(n) {
                return *at;
            }
            let seen = self.seen.lock().expect("lock").clone();
            assert!(
                Instant::now() < deadline,
                "the pidfile never said waiting ({n}): {seen:?}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for PidWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn waiting_bash(r: &Value) -> bool {
    r["status"]["state"] == "waiting" && r["status"]["waiting"]["tool"] == "Bash"
}

/// Asserts the record asks permission for `touch TARGET`.
fn assert_asks(r: &Value, target: &Path) {
    let asked = &r["status"]["waiting"];
    let command = format!("touch {}", target.display());
    assert_eq!(
        (&asked["kind"], &asked["tool"], &asked["text"]),
        (&json!("permission"), &json!("Bash"), &json!(command)),
        "{r:#}"
    );
    // Its `PermissionRequest` hook says what is asked; the pidfile's
    // `waiting` after it says less and changes nothing.
    assert_eq!(r["status"]["source"], "hook", "{r:#}");
    assert_eq!(r["status"]["working"], false, "{r:#}");
}

/// From the prompt's Enter to the record waiting for `touch TARGET`: how
/// long after the pidfile said `waiting` (its `n`th time) `ls` showed it.
fn until_waiting(real: &Real, watch: &PidWatch, id: &str, n: usize, target: &Path) -> Duration {
    let (r, shown) = real.wait_rec(id, "waiting for Bash", waiting_bash);
    let said = watch.nth_waiting(n);
    assert_asks(&r, target);
    shown.saturating_duration_since(said)
}

/// Answers the open dialog with `key` through `amux send`, once, the
/// moment the record says `waiting` (issue 18's `wait --until waiting &&
/// send`): Claude drops keys pressed in a dialog's first moments, and
/// amux reports `waiting` only once its dialog takes keys.
fn answer(real: &Real, watch: &PidWatch, id: &str, key: &str) {
    real.ok(&["send", id, key]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if watch.now().as_deref() != Some("waiting") {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "Claude never took {key:?}, sent when amux said waiting\n{}",
        real.debug(Some(id))
    );
}

/// `amux wait ID --until waiting --json`, running in the background.
fn spawn_wait(real: &Real, id: &str) -> Child {
    real.amux(&[
        "wait",
        id,
        "--until",
        "waiting",
        "--json",
        "--timeout",
        "30",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn amux wait")
}

fn finish(mut child: Child) -> Output {
    let status = support::wait_child(&mut child, T);
    let mut out = Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    use std::io::Read;
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_end(&mut out.stdout);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_end(&mut out.stderr);
    }
    out
}

#[test]
fn permission_prompts_are_waiting_then_answered_or_dismissed() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let real = Real::new();
    let id = real.start();
    let r = real.record(&id).expect("the session's record");
    assert_eq!(r["kind"], "claude", "{r:#}");
    let pid = r["pid"].as_u64().expect("the agent's pid");
    let watch = PidWatch::start(real.config.join(format!("sessions/{pid}.json")));

    // The first dialog: waiting, and `wait --until waiting` says so at once.
    let first = real.prompt_touch(&id, "first.txt");
    let took = until_waiting(&real, &watch, &id, 0, &first);
    println!("first dialog: pidfile waiting -> record waiting in {took:?}");
    let o = support::output_within(real.amux(&["wait", &id, "--until", "waiting", "--json"]), T);
    assert!(o.status.success(), "wait --until waiting: {o:?}");
    let printed: Value = serde_json::from_slice(&o.stdout).expect("wait --json prints the record");
    assert_asks(&printed, &first);
    // `amux explain` says its hook asked (shown by the timer once the
    // dialog takes keys).
    let e = support::explain(real.amux(&["explain", &id, "--json"]));
    let change = support::change_to(&e, "waiting").unwrap_or_else(|| panic!("{e:#}"));
    let by_hook = change["source"] == "hook"
        && ["hook", "timer", "agent-pidfile", "file"]
            .contains(&change["signal"].as_str().unwrap_or(""));
    assert!(by_hook, "{e:#}");

    // Answered `1` (Yes): working until the reply, then idle and unread.
    answer(&real, &watch, &id, "1");
    real.wait_rec(&id, "working after the answer", |r| {
        r["status"]["state"] == "working"
    });
    let (r, _) = real.wait_rec(&id, "idle after the reply", |r| {
        r["status"]["state"] == "idle" && r["unread"] == true
    });
    assert!(r["status"]["waiting"].is_null(), "{r:#}");
    assert!(first.exists(), "Claude did not run the approved touch");
    real.wait_screen(&id, REPLY);

    // The second dialog, a `wait` started before it; dismissed with Esc.
    let waiter = spawn_wait(&real, &id);
    let second = real.prompt_touch(&id, "second.txt");
    let took2 = until_waiting(&real, &watch, &id, 1, &second);
    println!("second dialog: pidfile waiting -> record waiting in {took2:?}");
    let o = finish(waiter);
    assert!(o.status.success(), "wait --until waiting: {o:?}");
    let printed: Value = serde_json::from_slice(&o.stdout).expect("wait --json prints the record");
    assert_asks(&printed, &second);
    answer(&real, &watch, &id, "\u{1b}");
    let (r, _) = real.wait_rec(&id, "idle after Esc", |r| r["status"]["state"] == "idle");
    assert!(r["status"]["waiting"].is_null(), "{r:#}");
    assert!(!second.exists(), "the dismissed touch ran");

    for took in [took, took2] {
        assert!(took < WAITING, "the record lagged the pidfile by {took:?}");
    }
    assert_nothing_of_ours(&real, &id);
}

/// `amux answer`: `yes` runs the command and `wait` after it waits for the
/// turn it resumed; `no` denies it; on an idle session, exit 1 (that
/// nothing is typed then is `answer`'s stand-in test's).
#[test]
fn amux_answer_yes_runs_no_denies() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let real = Real::new();
    let id = real.start();
    let answer = |word: &str| {
        let mut cmd = real.amux(&["answer", &id, word]);
        cmd.stderr(Stdio::piped());
        support::output_within(cmd, T)
    };

    let first = real.prompt_touch(&id, "yes.txt");
    real.wait_rec(&id, "waiting for Bash", waiting_bash);
    let o = answer("yes");
    assert!(
        o.status.success(),
        "answer yes: {o:?}\n{}",
        real.debug(Some(&id))
    );
    let o = support::output_within(real.amux(&["wait", &id, "--json"]), T);
    assert!(o.status.success(), "wait after the answer: {o:?}");
    let r: Value = serde_json::from_slice(&o.stdout).expect("wait --json prints the record");
    assert_eq!(r["status"]["state"], "idle", "{r:#}");
    assert!(
        first.exists(),
        "yes did not run the touch\n{}",
        real.debug(Some(&id))
    );

    let second = real.prompt_touch(&id, "no.txt");
    real.wait_rec(&id, "waiting for Bash", waiting_bash);
    let o = answer("no");
    assert!(o.status.success(), "answer no: {o:?}");
    let (r, _) = real.wait_rec(&id, "idle after no", |r| r["status"]["state"] == "idle");
    assert!(r["status"]["waiting"].is_null(), "{r:#}");
    assert!(!second.exists(), "no ran the touch");

    let o = answer("yes");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is not waiting"), "{err}");
}

/// Nothing amux wrote is in Claude's config dir or the project: no
/// settings layer (where hooks would go), and no file naming the session
/// id, the runtime directory (a runner's socket) or an `AMUX_` variable.
/// Claude's own files are there (the pidfile, the transcript), so the
/// walk sees the real tree.
fn assert_nothing_of_ours(real: &Real, id: &str) {
    let runtime = real.env.runtime().display().to_string();
    let mut files = Vec::new();
    walk(&real.config, &mut files);
    walk(&real.cwd, &mut files);
    let transcripts = files.iter().filter(|f| {
        f.extension().is_some_and(|e| e == "jsonl") && f.starts_with(real.config.join("projects"))
    });
    assert_eq!(transcripts.count(), 1, "{files:#?}");
    for file in &files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            !name.starts_with("settings"),
            "a settings file appeared: {}",
            file.display()
        );
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap_or_default()).into_owned();
        for ours in [id, runtime.as_str(), "AMUX_"] {
            assert!(
                !text.contains(ours),
                "{} mentions {ours:?}:\n{text}",
                file.display()
            );
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}
