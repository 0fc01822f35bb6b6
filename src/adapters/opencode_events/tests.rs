use super::*;
use crate::adapters::{fixture, Kind};
use crate::protocol::StateSource;

const FIXTURE: &str = "opencode/plugin-events.jsonl";

/// The fixture's log up to each turn's end: a failed request (HTTP 400),
/// a rejected command, a reply after a restart.
#[test]
fn the_log_folds_to_each_turns_end() {
    let mut t = fixture::tracker(Kind::OPENCODE, 0);
    let mut ends = Vec::new();
    for line in fixture::lines(FIXTURE) {
        let before = t.derived().turns_ended;
        t.feed(line.as_bytes());
        let d = t.derived();
        if d.turns_ended > before {
            ends.push(fixture::status(d));
        }
    }
    assert_eq!(
        ends,
        ["failed error: fake invalid request", "idle", "idle unread"]
    );
    let d = t.derived();
    assert_eq!(d.title.as_deref(), Some("Fake Title From Server"));
    assert_eq!(
        d.conversation_id.as_deref(),
        Some("ses_db739e983ffeEHZbeV0Cn4HhDC")
    );
}

#[test]
fn a_turn_begins_once_per_user_message_and_an_abort_is_no_error() {
    let user = r#"{"type":"message.updated","properties":{"info":{"id":"msg_1","role":"user","sessionID":"ses_a"}}}"#;
    let aborted = r#"{"type":"session.error","properties":{"sessionID":"ses_a","error":{"name":"MessageAbortedError","data":{"message":"x"}}}}"#;
    let idle = r#"{"type":"session.idle","properties":{"sessionID":"ses_a"}}"#;
    let mut t = fixture::tracker(Kind::OPENCODE, 0);
    for line in [user, user, aborted, idle, user, idle] {
        t.feed(line.as_bytes());
    }
    let d = t.derived();
    assert_eq!((d.turns_ended, fixture::status(d).as_str()), (1, "idle"));
    assert_eq!(d.conversation_id.as_deref(), Some("ses_a"));
}

fn hook(event: &str, extra: &str) -> ShimEvent {
    serde_json::from_str(&format!(r#"{{"op":"hook","event":"{event}"{extra}}}"#)).unwrap()
}

/// (state, answers, waiting tool and text, label) of a moment.
fn read(e: ShimEvent) -> String {
    match extension(&e) {
        Some(Extension::State(s)) => {
            assert_eq!(s.source, StateSource::Hook);
            let w = s.waiting.map(|w| (w.kind, w.tool, w.text));
            format!("{:?} {} {w:?} {:?}", s.state, s.answers, s.label)
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn moments_read_as_states() {
    let table = [
        (hook("session.busy", ""), "Working false None None"),
        (hook("session.idle", ""), "Idle true None None"),
        (
            hook("session.idle", r#","reason":"error""#),
            "Some(Nothing)",
        ),
        (
            hook("session.error", r#","text":"fake invalid request""#),
            r#"Error true None Some("error: fake invalid request")"#,
        ),
        (
            hook("permission.asked", r#","tool":"bash","text":"touch x""#),
            r#"Waiting false Some((Permission, Some("bash"), Some("touch x"))) None"#,
        ),
        (
            hook("permission.replied", r#","reason":"once""#),
            "Working false None None",
        ),
        (
            hook("permission.replied", r#","reason":"reject""#),
            "Idle true None None",
        ),
        (
            hook("permission.replied", r#","reason":"subagent""#),
            "Working false None None",
        ),
        (
            hook("session.created", r#","path":"/s/ses_a.jsonl""#),
            r#"Some(Holds("/s/ses_a.jsonl"))"#,
        ),
        (hook("session.current", ""), "Some(NoPath)"),
        (hook("catalog.updated", ""), "Some(Nothing)"),
    ];
    for (event, want) in table {
        let name = event.event.clone();
        assert_eq!(read(event), want, "{name:?}");
    }
    assert_eq!(
        extension(&ShimEvent {
            op: "session".into(),
            ..ShimEvent::default()
        }),
        None
    );
}

#[test]
fn ids_are_opencodes_and_nothing_else() {
    for (id, ok) in [
        ("ses_db739e983ffeEHZbeV0Cn4HhDC", true),
        ("ses_", false),
        ("ses_../x", false),
        ("abc", false),
    ] {
        assert_eq!(is_id(id), ok, "{id}");
    }
}
