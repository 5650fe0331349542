//! Buffers the size of a whole data: the aligned copy of a received archive and the encoded
//! new data.
//!
//! The aligned copy of a received archive goes back to its thread when the last text read from
//! it goes (see [`ArchiveBuffer`]), and the thread's next archive is copied into it: glibc hands
//! a freed buffer of a few megabytes back to the kernel, and a step that maps a fresh one
//! faults in every page of it again (a quarter of `long_data`'s page faults).
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

/// The largest aligned buffer a thread keeps for its next archive, and how many it keeps (a
/// step reads two archives, the previous data and the current one): at most 16 MiB a thread.
const KEPT_MAX_LEN: usize = 8 << 20;
const KEPT_MAX_COUNT: usize = 2;

thread_local! {
    static KEPT: std::cell::RefCell<Vec<rkyv::AlignedVec>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An empty aligned buffer with room for `len` bytes, for an archive to be read in place: one
/// the thread kept, if one has the room.
pub(crate) fn aligned(len: usize) -> ArchiveBuffer {
    let kept = KEPT.with_borrow_mut(|kept| {
        let index = kept.iter().position(|buffer| buffer.capacity() >= len)?;
        Some(kept.swap_remove(index))
    });
    ArchiveBuffer(kept.unwrap_or_else(|| {
        let mut buffer = rkyv::AlignedVec::with_capacity(len);
        prefer_huge_pages(buffer.as_mut_ptr(), buffer.capacity());
        buffer
    }))
}

/// An aligned buffer holding an archive, which goes back to its thread for the next archive
/// when dropped, unless it is too large to keep. A thread keeps its largest ones: kept buffers
/// of small archives do not stand in the way of a large one's.
pub(crate) struct ArchiveBuffer(rkyv::AlignedVec);

impl ArchiveBuffer {
    /// Appends `bytes`, within the room asked for.
    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

impl std::ops::Deref for ArchiveBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for ArchiveBuffer {
    fn drop(&mut self) {
        let mut buffer = std::mem::take(&mut self.0);
        if buffer.capacity() > KEPT_MAX_LEN {
            return;
        }
        buffer.clear();
        // Not during the thread's teardown, when its kept buffers may be gone already.
        let _ = KEPT.try_with(|kept| {
            let mut kept = kept.borrow_mut();
            if kept.len() < KEPT_MAX_COUNT {
                kept.push(buffer);
            } else if let Some(smallest) = kept.iter_mut().min_by_key(|kept| kept.capacity()) {
                if smallest.capacity() < buffer.capacity() {
                    *smallest = buffer;
                }
            }
        });
    }
}

/// Asks for huge pages for a buffer of at least [`HUGE_PAGE_MIN_LEN`] bytes.
fn prefer_huge_pages(start: *const u8, len: usize) {
    if len >= HUGE_PAGE_MIN_LEN {
        huge_pages::prefer_huge_pages(start, len);
    }
}

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
            let start = archive.as_ptr();
            archive.extend_from_slice(&plain);
            assert_eq!(archive.as_ptr(), start, "filled without growing");
            assert_eq!(archive.as_ptr() as usize % rkyv::AlignedVec::ALIGNMENT, 0);
            assert_eq!(&archive[..], plain.as_slice());
        }
    }

    /// A thread's next archive goes into the buffer of one it dropped, if that has the room
    /// and is not too large to keep.
    #[test]
    fn dropped_archive_buffers_are_reused_by_their_thread() {
        std::thread::spawn(|| {
            let mut first = aligned(100_000);
            first.extend_from_slice(&[1; 100_000]);
            let address = first.as_ptr();
            drop(first);
            let second = aligned(50_000);
            assert_eq!(second.as_ptr(), address, "the kept buffer");
            assert!(second.is_empty());
            let third = aligned(50_000);
            assert_ne!(
                third.as_ptr(),
                address,
                "a new buffer: the kept one is in use"
            );
            drop((second, third));

            let large = aligned(KEPT_MAX_LEN + 1);
            let address = large.as_ptr();
            drop(large);
            let next = aligned(KEPT_MAX_LEN + 1);
            assert_ne!(next.as_ptr(), address, "too large to keep");

            // Kept buffers of small archives give way to a larger one's.
            let small: Vec<_> = (0..KEPT_MAX_COUNT).map(|_| aligned(100)).collect();
            drop(small);
            let kept = || KEPT.with_borrow(|kept| kept.iter().map(|b| b.capacity()).max());
            assert!(kept() < Some(1 << 20));
            drop(aligned(1 << 20));
            assert!(kept() >= Some(1 << 20), "the large buffer is kept");
        })
        .join()
        .expect("the test thread");
    }

    /// Whether the mapping that holds `address` is advised for huge pages.
    #[cfg(target_os = "linux")]
    fn advised(address: usize) -> bool {
        huge_pages::is_advised(address).expect("a mapping holds the address")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn large_buffers_ask_for_huge_pages_and_small_ones_do_not() {
        if !huge_pages::kernel_has_huge_pages() {
            eprintln!("skipped: this kernel has no transparent huge pages");
            return;
        }
        let large = aligned(HUGE_PAGE_MIN_LEN * 2);
        let inside = (large.as_ptr() as usize).next_multiple_of(huge_pages::HUGE_PAGE);
        assert!(advised(inside));

        let large = bytes(HUGE_PAGE_MIN_LEN * 2);
        let inside = (large.as_ptr() as usize).next_multiple_of(huge_pages::HUGE_PAGE);
        assert!(advised(inside));

        // Below the threshold, glibc maps a buffer of its own that nobody advised.
        let small = bytes(HUGE_PAGE_MIN_LEN / 2);
        let inside = small.as_ptr() as usize + HUGE_PAGE_MIN_LEN / 4;
        assert!(!advised(inside));
    }
}
