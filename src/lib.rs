//! The amux library: every module of the program, compiled once and used by
//! two front ends. `main.rs` (the `amux` binary) calls [`parse`] and [`run`]
//! and maps the outcome to an exit status; the fuzz targets in `fuzz/` link
//! this library and reach the byte parsers through [`fuzz`], so each module
//! is built as itself, with the `crate::` paths it uses, instead of being
//! included file by file into a fuzz binary.
//!
//! The modules stay private and only what those two front ends name is
//! public: rustc's dead-code lint still sees the whole program from
//! `main`'s two calls, as it did when the modules were the binary's.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod adapters;
mod ansi;
mod attribution;
mod cli;
mod daemon;
mod error;
mod frame;
mod guess;
mod hash;
mod hot;
mod http;
mod id;
mod paths;
mod procfs;
mod protocol;
mod pty;
mod remote;
mod runner;
#[cfg(test)]
mod scratch;
mod stdio;
mod term;
mod timefmt;
mod transport;
mod typed;
mod visible;

pub use cli::{parse, run};
pub use error::Error;

/// What the fuzz targets exercise: the parsers and folds that read bytes
/// from outside (agents' session files, HTTP heads, SSE streams, attach
/// frames). Not an interface for other programs; it exists so `fuzz/`
/// needs no `#[path]` includes.
#[doc(hidden)]
pub mod fuzz {
    /// The agents' session files folded to a derived state (src/adapters/).
    pub mod adapters {
        pub use crate::adapters::{derive_all, slugify, Derived, Kind, Place, Tracker};
    }

    /// The attach stream's framing (src/frame.rs).
    pub mod frame {
        pub use crate::frame::{
            decode, encode, encode_chunked, parse_resize, resize, Decoded, HEADER, MAX_FRAME,
            OUTPUT, RESIZE,
        };
    }

    /// The HTTP head parser (src/http/parse.rs).
    pub mod parse {
        pub use crate::http::parse::{
            Request, Response, Status, EMPTY_HEADER, MAX_BODY, MAX_HEAD, MAX_HEADERS,
        };
    }

    /// Agent text made inert for a terminal (src/visible.rs).
    pub mod visible {
        pub use crate::visible::{hides, visible};
    }

    /// A session key in a request path (src/http/segment.rs).
    pub mod segment {
        pub use crate::http::segment::{decode, encode};
    }

    /// The keys of a typed line read for a slash command (src/typed.rs).
    pub mod typed {
        pub use crate::typed::TypedLine;
    }

    /// An agent's command hook input read (src/adapters/hooks.rs).
    pub mod hooks {
        pub use crate::adapters::{hook_event, Kind};
    }

    /// The SSE encoder and line decoder (src/http/wire.rs).
    pub mod wire {
        pub use crate::http::wire::{encode_event, EventLines};
    }
}
