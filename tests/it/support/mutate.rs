//! Deterministic input mutation for the robustness tests (shared by the protocol parsers' tests).
#![allow(dead_code)]

/// A small deterministic xorshift generator (the runs must be reproducible).
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// `seed` with 1 to 4 random edits: flipped, inserted, deleted, duplicated or truncated bytes, a protocol
/// token from `tokens`, a slice of `other`, or a changed digit.
pub fn mutate(rng: &mut Rng, seed: &str, other: &str, tokens: &[&str]) -> String {
    let mut b = seed.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] = rng.next() as u8;
            }
            1 => {
                let i = rng.below(len + 1);
                b.insert(i, rng.next() as u8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                b.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let piece = b[i..i + n].to_vec();
                let at = rng.below(b.len() + 1);
                b.splice(at..at, piece);
            }
            4 => b.truncate(rng.below(len + 1)),
            5 => {
                let t = tokens[rng.below(tokens.len())].as_bytes();
                let at = rng.below(len + 1);
                b.splice(at..at, t.iter().copied());
            }
            6 => {
                let o = other.as_bytes();
                let from = rng.below(o.len() + 1);
                let to = from + rng.below(o.len() - from + 1);
                let at = rng.below(len + 1);
                b.splice(at..at, o[from..to].iter().copied());
            }
            _ => {
                // Swap two whitespace-separated tokens' worth of bytes: flip a digit.
                if let Some(i) = b.iter().position(|c| c.is_ascii_digit()) {
                    b[i] = b'0' + (rng.next() % 10) as u8;
                }
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}
