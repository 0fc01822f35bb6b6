//! Gemini CLI (`@google/gemini-cli`): its event-log conversations, its
//! window title as its state, resume.
//!
//! Gemini is a node program that re-executes itself once: the first
//! process only supervises a copy of itself, started with
//! `GEMINI_CLI_NO_RELAUNCH=true` and a bigger heap, which does the work.
//! The preload removes itself from the environment of the agent's
//! children, so it names that variable as the relaunch's
//! (`relaunch_marker`): the first process hands the preload on, the copy
//! does not — the agent runs as it would without amux, and its own writes
//! name its conversation, `$GEMINI_CLI_HOME/.gemini/tmp/<project>/chats/
//! session-<minute>-<id8>.jsonl`, read by `gemini_log.rs`.
//!
//! Its state, per launch and with nothing configured: Gemini sets its
//! terminal's window title (OSC 0) at each change of its state, `✦
//! Working…` (or the model's thought) while it works, `⏲ Working…` while a
//! shell command it runs is silent, `✋ Action Required` while a dialog
//! asks the user (a tool's permission), `◇ Ready` between turns. The
//! title says nothing of the tool asked about, and Gemini writes the call
//! to its file only once answered: a `waiting` carries no command. Its
//! hooks would say more but need a settings file amux would have to
//! write; its OSC 777 notifications need a setting too.

use super::gemini_log::Log;
use super::text::str_at;
use super::{launch, Adapter, Env, Guess, Lines, Names, Place};
use crate::protocol::{AgentState, Ask, State, StateSource, Waiting};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Gemini;

impl Adapter for Gemini {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn names(&self) -> Names {
        Names {
            programs: &["gemini"],
            packages: &["@google/gemini-cli"],
            dirs: &["gemini-cli"],
        }
    }

    fn uses_preload(&self) -> bool {
        true
    }

    fn relaunch_marker(&self) -> Option<&'static str> {
        Some("GEMINI_CLI_NO_RELAUNCH")
    }

    /// `$GEMINI_CLI_HOME/.gemini`, default `~/.gemini`.
    fn config_dir(&self, env: Env) -> Option<PathBuf> {
        let home = env("GEMINI_CLI_HOME").or_else(|| env("HOME"))?;
        Some(Path::new(&home).join(".gemini"))
    }

    fn session_root(&self, _args: &[String], env: Env) -> Option<PathBuf> {
        Some(self.config_dir(env)?.join("tmp"))
    }

    /// `<project>/chats/session-….jsonl`.
    fn root_depth(&self, _args: &[String], _env: Env) -> usize {
        2
    }

    /// Only a main session's file: a subagent's lives one level deeper.
    fn is_conversation(&self, rel: &Path) -> bool {
        let parts: Vec<_> = rel.iter().filter_map(|p| p.to_str()).collect();
        matches!(parts[..], [_, "chats", name] if name.starts_with("session-"))
    }

    fn is_header(&self, v: &Value) -> bool {
        str_at(v, "sessionId").is_some()
            && str_at(v, "projectHash").is_some()
            && v.get("type").is_none()
    }

    /// `--resume <uuid>`: that conversation's file, when there is one.
    /// `latest` or a number is Gemini's choice, made later.
    fn launch_file(&self, args: &[String], _cwd: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
        let id = launch::option(args, &["--resume", "-r"])?;
        if id.len() != 36 {
            return None;
        }
        roots.iter().find_map(|root| find_session(root, id))
    }

    fn resume_args(&self, file: &Path, id: Option<&str>) -> Option<Vec<String>> {
        let id = id.map(str::to_owned).or_else(|| id_in(file))?;
        Some(vec!["--resume".to_owned(), id])
    }

    /// 0.61.0's `--help`.
    fn options(&self) -> super::resume::Options {
        super::resume::Options {
            valued: &[
                "-m",
                "--model",
                "-w",
                "--worktree",
                "--approval-mode",
                "--policy",
                "--admin-policy",
                "--allowed-mcp-server-names",
                "--allowed-tools",
                "-e",
                "--extensions",
                "--include-directories",
                "-o",
                "--output-format",
            ],
            choosing: &["--list-sessions"],
            choosing_valued: &["-r", "--resume", "--session-id", "--session-file"],
            optional_value: &[],
            dropped: &[
                "-p",
                "--prompt",
                "-i",
                "--prompt-interactive",
                "--delete-session",
                "-l",
                "--list-extensions",
                "-v",
                "--version",
                "-h",
                "--help",
            ],
            subcommand: None,
            foreign: &[
                "mcp",
                "extensions",
                "extension",
                "skills",
                "skill",
                "hooks",
                "hook",
                "gemma",
            ],
        }
    }

    /// A resume's startup file (`session-<now>-<id8>.jsonl`, beside the
    /// conversation's, same id) is the conversation held: of two files
    /// of one id in one directory, the older name (its minute) is the
    /// conversation, whichever Gemini wrote last.
    fn keeps(&self, held: &Path, reported: &Path) -> bool {
        let (held_id, reported_id) = (short_id(held), short_id(reported));
        held.parent() == reported.parent()
            && held_id.is_some()
            && held_id == reported_id
            && held.file_name() < reported.file_name()
    }

    /// Gemini 0.61 starts a resume with a file of its own for the
    /// conversation (`session-<now>-<id8>.jsonl`, nothing in it) and
    /// leaves it; at a later start its session cleanup
    /// (`general.sessionRetention`, on by default) deletes such a file and
    /// every file of the same id — the conversation resumed with it. No
    /// flag or variable turns that off for one launch, and amux writes
    /// nothing of Gemini's: the user is told, unless their settings
    /// already keep sessions.
    fn resume_caveat(&self, env: Env) -> Option<String> {
        let settings = self.config_dir(env)?.join("settings.json");
        let data = crate::paths::read_untrusted(&settings, 1 << 20).unwrap_or_default();
        let v: Value = serde_json::from_slice(&data).unwrap_or(Value::Null);
        if v["general"]["sessionRetention"]["enabled"] == Value::Bool(false) {
            return None;
        }
        Some(format!(
            "Gemini CLI leaves an empty startup file of a resumed conversation behind, \
             and its session cleanup at a later start deletes it together with the \
             conversation; to keep it, set general.sessionRetention.enabled to false in {}",
            settings.display()
        ))
    }

    fn lines(&self, _place: &Place) -> Box<dyn Lines> {
        Box::<Log>::default()
    }

    fn guesses(&self) -> &'static [Guess] {
        &[Guess::Mtime]
    }

    /// The window title Gemini 0.61 sets (`computeTerminalTitle`): its
    /// state's sign, two spaces, the words, the folder, padded to 80.
    /// `◇ Ready` answers nothing by itself: Gemini shows it after a failed
    /// turn too, and the file's `error` record must stand.
    /// Its dialog: "1. Allow once", "2. Allow for this session",
    /// "3. No" (Esc).
    fn answer_keys(&self, answer: super::Answer) -> Option<&'static str> {
        Some(match answer {
            super::Answer::Yes => "1",
            super::Answer::Always => "2",
            super::Answer::No => "\x1b",
        })
    }

    fn title_state(&self, title: &str) -> Option<AgentState> {
        let sign = title.trim_start().chars().next()?;
        let state = match sign {
            '✦' | '⏲' => State::Working,
            '✋' => State::Waiting,
            '◇' => State::Idle,
            _ => return None,
        };
        Some(AgentState {
            state,
            waiting: (state == State::Waiting).then(|| Waiting {
                kind: Ask::Permission,
                ..Waiting::default()
            }),
            source: StateSource::WindowTitle,
            ..AgentState::default()
        })
    }
}

/// The id's first 8 characters in a session file's name
/// (`session-<minute>-<id8>.jsonl`).
fn short_id(file: &Path) -> Option<&str> {
    let name = file.file_name()?.to_str()?.strip_suffix(".jsonl")?;
    let id = name.get(name.len().checked_sub(8)?..)?;
    name.starts_with("session-").then_some(id)
}

/// The id in the first line of a session file (`sessionId`).
fn id_in(file: &Path) -> Option<String> {
    let data = crate::paths::read_untrusted(file, 64 << 10).ok()?;
    let first = data.split(|&b| b == b'\n').next()?;
    let v: Value = serde_json::from_slice(first).ok()?;
    str_at(&v, "sessionId").map(str::to_owned)
}

/// The file of conversation `id` below `root`: `*/chats/session-*-<id8>
/// .jsonl` whose first line names it. The oldest, when a resume left a
/// startup file of the same id behind.
fn find_session(root: &Path, id: &str) -> Option<PathBuf> {
    let suffix = format!("-{}.jsonl", id.get(..8)?);
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .flatten()
        .filter_map(|project| std::fs::read_dir(project.path().join("chats")).ok())
        .flat_map(|chats| chats.flatten().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("session-") && name.ends_with(&suffix)
        })
        .filter(|p| id_in(p).as_deref() == Some(id))
        .collect();
    // The minute in the name sorts them.
    found.sort();
    found.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, HookSite, Kind, Launch};
    use super::*;

    #[test]
    fn command_lines_name_it() {
        for line in [
            "gemini",
            "/usr/lib/node_modules/.bin/gemini -m x",
            "npx @google/gemini-cli",
            "node /x/node_modules/@google/gemini-cli/bundle/gemini.js",
        ] {
            assert_eq!(Kind::detect(&fixture::argv(line)), Kind::GEMINI, "{line}");
        }
        let env = |k: &str| match k {
            "HOME" => Some("/h".to_owned()),
            _ => None,
        };
        let roots = Kind::GEMINI.session_roots(&fixture::argv("gemini"), &env);
        assert_eq!(roots, vec![PathBuf::from("/h/.gemini/tmp")]);
        let chats = "/h/.gemini/tmp/proj/chats";
        for (path, want) in [
            (
                format!("{chats}/session-2026-12-06T00-25-11111111.jsonl"),
                true,
            ),
            (format!("{chats}/11111111/session-x.jsonl"), false),
            ("/h/.gemini/tmp/proj/logs.jsonl".to_owned(), false),
            (format!("{chats}/other.jsonl"), false),
        ] {
            assert_eq!(
                Kind::GEMINI.accepts(Path::new(&path), &roots, None),
                want,
                "{path}"
            );
        }
        // Nothing is added to its command line or environment.
        let launch = Kind::GEMINI.launch(&fixture::argv("gemini"), &env, true, HookSite::default());
        assert_eq!(launch, Launch::default());
    }

    #[test]
    fn a_resumes_startup_file_is_the_conversation_it_resumes() {
        let chats = Path::new("/h/.gemini/tmp/p/chats");
        let old = chats.join("session-2026-12-06T00-29-7e7f6684.jsonl");
        let stray = chats.join("session-2026-12-06T00-30-7e7f6684.jsonl");
        let other = chats.join("session-2026-12-06T00-31-11111111.jsonl");
        let elsewhere = Path::new("/h/.gemini/tmp/q/chats/session-2026-12-06T00-30-7e7f6684.jsonl");
        assert!(Kind::GEMINI.keeps(&old, &stray), "holding the original");
        assert!(
            !Kind::GEMINI.keeps(&stray, &old),
            "the original replaces the stray"
        );
        assert!(!Kind::GEMINI.keeps(&old, &other));
        assert!(!Kind::GEMINI.keeps(&old, elsewhere));
        assert!(!Kind::GEMINI.keeps(&old, &old));
        assert!(!Kind::CODEX.keeps(&old, &stray));
    }

    #[test]
    fn its_window_title_reads_as_its_state() {
        let said = |t: &str| {
            Kind::GEMINI
                .title_state(t)
                .map(|s| (s.state, s.waiting.map(|w| w.kind), s.source))
        };
        let title = StateSource::WindowTitle;
        for (t, want) in [
            ("✦  Working… (proj)", Some((State::Working, None, title))),
            (
                "✦  Pondering the question (proj)",
                Some((State::Working, None, title)),
            ),
            ("⏲  Working… (proj)", Some((State::Working, None, title))),
            (
                "✋  Action Required (proj)",
                Some((State::Waiting, Some(Ask::Permission), title)),
            ),
            ("◇  Ready (proj)", Some((State::Idle, None, title))),
            ("Gemini CLI (proj)", None),
            ("", None),
        ] {
            assert_eq!(said(t), want, "{t:?}");
        }
    }

    #[test]
    fn resume_keeps_the_users_options() {
        let dir = fixture::temp_dir("gemini-resume");
        let chats = dir.join("proj/chats");
        std::fs::create_dir_all(&chats).unwrap();
        let id = "7e7f6684-07bb-4cf1-9be9-fc43048a82c8";
        // The original, and the startup file a resume left (same id).
        for name in ["00-29", "00-30"] {
            let src = format!("gemini/session-2026-12-06T{name}-7e7f6684.jsonl");
            let to = chats.join(format!("session-2026-12-06T{name}-7e7f6684.jsonl"));
            std::fs::write(to, fixture::read(&src)).unwrap();
        }
        let args = fixture::argv(&format!("--resume {id} -m pro"));
        let found = Kind::GEMINI
            .adapter()
            .launch_file(&args, &dir, std::slice::from_ref(&dir));
        assert_eq!(
            found,
            Some(chats.join("session-2026-12-06T00-29-7e7f6684.jsonl"))
        );
        let file = found.unwrap();
        let argv =
            fixture::argv("npx @google/gemini-cli -m pro --approval-mode default say hi -r 3");
        let want = format!("npx @google/gemini-cli -m pro --approval-mode default --resume {id}");
        assert_eq!(
            Kind::GEMINI.resume_command(&argv, &file, None),
            Some(fixture::argv(&want))
        );
        // A resume is told of Gemini's cleanup, unless sessions are kept.
        let home = dir.to_str().unwrap().to_owned();
        let env = move |k: &str| (k == "GEMINI_CLI_HOME").then(|| home.clone());
        let caveat = Kind::GEMINI.resume_caveat(&env).unwrap();
        assert!(
            caveat.contains("general.sessionRetention.enabled"),
            "{caveat}"
        );
        std::fs::create_dir_all(dir.join(".gemini")).unwrap();
        let kept = r#"{"general":{"sessionRetention":{"enabled":false}}}"#;
        std::fs::write(dir.join(".gemini/settings.json"), kept).unwrap();
        assert_eq!(Kind::GEMINI.resume_caveat(&env), None);
        assert_eq!(Kind::CODEX.resume_caveat(&env), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
