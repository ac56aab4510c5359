//! A fuzzer for the plan loader, on the stable toolchain: a seeded mutation loop that runs
//! `cutover validate` (text and JSON) on mutated plans, under a memory and CPU limit, and keeps
//! what it learns.
//!
//! Run it outside CI, against a release build:
//!
//! ```text
//! cargo build --release && cargo run --release --example fuzz_plans -- --minutes 10
//! ```
//!
//! Seeds are the example plans, every fixture plan and `fuzz/corpus/`. Each input is a seed with
//! one to four mutations (bytes flipped or cut, tokens and TOML fragments inserted, lines
//! repeated up to thousands of times, lines made 70,000 characters long, CRLF line ends,
//! truncation — the end of a file is where spans go wrong). The plan runs in a folder holding the
//! CSV files of `fuzz/env/` and a FIFO, `pipe.csv`. A run is a finding when cutover exits with
//! anything but 0 or 2, is killed by a limit, runs past 20 s, answers JSON that is not JSON or an
//! invalid verdict without a located error, or prints more than 4 MiB plus 1 KiB per byte of
//! input. Findings are shrunk (line by line) and written to `fuzz/regressions/<hash>/plan.toml`; inputs whose JSON answer has a set
//! of diagnostic codes not seen before go to `fuzz/corpus/`. Both are replayed by
//! `tests/cli/hard_inputs.rs` in every `cargo test`.
//!
//! Options: `--minutes M` (10), `--seed S` (1), `--jobs J` (2), `--bin PATH`
//! (`target/release/cutover`), `--no-save` (report only).

use std::collections::{BTreeSet, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The memory (KiB of address space) and CPU seconds one run may use; the kernel enforces both.
const LIMITS: &str = "ulimit -v 2097152; ulimit -t 20";
/// Wall time for one run: a run blocked without using CPU (a FIFO opened) is a finding too.
const WALL: Duration = Duration::from_secs(20);
/// The most output a run may print: 4 MiB, and 1 KiB per byte of input (JSON lists every
/// finding, so it grows with the plan, but never faster).
const MAX_OUTPUT: usize = 4 << 20;
const OUTPUT_PER_INPUT_BYTE: usize = 1_024;
/// Inputs are cut to this size after mutation: larger plans are refused by size (4 MiB), and
/// the loader's own bounds are reached well below it.
const MAX_INPUT: usize = 1 << 20;
/// The time one finding may take to shrink.
const SHRINK_BUDGET: Duration = Duration::from_secs(60);
/// The corpus kept on disk: at most this many files, each at most this large.
const MAX_CORPUS_FILES: usize = 300;
const MAX_CORPUS_FILE: usize = 64 << 10;

/// SplitMix64: small, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Fragments worth inserting: TOML syntax, plan keys, values at the edges of each grammar.
const TOKENS: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    "\n",
    "\r\n",
    "\r",
    "#",
    "\\",
    "\"\"\"",
    "'''",
    "\u{0}",
    "\u{7f}",
    "é",
    "\u{feff}",
    "\u{2028}",
    "😀",
    "\t",
    " ",
    "0x",
    "-",
    "+",
    ".",
    "1e999",
    "99999999999999999999",
    "-1",
    "nan",
    "inf",
    "true",
    "1979-05-27T07:32:00Z",
    "not_before = ",
    "not_before = \"2026-12-07T18:00:00-05:00\"\n",
    "window = \"Mon-Fri 18:00-22:00 CST\"\n",
    "window = \"Mon-Fri 18:00-22:00 Central Standard Time\"\n",
    "window = \"Sun 02:30-04:00 America/New_York\"\n",
    "users = { file = \"/dev/zero\" }\n",
    "users = { file = \"pipe.csv\" }\n",
    "users = { file = \"dir.csv\" }\n",
    "users = { file = \"crlf.csv\" }\n",
    "users = { file = \"latin1.csv\" }\n",
    "users = { file = \"exchange.csv\", column = \"PrimarySmtpAddress\" }\n",
    "users = { file = \"exchange.csv\" }\n",
    "users = { location = \"East\", column = \"x\" }\n",
    "users = \"remaining\"\n",
    "users = []\n",
    "users = [\"ana@contoso.example\", \"ANA@contoso.example\"]\n",
    "[[batch]]\nname = \"east\"\nusers = { location = \"East\" }\n",
    "[[batch]]\n",
    "[pilot]\n",
    "[gate]\n",
    "[disconnect]\n",
    "[target.auth]\n",
    "[precheck]\n",
    "max_size = 0\n",
    "max_errors = \"101%\"\n",
    "max_errors = \"5 %\"\n",
    "soak = \"1h30\"\n",
    "timeout = \"0s\"\n",
    "after = \"367d\"\n",
    "approval = \"yes\"\n",
    "gate = { soak = ",
    "token = \"s3cret\"\n",
    "token = { env = \"X\", file = \"y\" }\n",
    "client_secret = \"x\"\n",
    "password = \"hunter2\"\n",
    "url = \"http://u:p@x.example/api\"\n",
    "kind = \"http\"\n",
    "version = 2\n",
    "name = \"Plan_Name\"\n",
    "display_name = \"\"\n",
    "tenant_id = \"not a tenant\"\n",
];

/// One mutation of `input`.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let len = input.len();
    let at = rng.below(len + 1);
    match rng.below(12) {
        0 => {
            let end = (at + rng.below(64) + 1).min(len);
            input.drain(at..end);
        }
        1 | 2 => {
            let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
            input.splice(at..at, token.iter().copied());
        }
        3 => {
            if let Some(byte) = input.get_mut(at) {
                *byte = match rng.below(4) {
                    0 => 0xFF,
                    1 => 0xC3,
                    2 => rng.next() as u8,
                    _ => *byte ^ (1 << rng.below(8)),
                };
            }
        }
        4 => input.truncate(at),
        5 => {
            // Repeat a line: a few times, or thousands.
            let (start, end) = line_at(input, at);
            let line = input[start..end].to_vec();
            let times = if rng.chance(10) {
                4_000
            } else {
                1 + rng.below(60)
            };
            let mut repeated = Vec::with_capacity(line.len() * times);
            for _ in 0..times {
                repeated.extend_from_slice(&line);
            }
            input.splice(end..end, repeated);
        }
        6 => {
            // A line longer than any snippet can draw.
            let width = [999, 1_001, 65_536, 70_000][rng.below(4)];
            let filler = vec![b"x\"#= "[rng.below(5)]; width];
            input.splice(at..at, filler);
        }
        7 => {
            // Splice in a chunk of another corpus entry.
            let other = &corpus[rng.below(corpus.len())];
            let from = rng.below(other.len() + 1);
            let to = (from + rng.below(400)).min(other.len());
            input.splice(at..at, other[from..to].iter().copied());
        }
        8 => {
            let crlf: Vec<u8> = input
                .split(|b| *b == b'\n')
                .collect::<Vec<_>>()
                .join(&b"\r\n"[..]);
            *input = crlf;
        }
        9 => {
            // Cut the file just after an `=`: a key with no value at the end of the file.
            if let Some(i) = input.iter().skip(at).position(|b| *b == b'=') {
                input.truncate(at + i + 1);
                if rng.chance(50) {
                    input.push(b' ');
                }
            }
        }
        10 => {
            // Swap two lines.
            let (a0, a1) = line_at(input, at);
            let (b0, b1) = line_at(input, rng.below(len + 1));
            if a1 <= b0 {
                let a = input[a0..a1].to_vec();
                let b = input[b0..b1].to_vec();
                input.splice(b0..b1, a);
                input.splice(a0..a1, b);
            }
        }
        _ => {
            // Replace a string value's content.
            if let Some(q) = input.iter().skip(at).position(|b| *b == b'"') {
                let start = at + q + 1;
                if let Some(e) = input.iter().skip(start).position(|b| *b == b'"') {
                    let replacement: &[u8] = match rng.below(6) {
                        0 => b"",
                        1 => b"   ",
                        2 => "Jos\u{e9}@contoso.example".as_bytes(),
                        3 => b"UTC-6",
                        4 => b"Mon-Fri 18:00-22:00 CST",
                        _ => b"\\u0000",
                    };
                    input.splice(start..start + e, replacement.iter().copied());
                }
            }
        }
    }
}

/// The line holding byte `at` (with its newline).
fn line_at(input: &[u8], at: usize) -> (usize, usize) {
    let at = at.min(input.len());
    let start = input[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let end = input[at..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(input.len(), |i| at + i + 1);
    (start, end)
}

/// How one run went.
enum Verdict {
    /// Fine; with the JSON answer's diagnostic codes, when it was asked for JSON.
    Fine(Option<BTreeSet<String>>),
    Finding(String),
}

/// Runs `cutover validate` on `plan` in `dir`, bounded by [`LIMITS`] and [`WALL`].
fn run(bin: &Path, dir: &Path, json: bool, input_len: usize) -> Verdict {
    let max_output = MAX_OUTPUT + OUTPUT_PER_INPUT_BYTE * input_len;
    let mut args = vec!["validate".to_owned()];
    if json {
        args.extend(["--format".to_owned(), "json".to_owned()]);
    }
    args.push("plan.toml".to_owned());
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("{LIMITS}; exec \"$0\" \"$@\""))
        .arg(bin)
        .args(&args)
        .current_dir(dir)
        .env("COLUMNS", "100")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return Verdict::Finding("could not start".to_owned());
    };
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let out = std::thread::spawn(move || read_capped(stdout.as_mut(), max_output));
    let err = std::thread::spawn(move || read_capped(stderr.as_mut(), max_output));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > WALL => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => break None,
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let Some(status) = status else {
        return Verdict::Finding(format!("ran past {} s (json: {json})", WALL.as_secs()));
    };
    let mode = if json { "--format json" } else { "text" };
    match status.code() {
        Some(0 | 2) => {}
        Some(code) => {
            let tail: String = String::from_utf8_lossy(&stderr).chars().take(600).collect();
            return Verdict::Finding(format!("{mode}: exit {code}\n{tail}"));
        }
        None => {
            return Verdict::Finding(format!("{mode}: killed by a signal or a limit ({status})"));
        }
    }
    if stdout.len() + stderr.len() > max_output {
        return Verdict::Finding(format!(
            "{mode}: printed more than {} KiB for {input_len} bytes of input",
            max_output >> 10
        ));
    }
    if !json {
        let text = String::from_utf8_lossy(&stderr);
        if status.code() == Some(2) && !text.contains("invalid: ") {
            return Verdict::Finding("text: exit 2 without an `invalid:` line".to_owned());
        }
        return Verdict::Fine(None);
    }
    let Ok(answer) = serde_json::from_slice::<serde_json::Value>(&stdout) else {
        return Verdict::Finding("--format json: the answer is not JSON".to_owned());
    };
    let mut codes = BTreeSet::new();
    for plan in answer["plans"].as_array().into_iter().flatten() {
        let diagnostics = plan["diagnostics"].as_array().cloned().unwrap_or_default();
        let located_error = diagnostics.iter().any(|d| {
            d["severity"] == "error"
                && d["line"].as_u64() >= Some(1)
                && d["column"].as_u64() >= Some(1)
        });
        if plan["valid"] == false && !located_error {
            return Verdict::Finding("--format json: invalid without a located error".to_owned());
        }
        codes.extend(
            diagnostics
                .iter()
                .filter_map(|d| d["code"].as_str().map(str::to_owned)),
        );
    }
    codes.insert(format!("exit {}", status.code().unwrap_or(-1)));
    Verdict::Fine(Some(codes))
}

fn read_capped(stream: Option<&mut impl Read>, max: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(stream) = stream {
        let _ = stream.by_ref().take(max as u64 + 1).read_to_end(&mut bytes);
        // Drain the rest, so the child never blocks on a full pipe.
        let _ = std::io::copy(stream, &mut std::io::sink());
    }
    bytes
}

/// A folder with the fuzz environment: `fuzz/env/`'s files and the FIFO `pipe.csv`.
fn environment(repo: &Path, name: &str) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("cutover-fuzz-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&repo.join("fuzz/env"), &dir)?;
    let fifo = Command::new("mkfifo").arg(dir.join("pipe.csv")).status()?;
    if !fifo.success() {
        return Err(std::io::Error::other("mkfifo failed"));
    }
    Ok(dir)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Runs one input both ways; the first finding, or the JSON answer's codes.
fn check(bin: &Path, dir: &Path, input: &[u8], rng: &mut Rng) -> Verdict {
    if std::fs::write(dir.join("plan.toml"), input).is_err() {
        return Verdict::Fine(None);
    }
    let json_first = rng.chance(50);
    let first = run(bin, dir, json_first, input.len());
    if let Verdict::Finding(_) = first {
        return first;
    }
    // The other mode only now and then: it doubles the cost of an input.
    if rng.chance(15) {
        if let Verdict::Finding(f) = run(bin, dir, !json_first, input.len()) {
            return Verdict::Finding(f);
        }
    }
    first
}

/// The input with lines removed while it still fails.
fn shrink(bin: &Path, dir: &Path, input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = input
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    let mut i = 0;
    let mut tries = 0;
    let started = Instant::now();
    while i < lines.len() && tries < 300 && started.elapsed() < SHRINK_BUDGET {
        tries += 1;
        let mut without = lines.clone();
        without.remove(i);
        let candidate = without.concat();
        let fails = (0..2).any(|_| matches!(check(bin, dir, &candidate, rng), Verdict::Finding(_)));
        if fails {
            lines = without;
        } else {
            i += 1;
        }
    }
    lines.concat()
}

fn fnv(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn seeds(repo: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = Vec::new();
    let list = |dir: &Path| -> Vec<PathBuf> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        entries
    };
    paths.extend(
        list(&repo.join("plans"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "toml")),
    );
    for kind in ["valid", "invalid", "cases"] {
        for case in list(&repo.join("tests/fixtures/plans").join(kind)) {
            paths.push(case.join("plan.toml"));
        }
    }
    paths.extend(list(&repo.join("fuzz/corpus")));
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

struct Options {
    minutes: f64,
    seed: u64,
    jobs: usize,
    bin: PathBuf,
    save: bool,
}

fn options(repo: &Path) -> Options {
    let mut options = Options {
        minutes: 10.0,
        seed: 1,
        jobs: 2,
        bin: repo.join("target/release/cutover"),
        save: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--minutes" => options.minutes = value().parse().unwrap_or(options.minutes),
            "--seed" => options.seed = value().parse().unwrap_or(options.seed),
            "--jobs" => options.jobs = value().parse().unwrap_or(options.jobs).max(1),
            "--bin" => options.bin = PathBuf::from(value()),
            "--no-save" => options.save = false,
            other => eprintln!("ignoring the unknown option {other}"),
        }
    }
    options
}

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let options = options(&repo);
    if !options.bin.exists() {
        eprintln!(
            "{} is missing: run `cargo build --release` first",
            options.bin.display()
        );
        std::process::exit(2);
    }
    let corpus = Arc::new(Mutex::new(seeds(&repo)));
    let seen: Arc<Mutex<HashSet<BTreeSet<String>>>> = Arc::default();
    let findings: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let (executed, kept) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(options.minutes * 60.0);
    let saved_corpus = std::fs::read_dir(repo.join("fuzz/corpus")).map_or(0, |d| d.count());
    let saved_corpus = Arc::new(AtomicU64::new(saved_corpus as u64));
    println!(
        "fuzzing {} for {} min with {} jobs, seed {}, {} seeds",
        options.bin.display(),
        options.minutes,
        options.jobs,
        options.seed,
        corpus.lock().map_or(0, |c| c.len())
    );

    let workers: Vec<_> = (0..options.jobs)
        .map(|job| {
            let (repo, bin, save) = (repo.clone(), options.bin.clone(), options.save);
            let (corpus, seen, findings) = (corpus.clone(), seen.clone(), findings.clone());
            let (executed, kept, saved_corpus) =
                (executed.clone(), kept.clone(), saved_corpus.clone());
            let mut rng = Rng(options.seed.wrapping_mul(0x1000_0000_01b3) ^ job as u64);
            std::thread::spawn(move || {
                let Ok(dir) = environment(&repo, &job.to_string()) else {
                    eprintln!("job {job}: cannot make its folder");
                    return;
                };
                while Instant::now() < deadline {
                    let snapshot: Vec<Vec<u8>> =
                        corpus.lock().map(|c| c.clone()).unwrap_or_default();
                    let mut input = snapshot[rng.below(snapshot.len())].clone();
                    for _ in 0..1 + rng.below(4) {
                        if input.len() < MAX_INPUT {
                            mutate(&mut rng, &mut input, &snapshot);
                        }
                    }
                    input.truncate(MAX_INPUT);
                    executed.fetch_add(1, Ordering::Relaxed);
                    match check(&bin, &dir, &input, &mut rng) {
                        Verdict::Finding(what) => {
                            let kind = what.lines().next().unwrap_or_default().to_owned();
                            let known = findings.lock().is_ok_and(|f| {
                                f.iter()
                                    .any(|(_, w)| w.lines().next() == Some(kind.as_str()))
                            });
                            // A kind already shrunk and saved is counted, not saved again.
                            let small = if known {
                                input.clone()
                            } else {
                                shrink(&bin, &dir, &input, &mut rng)
                            };
                            let name = fnv(&small);
                            eprintln!("finding {name}: {what}");
                            if save && !known {
                                let case = repo.join("fuzz/regressions").join(&name);
                                let _ = std::fs::create_dir_all(&case);
                                let _ = std::fs::write(case.join("plan.toml"), &small);
                                let _ =
                                    std::fs::write(case.join("finding.txt"), format!("{what}\n"));
                            }
                            if let Ok(mut f) = findings.lock() {
                                f.push((name, what));
                            }
                        }
                        Verdict::Fine(Some(codes)) => {
                            let new = seen.lock().is_ok_and(|mut s| s.insert(codes));
                            if new {
                                kept.fetch_add(1, Ordering::Relaxed);
                                if let Ok(mut c) = corpus.lock() {
                                    c.push(input.clone());
                                }
                                let room =
                                    saved_corpus.load(Ordering::Relaxed) < MAX_CORPUS_FILES as u64;
                                if save && room && input.len() <= MAX_CORPUS_FILE {
                                    let path = repo
                                        .join("fuzz/corpus")
                                        .join(format!("{}.toml", fnv(&input)));
                                    if !path.exists() && std::fs::write(&path, &input).is_ok() {
                                        saved_corpus.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                            }
                        }
                        Verdict::Fine(None) => {}
                    }
                }
                let _ = std::fs::remove_dir_all(&dir);
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let executed = executed.load(Ordering::Relaxed);
    let findings = findings.lock().map(|f| f.clone()).unwrap_or_default();
    let distinct: BTreeSet<&String> = findings.iter().map(|(name, _)| name).collect();
    println!(
        "{executed} inputs in {elapsed:.0} s ({:.0}/s); {} new code sets kept; {} findings ({} distinct after shrinking)",
        executed as f64 / elapsed,
        kept.load(Ordering::Relaxed),
        findings.len(),
        distinct.len()
    );
    if !findings.is_empty() {
        std::process::exit(1);
    }
}
