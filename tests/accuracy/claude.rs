//! Claude Code 2.1.330 (to come).
