//! Fuzzes what `amux hook` reads of an agent's hook input
//! (src/adapters/hooks.rs): whatever the bytes, no panic, and an event is
//! a `hook` op whose words are cut short (so its line, bar a long path,
//! fits one atomic write to the runner's FIFO).

#![no_main]

use amux::fuzz::hooks::hook_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(event) = hook_event(data, None, amux::fuzz::hooks::Kind::SHELL, &|_| None) {
        assert_eq!(event.op, "hook");
        assert!(event.path.as_ref().is_none_or(|p| p.is_absolute()));
        let short = |s: &Option<String>, max: usize| {
            s.as_ref().is_none_or(|s| s.chars().count() <= max + 1)
        };
        assert!(short(&event.event, 64));
        assert!(short(&event.tool, 64));
        assert!(short(&event.reason, 32));
        assert!(short(&event.notice, 64));
        assert!(short(&event.text, 400));
    }
});
