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
(-d: in the background, printing the new id).
";

pub const COMPLETIONS: &str = "\
Usage: amux completions bash|zsh|fish

Prints a completion script for the shell.
";

#[cfg(test)]
const VERB_WORDS: &str = "run ls show events wait send kill attach resume daemon completions help";

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
    fn completions_name_every_verb() {
        for script in [super::BASH, super::ZSH, super::FISH] {
            for verb in super::VERB_WORDS.split(' ') {
                assert!(script.contains(verb), "{verb}");
            }
        }
        assert!(super::completions("tcsh").is_err());
    }
}
