//! OpenCode (`opencode-ai`, a Bun-compiled binary): which conversation it
//! holds and what it does, from its own bus events (AGENTS.md B).
//!
//! OpenCode keeps every conversation as rows of one SQLite database
//! (`$XDG_DATA_HOME/opencode/opencode.db`), which amux does not read: the
//! daemon follows one file per conversation, and two OpenCode sessions in
//! one database would be one file. So amux's plugin (`hook/opencode-plugin.js`,
//! loaded per launch through `OPENCODE_CONFIG_DIR`) keeps a log of each
//! conversation's own events in amux's state directory,
//! `<state>/opencode/<sessionID>.jsonl`: that is the conversation's file,
//! its id OpenCode's `ses_…`, its resume `opencode -s ses_…`. The same
//! plugin says each moment through the runner's FIFO (`opencode_events.rs`).
//!
//! `OPENCODE_CONFIG_DIR` adds a directory to the user's (their global and
//! project config, plugins, agents all still load). OpenCode installs its
//! plugin SDK (`@opencode-ai/plugin`, 64 MB through npm) into every such
//! directory once: ours lives in amux's cache, `<cache>/opencode/`, so
//! that happens once per machine, not at every launch. OpenCode draws
//! nothing until that install is done or failed: offline, the first start
//! under amux waits for npm's retries (over a minute measured). Nothing is
//! injected when the user sets `OPENCODE_CONFIG_DIR` themselves (ours
//! would hide theirs), nor for a subcommand that runs no session.

use super::opencode_events::{self, Log};
use super::{dir_from, launch, Adapter, Env, Extension, HookSite, Launch, Lines, Names, Place};
use crate::protocol::ShimEvent;
use std::path::{Path, PathBuf};

pub struct OpenCode;

/// The plugin, as OpenCode finds it in our config directory.
const PLUGIN: &str = include_str!("../../hook/opencode-plugin.js");

/// OpenCode 1.18's words that run no session of their own.
const SUBCOMMANDS: &[&str] = &[
    "completion",
    "acp",
    "mcp",
    "attach",
    "debug",
    "providers",
    "auth",
    "agent",
    "upgrade",
    "uninstall",
    "serve",
    "web",
    "models",
    "stats",
    "export",
    "import",
    "github",
    "session",
    "plugin",
    "plug",
    "db",
];

impl Adapter for OpenCode {
    fn name(&self) -> &'static str {
        "opencode"
    }

    fn names(&self) -> Names {
        Names {
            programs: &["opencode"],
            packages: &["opencode-ai"],
            dirs: &["opencode-ai"],
        }
    }

    fn uses_hooks(&self) -> bool {
        true
    }

    /// Where the plugin keeps each conversation's log: amux's state.
    fn session_root(&self, _args: &[String], env: Env) -> Option<PathBuf> {
        Some(dir_from(env, "XDG_STATE_HOME", ".local/state")?.join("amux/opencode"))
    }

    fn root_depth(&self, _args: &[String], _env: Env) -> usize {
        0
    }

    /// `ses_….jsonl`, flat in the root.
    fn is_conversation(&self, rel: &Path) -> bool {
        rel.components().count() == 1
            && (rel.file_name().and_then(|n| n.to_str())).is_some_and(|n| n.starts_with("ses_"))
    }

    /// `opencode -s ses_…` holds that conversation from its first moment.
    fn launch_file(&self, args: &[String], _cwd: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
        let id = launch::option(args, &["-s", "--session"])?;
        let fork = args.iter().any(|a| a == "--fork");
        (opencode_events::is_id(id) && !fork).then(|| roots.first().map(|r| log_of(r, id)))?
    }

    /// The plugin in amux's cache, and where it keeps its logs.
    fn launch(&self, args: &[String], env: Env, hooks: HookSite) -> Launch {
        let subcommand = args
            .first()
            .is_some_and(|a| SUBCOMMANDS.contains(&a.as_str()));
        let config = dir_from(env, "XDG_CACHE_HOME", ".cache").map(|c| c.join("amux/opencode"));
        let logs = self.session_root(args, env);
        let theirs = env("OPENCODE_CONFIG_DIR").is_some();
        match (config, logs, hooks.command) {
            (Some(config), Some(logs), Some(_)) if !subcommand && !theirs => Launch {
                env: vec![
                    ("OPENCODE_CONFIG_DIR".into(), path_str(&config)),
                    ("AMUX_OPENCODE_LOG".into(), path_str(&logs)),
                ],
                files: vec![(config.join("plugin/amux.js"), PLUGIN.to_owned())],
                ..Launch::default()
            },
            _ => Launch::default(),
        }
    }

    /// `-s ses_…`: the id is the log's name.
    fn resume_args(&self, file: &Path, id: Option<&str>) -> Option<Vec<String>> {
        let stem = file.file_stem().and_then(|s| s.to_str());
        let id = id.or(stem).filter(|i| opencode_events::is_id(i))?;
        Some(vec!["-s".to_owned(), id.to_owned()])
    }

    /// 1.18.33's `--help`.
    fn options(&self) -> super::resume::Options {
        super::resume::Options {
            valued: &[
                "--log-level",
                "--port",
                "--hostname",
                "--mdns-domain",
                "--cors",
                "-m",
                "--model",
                "--agent",
                "--replay-limit",
            ],
            choosing: &["-c", "--continue", "--fork"],
            choosing_valued: &["-s", "--session"],
            optional_value: &[],
            dropped: &["--prompt"],
            subcommand: None,
            foreign: SUBCOMMANDS,
        }
    }

    fn lines(&self, _place: &Place) -> Box<dyn Lines> {
        Box::new(Log::default())
    }

    /// Its dialog preselects "Allow once" (Enter). Its other choices are
    /// reached with arrow keys, which amux does not send as an answer yet.
    fn answer_keys(&self, answer: super::Answer) -> Option<&'static str> {
        (answer == super::Answer::Yes).then_some("\r")
    }

    /// Its plugin says nothing until the first prompt: started with
    /// nothing to do, it is idle.
    fn idle_when_fresh(&self) -> bool {
        true
    }

    /// Its `permission.asked` event comes a moment before the dialog is
    /// drawn (measured up to ~40 ms): `waiting` from when it is up.
    fn dialog_grace(&self) -> super::Grace {
        super::Grace {
            after_signal_ms: 150,
            after_enter_ms: 0,
        }
    }

    fn extension(&self, event: &ShimEvent) -> Option<Extension> {
        opencode_events::extension(event)
    }
}

fn log_of(root: &Path, id: &str) -> PathBuf {
    root.join(format!("{id}.jsonl"))
}

/// Our directories come from the environment's text: lossless.
fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::{fixture, Kind};

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/h".into()),
            "XDG_STATE_HOME" => Some("/s".into()),
            _ => None,
        }
    }

    #[test]
    fn the_launch_adds_our_plugin_directory_only() {
        let site = HookSite {
            command: Some("'/usr/bin/amux' 'hook'"),
            ..HookSite::default()
        };
        let l = Kind::OPENCODE.launch(&fixture::argv("opencode -m a/b"), &env, true, site);
        assert!(l.args.is_empty(), "{l:?}");
        let want = [
            (
                "OPENCODE_CONFIG_DIR".to_string(),
                "/h/.cache/amux/opencode".to_string(),
            ),
            ("AMUX_OPENCODE_LOG".into(), "/s/amux/opencode".into()),
        ];
        assert_eq!(l.env, want);
        let (path, text) = &l.files[0];
        assert_eq!(path, Path::new("/h/.cache/amux/opencode/plugin/amux.js"));
        assert!(text.contains("AMUX_HOOK_FIFO"));
        // Theirs, a subcommand, no FIFO, --no-inject: nothing.
        let theirs = |n: &str| {
            (n == "OPENCODE_CONFIG_DIR")
                .then(|| "/mine".to_string())
                .or_else(|| env(n))
        };
        let none = [
            Kind::OPENCODE.launch(&fixture::argv("opencode"), &theirs, true, site),
            Kind::OPENCODE.launch(&fixture::argv("opencode models"), &env, true, site),
            Kind::OPENCODE.launch(&fixture::argv("opencode"), &env, true, HookSite::default()),
            Kind::OPENCODE.launch(&fixture::argv("opencode"), &env, false, site),
        ];
        for l in none {
            assert_eq!(l, Launch::default());
        }
    }

    #[test]
    fn it_is_named_resumed_and_its_logs_accepted() {
        for argv in [
            "opencode",
            "npx opencode-ai",
            "/x/node_modules/opencode-ai/bin/opencode.exe",
        ] {
            assert_eq!(Kind::detect(&fixture::argv(argv)), Kind::OPENCODE, "{argv}");
        }
        let argv = fixture::argv("opencode -m fake/m --agent plan -c hello");
        let resume =
            Kind::OPENCODE.resume_command(&argv, Path::new("/s/amux/opencode/ses_ab.jsonl"), None);
        assert_eq!(
            resume,
            Some(fixture::argv("opencode -m fake/m --agent plan -s ses_ab"))
        );
        let roots = [PathBuf::from("/s/amux/opencode")];
        let held = Kind::OPENCODE.launch_file(
            &fixture::argv("opencode -s ses_ab"),
            Path::new("/w"),
            &roots,
        );
        assert_eq!(
            held.as_deref(),
            Some(Path::new("/s/amux/opencode/ses_ab.jsonl"))
        );
        let forked = fixture::argv("opencode -s ses_ab --fork");
        assert_eq!(
            Kind::OPENCODE.launch_file(&forked, Path::new("/w"), &roots),
            None
        );
        assert!(Kind::OPENCODE.accepts(Path::new("/s/amux/opencode/ses_ab.jsonl"), &roots, None));
        assert!(!Kind::OPENCODE.accepts(
            Path::new("/s/amux/opencode/x/ses_ab.jsonl"),
            &roots,
            None
        ));
        assert!(!Kind::OPENCODE.accepts(Path::new("/s/amux/opencode/other.jsonl"), &roots, None));
    }
}
