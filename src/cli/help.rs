//! `amux --help` and `amux help VERB`, rendered from the verb table
//! (`verbs.rs`), and the verb a mistyped word was meant to be.
//!
//! The general help is a fixed head and foot around one line per verb
//! the table gives an `overview`; a verb's own help is its synopsis, its
//! prose, and its visible options in two columns (the second starting
//! where the widest `--long VALUE` leaves room for).

use super::verbs::{self, Opt, Verb, VERBS};
use std::fmt::Write;

const HEAD: &str = "\
amux - run AI coding agents in pseudo-terminals and know which conversation each holds

Usage: amux [-H HOST]... VERB ...
";

const FOOT: &str = "  amux --help | --version

ID is a session id, a unique prefix of one, or a title slug.
-H, --host [user@]host[:port]  talk to that machine's amux over ssh (AMUX_HOST;
  several hosts, or local, give one merged ls, events and wait; ids host:id).
Exit status: 0 ok, 1 failure, 2 usage, 3 wait: session ended, 4 wait: turn
failed, 5 no daemon reachable, 124 wait: timeout; run passes the agent's
status through. See amux(1) and amux-protocol(7).
";

/// Where `amux --help` starts a verb's summary: a longer usage line puts
/// it on a line of its own.
const SUMMARY_COLUMN: usize = 41;

/// `amux --help`.
pub fn main() -> String {
    let mut text = HEAD.to_string();
    for (usage, summary) in VERBS.iter().filter_map(|v| v.overview) {
        let line = format!("  {usage}");
        if line.len() < SUMMARY_COLUMN {
            let _ = writeln!(text, "{line:<SUMMARY_COLUMN$}{summary}");
        } else {
            let _ = writeln!(text, "{line}\n{:SUMMARY_COLUMN$}{summary}", "");
        }
    }
    text + FOOT
}

/// `amux help VERB`, `amux VERB --help`.
pub fn verb(verb: &Verb) -> String {
    let mut text = format!("Usage: {}\n\n{}", verb.synopsis, verb.about);
    let help = verbs::GLOBAL.iter().find(|o| o.long == "help");
    let opts: Vec<&Opt> = verb.visible().chain(help).collect();
    if opts.len() > 1 {
        text.push_str("\nOptions:\n");
        options(&mut text, &opts);
    }
    text
}

/// `--long VALUE`.
fn named(opt: &Opt) -> String {
    match opt.value {
        Some(value) => format!("--{} {value}", opt.long),
        None => format!("--{}", opt.long),
    }
}

/// The options in two columns: `  -s, --long VALUE  help`.
fn options(text: &mut String, opts: &[&Opt]) {
    let width = opts.iter().map(|o| named(o).len()).max().unwrap_or(0);
    let indent = format!("\n{:1$}", "", 6 + width + 2);
    for opt in opts {
        let short = opt.short.map_or("    ".into(), |c| format!("-{c}, "));
        let help = opt.help.replace('\n', &indent);
        let _ = writeln!(text, "  {short}{:width$}  {help}", named(opt));
    }
}

/// The verb `word` was most likely meant to be: one at most two edits
/// away (a letter added, dropped, changed or two swapped), nearest first.
pub fn closest_verb(word: &str) -> Option<&'static str> {
    (VERBS.iter())
        .map(|v| v.name)
        .map(|v| (distance(word, v), v))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, v)| v)
}

/// Optimal string alignment distance: Levenshtein plus swapped neighbours
/// (`sl` for `ls`), the usual typo.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    (0..=a.len()).for_each(|i| d[i][0] = i);
    (0..=b.len()).for_each(|j| d[0][j] = j);
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_typo_names_the_verb_it_was_meant_to_be() {
        let cases = [
            ("lss", Some("ls")),
            ("sl", Some("ls")),
            ("atach", Some("attach")),
            ("resum", Some("resume")),
            ("shwo", Some("show")),
            ("hepl", Some("help")),
            ("xyzzy", None),
            ("claude", None),
        ];
        for (word, want) in cases {
            assert_eq!(super::closest_verb(word), want, "{word}");
        }
    }

    #[test]
    fn each_verbs_help_lists_its_options_and_the_general_help_its_overview() {
        let main = super::main();
        for verb in super::VERBS {
            let help = super::verb(verb);
            assert!(help.starts_with("Usage: amux "), "{}", verb.name);
            for opt in verb.visible() {
                let line = format!("--{} ", opt.long);
                assert!(help.contains(&line), "{}: {line}", verb.name);
            }
            if let Some((usage, summary)) = verb.overview {
                assert!(main.contains(usage) && main.contains(summary), "{usage}");
            }
        }
    }
}
