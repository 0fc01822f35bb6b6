//! What a terminal would show after `bytes`, for failure messages: a
//! full-screen agent draws with cursor moves, not newlines, so its raw
//! bytes read as noise (and a CI log folds a line of thousands of
//! characters away). Enough of a VT100 for that: absolute and relative
//! moves, erasing, scrolling at the bottom, the alternate screen's clear;
//! colours and modes are dropped, every character is one cell wide.

pub fn render(bytes: &[u8], cols: usize, rows: usize) -> String {
    let mut s = Screen {
        grid: vec![vec![' '; cols]; rows],
        row: 0,
        col: 0,
    };
    let text = String::from_utf8_lossy(bytes);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    let mut params = String::new();
                    let mut last = ' ';
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            last = c;
                            break;
                        }
                        params.push(c);
                    }
                    s.csi(&params, last);
                }
                // OSC and DCS run to BEL or ST.
                Some(']' | 'P') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => s.col = 0,
            '\n' => s.down(),
            '\u{8}' => s.col = s.col.saturating_sub(1),
            c if c.is_control() => {}
            c => s.put(c),
        }
    }
    let lines: Vec<String> = s
        .grid
        .iter()
        .map(|r| r.iter().collect::<String>().trim_end().to_string())
        .collect();
    lines.join("\n").trim_end().to_string()
}

struct Screen {
    grid: Vec<Vec<char>>,
    row: usize,
    col: usize,
}

impl Screen {
    fn put(&mut self, c: char) {
        let cols = self.grid[0].len();
        if self.col >= cols {
            self.col = 0;
            self.down();
        }
        self.grid[self.row][self.col] = c;
        self.col += 1;
    }

    fn down(&mut self) {
        if self.row + 1 < self.grid.len() {
            self.row += 1;
        } else {
            let cols = self.grid[0].len();
            self.grid.remove(0);
            self.grid.push(vec![' '; cols]);
        }
    }

    fn csi(&mut self, params: &str, last: char) {
        if params.starts_with(['?', '>', '<', '=']) {
            // Private modes; entering or leaving the alternate screen
            // starts a clean page.
            if params.starts_with("?1049") {
                self.erase(0, self.grid.len());
            }
            return;
        }
        let n: Vec<usize> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
        let arg = |i: usize| n.get(i).copied().filter(|&v| v > 0).unwrap_or(1);
        let (rows, cols) = (self.grid.len(), self.grid[0].len());
        match last {
            'H' | 'f' => {
                self.row = (arg(0) - 1).min(rows - 1);
                self.col = (arg(1) - 1).min(cols - 1);
            }
            'A' => self.row = self.row.saturating_sub(arg(0)),
            'B' => self.row = (self.row + arg(0)).min(rows - 1),
            'C' => self.col = (self.col + arg(0)).min(cols - 1),
            'D' => self.col = self.col.saturating_sub(arg(0)),
            'G' => self.col = (arg(0) - 1).min(cols - 1),
            'd' => self.row = (arg(0) - 1).min(rows - 1),
            'K' => {
                let (from, to) = match n[0] {
                    1 => (0, self.col + 1),
                    2 => (0, cols),
                    _ => (self.col, cols),
                };
                self.grid[self.row][from.min(cols)..to.min(cols)].fill(' ');
            }
            'J' => match n[0] {
                1 => self.erase(0, self.row),
                2 | 3 => self.erase(0, rows),
                _ => {
                    let col = self.col.min(cols);
                    self.grid[self.row][col..].fill(' ');
                    self.erase(self.row + 1, rows);
                }
            },
            _ => {}
        }
    }

    fn erase(&mut self, from: usize, to: usize) {
        for row in &mut self.grid[from..to] {
            row.fill(' ');
        }
    }
}

#[test]
fn moves_and_erases_draw_the_screen() {
    let shown = render(b"\x1b[2;3Hhi\x1b[1;1Hab\x1b[Kx\r\nyz\x1b]0;t\x07!", 10, 3);
    assert_eq!(shown, "abx\nyz!i");
}
