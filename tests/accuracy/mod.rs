//! The accuracy matrix (`make accuracy`): each moment of a real agent's
//! life — pi under node and under bun, Claude Code, Codex, Copilot CLI,
//! Qwen Code (`hooked.rs`), OpenCode, Gemini CLI — driven in a
//! PTY against the loopback fake servers of `tests/support/`, and what
//! `amux events` said about it.
//!
//! How a cell is measured: `clock.rs` subscribes to `amux events` from
//! the start and stamps each line as it arrives. A moment has a truth and
//! the instant it became true, taken from the scripted server (the turn's
//! request read, its last byte written: `support::script`), the terminal
//! (a key written, a text on the screen) or the process (a kill, its
//! end). The
//! cell is right when a line for the session says the truth after it —
//! never before it, which would be a guess — and its latency is that
//! line's stamp minus the truth's instant. A state that must *last* (a
//! tool running, a retry's back-off, an error until the next input) is
//! right when every line over the span says it. Each agent's test
//! (`pi.rs`, `claude.rs`, `codex.rs`) writes its cells to
//! `target/accuracy/AGENT.json`, prints them, and fails on any wrong cell
//! at its end; `report::table` merges the files into
//! `target/accuracy.json` and prints the table with p50/p99 per agent.
//! Latencies are a benchmark: reported, never asserted.

mod claude;
mod claude_more;
mod clock;
mod codex;
mod codex_more;
mod gemini;
pub mod hooked;
mod pi;
mod pi_more;
mod report;
mod rig;
mod two;

use serde_json::{json, Value};

/// One cell: what amux said at one moment, against the truth.
#[derive(Clone, Debug)]
pub struct Cell {
    pub agent: String,
    pub moment: String,
    pub truth: String,
    pub said: String,
    /// From the truth's instant to the line that said it (None: a span,
    /// or never said).
    pub latency_ms: Option<i64>,
    pub right: bool,
    /// On a wrong cell: the screen and `amux explain`.
    pub detail: String,
}

impl Cell {
    /// The table's text: `ok 45ms`, `ok` (a span or a fact, no latency), `WRONG: said X, truth Y`.
    pub fn text(&self) -> String {
        match (self.right, self.latency_ms) {
            (true, Some(ms)) => format!("ok {ms}ms"),
            (true, None) => "ok".to_string(),
            (false, _) => format!("WRONG: said {}, truth {}", self.said, self.truth),
        }
    }

    pub fn json(&self) -> Value {
        json!({"agent": self.agent, "moment": self.moment, "truth": self.truth,
            "said": self.said, "latency_ms": self.latency_ms, "right": self.right})
    }

    pub fn from_json(v: &Value) -> Cell {
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        Cell {
            agent: s("agent"),
            moment: s("moment"),
            truth: s("truth"),
            said: s("said"),
            latency_ms: v["latency_ms"].as_i64(),
            right: v["right"] == true,
            detail: String::new(),
        }
    }
}

/// Where the cells go: `target/accuracy/` of this checkout.
pub fn dir() -> std::path::PathBuf {
    crate::support::manifest_dir().join("target/accuracy")
}

/// Writes `cells` as `target/accuracy/AGENT.json`, prints them with each
/// wrong cell's detail, then fails if any is wrong.
pub fn finish(agent: &str, cells: &[Cell]) {
    std::fs::create_dir_all(dir()).expect("target/accuracy");
    let list: Vec<Value> = cells.iter().map(Cell::json).collect();
    let path = dir().join(format!("{agent}.json"));
    std::fs::write(&path, Value::Array(list).to_string()).expect("write the cells");
    println!("\n{agent}:");
    for c in cells {
        println!("  {:<44} {}", c.moment, c.text());
    }
    println!("  {}", report::percentiles(cells));
    let wrong: Vec<&Cell> = cells.iter().filter(|c| !c.right).collect();
    for c in &wrong {
        println!(
            "\n--- WRONG {agent} / {}: said {}, truth {}\n{}",
            c.moment, c.said, c.truth, c.detail
        );
    }
    let names: Vec<&str> = wrong.iter().map(|c| c.moment.as_str()).collect();
    assert!(names.is_empty(), "{agent}: wrong cells: {names:?}");
}
