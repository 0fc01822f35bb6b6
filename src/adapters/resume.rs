//! What of the user's own command line a resume keeps: every option they
//! gave, with its value — the model, the permission mode, the sandbox —
//! but not what chose the conversation (`--resume ID`, `--continue`,
//! `--session F`, `codex resume ID`) or what the agent was asked to do
//! then (a prompt, `--print`), which the resume replaces or must not send
//! again.
//!
//! Each adapter lists its options ([`Options`]): those that take a value,
//! those that choose a conversation, those dropped. An option it does not
//! list is kept as a switch: a word after it reads as a prompt and is left
//! out, so a value-taking option we do not know fails loudly at resume
//! ("missing value") instead of a prompt being sent twice. `--opt=value`
//! is one word whatever the option.

/// An agent's options, as a resume reads its original command line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Options followed by a value (`--model opus`).
    pub valued: &'static [&'static str],
    /// Options that choose the conversation, with no value.
    pub choosing: &'static [&'static str],
    /// Options that choose the conversation with a value (`--session F`).
    pub choosing_valued: &'static [&'static str],
    /// Options whose value is optional (`-r [ID]`): one that chooses takes
    /// the next word with it unless it is an option.
    pub optional_value: &'static [&'static str],
    /// Switches that were for that run only (`--print`).
    pub dropped: &'static [&'static str],
    /// A first word that chooses a conversation (`codex resume ID`): it,
    /// and what follows it that is not an option, is left out.
    pub subcommand: Option<&'static str>,
    /// First words that run no interactive session (`codex exec`): what
    /// follows is theirs, and nothing of it is kept.
    pub foreign: &'static [&'static str],
}

/// The words of `args` (the agent's own, after the word naming it) a
/// resume keeps.
pub fn kept(args: &[String], options: &Options) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = args.iter().peekable();
    let is_option = |w: &str| w.starts_with('-') && w.len() > 1;
    while let Some(word) = words.next() {
        if word == "--" || options.foreign.contains(&word.as_str()) {
            break;
        }
        if Some(word.as_str()) == options.subcommand {
            continue;
        }
        if !is_option(word) {
            continue; // a prompt, or the subcommand's conversation
        }
        let (name, inline) = match word.split_once('=') {
            Some((name, _)) if word.starts_with("--") => (name, true),
            _ => (word.as_str(), false),
        };
        let next_is_value = !inline && words.peek().is_some_and(|w| !is_option(w));
        if options.choosing_valued.contains(&name)
            || (options.choosing.contains(&name) && options.optional_value.contains(&name))
        {
            if next_is_value {
                words.next();
            }
            continue;
        }
        if options.choosing.contains(&name) || options.dropped.contains(&name) {
            continue;
        }
        out.push(word.clone());
        if options.valued.contains(&name) && next_is_value {
            out.extend(words.next().cloned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: Options = Options {
        valued: &["--model", "-m", "--permission-mode"],
        choosing: &["--continue", "-c", "--resume", "-r"],
        choosing_valued: &["--session-id"],
        optional_value: &["--resume", "-r"],
        dropped: &["-p", "--print"],
        subcommand: Some("resume"),
        foreign: &["exec"],
    };

    fn kept_of(line: &str) -> String {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        kept(&args, &OPTS).join(" ")
    }

    #[test]
    fn options_stay_and_what_chose_or_asked_goes() {
        assert_eq!(
            kept_of("--permission-mode default --model opus fix the bug"),
            "--permission-mode default --model opus"
        );
        assert_eq!(
            kept_of("-r abc --permission-mode plan"),
            "--permission-mode plan"
        );
        assert_eq!(kept_of("--resume --verbose"), "--verbose");
        assert_eq!(kept_of("--session-id=abc -c --model=x -p hi"), "--model=x");
        assert_eq!(kept_of("-m o3 resume 0199-id go on"), "-m o3");
        assert_eq!(
            kept_of("--strange word"),
            "--strange",
            "an unknown option is a switch"
        );
        assert_eq!(kept_of("--model x -- --not-an-option"), "--model x");
        assert_eq!(kept_of("-m o3 exec --json hi"), "-m o3");
        assert_eq!(kept_of(""), "");
    }
}
