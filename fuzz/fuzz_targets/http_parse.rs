//! Fuzzes the head parser, requests and responses alike: it must never
//! panic, its accessors must hold their invariants on any complete head,
//! and a prefix of the input must give `Partial` or exactly the full
//! input's answer (the property the server's and the client's read loops
//! rely on). The split point comes from the first two bytes so libFuzzer
//! can steer it.

#![no_main]

use amux::fuzz::parse::{Request, Response, Status, EMPTY_HEADER, MAX_BODY, MAX_HEAD, MAX_HEADERS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut full_slots = [EMPTY_HEADER; MAX_HEADERS];
    let mut full = Request::new(&mut full_slots);
    let full_res = full.parse(data);
    if let Ok(Status::Complete(n)) = full_res {
        check_complete(&full, data, n);
    }

    let k = match data {
        [a, b, ..] => usize::from(u16::from_le_bytes([*a, *b])) % (data.len() + 1),
        _ => data.len(),
    };
    let mut part_slots = [EMPTY_HEADER; MAX_HEADERS];
    let mut part = Request::new(&mut part_slots);
    let part_res = part.parse(&data[..k]);
    if part_res != Ok(Status::Partial) {
        assert_eq!(part_res, full_res, "prefix {k} disagrees");
        if let Ok(Status::Complete(_)) = part_res {
            assert_eq!(part.method, full.method);
            assert_eq!(part.target, full.target);
            assert_eq!(part.version, full.version);
            assert_eq!(part.headers, full.headers);
        }
    }
    responses(data, k);
});

fn check_complete(req: &Request, data: &[u8], n: usize) {
    assert!(n <= data.len() && n <= MAX_HEAD);
    assert_eq!(n.checked_sub(1).and_then(|i| data.get(i)), Some(&b'\n'));
    assert!(req.headers.len() <= MAX_HEADERS);
    let target = req.target.expect("complete head has a target");
    assert!(target.starts_with('/') || target == "*");
    assert!(target.starts_with(req.path()));
    assert!(target.ends_with(req.query_string()));
    assert!(matches!(req.version, Some(0 | 1)));
    assert!(req.method.is_some_and(|m| !m.is_empty()));
    for h in req.headers.iter() {
        assert!(!h.name.is_empty());
        assert!(req.header(h.name).is_some());
        assert!(!h.value.contains(&b'\r') && !h.value.contains(&b'\n'));
    }
    if let Some(v) = req.query("bytes") {
        assert!(target.contains(v));
    }
    let _ = req.keep_alive();
    match req.body_length(MAX_BODY) {
        Ok(len) => assert!(len <= MAX_BODY),
        Err(e) => assert!(matches!(e.status(), 400 | 411 | 413), "{e:?}"),
    }
}

/// The same properties for a response head read by the client.
fn responses(data: &[u8], k: usize) {
    let mut full_slots = [EMPTY_HEADER; MAX_HEADERS];
    let mut full = Response::new(&mut full_slots);
    let full_res = full.parse(data);
    if let Ok(Status::Complete(n)) = full_res {
        assert!(n <= data.len() && n <= MAX_HEAD);
        assert!(full.code.is_some_and(|c| c <= 999));
        assert!(matches!(full.version, Some(0 | 1)));
        let _ = full.content_length();
    }
    let mut part_slots = [EMPTY_HEADER; MAX_HEADERS];
    let mut part = Response::new(&mut part_slots);
    let part_res = part.parse(&data[..k]);
    if part_res != Ok(Status::Partial) {
        assert_eq!(part_res, full_res, "response prefix {k} disagrees");
    }
}
