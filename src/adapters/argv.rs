//! Finding the agent in a command line, and where its own arguments start.
//!
//! A command is a chain of launchers ending in the agent: `pi`,
//! `/opt/x/bin/claude`, `node --import x /y/pi-coding-agent/dist/cli.js`,
//! `bun run /y/cli.js`, `npx -y @openai/codex`, `env A=1 codex`. We walk
//! the chain word by word, skipping each launcher's own options (and the
//! values of the few options that take one), until a word names an agent.
//! The result is the agent's [`Kind`] and the index of that word: what
//! comes before it and the word itself are the launcher a resume command
//! keeps; what follows are the agent's arguments, which resume replaces.

use super::Kind;
use std::path::Path;

/// Runtime options whose value is the next word (`--import x`).
const VALUE_OPTIONS: &[&str] = &[
    "-r",
    "--require",
    "--import",
    "--loader",
    "--experimental-loader",
    "-C",
    "--conditions",
    "--preload",
    "--cwd",
    "--env-file",
    "--title",
    "--inspect-port",
    "--config",
    "--tsconfig-override",
];

/// Options that make the runtime run inline code: no agent script follows.
const EVAL_OPTIONS: &[&str] = &["-e", "--eval", "-p", "--print"];

/// The agent of `agents` named by `argv` and the index of the word that
/// names it, or `None` for anything that is none of them.
pub fn locate(argv: &[String], agents: &[Kind]) -> Option<(Kind, usize)> {
    let mut i = 0;
    loop {
        let word = argv.get(i)?;
        match basename(word) {
            "env" => i = skip_env(argv, i + 1),
            "node" | "nodejs" | "bun" => {
                i = skip_options(argv, i + 1)?;
                match argv.get(i).map(String::as_str) {
                    // `bun run script` and `bun x pkg` (bunx).
                    Some("run") => i = skip_options(argv, i + 1)?,
                    Some("x") => return package(argv, i + 1, agents),
                    _ => {}
                }
                return script_kind(argv.get(i)?, agents).map(|k| (k, i));
            }
            "npx" | "bunx" | "pnpx" => return package(argv, i + 1, agents),
            name => {
                return name_kind(name, agents)
                    .or_else(|| script_kind(word, agents))
                    .map(|k| (k, i))
            }
        }
    }
}

/// Shells that show a prompt when run without a script or `-c`.
const SHELLS: &[&str] = &[
    "sh", "ash", "bash", "dash", "zsh", "ksh", "mksh", "oksh", "pdksh", "yash", "posh", "fish",
    "csh", "tcsh", "rc", "es", "nu", "elvish", "xonsh", "pwsh", "ion",
];

/// Shell options whose value is the next word (`-o vi`, `--rcfile f`).
const SHELL_VALUE_OPTIONS: &[&str] = &["-o", "+o", "-O", "+O", "--rcfile", "--init-file"];

/// Whether `argv` runs an interactive shell, one that shows a prompt
/// between the commands typed into it: a shell (after any `env`) given
/// no script and no `-c`, or given `-i`. `sh -c 'make'`, `bash build.sh`
/// and any other program have no prompt: they work until they exit.
pub fn interactive_shell(argv: &[String]) -> bool {
    let mut i = 0;
    while argv.get(i).is_some_and(|w| basename(w) == "env") {
        i = skip_env(argv, i + 1);
    }
    let Some(program) = argv.get(i) else {
        return false;
    };
    if !SHELLS.contains(&basename(program).trim_start_matches('-')) {
        return false;
    }
    let mut words = argv[i + 1..].iter().map(String::as_str);
    while let Some(word) = words.next() {
        match word {
            "-i" | "--interactive" => return true,
            "-c" | "--command" => return false,
            "--" => return words.next().is_none(),
            w if SHELL_VALUE_OPTIONS.contains(&w) => {
                words.next();
            }
            w if w.starts_with("--") => {}
            w if w.starts_with(['-', '+']) && w.len() > 1 => {
                let flags = &w[1..];
                if flags.contains('i') {
                    return true;
                }
                if flags.contains('c') {
                    return false;
                }
            }
            // A script to run.
            _ => return false,
        }
    }
    true
}

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// `pi`, `claude`, `codex` as a program name (npm's `.bin` links).
fn name_kind(name: &str, agents: &[Kind]) -> Option<Kind> {
    let named = |k: &&Kind| k.adapter().names().programs.contains(&name);
    agents.iter().find(named).copied()
}

/// A script path run by node or bun: named like the agent (`pi`,
/// `codex.js`), or inside the agent's npm package directory (or a
/// directory that marks it, such as a pi checkout).
fn script_kind(path: &str, agents: &[Kind]) -> Option<Kind> {
    let base = basename(path);
    let stem = [".js", ".mjs", ".cjs"]
        .iter()
        .find_map(|ext| base.strip_suffix(ext))
        .unwrap_or(base);
    if let Some(kind) = name_kind(stem, agents) {
        return Some(kind);
    }
    let parts: Vec<&str> = Path::new(path).iter().filter_map(|c| c.to_str()).collect();
    let inside = |kind: &&Kind| {
        let names = kind.adapter().names();
        names.dirs.iter().any(|d| parts.contains(d))
            || names.packages.iter().any(|pkg| {
                let want: Vec<&str> = pkg.split('/').collect();
                parts.windows(want.len()).any(|w| w == want)
            })
    };
    agents.iter().find(inside).copied()
}

/// `npx [opts] <package spec>`: the agent is named by its package.
fn package(argv: &[String], from: usize, agents: &[Kind]) -> Option<(Kind, usize)> {
    let mut i = from;
    while let Some(word) = argv.get(i) {
        match word.as_str() {
            "-p" | "--package" => i += 2,
            w if w.starts_with('-') => i += 1,
            spec => {
                // `@scope/name@1.2.3` and `name@latest` name the same package.
                let name = match spec.strip_prefix('@') {
                    Some(rest) => &spec[..1 + rest.find('@').unwrap_or(rest.len())],
                    None => spec.split('@').next().unwrap_or(spec),
                };
                let by_package = |k: &&Kind| k.adapter().names().packages.contains(&name);
                let kind = agents.iter().find(by_package).copied();
                return kind.or_else(|| name_kind(name, agents)).map(|k| (k, i));
            }
        }
    }
    None
}

/// Skips `env`'s options and `NAME=value` words.
fn skip_env(argv: &[String], from: usize) -> usize {
    let mut i = from;
    while let Some(word) = argv.get(i) {
        match word.as_str() {
            "-u" | "--unset" | "-C" | "--chdir" => i += 2,
            w if w.starts_with('-') || w.contains('=') => i += 1,
            _ => break,
        }
    }
    i
}

/// Skips a runtime's options; `None` when they ask it to run inline code.
fn skip_options(argv: &[String], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(word) = argv.get(i) {
        match word.as_str() {
            "--" => return Some(i + 1),
            w if EVAL_OPTIONS.contains(&w)
                || w.starts_with("--eval=")
                || w.starts_with("--print=") =>
            {
                return None
            }
            w if VALUE_OPTIONS.contains(&w) => i += 2,
            w if w.starts_with('-') => i += 1,
            _ => break,
        }
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn interactive_shell_table() {
        for (cmd, want) in [
            ("bash", true),
            ("/bin/bash -l", true),
            ("-bash", true),
            ("env A=1 zsh", true),
            ("sh -i script.sh", true),
            ("bash -o vi --norc", true),
            ("fish --login", true),
            ("bash -s", true),
            ("sh -c make", false),
            ("bash -lc make", false),
            ("bash build.sh", false),
            ("bash -- build.sh", false),
            ("fish --command ls", false),
            ("sleep 3", false),
            ("make", false),
            ("vim", false),
            ("env", false),
            ("", false),
        ] {
            assert_eq!(interactive_shell(&argv(cmd)), want, "{cmd:?}");
        }
    }

    #[test]
    fn locate_table() {
        let (pi, claude, codex) = (Kind::PI, Kind::CLAUDE, Kind::CODEX);
        for (cmd, want) in [
            ("pi", Some((pi, 0))),
            ("/opt/x/bin/pi --provider fake -p hi", Some((pi, 0))),
            ("pi-coding-agent", Some((pi, 0))),
            ("node /x/node_modules/.bin/pi", Some((pi, 1))),
            ("node /x/pi-coding-agent/dist/cli.js -c", Some((pi, 1))),
            (
                "node --import /h/hook.mjs --no-warnings /x/pi-coding-agent/dist/cli.js",
                Some((pi, 4)),
            ),
            (
                "bun /x/@mariozechner/pi-coding-agent/dist/cli.js",
                Some((pi, 1)),
            ),
            ("bun run /x/pi-coding-agent/dist/cli.js", Some((pi, 2))),
            ("bun /x/cli.js", None),
            ("node -e pi", None),
            ("node", None),
            (
                "npx -y @mariozechner/pi-coding-agent@0.73.1 -p hi",
                Some((pi, 2)),
            ),
            ("bunx pi", Some((pi, 1))),
            ("bun x @openai/codex", Some((codex, 2))),
            ("env FOO=1 -u BAR claude --resume x", Some((claude, 4))),
            ("claude", Some((claude, 0))),
            ("/home/u/.local/bin/claude -p hi", Some((claude, 0))),
            (
                "node /x/@anthropic-ai/claude-code/cli.js",
                Some((claude, 1)),
            ),
            ("codex", Some((codex, 0))),
            (
                "node /usr/lib/node_modules/@openai/codex/bin/codex.js exec hi",
                Some((codex, 1)),
            ),
            ("npx @openai/codex", Some((codex, 1))),
            ("bash", None),
            ("/bin/zsh -l", None),
            ("vim pi", None),
            ("/home/u/pi-coding-agent-notes/run.sh", None),
            ("", None),
        ] {
            assert_eq!(locate(&argv(cmd), super::super::AGENTS), want, "{cmd:?}");
        }
    }
}
