//! The adapters seen through `Kind`: detection, roots, acceptance,
//! resume, incremental reading — and a throw-away adapter walked through
//! all of it, to keep "a new agent is one file" true.

use super::*;
use fixture::argv;

#[test]
fn detect_table() {
    #[allow(non_snake_case)]
    let (Pi, Claude, Codex, Shell) = (Kind::PI, Kind::CLAUDE, Kind::CODEX, Kind::SHELL);
    for (cmd, want) in [
        ("pi", Pi),
        ("/opt/x/pi -c", Pi),
        ("pi-coding-agent", Pi),
        ("node /x/node_modules/.bin/pi", Pi),
        ("node /x/pi-coding-agent/dist/cli.js", Pi),
        ("bun /x/@mariozechner/pi-coding-agent/dist/cli.js", Pi),
        ("bun /x/cli.js", Shell),
        ("npx @mariozechner/pi-coding-agent", Pi),
        ("claude --resume abc", Claude),
        ("codex exec hi", Codex),
        ("bash", Shell),
        ("/usr/bin/fish", Shell),
        ("make test", Shell),
        ("", Shell),
    ] {
        assert_eq!(Kind::detect(&argv(cmd)), want, "{cmd:?}");
    }
    assert!(
        Pi.uses_preload()
            && !Claude.uses_preload()
            && !Codex.uses_preload()
            && !Shell.uses_preload()
    );
    assert_eq!(Codex.as_str(), "codex");
    assert_eq!(Claude.as_str(), "claude");
}

#[test]
fn session_roots_follow_env_and_flags() {
    let env_of = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let home = env_of(&[("HOME", "/h")]);
    let custom = env_of(&[
        ("HOME", "/h"),
        ("PI_CODING_AGENT_DIR", "/a"),
        ("CLAUDE_CONFIG_DIR", "/c"),
        ("CODEX_HOME", "/x"),
    ]);
    let flat = env_of(&[("HOME", "/h"), ("PI_CODING_AGENT_SESSION_DIR", "/flat")]);
    let p = |s: &str| vec![PathBuf::from(s)];
    for (kind, cmd, env, want) in [
        (
            Kind::PI,
            "pi",
            &home as &dyn Fn(&str) -> Option<String>,
            p("/h/.pi/agent/sessions"),
        ),
        (Kind::PI, "pi", &custom, p("/a/sessions")),
        (Kind::PI, "pi", &flat, p("/flat")),
        (
            Kind::PI,
            "node /x/pi-coding-agent/dist/cli.js --session-dir /d",
            &flat,
            p("/d"),
        ),
        (Kind::PI, "pi --session-dir=/e -c", &home, p("/e")),
        (Kind::CLAUDE, "claude", &home, p("/h/.claude/projects")),
        (Kind::CLAUDE, "claude", &custom, p("/c/projects")),
        (Kind::CODEX, "codex", &home, p("/h/.codex/sessions")),
        (Kind::CODEX, "codex", &custom, p("/x/sessions")),
        (Kind::SHELL, "bash", &home, vec![]),
    ] {
        assert_eq!(kind.session_roots(&argv(cmd), env), want, "{kind:?} {cmd}");
    }
}

#[test]
fn accepts_table() {
    let roots = [PathBuf::from("/h/.pi/agent/sessions")];
    let header = fixture::lines("pi/01-short-print-mode.jsonl")[0].clone();
    let data = br#"{"name":"row","value":1}"#;
    for (path, first, want) in [
        ("/h/.pi/agent/sessions/--p--/2026_x.jsonl", None, true),
        ("/elsewhere/custom.jsonl", Some(header.as_bytes()), true),
        ("/home/u/project/data.jsonl", Some(&data[..]), false),
        ("/home/u/project/data.jsonl", None, false),
        ("/home/u/project/data.jsonl", Some(&b"not json"[..]), false),
        ("relative/sessions/x.jsonl", Some(header.as_bytes()), false),
        ("/h/.pi/agent/sessions/--p--/notes.json", None, false),
        ("/h/.pi/agent/sessions/../../secret.jsonl", None, false),
        ("/h/.pi/agent/sessions", None, false),
    ] {
        assert_eq!(
            Kind::PI.accepts(Path::new(path), &roots, first),
            want,
            "{path}"
        );
    }
    // Each kind knows only its own header.
    assert!(!Kind::CODEX.accepts(Path::new("/e/custom.jsonl"), &[], Some(header.as_bytes())));
    assert!(!Kind::SHELL.accepts(
        Path::new("/h/.pi/agent/sessions/--p--/a.jsonl"),
        &roots,
        None
    ));
    let codex = fixture::lines("codex/tui_2turns_01a20a54a807.jsonl")[0].clone();
    assert!(Kind::CODEX.accepts(Path::new("/e/r.jsonl"), &[], Some(codex.as_bytes())));
    let claude = fixture::lines("claude/print_tooluse_22222222.jsonl")[0].clone();
    assert!(Kind::CLAUDE.accepts(Path::new("/e/r.jsonl"), &[], Some(claude.as_bytes())));
    // Claude: only `<project>/<id>.jsonl`, not subagent transcripts.
    let croots = [PathBuf::from("/h/.claude/projects")];
    assert!(Kind::CLAUDE.accepts(Path::new("/h/.claude/projects/-p/id.jsonl"), &croots, None));
    assert!(!Kind::CLAUDE.accepts(
        Path::new("/h/.claude/projects/-p/id/subagents/a.jsonl"),
        &croots,
        None
    ));
}

#[test]
fn resume_keeps_the_launcher() {
    let file = Path::new("/s/f.jsonl");
    for (kind, cmd, want) in [
        (Kind::PI, "pi -p hello", Some("pi --session /s/f.jsonl -c")),
        (
            Kind::PI,
            "bun /x/pi-coding-agent/dist/cli.js --model m",
            Some("bun /x/pi-coding-agent/dist/cli.js --model m --session /s/f.jsonl -c"),
        ),
        (
            Kind::PI,
            "node --no-warnings /x/bin/pi",
            Some("node --no-warnings /x/bin/pi --session /s/f.jsonl -c"),
        ),
        (
            Kind::CLAUDE,
            "/opt/claude -p hi",
            Some("/opt/claude --resume ID"),
        ),
        (
            Kind::CODEX,
            "npx -y @openai/codex exec hi",
            Some("npx -y @openai/codex resume ID"),
        ),
        // The user's permissions stay theirs (issue 18): only what chose
        // the conversation and the prompt are replaced.
        (
            Kind::CLAUDE,
            "claude --permission-mode default --resume old-id fix it",
            Some("claude --permission-mode default --resume ID"),
        ),
        (
            Kind::CODEX,
            "codex -a on-request -s workspace-write resume old --last",
            Some("codex -a on-request -s workspace-write resume ID"),
        ),
        (Kind::SHELL, "bash", None),
        (
            Kind::PI,
            "./my-pi.sh -x",
            Some("./my-pi.sh --session /s/f.jsonl -c"),
        ),
        (Kind::CODEX, "", Some("codex resume ID")),
    ] {
        let got = kind.resume_command(&argv(cmd), file, Some("ID"));
        assert_eq!(got, want.map(argv), "{kind:?} {cmd}");
    }
    // No id and a file name that holds none: no resume command.
    assert_eq!(
        Kind::CLAUDE.resume_command(&argv("claude"), Path::new("/s/not an id.jsonl"), None),
        None
    );
}

#[test]
fn incremental_equals_full_and_reset_forgets() {
    for &(kind, rel) in fixture::ALL {
        let text = fixture::read(rel);
        let full = derive_all(kind, &Place::default(), text.as_bytes());
        assert!(full.conversation_id.is_some(), "{rel}");
        let mut tracker = Tracker::new(kind, &Place::default());
        let mut prefix = String::new();
        for line in text.lines() {
            tracker.feed(line.as_bytes());
            prefix.push_str(line);
            prefix.push('\n');
            assert_eq!(
                tracker.derived(),
                &derive_all(kind, &Place::default(), prefix.as_bytes()),
                "{rel}"
            );
        }
        assert_eq!(tracker.derived(), &full, "{rel}");
        tracker.feed(b"{not json");
        tracker.feed(b"[1,2]");
        tracker.feed(br#"{"type":"unknown-line"}"#);
        // Junk, and a line that says nothing new, change nothing (not even
        // the count of lines a live report is measured against).
        assert_eq!(tracker.derived(), &full, "{rel}: junk lines change nothing");
        tracker.reset();
        assert_eq!(tracker.derived(), &Derived::default(), "{rel}");
        text.lines().for_each(|l| tracker.feed(l.as_bytes()));
        assert_eq!(tracker.derived(), &full, "{rel}: same again after reset");
    }
}

/// A whole agent in one file's worth of code: what adding one costs.
mod toy {
    use super::super::text::{str_at, string_at};
    use super::super::*;
    use fixture::argv as words;

    pub struct Toy;

    #[derive(Default)]
    struct State;

    impl Lines for State {
        fn feed(&mut self, d: &mut Derived, v: &Value) {
            match str_at(v, "t") {
                Some("start") => d.conversation_id = string_at(v, "id"),
                Some("ask") => d.user_turn(str_at(v, "text").unwrap_or("")),
                Some("done") => d.reply_done(),
                _ => {}
            }
            d.title = d.title.take().or_else(|| string_at(v, "text"));
        }
    }

    impl Adapter for Toy {
        fn name(&self) -> &'static str {
            "toy"
        }
        fn names(&self) -> Names {
            Names {
                programs: &["toy"],
                packages: &["@x/toy"],
                dirs: &[],
            }
        }
        fn session_root(&self, _args: &[String], env: Env) -> Option<PathBuf> {
            Some(PathBuf::from(env("HOME")?).join(".toy"))
        }
        fn is_header(&self, v: &Value) -> bool {
            str_at(v, "t") == Some("start")
        }
        fn resume_args(&self, _file: &Path, id: Option<&str>) -> Option<Vec<String>> {
            Some(vec!["--continue".into(), id?.into()])
        }
        fn lines(&self, _place: &Place) -> Box<dyn Lines> {
            Box::<State>::default()
        }
    }

    #[test]
    fn a_new_agent_is_one_adapter() {
        let toy = Kind(&Toy);
        let agents = [Kind::PI, toy];
        let cmd = words("npx -y @x/toy@2 --fast");
        assert_eq!(argv::locate(&cmd, &agents), Some((toy, 2)));
        assert_eq!(
            argv::locate(&words("node /n/toy.js"), &agents),
            Some((toy, 1))
        );
        let env = |k: &str| (k == "HOME").then(|| "/h".to_string());
        let roots = toy.session_roots(&cmd, &env);
        assert_eq!(roots, vec![PathBuf::from("/h/.toy")]);
        assert!(toy.accepts(Path::new("/h/.toy/a/1.jsonl"), &roots, None));
        assert!(toy.accepts(Path::new("/e/x.jsonl"), &[], Some(br#"{"t":"start"}"#)));
        assert!(!Kind::PI.accepts(Path::new("/e/x.jsonl"), &[], Some(br#"{"t":"start"}"#)));
        let lines = "{\"t\":\"start\",\"id\":\"c1\"}\n{\"t\":\"ask\",\"text\":\"hi\"}\n";
        let d = derive_all(toy, &Place::default(), lines.as_bytes());
        assert!(d.working && d.title.as_deref() == Some("hi"));
        let mut t = Tracker::new(toy, &Place::default());
        format!("{lines}{{\"t\":\"done\"}}\n")
            .lines()
            .for_each(|l| t.feed(l.as_bytes()));
        assert!(t.derived().unread && t.derived().turns_ended == 1);
        let resume = toy.resume_command(&cmd, Path::new("/h/.toy/a/1.jsonl"), Some("c1"));
        assert_eq!(resume, Some(words("npx -y @x/toy@2 --fast --continue c1")));
        assert_eq!(toy.guesses(), &[] as &[Guess]);
        assert_eq!(toy.as_str(), "toy");
        // Not in AGENTS: a runner of a newer amux naming it is followed as
        // a shell (its record still says "toy": the wire carries names).
        assert_eq!(Kind::named("toy"), Kind::SHELL);
    }
}

/// An agent whose conversation is not JSON lines: a whole JSON file it
/// rewrites (`{"title":…,"busy":…,"replies":N}`), read by a
/// `Conversation` of its own. Adding it still touches nothing outside its
/// adapter: the watcher learns its suffix from `conversation_files`.
mod sheet {
    use super::super::conversation::Progress;
    use super::super::*;

    pub struct Sheet;

    struct Whole {
        path: PathBuf,
        derived: Derived,
        seen: Option<Vec<u8>>,
        reads: u64,
    }

    impl Conversation for Whole {
        fn read(&mut self, _budget: u64) -> Progress {
            let Ok(data) = crate::paths::read_untrusted(&self.path, 1 << 20) else {
                return Progress::default();
            };
            if self.seen.as_ref() == Some(&data) {
                return Progress::default();
            }
            let v: Value = serde_json::from_slice(&data).unwrap_or_default();
            let replies = v["replies"].as_u64().unwrap_or(0);
            self.derived = Derived {
                title: v["title"].as_str().map(String::from),
                working: v["busy"] == true,
                unread: replies > 0 && v["busy"] != true,
                turns_ended: replies,
                ..Derived::default()
            };
            self.seen = Some(data);
            self.reads += 1;
            Progress {
                grew: true,
                more: false,
            }
        }
        fn derived(&self) -> &Derived {
            &self.derived
        }
        fn records(&self) -> u64 {
            self.reads
        }
    }

    impl Adapter for Sheet {
        fn name(&self) -> &'static str {
            "sheet"
        }
        fn names(&self) -> Names {
            Names {
                programs: &["sheet"],
                packages: &[],
                dirs: &[],
            }
        }
        fn session_root(&self, _args: &[String], env: Env) -> Option<PathBuf> {
            Some(PathBuf::from(env("HOME")?).join(".sheet"))
        }
        fn conversation_files(&self) -> &'static [&'static str] {
            &[".sheet.json"]
        }
        fn lines(&self, _place: &Place) -> Box<dyn Lines> {
            unreachable!("a sheet is read whole, by `open`")
        }
        fn open(&self, _kind: Kind, path: PathBuf, _place: &Place) -> Box<dyn Conversation> {
            let derived = Derived::default();
            Box::new(Whole {
                path,
                derived,
                seen: None,
                reads: 0,
            })
        }
    }

    #[test]
    fn an_agent_whose_conversation_is_a_rewritten_file() {
        let sheet = Kind(&Sheet);
        let env = |k: &str| (k == "HOME").then(|| "/h".to_string());
        let roots = sheet.session_roots(&fixture::argv("sheet"), &env);
        assert!(sheet.accepts(Path::new("/h/.sheet/a.sheet.json"), &roots, None));
        assert!(!sheet.accepts(Path::new("/h/.sheet/a.jsonl"), &roots, None));
        let dir = fixture::temp_dir("sheet");
        let path = dir.join("a.sheet.json");
        let mut conversation = sheet.open(path.clone(), &Place::default());
        std::fs::write(&path, r#"{"title":"plan","busy":true}"#).unwrap();
        assert!(conversation.read(u64::MAX).grew);
        assert!(conversation.derived().working);
        assert!(!conversation.read(u64::MAX).grew, "unchanged: nothing new");
        std::fs::write(&path, r#"{"title":"plan","busy":false,"replies":1}"#).unwrap();
        conversation.read(u64::MAX);
        let d = conversation.derived();
        assert!(!d.working && d.unread && d.title.as_deref() == Some("plan"));
        assert_eq!(conversation.records(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn the_watcher_reports_what_the_adapters_name() {
    assert!(watched_file(b"2026-12-06T00-00-00_abc.jsonl"));
    assert!(watched_file(b"4242.json"), "Claude's pidfiles");
    assert!(!watched_file(b"notes.txt"));
    assert!(!watched_file(b"a.jsonl.tmp"));
}

/// A line with a byte that is not UTF-8 still counts, that byte replaced
/// (it was dropped whole: the session stayed `(new)`).
#[test]
fn a_line_with_bad_utf8_is_read_lossily() {
    let mut t = Tracker::new(Kind::CLAUDE, &Place::default());
    let mut line =
        br#"{"type":"user","sessionId":"s","message":{"role":"user","content":"fix the "#.to_vec();
    line.push(0xff);
    line.extend_from_slice(br#" bug"}}"#);
    t.feed(&line);
    let d = t.derived();
    assert!(d.working, "{d:?}");
    assert_eq!(d.title.as_deref(), Some("fix the \u{fffd} bug"));
}
