//! `read_tree`: one walk, every file opened once, and bytes that stay those
//! of the file opened whatever happens to the path afterwards.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use modelgate_formats::{
    COPY_BELOW_BYTES, Error, LoadOptions, SkipReason, WalkOptions, load, read_small_file, read_tree,
};

/// Bytes that differ from file to file and position to position.
fn noise(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn old_mtime(path: &Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000))
        .unwrap();
}

fn large() -> usize {
    usize::try_from(COPY_BELOW_BYTES).unwrap() + 4096
}

#[test]
fn small_files_are_copied_and_large_ones_mapped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("small.bin"), noise(100, 1)).unwrap();
    std::fs::write(dir.path().join("large.bin"), noise(large(), 2)).unwrap();
    std::fs::write(dir.path().join("empty.bin"), b"").unwrap();
    let tree = read_tree(dir.path(), &WalkOptions::default()).unwrap();
    let names: Vec<&str> = tree
        .files
        .iter()
        .map(|f| f.relative_path.as_str())
        .collect();
    assert_eq!(names, ["empty.bin", "large.bin", "small.bin"]);
    assert!(tree.is_dir);
    assert!(tree.files[0].bytes.is_empty());
    assert!(tree.files[1].bytes.is_mapped());
    assert_eq!(&tree.files[1].bytes[..], noise(large(), 2));
    assert!(!tree.files[2].bytes.is_mapped());
    assert_eq!(&tree.files[2].bytes[..], noise(100, 1));
}

#[test]
fn replaced_deleted_and_rewritten_files_keep_the_bytes_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("renamed.bin"), noise(large(), 3)).unwrap();
    std::fs::write(root.join("deleted.bin"), noise(large(), 4)).unwrap();
    std::fs::write(root.join("rewritten.txt"), noise(1000, 5)).unwrap();
    let tree = read_tree(root, &WalkOptions::default()).unwrap();

    std::fs::write(root.join("incoming"), noise(large(), 9)).unwrap();
    std::fs::rename(root.join("incoming"), root.join("renamed.bin")).unwrap();
    std::fs::remove_file(root.join("deleted.bin")).unwrap();
    // Small files are copies: rewriting (even truncating) them in place
    // changes nothing read.
    std::fs::write(root.join("rewritten.txt"), b"").unwrap();

    let by_name = |name: &str| tree.files.iter().find(|f| f.relative_path == name).unwrap();
    assert_eq!(&by_name("renamed.bin").bytes[..], noise(large(), 3));
    assert_eq!(&by_name("deleted.bin").bytes[..], noise(large(), 4));
    assert_eq!(&by_name("rewritten.txt").bytes[..], noise(1000, 5));
    assert!(tree.files.iter().all(|file| !file.modified_in_place()));
}

#[test]
fn a_mapped_file_written_in_place_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.bin");
    std::fs::write(&path, noise(large(), 6)).unwrap();
    old_mtime(&path);
    let loaded = load(dir.path(), &LoadOptions::default()).unwrap();
    assert!(loaded.modified_in_place().is_empty());

    let mut file = std::fs::File::options().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(10)).unwrap();
    file.write_all(b"changed").unwrap();
    drop(file);
    assert_eq!(loaded.modified_in_place(), ["weights.bin"]);
}

#[test]
fn the_walk_skips_git_and_paths_asked_and_reports_linked_directories() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".git/objects")).unwrap();
    std::fs::write(root.join(".git/objects/blob"), b"x").unwrap();
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::write(root.join("sub/deeper/a.txt"), b"a").unwrap();
    std::fs::write(root.join("sub/b.txt"), b"b").unwrap();
    std::fs::write(root.join("model.sig"), b"sig").unwrap();
    std::os::unix::fs::symlink("sub/b.txt", root.join("link.txt")).unwrap();
    std::os::unix::fs::symlink("sub", root.join("linked_dir")).unwrap();
    std::os::unix::fs::symlink("nowhere", root.join("broken")).unwrap();

    let options = WalkOptions {
        skip: vec!["model.sig".into(), "sub/deeper".into()],
        ..WalkOptions::default()
    };
    let tree = read_tree(root, &options).unwrap();
    let files: Vec<(&str, bool)> = tree
        .files
        .iter()
        .map(|f| (f.relative_path.as_str(), f.via_symlink))
        .collect();
    assert_eq!(files, [("link.txt", true), ("sub/b.txt", false)]);
    let skipped: Vec<(&str, SkipReason)> = tree
        .skipped
        .iter()
        .map(|s| (s.relative_path.as_str(), s.reason))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped.contains(&("broken", SkipReason::NotARegularFile)));
    assert!(skipped.contains(&("linked_dir", SkipReason::SymlinkedDirectory)));

    let followed = read_tree(
        root,
        &WalkOptions {
            follow_symlinked_dirs: true,
            skip_git_dirs: false,
            ..WalkOptions::default()
        },
    )
    .unwrap();
    let names: Vec<&str> = followed
        .files
        .iter()
        .map(|f| f.relative_path.as_str())
        .collect();
    assert_eq!(
        names,
        [
            ".git/objects/blob",
            "link.txt",
            "linked_dir/b.txt",
            "linked_dir/deeper/a.txt",
            "model.sig",
            "sub/b.txt",
            "sub/deeper/a.txt"
        ]
    );
}

#[test]
fn limits_are_failures_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/b/c")).unwrap();
    std::fs::write(dir.path().join("a/b/c/deep.txt"), b"x").unwrap();
    std::fs::write(dir.path().join("a/one.txt"), b"x").unwrap();
    std::fs::write(dir.path().join("two.txt"), b"x").unwrap();
    let shallow = WalkOptions {
        max_depth: 1,
        ..WalkOptions::default()
    };
    let tree = read_tree(dir.path(), &shallow).unwrap();
    assert_eq!(tree.files.len(), 2);
    assert!(matches!(tree.failures[0].error, Error::TooDeep { .. }));
    let few = WalkOptions {
        max_files: 2,
        ..WalkOptions::default()
    };
    let error = read_tree(dir.path(), &few).unwrap_err();
    assert!(
        matches!(error, Error::TooManyFiles { max_files: 2, .. }),
        "{error}"
    );
    let few_entries = WalkOptions {
        max_entries: 3,
        ..WalkOptions::default()
    };
    let error = read_tree(dir.path(), &few_entries).unwrap_err();
    assert!(matches!(error, Error::TooManyEntries { .. }), "{error}");
}

#[test]
fn small_files_are_read_whole_within_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    std::fs::write(&path, b"0123456789").unwrap();
    assert_eq!(read_small_file(&path, 10).unwrap().unwrap(), b"0123456789");
    let error = read_small_file(&path, 9).unwrap_err();
    assert!(
        matches!(
            error,
            Error::TooLarge {
                size: 10,
                max_bytes: 9,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        read_small_file(&dir.path().join("absent"), 10)
            .unwrap()
            .is_none()
    );
    assert!(read_small_file(dir.path(), 10).unwrap().is_none());
}
