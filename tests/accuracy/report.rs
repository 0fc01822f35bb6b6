//! The merged table: every `target/accuracy/AGENT.json` the agents' tests
//! wrote, as rows of moments and columns of agents (`n/a` where an agent
//! has no such moment), written whole to `target/accuracy.json`. Run last
//! by `make accuracy`, whatever the agents' tests said.

use super::Cell;
use serde_json::Value;

/// The columns, in order (a file of another name comes after them).
const AGENTS: &[&str] = &[
    "pi-node", "pi-bun", "claude", "codex", "gemini", "opencode", "copilot", "qwen",
];

/// `p50 Xms p99 Yms (n=N)` over the cells with a latency.
pub fn percentiles(cells: &[Cell]) -> String {
    let mut ms: Vec<i64> = cells
        .iter()
        .filter(|c| c.right)
        .filter_map(|c| c.latency_ms)
        .collect();
    if ms.is_empty() {
        return "no latencies".to_string();
    }
    ms.sort_unstable();
    // Nearest rank: the smallest value with at least p% at or below it.
    let rank = |p: usize| ms[((p * ms.len()).div_ceil(100)).clamp(1, ms.len()) - 1];
    format!("p50 {}ms p99 {}ms (n={})", rank(50), rank(99), ms.len())
}

#[test]
#[ignore = "make accuracy: prints what the agents' tests wrote"]
fn table() {
    let mut cells: Vec<Cell> = Vec::new();
    let mut agents: Vec<String> = AGENTS.iter().map(|a| a.to_string()).collect();
    for entry in std::fs::read_dir(super::dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = entry.path();
        let Some(agent) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let list: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
        cells.extend(list.iter().map(Cell::from_json));
        if !agents.iter().any(|a| a == agent) {
            agents.push(agent.to_string());
        }
    }
    let all: Vec<Value> = cells.iter().map(Cell::json).collect();
    let merged = crate::support::manifest_dir().join("target/accuracy.json");
    std::fs::write(&merged, Value::Array(all).to_string()).expect("write accuracy.json");
    let mut moments: Vec<&str> = Vec::new();
    for c in &cells {
        if !moments.contains(&c.moment.as_str()) {
            moments.push(&c.moment);
        }
    }
    let width = moments.iter().map(|m| m.len()).max().unwrap_or(6) + 2;
    let mut out = format!("\n{:<width$}", "moment");
    for a in &agents {
        out += &format!("| {a:<28}");
    }
    for m in &moments {
        out += &format!("\n{m:<width$}");
        for a in &agents {
            let cell = cells.iter().find(|c| c.agent == *a && c.moment == *m);
            let text = cell.map_or("n/a".to_string(), Cell::text);
            out += &format!("| {text:<28}");
        }
    }
    out += &format!("\n{:<width$}", "latency");
    for a in &agents {
        let mine: Vec<Cell> = cells.iter().filter(|c| c.agent == *a).cloned().collect();
        out += &format!("| {:<28}", percentiles(&mine));
    }
    let wrong = cells.iter().filter(|c| !c.right).count();
    println!(
        "{out}\n\n{} cells, {wrong} wrong; {}",
        cells.len(),
        merged.display()
    );
}
