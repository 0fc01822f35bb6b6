//! The table itself: every verb, its help and its options (the types and
//! how each part of amux reads them are in `verbs.rs`). Longer than a
//! module should be, because it is the one list.

use super::{Ids, Operands, Opt, Verb};

/// `wait --until`'s states (`control::Until` parses them).
const STATES: &[&str] = &["idle", "working", "waiting", "exit", "attributed"];

/// Every verb, in the order `amux --help` lists them.
pub const VERBS: &[Verb] = &[
    Verb {
        name: "run",
        overview: Some((
            "amux [run] [-d] [--] CMD [ARGS...]",
            "run CMD (pi, claude, codex, any command) in a PTY",
        )),
        synopsis: "amux run [-d] [--size COLSxROWS] [--keep BYTES] [--no-inject] [--] [CMD [ARGS...]]",
        about: "\
Runs CMD (default $SHELL) in a pseudo-terminal relayed to this terminal,
serving its session socket. Exits with CMD's status (128+N for signal N).
",
        opts: &[
            Opt::switch(
                "detach",
                Some('d'),
                "run in the background; print the session id and return",
            ),
            Opt::valued(
                "size",
                "COLSxROWS",
                "initial terminal size (default: this terminal's, else 80x24)",
            ),
            Opt::valued(
                "keep",
                "BYTES",
                "output kept for attach and scrollback (default 1048576)",
            ),
            Opt::switch(
                "no-inject",
                None,
                "add no flags to the agent's command line (pi's -e\nextension); also AMUX_NO_INJECT=1",
            ),
            // What `run -d` starts its background runner with.
            Opt::switch("detached-worker", None, "the runner of run -d").hidden(),
        ],
        operands: Operands::Command,
        completed: true,
    },
    Verb {
        name: "ls",
        overview: Some(("amux ls [--all] [--wide] [--json]", "list sessions")),
        synopsis: "amux ls [-a|--all] [-w|--wide] [--json]",
        about: "\
Lists live sessions (--all: dead ones too). On a terminal, a table that fits
its width (title cut, path shortened or left to show; --wide: all of both),
states in colour unless NO_COLOR is set; otherwise tab-separated lines: id,
kind, state, source, title, conversation file. --json prints the array of
session records.
",
        opts: &[
            Opt::switch("all", Some('a'), "dead sessions too"),
            Opt::switch("wide", Some('w'), "cut neither title nor path"),
            Opt::switch("json", None, "print the session records as JSON"),
        ],
        operands: Operands::Nothing,
        completed: true,
    },
    Verb {
        name: "show",
        overview: Some(("amux show ID [--json]", "one session's record")),
        synopsis: "amux show ID [--json]",
        about: "\
Prints one session: key<TAB>value lines, or its record with --json.
",
        opts: &[Opt::switch("json", None, "print its record as JSON")],
        operands: Operands::Id(Ids::All),
        completed: true,
    },
    Verb {
        name: "explain",
        overview: Some(("amux explain ID [--json]", "why a session is in its state")),
        synopsis: "amux explain ID [--json]",
        about: "\
Prints the session's state and conversation, then its last changes, oldest
first, each with what caused it: the signal (preload, extension,
agent-pidfile, procfd, osc9, argv, file, input, attach, terminal, timer,
exit, runner, guess) and what it said. --json prints the daemon's answer.
",
        opts: &[Opt::switch("json", None, "print the explanation as JSON")],
        operands: Operands::Id(Ids::All),
        completed: true,
    },
    Verb {
        name: "events",
        overview: Some(("amux events", "every change, one JSON object per line")),
        synopsis: "amux events",
        about: "\
Prints every session as {\"type\":\"session\",\"session\":{...}}, then one line per
change ({\"type\":\"session\",...} or {\"type\":\"remove\",\"id\":...}), flushed per line.
",
        opts: &[],
        operands: Operands::Nothing,
        completed: true,
    },
    Verb {
        name: "wait",
        overview: Some((
            "amux wait ID [--until STATE] [--timeout S] [--json]",
            "block until idle|working|waiting|exit|attributed",
        )),
        synopsis: "amux wait ID [--until idle|working|waiting|exit|attributed] [--timeout SECONDS] [--json]",
        about: "\
Blocks until the session's state holds (default idle: a turn finished and no
input was submitted since). Exit: 0 reached, 3 the session ended first, 4 its
turn failed, 5 no daemon reachable, 124 timed out, 1 unknown id, 2 usage.
",
        opts: &[
            Opt::valued("until", "STATE", "the state to wait for (default idle)").choices(STATES),
            Opt::valued("timeout", "SECONDS", "give up after SECONDS (0: judge it now)"),
            Opt::switch("json", None, "print the record it ended on"),
        ],
        operands: Operands::Id(Ids::Live),
        completed: true,
    },
    Verb {
        name: "send",
        overview: Some(("amux send ID TEXT|- [--enter]", "type into a session")),
        synopsis: "amux send ID TEXT [--enter]
       amux send ID - [--enter]      (text from stdin)",
        about: "\
Writes TEXT to the session's terminal; --enter then presses Enter.
",
        opts: &[Opt::switch("enter", Some('e'), "press Enter after the text")],
        operands: Operands::Id(Ids::Live),
        completed: true,
    },
    Verb {
        name: "top",
        overview: Some(("amux top", "every session, live, who needs you first")),
        synopsis: "amux top",
        about: "\
A full-screen live view of every session, sorted by who needs you: waiting
(longest first), error, unread, working, idle, then lately exited. Keys:
Enter attach (Ctrl-\\ comes back), y/n/a answer, s send a line, k kill, r
resume, f forget, / filter, ? help, q quit. Raises amux notify's
notifications while it runs.
",
        opts: &[],
        operands: Operands::Nothing,
        completed: true,
    },
    Verb {
        name: "answer",
        overview: Some((
            "amux answer ID yes|no|always [--json]",
            "answer the permission a session waits on",
        )),
        synopsis: "amux answer ID yes|no|always [--json]",
        about: "\
Answers the permission dialog the session waits on (Claude Code, Codex,
Copilot CLI, Qwen Code) with its agent's keys: yes runs the tool once, always
also stops it asking again (as the agent scopes that), no denies it. Refused
(exit 1, nothing typed) when the session does not wait on a permission: a
question or a menu takes amux send. --json prints the record once answered.
",
        opts: &[Opt::switch("json", None, "print the record once answered")],
        operands: Operands::IdThen(Ids::Live, &["yes", "no", "always"]),
        completed: true,
    },
    Verb {
        name: "notify",
        overview: Some((
            "amux notify [--exec CMD]",
            "tell the user when a session needs them",
        )),
        synopsis: "amux notify [--exec CMD] [--grace SECONDS] [--no-desktop] [--no-osc]",
        about: "\
Follows every session and notifies when one starts waiting, its turn fails,
or a finished turn leaves a reply unread: through notify-send when on PATH,
OSC 9/777 to this terminal, and --exec CMD per notification (AMUX_ID,
AMUX_HOST, AMUX_KIND, AMUX_STATE, AMUX_TITLE, AMUX_TEXT in its environment).
A state that clears within the grace says nothing; bursts are merged; a
session a terminal is attached to is never told of.
",
        opts: &[
            Opt::valued("exec", "CMD", "run CMD (sh -c) per notification"),
            Opt::valued("grace", "SECONDS", "how long a state must hold (default 2)"),
            Opt::switch("no-desktop", None, "no notify-send"),
            Opt::switch("no-osc", None, "no OSC 9/777 to this terminal"),
        ],
        operands: Operands::Nothing,
        completed: true,
    },
    Verb {
        name: "kill",
        overview: Some(("amux kill ID", "end a session's agent")),
        synopsis: "amux kill ID",
        about: "\
Sends SIGTERM to the agent's process group, SIGKILL after 3 seconds.
",
        opts: &[],
        operands: Operands::Id(Ids::Live),
        completed: true,
    },
    Verb {
        name: "attach",
        overview: Some(("amux attach ID", "attach this terminal (detach: Ctrl-\\)")),
        synopsis: "amux attach ID",
        about: "\
Attaches this terminal to the session: the kept output first, then live.
Ctrl-\\ detaches and leaves the agent running; the screen you had comes back.
",
        opts: &[],
        operands: Operands::Id(Ids::Live),
        completed: true,
    },
    Verb {
        name: "resume",
        overview: Some(("amux resume [-d] ID", "resume a dead session's conversation")),
        synopsis: "amux resume [-d] ID",
        about: "\
Runs the dead session's resume command in its directory, like amux run
(-d: in the background, printing the new id). The dead record stays, its
state \"resumed\" from then on.
",
        opts: &[Opt::switch(
            "detach",
            Some('d'),
            "run in the background; print the new session id",
        )],
        operands: Operands::Id(Ids::Exited),
        completed: true,
    },
    Verb {
        name: "forget",
        overview: Some(("amux forget ID... | --dead", "drop dead sessions' records")),
        synopsis: "amux forget ID...
       amux forget --dead",
        about: "\
Drops the records of dead sessions (--dead: every one) from ls --all, for
good. A live session is refused: kill it first.
",
        opts: &[Opt::switch("dead", None, "every dead session's record")],
        operands: Operands::Ids(Ids::Dead),
        completed: true,
    },
    Verb {
        name: "daemon",
        overview: Some(("amux daemon [--foreground]", "start the per-user daemon")),
        synopsis: "amux daemon [--foreground]",
        about: "\
Starts the per-user daemon in the background (it is also started on demand
by run and the client verbs, unless AMUX_NO_DAEMON=1). Exits 0 at once if
one already runs. --foreground keeps it attached, for service managers; under
systemd (amux.socket) it takes the listening socket systemd passes it.
",
        opts: &[
            Opt::switch("foreground", None, "stay in this process, for service managers"),
            // What `amux daemon` starts the background daemon with.
            Opt::switch("detached-worker", None, "the background daemon").hidden(),
        ],
        operands: Operands::Nothing,
        completed: true,
    },
    Verb {
        name: "completions",
        overview: Some(("amux completions bash|zsh|fish", "print a completion script")),
        synopsis: "amux completions bash|zsh|fish",
        about: "\
Prints a completion script for the shell.
",
        opts: &[],
        operands: Operands::Word(&["bash", "zsh", "fish"]),
        completed: true,
    },
    Verb {
        name: "dial-stdio",
        overview: None,
        synopsis: "amux dial-stdio [--session ID]",
        about: "\
Bridges stdin and stdout to this user's daemon socket (starting the daemon
if none runs), or with --session to that session's runner socket: what
amux -H HOST runs on HOST through ssh. See amux-protocol(7).
",
        opts: &[Opt::valued("session", "ID", "to that session's runner socket")],
        operands: Operands::Nothing,
        completed: false,
    },
    Verb {
        name: "hook",
        overview: None,
        synopsis: "amux hook AGENT [EVENT]",
        about: "\
What an agent's command hooks run (Claude Code's, Codex's, Copilot's, added
at launch): reads the hook's JSON on stdin (EVENT names the moment when the
JSON does not) and tells the session's runner of it through $AMUX_HOOK_FIFO. Prints nothing and exits 0, whatever happens: a
hook must never change what the agent does. See amux-protocol(7).
",
        opts: &[],
        operands: Operands::Word(&["claude", "codex", "copilot", "qwen"]),
        completed: false,
    },
    Verb {
        name: "help",
        overview: None,
        synopsis: "amux help [VERB]",
        about: "\
Prints the general help, or VERB's own (the same as amux VERB --help).
",
        opts: &[],
        operands: Operands::Verb,
        completed: true,
    },
];
