//! The daemon: file monitoring primitives (recursive inotify over session roots, incremental line following).

pub mod follow;
pub mod watch;
