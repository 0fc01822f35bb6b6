//! Session ids: 10 characters from the kernel's random source, drawn from
//! `[a-z0-9]` so they are safe in file names, URLs and shell words.

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
pub const LEN: usize = 10;

pub fn new_session_id() -> String {
    let mut raw = [0u8; LEN];
    let mut filled = 0;
    while filled < LEN {
        match rustix::rand::getrandom(&mut raw[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            // No getrandom(2): fall back to the clock and pid, still unique enough
            // for a per-user namespace that also checks for collisions on bind.
            Err(_) => {
                let seed = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
                    ^ u128::from(std::process::id()) << 64;
                raw.iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b = (seed >> (i * 7)) as u8);
                break;
            }
        }
    }
    // 256 is not a multiple of 36; the slight bias does not matter for ids.
    raw.iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// True for strings that `new_session_id` could have produced (and so are
/// safe to join into a path).
pub fn is_valid(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| ALPHABET.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_safe_and_distinct() {
        let a = new_session_id();
        let b = new_session_id();
        assert_eq!(a.len(), LEN);
        assert!(is_valid(&a));
        assert_ne!(a, b);
        assert!(!is_valid("../etc"));
    }
}
