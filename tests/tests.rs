//! The integration tests, one crate (one link step): each module drives the
//! real `amux` binary, `support` holds the shared helpers. Run one module
//! with `cargo test --test tests oracle::` (the module path prefixes every
//! test name).

mod support;

mod accuracy;
mod agent_state;
mod answer;
mod attach;
mod cli;
mod daemon_activation;
mod daemon_attribution;
mod daemon_events;
mod daemon_idle;
mod daemon_monitor;
mod daemon_restart;
mod daemon_sources;
mod faults;
mod http_bad_input;
mod notify;
mod oracle;
mod packaging;
mod pi_extension;
mod pi_moments;
mod playground;
mod preload;
mod pty;
mod real_claude;
mod real_codex;
mod real_copilot;
mod real_gemini;
mod real_opencode;
mod real_pi;
mod real_qwen;
mod regress;
mod regress_pi;
mod remote;
mod security;
mod shell_state;
mod top;
mod top_hosts;
mod transport;
mod unreadable;
mod verbs;
