//! Codex 0.169.0 (to come).
