#![no_main]
use libfuzzer_sys::fuzz_target;
use modelgate_archive::{Limits, stream, tar::TarArchive, zip::ZipArchive};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_member_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        ..Limits::default()
    };
    if let Ok(zip) = ZipArchive::parse(data) {
        for anomaly in zip.anomalies() {
            let _ = anomaly.to_string();
        }
        for member in zip.members() {
            let _ = zip.read(data, member, &limits);
        }
    }
    if let Ok(tar) = TarArchive::parse(data) {
        for member in tar.members() {
            let _ = tar.read(data, member);
        }
    }
    if let Some(kind) = stream::detect(data) {
        let _ = stream::decompress(data, kind, &limits);
    }
});
