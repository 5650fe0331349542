//! Buffers the size of a whole data: the aligned copy of a received archive and the encoded
//! new data.
//!
//! A fresh buffer is backed by pages the kernel maps and zeroes on first touch, one fault per
//! 4 KiB page: filling a 100 MB buffer takes 25,000 faults, which cost more than the copy into
//! it. On Linux, a buffer of at least [`HUGE_PAGE_MIN_LEN`] asks for transparent huge pages,
//! one fault per 2 MiB, where the system enables them on request (`madvise`, the usual
//! setting). Smaller buffers are left alone: there, a huge page is mostly zeroing the kernel
//! does not need to do, and waiting for one (the kernel may compact memory first) could cost a
//! small step more than it saves.

/// The smallest buffer that asks for huge pages: 16 of them.
pub(crate) const HUGE_PAGE_MIN_LEN: usize = 32 << 20;

/// An empty buffer with room for `len` bytes.
pub(crate) fn bytes(len: usize) -> Vec<u8> {
    let mut buffer = Vec::with_capacity(len);
    prefer_huge_pages(buffer.as_mut_ptr(), buffer.capacity());
    buffer
}

/// An empty aligned buffer with room for `len` bytes, for an archive to be read in place.
pub(crate) fn aligned(len: usize) -> rkyv::AlignedVec {
    let mut buffer = rkyv::AlignedVec::with_capacity(len);
    prefer_huge_pages(buffer.as_mut_ptr(), buffer.capacity());
    buffer
}

/// Advises the kernel to back the whole 2 MiB pages of the `len` bytes allocated at `start`
/// with huge pages. Advice only: the memory does not change, and a refusal (huge pages
/// disabled, an old kernel) changes nothing but speed.
#[cfg(target_os = "linux")]
fn prefer_huge_pages(start: *mut u8, len: usize) {
    const HUGE_PAGE: usize = 2 << 20;
    if len < HUGE_PAGE_MIN_LEN {
        return;
    }
    let first = (start as usize).next_multiple_of(HUGE_PAGE);
    let end = (start as usize + len) / HUGE_PAGE * HUGE_PAGE;
    if end > first {
        // SAFETY: `[first, end)` lies within the caller's allocation, and MADV_HUGEPAGE
        // neither reads nor changes the bytes of a range, only how it is backed.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn prefer_huge_pages(_: *mut u8, _: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_have_the_room_asked_for_and_alignment() {
        for len in [1, 4096, HUGE_PAGE_MIN_LEN + 12_345] {
            let mut plain = bytes(len);
            assert!(plain.capacity() >= len);
            plain.resize(len, 7);
            assert!(plain.iter().all(|&b| b == 7));

            let mut archive = aligned(len);
            assert!(archive.capacity() >= len);
            archive.extend_from_slice(&plain);
            assert_eq!(archive.as_ptr() as usize % rkyv::AlignedVec::ALIGNMENT, 0);
            assert_eq!(archive.as_slice(), plain.as_slice());
        }
    }

    /// The `VmFlags` of the mapping that holds `address`, from `/proc/self/smaps`.
    #[cfg(target_os = "linux")]
    fn mapping_flags(address: usize) -> Vec<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("readable smaps");
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
                    return flags.split_whitespace().map(str::to_owned).collect();
                }
            }
        }
        panic!("no mapping holds {address:#x}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn large_buffers_ask_for_huge_pages_and_small_ones_do_not() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            eprintln!("skipped: this kernel has no transparent huge pages");
            return;
        }
        let large = aligned(HUGE_PAGE_MIN_LEN * 2);
        let inside = (large.as_ptr() as usize).next_multiple_of(2 << 20);
        assert!(mapping_flags(inside).iter().any(|f| f == "hg"));

        let large = bytes(HUGE_PAGE_MIN_LEN * 2);
        let inside = (large.as_ptr() as usize).next_multiple_of(2 << 20);
        assert!(mapping_flags(inside).iter().any(|f| f == "hg"));

        // Below the threshold, glibc maps a buffer of its own that nobody advised.
        let small = bytes(HUGE_PAGE_MIN_LEN / 2);
        let inside = small.as_ptr() as usize + HUGE_PAGE_MIN_LEN / 4;
        assert!(!mapping_flags(inside).iter().any(|f| f == "hg"));
    }
}
