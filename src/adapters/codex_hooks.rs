//! Codex's command hooks, registered and trusted for one launch only.
//!
//! Codex (0.169.0) runs a hook only if it is trusted: a hook from the
//! user's or a project's config is trusted once the user accepts it in
//! `/hooks`, which records a hash in their `config.toml`. Hooks given with
//! `-c` belong to a synthetic config layer, the session flags; untrusted
//! (or trusted with another hash) they are not run, and the TUI opens a
//! "Hooks need review" dialog at startup that waits for the user — so a
//! hash that stopped matching, say after a Codex upgrade, fails safe but
//! not silently. `--dangerously-bypass-hook-trust` would trust every hook
//! of every source for the run, the user's included, so amux instead
//! states the trust of its own hooks on the same command line:
//! `-c hooks.state={…}` is read like the `[hooks.state]` table of a
//! `config.toml`, and nothing is written anywhere.
//!
//! Where that comes from in Codex's source (openai/codex, `codex-rs/`):
//!
//! - `hooks/src/engine/discovery.rs`: each config layer's `hooks` table
//!   is discovered on its own (`load_toml_hooks_from_layer`), so hooks of
//!   the session flags add to the user's and the project's instead of
//!   replacing them; the session-flags layer's source path is
//!   `synthetic_layer_path("<session-flags>/config.toml")`, i.e.
//!   `/<session-flags>/config.toml`. A command hook's trust state is looked
//!   up under `hook_key(source, event, group_index, handler_index)`
//!   (`hooks/src/lib.rs`): `<source>:<event label>:<group>:<handler>`,
//!   the label in snake case (`hook_event_key_label`: `pre_tool_use`,
//!   `permission_request`, …). It is trusted when the state's
//!   `trusted_hash` equals `command_hook_hash` of the hook; any other hash
//!   leaves it "modified", which does not run either (`hook_trust_status`).
//! - `command_hook_hash` (same file) hashes a `NormalizedHookIdentity`:
//!   `event_name` (that snake-case label) flattened with the matcher group
//!   (`matcher`, `hooks`), the group holding only this handler, normalised
//!   (`commandWindows` dropped, the timeout defaulted to 600 and at least
//!   1). The identity is turned into a TOML value, so fields that are
//!   `None` vanish, and given to `version_for_toml`.
//! - `version_for_toml` (`config/src/fingerprint.rs`): that TOML value as
//!   `serde_json`, object keys sorted recursively, serialised compactly
//!   (`serde_json::to_vec`), SHA-256, written `sha256:<64 lowercase hex>`.
//! - The field names are the serde names of `HookHandlerConfig::Command`
//!   (`config/src/hook_config.rs`): tag `type = "command"`, `command`,
//!   `timeout`, `async` (a bool, so always present: `false`).
//!
//! So for our hook (no matcher, no status message) the hashed text is
//! `{"event_name":"stop","hooks":[{"async":false,"command":"<command as a
//! JSON string>","timeout":5,"type":"command"}]}`. The source above was
//! read at a commit near, not at, the 0.169.0 tag; what counts was checked
//! against the 0.169.0 binary itself: `codex app-server`'s `hooks/list`
//! reported exactly these keys and these `currentHash` values (and
//! `trusted`), every event's hook ran in the TUI without a review dialog,
//! and a hash off by one digit left the hooks "modified": the review
//! dialog came up and, skipped, no hook ran.

/// Codex's config name of each event amux listens to, the label its
/// trust keys and hashes use, and the seconds it gives the hook. Codex
/// waits for a hook before it goes on (a `PermissionRequest` hook before
/// it shows its dialog), so a hook that hangs must not hold the agent for
/// Codex's default of 600; it clamps an `Interrupt` hook's to 3, and
/// hashes the clamped value (checked with `hooks/list`: trusted).
const EVENTS: [(&str, &str, u64); 7] = [
    ("SessionStart", "session_start", 5),
    ("UserPromptSubmit", "user_prompt_submit", 5),
    ("PreToolUse", "pre_tool_use", 5),
    ("PermissionRequest", "permission_request", 5),
    ("PostToolUse", "post_tool_use", 5),
    ("Stop", "stop", 5),
    ("Interrupt", "interrupt", 3),
];

use super::hooks::{asks, said};
use super::Extension;
use crate::protocol::{Ask, ShimEvent, State};

/// The source path Codex gives hooks passed with `-c`.
const SESSION_FLAGS: &str = "/<session-flags>/config.toml";

/// The words (`-c`, `key=value`, …) that make Codex run `command` (a
/// shell command line) on each of [`EVENTS`], trusted for this launch.
///
/// Each event's hooks are one `-c hooks.<Event>=[…]` — replacing any
/// `-c hooks.<Event>` given before it on the same command line (a later
/// one replaces ours), never the hooks of a `config.toml` — and the trust
/// is one `-c hooks.state={…}`, which a user's own `-c hooks.state` would
/// replace in the same way. One table, not a `-c` per key: a trust key
/// holds a dot (`config.toml`) and Codex does not read a quoted segment
/// of a `-c` key as one key — `hooks.state."….toml:stop:0:0".trusted_hash=…`
/// left the hook untrusted.
pub(super) fn hook_overrides(command: &str) -> Vec<String> {
    let quoted = toml_string(command);
    let mut words = Vec::with_capacity(2 * EVENTS.len() + 2);
    let mut trusted = Vec::with_capacity(EVENTS.len());
    for (event, label, timeout) in EVENTS {
        words.push("-c".to_string());
        words.push(format!(
            "hooks.{event}=[{{hooks=[{{type=\"command\",command={quoted},timeout={timeout}}}]}}]"
        ));
        // Our hooks are the first handler of the first group of their
        // event in the session-flags layer: index 0:0.
        trusted.push(format!(
            "\"{SESSION_FLAGS}:{label}:0:0\"={{trusted_hash=\"{}\"}}",
            trusted_hash(label, command, timeout)
        ));
    }
    words.push("-c".to_string());
    words.push(format!("hooks.state={{{}}}", trusted.join(",")));
    words
}

/// What Codex computes for our hook on the event labelled `label`
/// (see the module's doc).
fn trusted_hash(label: &str, command: &str, timeout: u64) -> String {
    // serde_json's escaping of the command is the one Codex hashes.
    let command = serde_json::Value::from(command);
    let identity = format!(
        "{{\"event_name\":\"{label}\",\"hooks\":[{{\"async\":false,\"command\":{command},\
         \"timeout\":{timeout},\"type\":\"command\"}}]}}"
    );
    format!(
        "sha256:{}",
        crate::hash::hex(&crate::hash::sha256(identity.as_bytes()))
    )
}

/// `s` as a TOML basic string. Codex parses a `-c` value as TOML and, when
/// that fails, silently takes the raw text as a string — so a command that
/// broke the syntax would leave the hooks unparsed rather than fail.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // TOML allows no raw control characters but tab in a basic
            // string; `\u` escapes every one of them.
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What one of Codex's hooks says: `SessionStart` (at the first prompt)
/// names the rollout; a prompt and a tool's use are work;
/// `PermissionRequest` is the approval, with its command; `Stop` ends the
/// turn and `Interrupt` (Esc, while it works or at the approval) too.
/// `Stop` says nothing of how the turn ended: an error is the rollout's.
pub(super) fn extension(event: &ShimEvent) -> Option<Extension> {
    if event.op != "hook" {
        return None;
    }
    Some(match event.event.as_deref()? {
        "SessionStart" => match event.path.clone() {
            Some(path) => Extension::Holds(path),
            None => Extension::NoPath,
        },
        "UserPromptSubmit" | "PreToolUse" | "PostToolUse" => {
            Extension::State(said(State::Working, false))
        }
        "PermissionRequest" => Extension::State(asks(Ask::Permission, event)),
        "Stop" | "Interrupt" => Extension::State(said(State::Idle, true)),
        _ => Extension::Nothing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hook the real Codex 0.169.0 ran on every event (a shell
    /// appending its stdin to a file), with the hashes its
    /// `codex app-server` `hooks/list` reported as `currentHash`.
    const RAN: &str = "sh -c 'cat >> /tmp/cxh/hooks.log'";
    const RAN_HASHES: [(&str, &str); 6] = [
        (
            "session_start",
            "sha256:ed39ead998654ea7d1ae393032f889acb699550c1e1cf422257cf161503db500",
        ),
        (
            "user_prompt_submit",
            "sha256:f1f5806a0c22c57ddcb4df8aa7a76b60ea25067d38dab4f781fe1d4133f34b39",
        ),
        (
            "pre_tool_use",
            "sha256:45fcc02dc1151d3bdd84da8ab5180eb8209a29d892cbc62c2dbb9ca6dbdfcc04",
        ),
        (
            "permission_request",
            "sha256:1ed79e561e378114ecd78e3d55b98c5b7b0119f08d2a33d4a72b299846a0065a",
        ),
        (
            "post_tool_use",
            "sha256:2fb7f8ac1822b59f02ee24e34121d58f47ccd1c5800dbb1d3c525ad3c60fafb9",
        ),
        (
            "stop",
            "sha256:90a7c8380a9cb0c847a82d8c4b42c92eda517792d11a3c52b47ec0a37fe55da4",
        ),
    ];

    #[test]
    fn hashes_are_the_ones_codex_computed() {
        for (label, hash) in RAN_HASHES {
            assert_eq!(trusted_hash(label, RAN, 5), hash, "{label}");
        }
        // Quotes, a tab, a backslash, DEL and non-ASCII: Codex read these
        // words back to this command, listed this hash and ran the hook.
        let odd = "'/tmp/cxh/hook.sh' \"q\\\"uote\" 'tab\there' é✓ # back\\slash \u{7f} end";
        assert_eq!(
            trusted_hash("stop", odd, 5),
            "sha256:1bf2e2d976d3cac8234c347e1ba5dbf35ee86b75ebf883c4eb00faafcd08b4fe"
        );
    }

    /// An `Interrupt` hook is hashed with its timeout clamped to 3: the
    /// real Codex listed this hash for it, trusted.
    #[test]
    fn the_interrupt_hash_is_the_one_codex_computed() {
        assert_eq!(
            trusted_hash("interrupt", "'/x/amux' 'hook' 'codex'", 3),
            "sha256:494f9f907441241a39d406d3d7808cbdc61018aee2ca84051398fd11391109da"
        );
    }

    #[test]
    fn words_are_the_ones_codex_ran() {
        let words = hook_overrides(RAN);
        assert_eq!(words.len(), 16);
        assert!(words.iter().step_by(2).all(|w| w == "-c"));
        assert_eq!(
            words[1],
            "hooks.SessionStart=[{hooks=[{type=\"command\",\
             command=\"sh -c 'cat >> /tmp/cxh/hooks.log'\",timeout=5}]}]"
        );
        assert_eq!(
            words[11],
            "hooks.Stop=[{hooks=[{type=\"command\",\
             command=\"sh -c 'cat >> /tmp/cxh/hooks.log'\",timeout=5}]}]"
        );
        let interrupt = ("interrupt", trusted_hash("interrupt", RAN, 3));
        let state = (RAN_HASHES.iter().map(|(l, h)| (*l, h.to_string())))
            .chain([interrupt])
            .map(|(label, hash)| {
                format!("\"/<session-flags>/config.toml:{label}:0:0\"={{trusted_hash=\"{hash}\"}}")
            })
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(words[15], format!("hooks.state={{{state}}}"));
    }

    /// Each `-c` value, read as the TOML Codex reads it, holds the command
    /// unchanged — checked by turning this narrow TOML (inline tables,
    /// arrays, basic strings, integers) into JSON, which `serde_json` then
    /// parses, so a stray quote or escape fails here.
    #[test]
    fn values_parse_back_to_the_command() {
        let command = "'/opt/a mux/amux' hook \"codex\" \\ \t\n\u{7f} é ✓";
        let words = hook_overrides(command);
        for (i, (event, label, timeout)) in EVENTS.iter().enumerate() {
            let (key, value) = words[2 * i + 1].split_once('=').expect("key=value");
            assert_eq!(key, format!("hooks.{event}"));
            let v: serde_json::Value =
                serde_json::from_str(&toml_inline_to_json(value)).expect("hooks value");
            let hook = &v[0]["hooks"][0];
            assert_eq!(hook["type"], "command");
            assert_eq!(hook["command"], command);
            assert_eq!(hook["timeout"], *timeout);
            assert_eq!(v[0]["hooks"].as_array().map(Vec::len), Some(1));
            assert!(v[0].get("matcher").is_none(), "{label}: every tool");
        }
        let (key, value) = words[15].split_once('=').expect("key=value");
        assert_eq!(key, "hooks.state");
        let v: serde_json::Value =
            serde_json::from_str(&toml_inline_to_json(value)).expect("state value");
        for (_, label, timeout) in EVENTS {
            let key = format!("/<session-flags>/config.toml:{label}:0:0");
            assert_eq!(
                v[&key]["trusted_hash"],
                trusted_hash(label, command, timeout),
                "{key}"
            );
        }
    }

    #[test]
    fn the_hash_escapes_the_command_as_json() {
        // Codex hashes serde_json's text: `"` and `\` escaped, control
        // characters as short or \u00xx escapes, the rest (DEL, non-ASCII)
        // raw — not TOML's escapes.
        let identity = |command: &str| {
            format!(
                "{{\"event_name\":\"stop\",\"hooks\":[{{\"async\":false,\"command\":{command},\
                 \"timeout\":5,\"type\":\"command\"}}]}}"
            )
        };
        let expected = identity("\"a\\\"b\\\\c\\td\\u0001\u{7f}é\"");
        assert_eq!(
            trusted_hash("stop", "a\"b\\c\td\u{1}\u{7f}é", 5),
            format!(
                "sha256:{}",
                crate::hash::hex(&crate::hash::sha256(expected.as_bytes()))
            )
        );
    }

    /// What Codex 0.169.0 wrote on each hook's stdin (one JSON object, no
    /// newline), kept in `tests/fixtures/codex/hooks/<Event>.json`; also
    /// `Interrupt` (Esc while working) and `PostModelRequest` (an HTTP
    /// 500), the two moments `Stop` does not report.
    #[test]
    fn fixtures_name_their_event_and_session() {
        let names = EVENTS.iter().map(|(event, _, _)| *event);
        for event in names.chain(["Interrupt", "PostModelRequest"]) {
            let text = crate::adapters::fixture::read(&format!("codex/hooks/{event}.json"));
            let v: serde_json::Value = serde_json::from_str(&text).expect(event);
            assert_eq!(v["hook_event_name"], event);
            for key in ["session_id", "transcript_path", "cwd"] {
                assert!(v[key].is_string(), "{event}: {key}");
            }
        }
        let asked = crate::adapters::fixture::read("codex/hooks/PermissionRequest.json");
        let asked: serde_json::Value = serde_json::from_str(&asked).expect("PermissionRequest");
        assert_eq!(asked["tool_name"], "Bash");
        assert_eq!(asked["tool_input"]["command"], "touch approved.txt");
    }

    /// The TOML our values use, as JSON: bare keys become strings and `=`
    /// becomes `:`; basic strings' escapes are JSON's, but for `\u` with
    /// upper-case hex (JSON accepts it) and raw characters JSON allows.
    fn toml_inline_to_json(toml: &str) -> String {
        let mut out = String::new();
        let mut chars = toml.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    out.push('"');
                    while let Some(c) = chars.next() {
                        out.push(c);
                        match c {
                            '\\' => out.push(chars.next().expect("escaped character")),
                            '"' => break,
                            c => assert!(!c.is_control() || c == '\t', "raw {c:?} in TOML"),
                        }
                    }
                }
                '=' => out.push(':'),
                c if c.is_ascii_alphabetic() || c == '_' => {
                    let mut word = String::from(c);
                    while let Some(&c) = chars.peek() {
                        if !(c.is_ascii_alphanumeric() || c == '_') {
                            break;
                        }
                        word.push(c);
                        chars.next();
                    }
                    out.push_str(&format!("\"{word}\""));
                }
                c => out.push(c),
            }
        }
        out
    }
}
