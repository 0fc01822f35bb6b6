//! HTTP/1.1 over the session and daemon sockets: request-head parser (server to come).

pub mod parse;
