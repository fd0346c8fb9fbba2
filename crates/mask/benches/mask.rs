//! Masking cost per request: a 2 KB prompt without personal data (the
//! common case, goal well under 100 µs) and a 2 KB prompt dense with it.
//! criterion prints time and throughput per case; a summary at the end
//! prints microseconds per prompt, the ratio to the goal, and the ratio to
//! a baseline from the same run (copying the prompt).
//!
//! `cargo bench -p modelgate-mask --bench mask`

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use modelgate_mask::{MaskConfig, Masker, Vault};

const TARGET_BYTES: usize = 2048;
const GOAL_MICROS: f64 = 100.0;

/// Prose with numbers, dates, versions, prices and code, but nothing any
/// detector should take.
const CLEAN_PARAGRAPHS: &[&str] = &[
    "You are a helpful assistant for the release team. Summarise the changes below for the \
     changelog of version 2.14.1, released on 2024-01-15 at 10:30 UTC, in at most 120 words.",
    "The build took 3 minutes 42 seconds on 16 cores; the cache hit rate rose from 71.5% to \
     93.2% after we pinned rustc 1.89.0 and moved the artefacts to /var/cache/build-2024.",
    "Order #48213 shipped on 15.01.2024 for $1,299.99 (tax 19%); the invoice INV-2024-00731 \
     lists 3 x 250 g at 4.99 EUR each, and the tracking number is 1Z999AA10123456784.",
    "In Rust, use std::collections::HashMap and call map.entry(key).or_insert(0) += 1; the \
     loop runs 10000 times and pi is about 3.14159265358979 in f64 precision.",
    "The model was trained for 3 epochs with a learning rate of 2e-5, batch size 32, and \
     warm-up of 500 steps; evaluation loss fell from 2.341 to 1.872 on 12,500 samples.",
    "Meeting notes: Alice proposed moving the launch to Q3, Bob asked for 2 more weeks of \
     testing, and the team agreed to revisit the schedule on Monday at 09:00.",
];

/// Prose thick with emails, phones, cards, IBANs, SSNs, addresses and keys.
const DENSE_PARAGRAPHS: &[&str] = &[
    "Contact jane.doe@example.com or +1 (555) 234-5678 x42; backup bob.smith@mail.example.org, \
     phone 0115 496 0914, fax +44(0)20 7946 0018.",
    "Card 4111 1111 1111 1111 exp 12/27, Amex 378282246310005, IBAN DE89 3704 0044 0532 0130 00 \
     and GB82WEST12345698765432, SSN 112-33-8358.",
    "Server 192.168.10.42 and 2001:db8::8a2e:370:7334 use key sk-proj-Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4f \
     and token ghp_Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7j.",
    "JWT eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U \
     from AKIAIOSFODNN7EXAMPLE, call 04 15 39 15 00.",
];

fn prompt(paragraphs: &[&str]) -> String {
    let mut text = String::new();
    for paragraph in paragraphs.iter().cycle() {
        if text.len() >= TARGET_BYTES {
            break;
        }
        text.push_str(paragraph);
        text.push('\n');
    }
    text
}

fn main() {
    let masker = Masker::new(&MaskConfig::default()).expect("the default configuration builds");
    let clean = prompt(CLEAN_PARAGRAPHS);
    let dense = prompt(DENSE_PARAGRAPHS);
    assert!(
        masker.find(&clean).is_empty(),
        "the clean prompt has findings"
    );
    let n_dense = masker.find(&dense).len();

    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group("mask");
        group.throughput(Throughput::Bytes(clean.len() as u64));
        group.bench_function("baseline_copy_clean_2kb", |b| {
            b.iter(|| black_box(&clean).to_owned())
        });
        group.bench_function("find_clean_2kb", |b| {
            b.iter(|| masker.find(black_box(&clean)))
        });
        group.bench_function("mask_clean_2kb", |b| {
            b.iter(|| masker.mask(black_box(&clean)))
        });
        group.bench_function("contains_any_clean_2kb", |b| {
            b.iter(|| masker.contains_any(black_box(&clean)))
        });
        group.throughput(Throughput::Bytes(dense.len() as u64));
        group.bench_function("find_dense_2kb", |b| {
            b.iter(|| masker.find(black_box(&dense)))
        });
        group.bench_function("mask_dense_2kb", |b| {
            b.iter(|| masker.mask(black_box(&dense)))
        });
        group.finish();
    }
    criterion.final_summary();

    // A plain summary from the same run, for the log.
    let time = |f: &dyn Fn()| {
        let runs = 2000;
        let started = Instant::now();
        for _ in 0..runs {
            f();
        }
        started.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
    };
    let baseline = time(&|| {
        black_box(black_box(&clean).to_owned());
    });
    let clean_us = time(&|| {
        black_box(masker.mask(black_box(&clean)));
    });
    let dense_us = time(&|| {
        let mut vault = Vault::new();
        black_box(masker.mask_into(black_box(&dense), &mut vault));
    });
    println!(
        "summary: clean {} B masked in {clean_us:.1} us ({:.0}% of the {GOAL_MICROS} us goal, \
         {:.0}x a copy at {baseline:.2} us, {:.0} MB/s)",
        clean.len(),
        clean_us / GOAL_MICROS * 100.0,
        clean_us / baseline,
        clean.len() as f64 / clean_us,
    );
    println!(
        "summary: dense {} B with {n_dense} findings masked in {dense_us:.1} us ({:.0} MB/s)",
        dense.len(),
        dense.len() as f64 / dense_us,
    );
}
