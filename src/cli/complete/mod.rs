//! `amux completions bash|zsh|fish`: each shell's script, written from
//! the verb table (`verbs.rs`).
//!
//! Every script has the same parts, in its shell's words: an id function
//! that lists the sessions of each `Ids` set (through `amux ls`, with the
//! `-H` hosts typed before the verb); the top level (the completed verbs
//! and `GLOBAL`'s options, hostnames after `-H`); and, once a verb is
//! typed, a count of its operands so far (words that are neither options
//! nor an option's value, the valued options coming from the table) and
//! one branch per verb offering its visible options, a valued option's
//! `choices` after it, and what its `Operands` say: one id while none is
//! typed, ids for ever, a word, a verb, or a command and then files.

mod bash;
mod fish;
mod zsh;

use super::verbs::{self, Opt, Verb};
use crate::error::{Error, Result};

/// The script for `shell`.
pub fn script(shell: &str) -> Result<String> {
    Ok(match shell {
        "bash" => bash::script(),
        "zsh" => zsh::script(),
        "fish" => fish::script(),
        _ => {
            return Err(Error::Usage(format!(
                "completions for bash, zsh or fish, not {shell:?}"
            )))
        }
    })
}

/// `-s --long` of each option, as a shell offers them.
fn words<'a>(opts: impl IntoIterator<Item = &'a Opt>) -> Vec<String> {
    let mut words = Vec::new();
    for opt in opts {
        words.extend(opt.short.map(|c| format!("-{c}")));
        words.push(format!("--{}", opt.long));
    }
    words
}

/// The top level's words: the completed verbs, then amux's options.
fn top() -> Vec<String> {
    let verbs = verbs::completed().map(|v| v.name.to_string());
    verbs.chain(words(verbs::GLOBAL)).collect()
}

/// The completed verbs' names, space-separated.
fn verb_names() -> String {
    let names: Vec<&str> = verbs::completed().map(|v| v.name).collect();
    names.join(" ")
}

/// `--a|--b|…` of the options with a value (`sep` between them).
fn valued(sep: &str) -> String {
    let longs: Vec<String> = verbs::valued().iter().map(|l| format!("--{l}")).collect();
    longs.join(sep)
}

/// The verb's visible options with a value.
fn with_values(verb: &Verb) -> impl Iterator<Item = &'static Opt> {
    verb.visible().filter(|o| o.value.is_some())
}

/// An awk/shell program for `Ids` as `ls | …` (`hosts`: how the shell
/// passes the `-H` hosts on).
fn listing(ids: verbs::Ids, hosts: &str) -> String {
    let (ls, filter) = ids.listing();
    match filter {
        None => format!("amux {hosts} {ls} 2>/dev/null | cut -f1"),
        Some(awk) => format!("amux {hosts} {ls} 2>/dev/null | awk -F'\\t' '{awk}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_names_every_completed_verb_and_option() {
        for shell in ["bash", "zsh", "fish"] {
            let text = script(shell).unwrap();
            for verb in verbs::completed() {
                assert!(text.contains(verb.name), "{shell}: {}", verb.name);
                for opt in verb.visible() {
                    assert!(text.contains(opt.long), "{shell}: {}", opt.long);
                    for choice in opt.choices {
                        assert!(text.contains(choice), "{shell}: {choice}");
                    }
                }
            }
        }
        assert!(script("tcsh").is_err());
    }
}
