//! The terminal while `top` owns it: raw mode, the alternate screen and a
//! hidden cursor, given back on every way out — `Drop` (a return, an
//! error, SIGTERM, which the loop turns into a return), and a panic hook
//! (the release build aborts on panic, so no `Drop` would run) — and for
//! the time an attach borrows the terminal (`suspend`). Writing only the
//! lines that changed (`draw`) keeps a redraw to a few bytes.

use crate::term::RawMode;
use rustix::termios;
use std::io::{self, Write};
use std::os::fd::AsFd;

const ENTER: &str = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
const LEAVE: &str = "\x1b[m\x1b[?25h\x1b[?1049l";

pub struct Screen {
    raw: Option<RawMode>,
    /// The lines on the terminal now.
    shown: Vec<String>,
}

impl Screen {
    pub fn enter() -> io::Result<Screen> {
        let saved = termios::tcgetattr(io::stdin().as_fd()).ok();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(saved) = &saved {
                let _ = termios::tcsetattr(io::stdin(), termios::OptionalActions::Now, saved);
            }
            let _ = io::stdout().write_all(LEAVE.as_bytes());
            let _ = io::stdout().flush();
            previous(info);
        }));
        let raw = RawMode::enable(io::stdin().as_fd())?;
        write(ENTER)?;
        Ok(Screen {
            raw,
            shown: Vec::new(),
        })
    }

    /// Gives the terminal back as it was, for `run` (an attach); takes
    /// it again after, to be redrawn whole.
    pub fn suspend<T>(&mut self, run: impl FnOnce() -> T) -> io::Result<T> {
        write(LEAVE)?;
        self.raw = None;
        let out = run();
        self.raw = RawMode::enable(io::stdin().as_fd())?;
        write(ENTER)?;
        self.shown.clear();
        Ok(out)
    }

    /// Forgets what is shown: the next `draw` writes every line (after a
    /// resize, whose reflow we cannot know).
    pub fn invalidate(&mut self) {
        self.shown.clear();
        let _ = write("\x1b[H\x1b[2J");
    }

    /// Writes the lines that differ from those shown.
    pub fn draw(&mut self, lines: Vec<String>) -> io::Result<()> {
        let mut out = String::new();
        for (i, line) in lines.iter().enumerate() {
            if self.shown.get(i) != Some(line) {
                out.push_str(&format!("\x1b[{};1H{line}\x1b[m\x1b[K", i + 1));
            }
        }
        for i in lines.len()..self.shown.len() {
            out.push_str(&format!("\x1b[{};1H\x1b[K", i + 1));
        }
        self.shown = lines;
        if out.is_empty() {
            return Ok(());
        }
        write(&out)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = write(LEAVE);
        self.raw = None;
    }
}

fn write(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}
