//! Shells and any other command: no conversation file, so
//! the title comes from the terminal title the program sets (OSC 0/2, read
//! by the runner) or, before it sets one, from the command line itself.
//! Status for these comes from the process (alive, exit code), not here.

use super::text::title as clean;
use super::{Adapter, Derived, Lines, Names, Place};
use serde_json::Value;

pub struct Shell;

impl Adapter for Shell {
    fn name(&self) -> &'static str {
        "shell"
    }

    fn names(&self) -> Names {
        Names {
            programs: &[],
            packages: &[],
            dirs: &[],
        }
    }

    fn lines(&self, _place: &Place) -> Box<dyn Lines> {
        Box::new(NoLines)
    }

    fn title(&self, _d: &Derived, argv: &[String], terminal: Option<&str>) -> Option<String> {
        title(argv, terminal)
    }

    /// A shell's state comes from its exit.
    fn state_from_exit(&self) -> bool {
        true
    }
}

/// A shell has no conversation file.
struct NoLines;

impl Lines for NoLines {
    fn feed(&mut self, _d: &mut Derived, _line: &Value) {}
}

/// The terminal title when the program set a non-blank one, else the
/// command with the program's directory dropped (`/bin/bash -l` reads
/// `bash -l`), whitespace-collapsed and cut like any title.
fn title(argv: &[String], terminal_title: Option<&str>) -> Option<String> {
    if let Some(t) = terminal_title.and_then(clean) {
        return Some(t);
    }
    let (program, args) = argv.split_first()?;
    let name = program.rsplit('/').next().unwrap_or(program);
    let line = std::iter::once(name)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    clean(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_table() {
        let argv = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        for (cmd, osc, want) in [
            ("/bin/bash -l", None, Some("bash -l")),
            ("/bin/bash", Some("u@host: ~/proj"), Some("u@host: ~/proj")),
            ("/bin/bash", Some("  "), Some("bash")),
            ("htop", Some("top\n\tview"), Some("top view")),
            ("", None, None),
        ] {
            assert_eq!(title(&argv(cmd), osc).as_deref(), want, "{cmd:?} {osc:?}");
        }
    }
}
