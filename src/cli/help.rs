//! Help texts, kept together so they read as one manual.

pub const MAIN: &str = "\
amux - run AI coding agents in pseudo-terminals and know which conversation each holds

Usage:
  amux [run] [-d] [--] CMD [ARGS...]   run CMD (pi, claude, codex, any command) in a PTY
  amux --help | --version

Run 'amux VERB --help' for a verb's options; see amux(1).
";

pub const RUN: &str = "\
Usage: amux run [-d] [--size COLSxROWS] [--keep BYTES] [--] [CMD [ARGS...]]

Runs CMD (default $SHELL) in a pseudo-terminal relayed to this terminal,
serving its session socket. Exits with CMD's status (128+N for signal N).

Options:
  -d, --detach          run in the background; print the session id and return
      --size COLSxROWS  initial terminal size (default: this terminal's, else 80x24)
      --keep BYTES      output kept for attach and scrollback (default 1048576)
  -h, --help            show this help
";
