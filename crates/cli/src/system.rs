//! Facts about the machine modelgate runs on.

/// Total physical memory in bytes, from `/proc/meminfo` on Linux; `None`
/// elsewhere or when it cannot be read.
pub(crate) fn total_memory_bytes() -> Option<u64> {
    meminfo("MemTotal:")
}

/// Memory available for new allocations without swapping (`MemAvailable`),
/// in bytes; `None` where unknown.
pub(crate) fn available_memory_bytes() -> Option<u64> {
    meminfo("MemAvailable:")
}

fn meminfo(key: &str) -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with(key))?;
    let kib: u64 = line
        .trim_start_matches(key)
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}
