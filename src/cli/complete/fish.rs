//! The fish script: one `complete` line per verb's option and operand,
//! each with a condition: `__fish_seen_subcommand_from VERB` (anywhere
//! after the verb) or `__amux_first VERB` (while the verb has no operand
//! yet, for its one id and for run's options before the command).

use super::super::verbs::{self, Ids, Operands, Opt, Verb, VERBS};
use std::fmt::Write;

const HOSTS: &str = r#"# fish completion for amux
complete -c amux -f
# The -H hosts before the verb, for the id lists.
function __amux_hosts
    set -l tokens (commandline -opc)
    set -e tokens[1]
    while set -q tokens[1]
        switch $tokens[1]
            case -H --host
                echo -H; echo $tokens[2]; set -e tokens[1..2]
            case '-H?*' '--host=*'
                echo $tokens[1]; set -e tokens[1]
            case '*'
                return
        end
    end
end
function __amux_ids
    set -l hosts (__amux_hosts)
    switch $argv[1]
"#;

const FIRST: &str = r#"# The verb is one of $argv and no argument follows it yet (options and
# their values aside).
function __amux_first
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l verb
    while set -q tokens[1]
        switch $tokens[1]
            case -H --host
                set -e tokens[1]
            case '-*'
            case '*'
                set verb $tokens[1]; set -e tokens[1]; break
        end
        set -e tokens[1]
    end
    contains -- "$verb" $argv; or return 1
    while set -q tokens[1]
        switch $tokens[1]
"#;

pub fn script() -> String {
    let mut s = String::from(HOSTS);
    for ids in Ids::EVERY {
        let _ = writeln!(s, "        case {}", ids.name());
        let _ = writeln!(s, "            {}", super::listing(ids, "$hosts"));
    }
    s.push_str("    end\nend\n");
    s.push_str(FIRST);
    let _ = writeln!(s, "            case {}", super::valued(" "));
    s.push_str("                set -e tokens[1]\n            case '-*'\n            case '*'\n");
    s.push_str("                return 1\n        end\n        set -e tokens[1]\n    end\nend\n");
    let _ = writeln!(s, "set -l verbs {}", super::verb_names());
    let top = "complete -c amux -n \"not __fish_seen_subcommand_from $verbs\"";
    let _ = writeln!(s, "{top} -a \"$verbs\"");
    for opt in verbs::GLOBAL {
        // The one global option with a value is -H's host.
        let hosts = if opt.value.is_some() {
            " -a '(__fish_print_hostnames)'"
        } else {
            ""
        };
        let _ = writeln!(s, "{top}{}{hosts}", names(opt));
    }
    VERBS.iter().for_each(|verb| lines(&mut s, verb));
    s
}

/// ` -s S -l LONG` and, for an option with a value, ` -x` and its choices.
fn names(opt: &Opt) -> String {
    let mut names = opt.short.map_or(String::new(), |c| format!(" -s {c}"));
    let _ = write!(names, " -l {}", opt.long);
    if opt.value.is_some() {
        names.push_str(" -x");
    }
    if !opt.choices.is_empty() {
        let _ = write!(names, " -a '{}'", opt.choices.join(" "));
    }
    names
}

/// The verb's lines: its operands, then its options.
fn lines(s: &mut String, verb: &Verb) {
    let name = verb.name;
    let first = format!("complete -c amux -n '__amux_first {name}'");
    let seen = format!("complete -c amux -n '__fish_seen_subcommand_from {name}'");
    let ids = |ids: Ids| format!("-a '(__amux_ids {})'", ids.name());
    match verb.operands {
        Operands::Nothing => {}
        Operands::Id(set) => _ = writeln!(s, "{first} {}", ids(set)),
        Operands::Ids(set) => _ = writeln!(s, "{seen} {}", ids(set)),
        Operands::IdThen(set, words) => {
            let _ = writeln!(s, "{first} {}", ids(set));
            let after = format!("__fish_seen_subcommand_from {name}; and not __amux_first {name}");
            let _ = writeln!(s, "complete -c amux -n '{after}' -a '{}'", words.join(" "));
        }
        Operands::Word(words) => _ = writeln!(s, "{first} -a '{}'", words.join(" ")),
        Operands::Verb => _ = writeln!(s, "{first} -a \"$verbs\""),
        Operands::Command => {
            let _ = writeln!(s, "{first} -a '(__fish_complete_command)'");
            let _ = writeln!(s, "complete -c amux -n '__fish_seen_subcommand_from {name}; and not __amux_first {name}' -F");
        }
    }
    // Run's options end at the command; the other verbs' go anywhere.
    let opts = if verb.operands == Operands::Command {
        &first
    } else {
        &seen
    };
    for opt in verb.visible() {
        let _ = writeln!(s, "{opts}{}", names(opt));
    }
}
