//! The decisions, table-driven: records at times in, notifications out.

use super::*;
use crate::protocol::{Ask, State, Waiting};

fn rec(id: &str, state: &str) -> Record {
    let mut r = Record {
        id: id.into(),
        kind: Some("claude".into()),
        alive: state != "dead",
        title: format!("{id}'s title"),
        ..Record::default()
    };
    match state {
        "waiting" => {
            r.status.state = State::Waiting;
            r.status.waiting = Some(Waiting {
                kind: Ask::Permission,
                tool: Some("Bash".into()),
                text: Some("touch x".into()),
                since: String::new(),
            });
        }
        "error" => {
            r.status.error = true;
            r.status.label = Some("overloaded".into());
        }
        "unread" => r.unread = true,
        "working" => r.status.working = true,
        "attached" => {
            r.status.state = State::Waiting;
            r.attachers = 1;
        }
        _ => {}
    }
    r
}

/// Feeds `(ms, id, state)` records (`"-"`: removed) and asks `due` at
/// every ms up to the end; the notifications as `ms id reason text`.
fn run(steps: &[Step], until: u64) -> Vec<String> {
    let mut d = Decider::new(2000);
    let mut out = Vec::new();
    let mut steps = steps.iter().peekable();
    for now in 0..=until {
        while let Some((_, id, state)) = steps.next_if(|s| s.0 == now) {
            match *state {
                "-" => d.remove(id),
                state => d.record(&rec(id, state), now),
            }
        }
        if d.next_due().is_some_and(|due| due <= now) {
            for n in d.due(now) {
                out.push(format!("{now} {} {} {}", n.id, n.reason.as_str(), n.text));
            }
        }
    }
    out
}

/// `(ms, id, state)`: a record at a time.
type Step<'a> = (u64, &'a str, &'a str);

#[test]
fn transitions_make_notifications_after_the_grace() {
    let cases: &[(&str, &[Step], &[&str])] = &[
        (
            "waiting, held: one notification, with what it asks",
            &[
                (0, "a", "idle"),
                (100, "a", "waiting"),
                (900, "a", "waiting"),
            ],
            &["2100 a waiting Bash: touch x"],
        ),
        (
            "waiting cleared within the grace: nothing",
            &[
                (0, "a", "idle"),
                (100, "a", "waiting"),
                (1500, "a", "working"),
            ],
            &[],
        ),
        (
            "the first record is where it stood: not told",
            &[(0, "a", "waiting"), (100, "a", "waiting")],
            &[],
        ),
        (
            "error and a finished turn's unread reply",
            &[
                (0, "a", "working"),
                (0, "b", "working"),
                (10, "a", "error"),
                (3000, "b", "unread"),
            ],
            &["2010 a error overloaded", "5000 b unread "],
        ),
        (
            "attached: never told, not even after it detaches",
            &[
                (0, "a", "idle"),
                (100, "a", "attached"),
                (200, "a", "waiting"),
            ],
            &[],
        ),
        (
            "a burst is handed out together, at the first's due time",
            &[
                (0, "a", "idle"),
                (0, "b", "idle"),
                (100, "a", "waiting"),
                (400, "b", "waiting"),
            ],
            &[
                "2100 a waiting Bash: touch x",
                "2100 b waiting Bash: touch x",
            ],
        ),
        (
            "a second waiting after work is a second notification",
            &[
                (0, "a", "idle"),
                (100, "a", "waiting"),
                (2500, "a", "working"),
                (3000, "a", "waiting"),
            ],
            &[
                "2100 a waiting Bash: touch x",
                "5000 a waiting Bash: touch x",
            ],
        ),
        (
            "removed or dead within the grace: nothing",
            &[
                (0, "a", "idle"),
                (0, "b", "idle"),
                (10, "a", "waiting"),
                (10, "b", "waiting"),
                (20, "a", "-"),
                (30, "b", "dead"),
            ],
            &[],
        ),
    ];
    for (what, steps, want) in cases {
        assert_eq!(run(steps, 6000), *want, "{what}");
    }
}
