//! pi's retries, as pi 0.73 decides them (`AgentSession`): after an
//! attempt that ended in an error, pi waits and tries again when retries
//! are on, the error is one it retries ([`retryable`]) and fewer than
//! `retry.maxRetries` retries were made; otherwise the turn has failed.
//! pi tells its extensions nothing of this (its `auto_retry_*` events go
//! to its own interface only), and writes one error message per attempt,
//! so the file's fold (`pi.rs`) counts them against these rules.

use serde_json::Value;
use std::path::Path;

/// pi's own default for `retry.maxRetries`.
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// pi's `retry` settings, project (`<cwd>/.pi/settings.json`) over global
/// (`<agent_dir>/settings.json`), key by key as pi merges them. Retries
/// switched off (`retry.enabled: false`) means the first error is final.
pub fn max_retries(cwd: &Path, agent_dir: &Path) -> u32 {
    let files = [
        cwd.join(".pi/settings.json"),
        agent_dir.join("settings.json"),
    ];
    let retry: Vec<Value> = files
        .iter()
        .filter_map(|f| crate::paths::read_untrusted(f, 1 << 20).ok())
        .filter_map(|data| serde_json::from_slice::<Value>(&data).ok())
        .filter_map(|v| v.get("retry").cloned())
        .collect();
    let enabled = retry
        .iter()
        .find_map(|r| r.get("enabled").and_then(Value::as_bool))
        .unwrap_or(true);
    if !enabled {
        return 0;
    }
    let max = retry
        .iter()
        .find_map(|r| r.get("maxRetries").and_then(Value::as_u64));
    max.map_or(DEFAULT_MAX_RETRIES, |n| {
        u32::try_from(n).unwrap_or(u32::MAX)
    })
}

/// pi 0.73's retryable errors (`_isRetryableError`), case-insensitive;
/// `.?` is any one character or none.
const RETRYABLE: &[&str] = &[
    "overloaded",
    "provider.?returned.?error",
    "rate.?limit",
    "too many requests",
    "429",
    "500",
    "502",
    "503",
    "504",
    "service.?unavailable",
    "server.?error",
    "internal.?error",
    "network.?error",
    "connection.?error",
    "connection.?refused",
    "connection.?lost",
    "websocket.?closed",
    "websocket.?error",
    "other side closed",
    "fetch failed",
    "upstream.?connect",
    "reset before headers",
    "socket hang up",
    "ended without",
    "http2 request did not get a response",
    "time out",
    "timed out",
    "timeout",
    "terminated",
    "retry delay",
];

/// Whether pi retries an attempt that failed with `message` (none: it
/// does not). A bad request or a refused key fails the turn at once.
pub fn retryable(message: Option<&str>) -> bool {
    let Some(message) = message.filter(|m| !m.is_empty()) else {
        return false;
    };
    let text: Vec<char> = message.to_lowercase().chars().collect();
    RETRYABLE.iter().any(|pattern| {
        let pieces: Vec<Vec<char>> = pattern.split(".?").map(|p| p.chars().collect()).collect();
        (0..text.len()).any(|at| found(&text[at..], &pieces))
    })
}

/// Whether `pieces` follow each other from the start of `text`, with at
/// most one character between two of them.
fn found(text: &[char], pieces: &[Vec<char>]) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return true;
    };
    if !text.starts_with(first) {
        return false;
    }
    let after = &text[first.len()..];
    rest.is_empty() || found(after, rest) || (!after.is_empty() && found(&after[1..], rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_are_pis() {
        let table = [
            ("500 boom", true),
            ("Connection error.", true),
            ("429 Too Many Requests", true),
            ("Rate limit reached", true),
            ("ratelimit", true),
            ("rate_limit_error", true),
            ("Provider returned error", true),
            ("request timed out", true),
            ("400 boom", false),
            ("401 invalid api key", false),
            ("Request was aborted", false),
            ("rate  limit", false),
            ("", false),
        ];
        for (message, want) in table {
            assert_eq!(retryable(Some(message)), want, "{message:?}");
        }
        assert!(!retryable(None));
    }

    #[test]
    fn max_retries_reads_project_then_global_settings() {
        let base = super::super::fixture::temp_dir("pi-retries");
        let (cwd, agent) = (base.join("proj"), base.join("agent"));
        std::fs::create_dir_all(cwd.join(".pi")).unwrap();
        std::fs::create_dir_all(&agent).unwrap();
        assert_eq!(max_retries(&cwd, &agent), 3);
        std::fs::write(agent.join("settings.json"), r#"{"retry":{"maxRetries":5}}"#).unwrap();
        assert_eq!(max_retries(&cwd, &agent), 5);
        std::fs::write(
            cwd.join(".pi/settings.json"),
            r#"{"retry":{"maxRetries":1}}"#,
        )
        .unwrap();
        assert_eq!(max_retries(&cwd, &agent), 1);
        std::fs::write(cwd.join(".pi/settings.json"), "not json").unwrap();
        assert_eq!(max_retries(&cwd, &agent), 5);
        std::fs::write(
            cwd.join(".pi/settings.json"),
            r#"{"retry":{"enabled":false}}"#,
        )
        .unwrap();
        assert_eq!(max_retries(&cwd, &agent), 0);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
