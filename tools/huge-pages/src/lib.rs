//! Asks the kernel to back a large buffer with transparent huge pages.
//!
//! A fresh buffer above glibc's mmap threshold is mapped when it is allocated, and the kernel
//! maps and clears each 4 KiB page on its first touch: filling 100 MB takes 25,000 page faults,
//! which can cost more than the writes themselves. On Linux, where the system grants huge pages
//! on request (`madvise` mode, the usual setting), advising the buffer makes it one fault per
//! 2 MiB. The AIR parser's arenas for huge scripts and the VM's buffers for large data use it;
//! each decides from what size it is worth it, since for a small buffer a huge page is mostly
//! clearing that nobody needs, and the kernel may compact memory before it can grant one.

/// The size of a huge page on x86-64 and aarch64 Linux.
pub const HUGE_PAGE: usize = 2 << 20;

/// Advises the kernel to back the whole huge pages among the `len` bytes at `start` with huge
/// pages. `start..start + len` should be one allocation of the caller's. Advice only: the
/// memory's contents never change, and a refusal (huge pages disabled, an old kernel, another
/// system) changes nothing but speed.
#[cfg(target_os = "linux")]
pub fn prefer_huge_pages(start: *const u8, len: usize) {
    let first = (start as usize).next_multiple_of(HUGE_PAGE);
    let end = (start as usize + len) / HUGE_PAGE * HUGE_PAGE;
    if end > first {
        // SAFETY: `MADV_HUGEPAGE` neither reads nor changes the bytes of a range, only how it
        // is backed; on a range that is not mapped it fails, and the failure is ignored.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

/// Advice is Linux's: elsewhere, nothing to do.
#[cfg(not(target_os = "linux"))]
pub fn prefer_huge_pages(_start: *const u8, _len: usize) {}

/// Whether this kernel has transparent huge pages at all (tests of advice skip without them).
#[cfg(target_os = "linux")]
pub fn kernel_has_huge_pages() -> bool {
    std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists()
}

/// Whether the mapping that holds `address` is advised for huge pages (its `VmFlags` in
/// `/proc/self/smaps` include `hg`); `None` if no mapping holds it or smaps cannot be read.
#[cfg(target_os = "linux")]
pub fn is_advised(address: usize) -> Option<bool> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut inside = false;
    for line in smaps.lines() {
        let range = line
            .split_whitespace()
            .next()
            .and_then(|r| r.split_once('-'));
        if let Some((Ok(start), Ok(end))) =
            range.map(|(s, e)| (usize::from_str_radix(s, 16), usize::from_str_radix(e, 16)))
        {
            inside = (start..end).contains(&address);
        } else if let Some(flags) = line.strip_prefix("VmFlags:") {
            if inside {
                return Some(flags.split_whitespace().any(|flag| flag == "hg"));
            }
        }
    }
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_whole_huge_pages_of_a_buffer_are_advised() {
        if !kernel_has_huge_pages() {
            eprintln!("skipped: this kernel has no transparent huge pages");
            return;
        }
        // Large enough for glibc to map it on its own, away from any other allocation.
        let buffer: Vec<u8> = Vec::with_capacity(8 * HUGE_PAGE);
        let first = (buffer.as_ptr() as usize).next_multiple_of(HUGE_PAGE);
        assert_eq!(is_advised(first), Some(false));
        prefer_huge_pages(buffer.as_ptr(), buffer.capacity());
        assert_eq!(is_advised(first), Some(true));
        assert_eq!(is_advised(first + 6 * HUGE_PAGE), Some(true));
    }
}
