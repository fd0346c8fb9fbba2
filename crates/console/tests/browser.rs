//! The console in a real headless Chromium: a reviewer signs in, finds a
//! model in the catalogue, opens its record, signs off a review and sees
//! the new audit event; a form without its CSRF token and a viewer's
//! approval are refused; every page is photographed (the README links the
//! pictures in `docs/console/`). The browser is driven by `browser.py`
//! (Selenium, from the test venv) through Debian's chromedriver; both come
//! from `scripts/native-deps.sh` and `scripts/venv.sh`, which
//! `scripts/test.sh` runs.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

mod common;

use std::path::PathBuf;

fn required(name: &str) -> std::ffi::OsString {
    std::env::var_os(name).unwrap_or_else(|| {
        panic!(
            "{name} is not set: the browser test needs Chromium, chromedriver and the test venv. \
             Run scripts/test.sh, or `scripts/native-deps.sh` and export MODELGATE_PYTHON=$(scripts/venv.sh) \
             MODELGATE_CHROMIUM=$(command -v chromium) MODELGATE_CHROMEDRIVER=$(command -v chromedriver)"
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_signs_off_in_chromium_and_the_refusals_hold() {
    let python = required("MODELGATE_PYTHON");
    let chromium = required("MODELGATE_CHROMIUM");
    let chromedriver = required("MODELGATE_CHROMEDRIVER");
    let site = common::site().await;
    let shots = std::env::var_os("MODELGATE_SCREENSHOTS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/console"),
        PathBuf::from,
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser.py");
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(240),
        tokio::process::Command::new(&python)
            .arg(&script)
            .arg(&site.url)
            .arg(&shots)
            .arg(common::PASSWORD)
            .arg(&chromium)
            .arg(&chromedriver)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser script finishes within 4 minutes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser.py failed:\n{stdout}\n{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(report["checks"].as_array().unwrap().len() >= 15, "{report}");
    for page in [
        "login",
        "catalogue",
        "version",
        "queue",
        "audit",
        "usage",
        "keys",
        "catalogue-phone",
    ] {
        let png = std::fs::read(shots.join(format!("{page}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{page}.png");
    }
    // The browser's changes are in the store: gil's sign-off, and nothing
    // from the refused forms.
    let store = common::open_store(&site.home);
    let events = store.events().unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.action.as_str()),
        ("gil", "review.signed_off")
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "review.signed_off")
            .count(),
        1
    );
    assert!(store.verify_audit().unwrap().ok);
}
