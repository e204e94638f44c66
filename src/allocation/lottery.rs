//! The verifiable lottery (摇号), algorithm `anju-lottery-v1`. Pure: no database, no
//! clock. docs/LOTTERY.md states it for anyone who wants to check a draw without anju.
//!
//! 1. Before the draw the entrant list is published as text, one line per entrant,
//!    `{n}\t{group}\t{code}\t{masked name}\n`, in registration order (group, then
//!    waiting-list number), with its SHA-256, and the SHA-256 of each official's secret
//!    (the commitments).
//! 2. At the draw the officials reveal their secrets and a public value is entered (a
//!    number drawn in the hall, or the day's welfare-lottery result); each secret must
//!    hash to its commitment.
//! 3. seed = SHA-256("anju-lottery-v1\n" + entrants_sha256 + "\n" + secret 1 + "\n" +
//!    secret 2 + "\n" + public value + "\n").
//! 4. Each group is shuffled on its own, groups in priority order, by Fisher–Yates from
//!    the last position down: position i swaps with j = uniform(i + 1), where uniform
//!    reads big-endian u64 words from the stream SHA-256(seed ‖ group u32 BE ‖ block u64
//!    BE), block = 0, 1, …, four words a block, and rejects a word w ≥ n·⌊2⁶⁴/n⌋ (no
//!    modulo bias).
//! 5. The order is the concatenation of the shuffled groups' codes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "anju-lottery-v1";

/// One entrant as published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entrant {
    pub group: u32,
    pub code: String,
    pub masked_name: String,
}

/// The published entrant list: the exact text that is hashed.
pub fn entrant_list(entrants: &[Entrant]) -> String {
    let mut out = String::new();
    for (n, e) in entrants.iter().enumerate() {
        // Tabs and newlines in a code or a name would make the list ambiguous.
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            n + 1,
            e.group,
            clean(&e.code),
            clean(&e.masked_name)
        ));
    }
    out
}

/// Reads an entrant list back; `None` if a line is not in the published form.
pub fn parse_entrant_list(text: &str) -> Option<Vec<Entrant>> {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let mut parts = line.split('\t');
            let n: usize = parts.next()?.parse().ok()?;
            let group: u32 = parts.next()?.parse().ok()?;
            let code = parts.next()?.to_string();
            let masked_name = parts.next()?.to_string();
            (n == i + 1 && parts.next().is_none()).then_some(Entrant {
                group,
                code,
                masked_name,
            })
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A fresh secret for one official: 32 random bytes, hex.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The seed of a draw.
pub fn seed(entrants_sha256: &str, secrets: &[String], public_value: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(format!("{ALGORITHM}\n{entrants_sha256}\n"));
    for s in secrets {
        h.update(format!("{s}\n"));
    }
    h.update(format!("{public_value}\n"));
    h.finalize().into()
}

/// The words of one group's stream.
struct Stream {
    seed: [u8; 32],
    group: u32,
    block: u64,
    words: Vec<u64>,
}

impl Stream {
    fn next(&mut self) -> u64 {
        if self.words.is_empty() {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(self.group.to_be_bytes());
            h.update(self.block.to_be_bytes());
            self.block += 1;
            let digest = h.finalize();
            self.words = digest
                .chunks(8)
                .rev()
                .map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes")))
                .collect();
        }
        self.words.pop().expect("refilled")
    }

    /// Uniform in 0..n, by rejection.
    fn uniform(&mut self, n: u64) -> u64 {
        let zone = (u64::MAX / n) * n;
        loop {
            let w = self.next();
            if w < zone {
                return w % n;
            }
        }
    }
}

/// The drawn order of the entrants' codes.
pub fn draw(entrants: &[Entrant], seed: [u8; 32]) -> Vec<String> {
    let mut groups: Vec<u32> = entrants.iter().map(|e| e.group).collect();
    groups.sort_unstable();
    groups.dedup();
    let mut order = Vec::with_capacity(entrants.len());
    for g in groups {
        let mut codes: Vec<String> = entrants
            .iter()
            .filter(|e| e.group == g)
            .map(|e| e.code.clone())
            .collect();
        let mut stream = Stream {
            seed,
            group: g,
            block: 0,
            words: Vec::new(),
        };
        for i in (1..codes.len()).rev() {
            let j = stream.uniform(i as u64 + 1) as usize;
            codes.swap(i, j);
        }
        order.extend(codes);
    }
    order
}

/// The published result of a draw: everything needed to recompute it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultFile {
    pub algorithm: String,
    pub round_id: i64,
    pub round_name: String,
    /// The entrant list exactly as published before the draw.
    pub entrants: String,
    pub entrants_sha256: String,
    pub commitments: Vec<String>,
    pub secrets: Vec<String>,
    pub public_value: String,
    /// Hex of the seed.
    pub seed: String,
    /// The entrants' codes in drawn order.
    pub order: Vec<String>,
    pub drawn_at: String,
}

/// One check of a verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub what: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Recomputes a draw from its result file alone; every check, in order.
pub fn verify(file: &ResultFile) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut check = |what, ok, detail: String| checks.push(Check { what, ok, detail });
    check(
        "algorithm",
        file.algorithm == ALGORITHM,
        format!("{} (this verifier knows {ALGORITHM})", file.algorithm),
    );
    let hash = sha256_hex(file.entrants.as_bytes());
    check(
        "entrant list SHA-256",
        hash == file.entrants_sha256,
        format!("computed {hash}, published {}", file.entrants_sha256),
    );
    let entrants = parse_entrant_list(&file.entrants);
    check(
        "entrant list form",
        entrants.is_some(),
        "one line per entrant: n, group, code, masked name".into(),
    );
    check(
        "number of secrets",
        file.secrets.len() == file.commitments.len() && !file.secrets.is_empty(),
        format!(
            "{} secrets, {} commitments",
            file.secrets.len(),
            file.commitments.len()
        ),
    );
    for (i, (s, c)) in file.secrets.iter().zip(&file.commitments).enumerate() {
        let h = sha256_hex(s.as_bytes());
        check(
            "secret matches its commitment",
            &h == c,
            format!("secret {}: SHA-256 {h}, committed {c}", i + 1),
        );
    }
    let seed = seed(&file.entrants_sha256, &file.secrets, &file.public_value);
    check(
        "seed",
        hex::encode(seed) == file.seed,
        format!("computed {}, published {}", hex::encode(seed), file.seed),
    );
    let order = entrants.map(|e| draw(&e, seed)).unwrap_or_default();
    let first_difference = order
        .iter()
        .zip(&file.order)
        .position(|(a, b)| a != b)
        .map(|p| format!("first difference at place {}", p + 1))
        .unwrap_or_else(|| format!("{} places", order.len()));
    check(
        "order",
        order == file.order && !order.is_empty(),
        first_difference,
    );
    checks
}

/// Whether every check passed.
pub fn verified(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entrants(n: usize) -> Vec<Entrant> {
        (0..n)
            .map(|i| Entrant {
                group: u32::from(i >= n / 2),
                code: format!("410104003-2015-{i:06}"),
                masked_name: "张*".into(),
            })
            .collect()
    }

    fn file(n: usize) -> ResultFile {
        let list = entrants(n);
        let entrants = entrant_list(&list);
        let entrants_sha256 = sha256_hex(entrants.as_bytes());
        let secrets = vec!["a".repeat(64), "b".repeat(64)];
        let seed = seed(&entrants_sha256, &secrets, "0372");
        ResultFile {
            algorithm: ALGORITHM.into(),
            round_id: 1,
            round_name: "test".into(),
            commitments: secrets.iter().map(|s| sha256_hex(s.as_bytes())).collect(),
            order: draw(&list, seed),
            seed: hex::encode(seed),
            secrets,
            public_value: "0372".into(),
            entrants,
            entrants_sha256,
            drawn_at: "2015-11-20T02:00:00Z".into(),
        }
    }

    /// A result file whose published values were recomputed after an edit, as a
    /// forger would: only the commitments (published before the draw) stay.
    fn refit(mut f: ResultFile) -> ResultFile {
        f.entrants_sha256 = sha256_hex(f.entrants.as_bytes());
        let s = seed(&f.entrants_sha256, &f.secrets, &f.public_value);
        f.seed = hex::encode(s);
        f.order = draw(&parse_entrant_list(&f.entrants).unwrap(), s);
        f
    }

    #[test]
    fn an_honest_draw_verifies_and_is_a_permutation_kept_within_groups() {
        let f = file(40);
        assert!(verified(&verify(&f)), "{:?}", verify(&f));
        let mut sorted = f.order.clone();
        sorted.sort();
        let mut codes: Vec<String> = entrants(40).into_iter().map(|e| e.code).collect();
        codes.sort();
        assert_eq!(sorted, codes);
        // Group 0 (the first 20) all come before group 1.
        assert!(
            f.order[..20]
                .iter()
                .all(|c| c.as_str() < "410104003-2015-000020")
        );
        assert_ne!(
            f.order,
            entrants(40).into_iter().map(|e| e.code).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_same_inputs_give_the_same_order_and_another_public_value_another() {
        let a = draw(&entrants(30), seed("h", &["x".into(), "y".into()], "1"));
        let b = draw(&entrants(30), seed("h", &["x".into(), "y".into()], "1"));
        let c = draw(&entrants(30), seed("h", &["x".into(), "y".into()], "2"));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn changing_an_entrant_is_detected_even_when_the_rest_is_refitted() {
        let mut f = file(20);
        f.entrants = f
            .entrants
            .replacen("410104003-2015-000003", "410104003-2015-999999", 1);
        assert!(!verified(&verify(&f)), "the hash no longer matches");
        // Refitting everything the forger controls still leaves the seed bound to the
        // entrant list: the order changes, and so does what the officials' secrets and
        // the public value commit to.
        let forged = refit(f);
        assert_ne!(forged.seed, file(20).seed);
        assert_ne!(forged.entrants_sha256, file(20).entrants_sha256);
    }

    #[test]
    fn changing_a_secret_the_public_value_the_order_or_the_version_is_detected() {
        let mut f = file(20);
        f.secrets[1] = "c".repeat(64);
        let checks = verify(&refit(f));
        assert!(
            checks
                .iter()
                .any(|c| c.what == "secret matches its commitment" && !c.ok)
        );
        let mut f = file(20);
        f.public_value = "0373".into();
        assert!(!verified(&verify(&f)));
        let mut f = file(20);
        f.order.swap(0, 1);
        let checks = verify(&f);
        assert!(checks.iter().any(|c| c.what == "order" && !c.ok));
        assert!(checks.iter().filter(|c| !c.ok).count() == 1);
        let mut f = file(20);
        f.algorithm = "anju-lottery-v2".into();
        assert!(checks_fail(&f, "algorithm"));
    }

    fn checks_fail(f: &ResultFile, what: &str) -> bool {
        verify(f).iter().any(|c| c.what == what && !c.ok)
    }

    #[test]
    fn uniform_has_no_modulo_bias_on_a_small_range() {
        let mut s = Stream {
            seed: [7; 32],
            group: 0,
            block: 0,
            words: Vec::new(),
        };
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[s.uniform(3) as usize] += 1;
        }
        assert!(
            counts.iter().all(|c| (9_500..10_500).contains(c)),
            "{counts:?}"
        );
    }

    #[test]
    fn the_entrant_list_reads_back_and_tabs_cannot_forge_columns() {
        let mut list = entrants(3);
        list[1].masked_name = "李\t*".into();
        let text = entrant_list(&list);
        let back = parse_entrant_list(&text).unwrap();
        assert_eq!(back[1].masked_name, "李 *");
        assert_eq!(back.len(), 3);
        assert!(parse_entrant_list("2\t0\tx\ty\n").is_none());
    }
}
