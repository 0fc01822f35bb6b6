//! Fuzzes the adapters' line handling (src/adapters/): every kind's
//! `Tracker::feed` on arbitrary lines, `Kind::accepts` with an arbitrary
//! first line, and the argv walk (`Kind::detect` and friends) on the words
//! of that line. Nothing may panic. Invariants: following line by line
//! gives what `derive_all` gives for the whole file, and a `reset`
//! tracker fed again gives it too (the daemon relies on both when a file
//! is read whole, then followed, then truncated); a title is visible text
//! of at most 80 characters and its slug at most 40 bytes of `[a-z0-9-]`;
//! the text tail stays within its 4 KiB; no more turns end than lines come;
//! a relative or `..` path is never a conversation.
//! The first byte picks the kind.

#![no_main]

use amux::fuzz::adapters::{derive_all, slugify, Derived, Kind, Place, Tracker};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};

const KINDS: [Kind; 4] = [Kind::PI, Kind::CLAUDE, Kind::CODEX, Kind::SHELL];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let kind = KINDS[usize::from(pick) % KINDS.len()];
    let place = Place::default();
    let mut tracker = Tracker::new(kind, &place);
    let mut lines = 0u64;
    for line in file.split(|&b| b == b'\n') {
        tracker.feed(line);
        lines += 1;
        check(tracker.derived(), lines);
    }
    let followed = tracker.derived().clone();
    assert_eq!(derive_all(kind, &place, file), followed);
    tracker.reset();
    file.split(|&b| b == b'\n').for_each(|l| tracker.feed(l));
    assert_eq!(tracker.derived(), &followed);

    let first = file.split(|&b| b == b'\n').next().unwrap_or_default();
    accepts(kind, first);
    argv(first);
});

fn check(d: &Derived, lines: u64) {
    if let Some(title) = &d.title {
        assert!(
            !title.trim().is_empty() && title.chars().count() <= 80,
            "{title:?}"
        );
        let slug = slugify(title);
        assert!(slug.len() <= 40, "{slug:?}");
        assert!(slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    }
    assert!(d.text_tail.len() <= 4096);
    assert!(d.turns_ended <= lines);
}

fn accepts(kind: Kind, first: &[u8]) {
    let roots = [PathBuf::from("/home/u/.pi/agent/sessions")];
    for bad in ["x.jsonl", "/home/u/.pi/agent/sessions/../../x.jsonl"] {
        assert!(!kind.accepts(Path::new(bad), &roots, Some(first)), "{bad}");
    }
    let outside = kind.accepts(Path::new("/tmp/x.jsonl"), &roots, Some(first));
    assert!(!outside || kind != Kind::SHELL);
    let named = String::from_utf8_lossy(first);
    let path = Path::new("/home/u/.pi/agent/sessions/--p--").join(format!("{named}.jsonl"));
    let _ = kind.accepts(&path, &roots, None);
}

fn argv(first: &[u8]) {
    let text = String::from_utf8_lossy(first);
    let argv: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    let env = |name: &str| (name == "HOME").then(|| "/home/u".to_string());
    let kind = Kind::detect(&argv);
    let roots = kind.session_roots(&argv, &env);
    let _ = kind.root_depth(&argv, &env);
    let _ = kind.launch_file(&argv, Path::new("/home/u/proj"), &roots);
    for k in KINDS {
        let _ = k.resume_command(
            &argv,
            Path::new("/home/u/x/0190-ab.jsonl"),
            argv.last().map(String::as_str),
        );
    }
    let _ = Kind::SHELL.title(&Derived::default(), &argv, Some(&text));
}
