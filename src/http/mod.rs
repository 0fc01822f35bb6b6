//! HTTP/1.1 over the session and daemon sockets: the push parser, the
//! server loop, owned requests/responses, SSE fan-out, the bound on
//! connections waiting for a request, and the client the daemon and the
//! CLI use (its byte parsers in `wire`).

pub mod client;
pub mod parse;
pub mod response;
pub mod segment;
pub mod server;
pub mod sse;
pub mod waiting;
pub mod wire;
