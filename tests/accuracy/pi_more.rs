//! pi's further moment on the session of `pi.rs`: `/compact`.

use super::pi::{moment, slow};
use super::rig::{self, Drive, Rig};
use crate::support::model::FakeModel;
use serde_json::Value;

/// `/compact`: pi summarises the conversation in a completion of its own
/// (here a slow one): working until its answer is sent, then idle — not
/// unread, a compaction is no reply to the user.
pub(super) fn compact(rig: &mut Rig, model: &FakeModel, id: &str) -> Drive {
    let n = model.script().turns();
    model.script().push(slow(8));
    let t = rig.send(id, "/compact", true);
    let said = rig.reach(
        "compaction (/compact): working",
        id,
        "working",
        (t, t),
        &rig::working,
    );
    let done = moment(model, &format!("sent {}", n + 1))?;
    if let Some(w) = said.filter(|w| *w < done) {
        rig.hold(
            "compacting: working",
            id,
            "working",
            (w, done),
            &rig::working,
        );
    }
    let rested = |r: &Value| rig::idle(r) && r["unread"] != true;
    rig.reach(
        "compacted: idle, not unread (no reply)",
        id,
        "idle",
        (done, done),
        &rested,
    );
    Ok(())
}
