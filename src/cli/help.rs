//! Help texts and shell completions, kept together so they read as one
//! manual and stay in step with amux(1).

use crate::error::{Error, Result};

pub const MAIN: &str = "\
amux - run AI coding agents in pseudo-terminals and know which conversation each holds

Usage: amux [-H HOST]... VERB ...
  amux [run] [-d] [--] CMD [ARGS...]     run CMD (pi, claude, codex, any command) in a PTY
  amux ls [--all] [--wide] [--json]      list sessions
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
one already runs. --foreground keeps it attached, for service managers; under
systemd (amux.socket) it takes the listening socket systemd passes it.
";

pub const LS: &str = "\
Usage: amux ls [-a|--all] [-w|--wide] [--json]

Lists live sessions (--all: dead ones too). On a terminal, a table that fits
its width (title cut, path shortened or left to show; --wide: all of both),
states in colour unless NO_COLOR is set; otherwise tab-separated lines: id,
kind, state, source, title, conversation file. --json prints the array of
session records.
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
Ctrl-\\ detaches and leaves the agent running; the screen you had comes back.
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

// Each verb completes its own options and the ids it accepts: live ones
// (`amux ls`) for the verbs that need a running agent, dead ones (`amux ls
// --all`, state `exited…`; `resumed` ones are done with) for `resume`,
// any dead one for `forget`, every one for `show`. `-H HOST` before the
// verb is passed on to those listings.
const BASH: &str = r#"# bash completion for amux
_amux_ids() {
    case $1 in
        live) amux "${_amux_hosts[@]}" ls 2>/dev/null | cut -f1 ;;
        all) amux "${_amux_hosts[@]}" ls --all 2>/dev/null | cut -f1 ;;
        exited) amux "${_amux_hosts[@]}" ls --all 2>/dev/null | awk -F'\t' '$3 ~ /^exited/ {print $1}' ;;
        dead) amux "${_amux_hosts[@]}" ls --all 2>/dev/null | awk -F'\t' '$3 ~ /^(exited|resumed)/ {print $1}' ;;
    esac
}
_amux() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local i=1 verb= _amux_hosts=()
    while [ "$i" -lt "$COMP_CWORD" ]; do
        case ${COMP_WORDS[i]} in
            -H|--host)
                if [ "${COMP_WORDS[i+1]}" = "=" ]; then i=$((i+1)); fi
                _amux_hosts+=(-H "${COMP_WORDS[i+1]}"); i=$((i+2)) ;;
            -H?*) _amux_hosts+=("${COMP_WORDS[i]}"); i=$((i+1)) ;;
            *) verb=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [ -z "$verb" ]; then
        case $prev in
            -H|--host|=) COMPREPLY=($(compgen -A hostname -- "$cur")); return ;;
        esac
        COMPREPLY=($(compgen -W "run ls show events wait send kill attach resume forget daemon completions help -H --host --help --version" -- "$cur"))
        return
    fi
    # Words after the verb that are not options nor an option's value.
    local j args=0
    for ((j = i + 1; j < COMP_CWORD; j++)); do
        case ${COMP_WORDS[j]} in
            --until|--timeout|--size|--keep|--session) j=$((j+1)) ;;
            -*) ;;
            *) args=$((args+1)) ;;
        esac
    done
    local opts= ids=
    case $verb in
        run)
            if [ "$args" -gt 0 ]; then compopt -o default; COMPREPLY=(); return; fi
            case $prev in --size|--keep) return ;; esac
            if [[ $cur == -* ]]; then opts="-d --detach --size --keep --no-inject --help"
            else COMPREPLY=($(compgen -c -- "$cur")); return; fi ;;
        ls) opts="-a --all -w --wide --json" ;;
        show) opts="--json"; [ "$args" -eq 0 ] && ids=all ;;
        events) opts= ;;
        wait)
            case $prev in
                --until) COMPREPLY=($(compgen -W "idle working waiting exit attributed" -- "$cur")); return ;;
                --timeout) return ;;
            esac
            opts="--until --timeout --json"; [ "$args" -eq 0 ] && ids=live ;;
        send) opts="-e --enter"; [ "$args" -eq 0 ] && ids=live ;;
        kill|attach) [ "$args" -eq 0 ] && ids=live ;;
        resume) opts="-d --detach"; [ "$args" -eq 0 ] && ids=exited ;;
        forget) opts="--dead"; ids=dead ;;
        daemon) opts="--foreground" ;;
        completions) [ "$args" -eq 0 ] && opts="bash zsh fish" ;;
        help) [ "$args" -eq 0 ] && opts="run ls show events wait send kill attach resume forget daemon completions help" ;;
        dial-stdio) opts="--session" ;;
    esac
    COMPREPLY=($(compgen -W "$opts ${ids:+$(_amux_ids "$ids")}" -- "$cur"))
}
complete -F _amux amux
"#;

const ZSH: &str = r#"#compdef amux
_amux_ids() {
    case $1 in
        live) amux $hosts ls 2>/dev/null | cut -f1 ;;
        all) amux $hosts ls --all 2>/dev/null | cut -f1 ;;
        exited) amux $hosts ls --all 2>/dev/null | awk -F'\t' '$3 ~ /^exited/ {print $1}' ;;
        dead) amux $hosts ls --all 2>/dev/null | awk -F'\t' '$3 ~ /^(exited|resumed)/ {print $1}' ;;
    esac
}
_amux() {
    local -a verbs hosts
    verbs=(run ls show events wait send kill attach resume forget daemon completions help)
    local i=2
    while (( i < CURRENT )); do
        case $words[i] in
            -H|--host) hosts+=(-H $words[i+1]); (( i += 2 )) ;;
            -H?*|--host=*) hosts+=($words[i]); (( i += 1 )) ;;
            *) break ;;
        esac
    done
    if (( i == CURRENT )); then
        case $words[i-1] in
            -H|--host) _hosts ;;
            *) compadd -- $verbs -H --host --help --version ;;
        esac
        return
    fi
    local verb=$words[i] prev=$words[CURRENT-1]
    # Words after the verb that are not options nor an option's value.
    local j args=0
    for (( j = i + 1; j < CURRENT; j++ )); do
        case $words[j] in
            --until|--timeout|--size|--keep|--session) (( j++ )) ;;
            -*) ;;
            *) (( args++ )) ;;
        esac
    done
    local -a opts ids
    case $verb in
        run)
            if (( args > 0 )); then _files; return; fi
            case $prev in --size|--keep) return ;; esac
            if [[ $words[CURRENT] == -* ]]; then opts=(-d --detach --size --keep --no-inject --help)
            else _command_names; return; fi ;;
        ls) opts=(-a --all -w --wide --json) ;;
        show) opts=(--json); (( args )) || ids=(${(f)"$(_amux_ids all)"}) ;;
        wait)
            case $prev in
                --until) compadd -- idle working waiting exit attributed; return ;;
                --timeout) return ;;
            esac
            opts=(--until --timeout --json); (( args )) || ids=(${(f)"$(_amux_ids live)"}) ;;
        send) opts=(-e --enter); (( args )) || ids=(${(f)"$(_amux_ids live)"}) ;;
        kill|attach) (( args )) || ids=(${(f)"$(_amux_ids live)"}) ;;
        resume) opts=(-d --detach); (( args )) || ids=(${(f)"$(_amux_ids exited)"}) ;;
        forget) opts=(--dead); ids=(${(f)"$(_amux_ids dead)"}) ;;
        daemon) opts=(--foreground) ;;
        completions) (( args )) || opts=(bash zsh fish) ;;
        help) (( args )) || opts=($verbs) ;;
        dial-stdio) opts=(--session) ;;
    esac
    (( ${#opts} + ${#ids} )) && compadd -- $opts $ids
}
_amux "$@"
"#;

const FISH: &str = r#"# fish completion for amux
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
        case live
            amux $hosts ls 2>/dev/null | cut -f1
        case all
            amux $hosts ls --all 2>/dev/null | cut -f1
        case exited
            amux $hosts ls --all 2>/dev/null | awk -F'\t' '$3 ~ /^exited/ {print $1}'
        case dead
            amux $hosts ls --all 2>/dev/null | awk -F'\t' '$3 ~ /^(exited|resumed)/ {print $1}'
    end
end
# The verb is one of $argv and no argument follows it yet (options and
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
            case --until --timeout --size --keep --session
                set -e tokens[1]
            case '-*'
            case '*'
                return 1
        end
        set -e tokens[1]
    end
end
set -l verbs run ls show events wait send kill attach resume forget daemon completions help
complete -c amux -n "not __fish_seen_subcommand_from $verbs" -a "$verbs"
complete -c amux -n "not __fish_seen_subcommand_from $verbs" -s H -l host -x -a '(__fish_print_hostnames)'
complete -c amux -n '__amux_first run' -a '(__fish_complete_command)'
complete -c amux -n '__amux_first run' -s d -l detach
complete -c amux -n '__amux_first run' -l size -x
complete -c amux -n '__amux_first run' -l keep -x
complete -c amux -n '__amux_first run' -l no-inject
complete -c amux -n '__fish_seen_subcommand_from run; and not __amux_first run' -F
complete -c amux -n '__fish_seen_subcommand_from ls' -s a -l all
complete -c amux -n '__fish_seen_subcommand_from ls' -s w -l wide
complete -c amux -n '__fish_seen_subcommand_from ls show wait' -l json
complete -c amux -n '__amux_first show' -a '(__amux_ids all)'
complete -c amux -n '__amux_first wait send kill attach' -a '(__amux_ids live)'
complete -c amux -n '__fish_seen_subcommand_from wait' -l until -x -a 'idle working waiting exit attributed'
complete -c amux -n '__fish_seen_subcommand_from wait' -l timeout -x
complete -c amux -n '__fish_seen_subcommand_from send' -s e -l enter
complete -c amux -n '__fish_seen_subcommand_from resume' -s d -l detach
complete -c amux -n '__amux_first resume' -a '(__amux_ids exited)'
complete -c amux -n '__fish_seen_subcommand_from forget' -l dead
complete -c amux -n '__fish_seen_subcommand_from forget' -a '(__amux_ids dead)'
complete -c amux -n '__fish_seen_subcommand_from daemon' -l foreground
complete -c amux -n '__amux_first completions' -a 'bash zsh fish'
complete -c amux -n '__amux_first help' -a "$verbs"
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
