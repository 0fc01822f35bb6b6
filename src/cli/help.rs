//! Help texts and shell completions, kept together so they read as one
//! manual and stay in step with amux(1).

use crate::error::{Error, Result};

pub const MAIN: &str = "\
amux - run AI coding agents in pseudo-terminals and know which conversation each holds

Usage: amux [-H HOST]... VERB ...
  amux [run] [-d] [--] CMD [ARGS...]     run CMD (pi, claude, codex, any command) in a PTY
  amux ls [--all] [--json]               list sessions
  amux show ID [--json]                  one session's record
  amux events                            every change, one JSON object per line
  amux wait ID [--until STATE] [--timeout S] [--json]
                                         block until idle|working|waiting|exit|attributed
  amux send ID TEXT|- [--enter]          type into a session
  amux kill ID                           end a session's agent
  amux attach ID                         attach this terminal (detach: Ctrl-\\)
  amux resume [-d] ID                    resume a dead session's conversation
  amux forget ID... | --dead             drop dead sessions' records
  amux daemon [--foreground]             start the per-user daemon
  amux completions bash|zsh|fish         print a completion script
  amux --help | --version

ID is a session id, a unique prefix of one, or a title slug.
-H, --host [user@]host[:port]  talk to that machine's amux over ssh (AMUX_HOST;
  several hosts, or local, give one merged ls, events and wait; ids host:id).
Exit status: 0 ok, 1 failure, 2 usage, 3 wait: session ended, 4 wait: turn
failed, 5 no daemon reachable, 124 wait: timeout; run passes the agent's
status through. See amux(1) and amux-protocol(7).
";

pub const RUN: &str = "\
Usage: amux run [-d] [--size COLSxROWS] [--keep BYTES] [--no-inject] [--] [CMD [ARGS...]]

Runs CMD (default $SHELL) in a pseudo-terminal relayed to this terminal,
serving its session socket. Exits with CMD's status (128+N for signal N).

Options:
  -d, --detach          run in the background; print the session id and return
      --size COLSxROWS  initial terminal size (default: this terminal's, else 80x24)
      --keep BYTES      output kept for attach and scrollback (default 1048576)
      --no-inject       add no flags to the agent's command line (pi's -e
                        extension); also AMUX_NO_INJECT=1
  -h, --help            show this help
";

pub const DAEMON: &str = "\
Usage: amux daemon [--foreground]

Starts the per-user daemon in the background (it is also started on demand
by run and the client verbs, unless AMUX_NO_DAEMON=1). Exits 0 at once if
one already runs. --foreground keeps it attached, for service managers.
";

pub const LS: &str = "\
Usage: amux ls [-a|--all] [--json]

Lists live sessions (--all: dead ones too). A table on a terminal; otherwise
tab-separated lines: id, kind, state, source, title, conversation file.
--json prints the array of session records.
";

pub const SHOW: &str = "\
Usage: amux show ID [--json]

Prints one session: key<TAB>value lines, or its record with --json.
";

pub const EVENTS: &str = "\
Usage: amux events

Prints every session as {\"type\":\"session\",\"session\":{...}}, then one line per
change ({\"type\":\"session\",...} or {\"type\":\"remove\",\"id\":...}), flushed per line.
";

pub const WAIT: &str = "\
Usage: amux wait ID [--until idle|working|waiting|exit|attributed] [--timeout SECONDS] [--json]

Blocks until the session's state holds (default idle: a turn finished and no
input was submitted since). --json prints the record. Exit: 0 reached, 3 the
session ended first, 4 its turn failed, 5 no daemon reachable, 124 timed out,
1 unknown id, 2 usage.
";

pub const SEND: &str = "\
Usage: amux send ID TEXT [--enter]
       amux send ID - [--enter]      (text from stdin)

Writes TEXT to the session's terminal; --enter then presses Enter.
";

pub const KILL: &str = "\
Usage: amux kill ID

Sends SIGTERM to the agent's process group, SIGKILL after 3 seconds.
";

pub const ATTACH: &str = "\
Usage: amux attach ID

Attaches this terminal to the session: the kept output first, then live.
Ctrl-\\ detaches and leaves the agent running.
";

pub const DIAL_STDIO: &str = "\
Usage: amux dial-stdio [--session ID]

Bridges stdin and stdout to this user's daemon socket (starting the daemon
if none runs), or with --session to that session's runner socket: what
amux -H HOST runs on HOST through ssh. See amux-protocol(7).
";

pub const RESUME: &str = "\
Usage: amux resume [-d] ID

Runs the dead session's resume command in its directory, like amux run
(-d: in the background, printing the new id). The dead record stays, its
state \"resumed\" from then on.
";

pub const FORGET: &str = "\
Usage: amux forget ID...
       amux forget --dead

Drops the records of dead sessions (--dead: every one) from ls --all, for
good. A live session is refused: kill it first.
";

pub const HELP: &str = "\
Usage: amux help [VERB]

Prints the general help, or VERB's own (the same as amux VERB --help).
";

pub const COMPLETIONS: &str = "\
Usage: amux completions bash|zsh|fish

Prints a completion script for the shell.
";

/// Every verb and its help (`amux help VERB`, `amux VERB --help`).
pub const VERBS: &[(&str, &str)] = &[
    ("run", RUN),
    ("ls", LS),
    ("show", SHOW),
    ("events", EVENTS),
    ("wait", WAIT),
    ("send", SEND),
    ("kill", KILL),
    ("attach", ATTACH),
    ("resume", RESUME),
    ("forget", FORGET),
    ("daemon", DAEMON),
    ("completions", COMPLETIONS),
    ("dial-stdio", DIAL_STDIO),
    ("help", HELP),
];

/// The verb `word` was most likely meant to be: one at most two edits
/// away (a letter added, dropped, changed or two swapped), nearest first.
pub fn closest_verb(word: &str) -> Option<&'static str> {
    (VERBS.iter())
        .map(|(v, _)| *v)
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

pub fn completions(shell: &str) -> Result<&'static str> {
    Ok(match shell {
        "bash" => BASH,
        "zsh" => ZSH,
        "fish" => FISH,
        _ => {
            return Err(Error::Usage(format!(
                "completions for bash, zsh or fish, not {shell:?}"
            )))
        }
    })
}

const BASH: &str = r#"# bash completion for amux
_amux_ids() { amux ls 2>/dev/null | cut -f1; }
_amux() {
    local cur=${COMP_WORDS[COMP_CWORD]} verb=${COMP_WORDS[1]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "run ls show events wait send kill attach resume daemon completions help --help --version" -- "$cur"))
        return
    fi
    case $verb in
        show|wait|send|kill|attach|resume) COMPREPLY=($(compgen -W "$(_amux_ids) --json --until --timeout --enter -d" -- "$cur")) ;;
        ls) COMPREPLY=($(compgen -W "--all --json" -- "$cur")) ;;
        completions) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
        run) COMPREPLY=($(compgen -c -- "$cur")) ;;
    esac
}
complete -F _amux amux
"#;

const ZSH: &str = r#"#compdef amux
_amux() {
    local -a verbs
    verbs=(run ls show events wait send kill attach resume daemon completions help)
    if (( CURRENT == 2 )); then
        _describe 'verb' verbs
        return
    fi
    case $words[2] in
        show|wait|send|kill|attach|resume) compadd -- ${(f)"$(amux ls 2>/dev/null | cut -f1)"} ;;
        ls) compadd -- --all --json ;;
        completions) compadd -- bash zsh fish ;;
        run) _command_names ;;
    esac
}
_amux "$@"
"#;

const FISH: &str = r#"# fish completion for amux
complete -c amux -f
complete -c amux -n '__fish_use_subcommand' -a 'run ls show events wait send kill attach resume daemon completions help'
complete -c amux -n '__fish_seen_subcommand_from show wait send kill attach resume' -a '(amux ls 2>/dev/null | cut -f1)'
complete -c amux -n '__fish_seen_subcommand_from ls' -l all -l json
complete -c amux -n '__fish_seen_subcommand_from wait' -l until -xa 'idle working waiting exit attributed'
complete -c amux -n '__fish_seen_subcommand_from completions' -a 'bash zsh fish'
"#;

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
    fn completions_name_every_verb() {
        for script in [super::BASH, super::ZSH, super::FISH] {
            for (verb, _) in super::VERBS.iter().filter(|(v, _)| *v != "dial-stdio") {
                assert!(script.contains(verb), "{verb}");
            }
        }
        assert!(super::completions("tcsh").is_err());
    }
}
