//! The conversation a launch command line names, before the agent writes.
//!
//! `pi --session F`, `claude --resume ID` (or `--session-id ID`) and
//! `codex resume ID` hold that conversation from their first moment — and
//! a resumed pi writes nothing until its next prompt, so waiting for the
//! preload would leave the session looking new. The runner asks here once
//! at start and reports the file with source `argv`; the agent's own
//! report later confirms or overrides it. Each rule (an adapter's
//! `launch_file`) reads only the words after the agent's own (see
//! `argv.rs`), and names a file only when the value is unambiguous: pi's
//! `--session` given a path, Claude's flags given an id, Codex's `resume`
//! given an id whose rollout exists. Here: what those rules share.

/// The value of the first of `names` in `args`: `--name V` or `--name=V`.
pub(super) fn option<'a>(args: &'a [String], names: &[&str]) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, a)| {
        names.iter().find_map(|name| match a.strip_prefix(name) {
            Some("") => args.get(i + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, Kind};
    use std::path::{Path, PathBuf};

    fn file(kind: Kind, args: &[String], cwd: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
        kind.adapter().launch_file(args, cwd, roots)
    }

    #[test]
    fn launch_lines_name_their_files() {
        let cwd = Path::new("/home/u/proj");
        let roots = |r: &str| vec![PathBuf::from(r)];
        let pi = roots("/h/.pi/agent/sessions");
        let claude = roots("/h/.claude/projects");
        let table: &[(Kind, &str, Option<&str>)] = &[
            (Kind::PI, "--session /s/a.jsonl -c", Some("/s/a.jsonl")),
            (
                Kind::PI,
                "--session=rel/a.jsonl",
                Some("/home/u/proj/rel/a.jsonl"),
            ),
            (Kind::PI, "--session 0193abcd", None),
            (Kind::PI, "-c", None),
            (Kind::PI, "--session", None),
            (
                Kind::CLAUDE,
                "--resume 60abc85e-1111-2222-3333-444455556666",
                Some("/h/.claude/projects/-home-u-proj/60abc85e-1111-2222-3333-444455556666.jsonl"),
            ),
            (
                Kind::CLAUDE,
                "-r abc-1",
                Some("/h/.claude/projects/-home-u-proj/abc-1.jsonl"),
            ),
            (
                Kind::CLAUDE,
                "--session-id=abc-2",
                Some("/h/.claude/projects/-home-u-proj/abc-2.jsonl"),
            ),
            (Kind::CLAUDE, "--resume abc-1 --fork-session", None),
            (Kind::CLAUDE, "--resume ../etc", None),
            (Kind::CLAUDE, "-p hello", None),
        ];
        for (kind, args, want) in table {
            let r = if *kind == Kind::PI { &pi } else { &claude };
            let got = file(*kind, &fixture::argv(args), cwd, r);
            assert_eq!(got.as_deref(), want.map(Path::new), "{kind:?} {args}");
        }
    }

    #[test]
    fn codex_resume_finds_the_rollout() {
        let root = fixture::temp_dir("launch-codex");
        let id = "01a20a54-a807-7000-8000-000000000001";
        let day = root.join("2026/11/30");
        std::fs::create_dir_all(&day).unwrap();
        let rollout = day.join(format!("rollout-2026-11-30T10-00-00-{id}.jsonl"));
        std::fs::write(&rollout, "{}\n").unwrap();
        let roots = vec![root.clone()];
        let cwd = Path::new("/w");
        let args = |s: &str| fixture::argv(s);
        assert_eq!(
            file(Kind::CODEX, &args(&format!("resume {id}")), cwd, &roots),
            Some(rollout)
        );
        assert_eq!(file(Kind::CODEX, &args("resume --last"), cwd, &roots), None);
        let other = "01a20a54-a807-7000-8000-000000000002";
        assert_eq!(
            file(Kind::CODEX, &args(&format!("resume {other}")), cwd, &roots),
            None
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
