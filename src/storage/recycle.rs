//! Buffers handed to asynchronous writers, reused once the writers are done with them. A long
//! stream then cycles through a few buffers instead of leaving a trail of garbage that V8 collects
//! at its leisure (measured in workerd: a 1 GiB upload read into new 256 KiB buffers grew the
//! process by ~100 MiB, into reused ones by ~30). The adapter is `record_stream::BufferRecycler`.
//!
//! A writer is done with a buffer once the write it was given resolved. Writers count the bytes
//! whose writes resolved, in order (`PipelinedWriter::settled`), so a buffer waits until each of
//! up to two writers settled the byte count its own write ended at (0: not given to it).
//! Buffers are given back in the order they were written, so only the oldest needs looking at.

use std::collections::VecDeque;

pub struct Recycler<B> {
    waiting: VecDeque<(B, u64, u64)>,
    free: Vec<B>,
    keep: usize,
}

impl<B> Recycler<B> {
    /// A recycler keeping at most `keep` free buffers (more would only hold memory).
    pub fn new(keep: usize) -> Self {
        Recycler { waiting: VecDeque::new(), free: Vec::new(), keep }
    }

    /// `buffer` is free once the first writer settled `first_end` bytes and the second
    /// `second_end`.
    pub fn give_back(&mut self, buffer: B, first_end: u64, second_end: u64) {
        self.waiting.push_back((buffer, first_end, second_end));
    }

    /// A free buffer, given the bytes each writer has settled so far.
    pub fn take(&mut self, first_settled: u64, second_settled: u64) -> Option<B> {
        while let Some((_, first_end, second_end)) = self.waiting.front() {
            if *first_end > first_settled || *second_end > second_settled {
                break;
            }
            let (buffer, ..) = self.waiting.pop_front()?;
            if self.free.len() < self.keep {
                self.free.push(buffer);
            }
        }
        self.free.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_only_once_both_writers_settled_its_bytes() {
        let mut recycler = Recycler::new(8);
        recycler.give_back("a", 100, 100);
        recycler.give_back("b", 200, 200);
        assert_eq!(recycler.take(0, 0), None);
        assert_eq!(recycler.take(100, 99), None, "the second writer still has a");
        assert_eq!(recycler.take(99, 100), None, "the first writer still has a");
        assert_eq!(recycler.take(150, 150), Some("a"));
        assert_eq!(recycler.take(150, 150), None);
        assert_eq!(recycler.take(200, 200), Some("b"));
        assert_eq!(recycler.take(u64::MAX, u64::MAX), None);
    }

    #[test]
    fn zero_means_not_given_to_that_writer() {
        let mut recycler = Recycler::new(8);
        recycler.give_back("copied into wasm", 0, 0);
        recycler.give_back("digested", 0, 50);
        assert_eq!(recycler.take(0, 0), Some("copied into wasm"));
        assert_eq!(recycler.take(0, 49), None);
        assert_eq!(recycler.take(0, 50), Some("digested"));
    }

    #[test]
    fn an_older_unsettled_buffer_holds_back_later_ones() {
        // Writes resolve in order: a later buffer is not looked at before the oldest.
        let mut recycler = Recycler::new(8);
        recycler.give_back(1, 10, 0);
        recycler.give_back(2, 20, 0);
        assert_eq!(recycler.take(9, 0), None);
        assert_eq!(recycler.take(20, 0), Some(2), "the most recently freed first");
        assert_eq!(recycler.take(20, 0), Some(1));
    }

    #[test]
    fn at_most_keep_free_buffers_are_held() {
        let mut recycler = Recycler::new(2);
        for i in 0..5u64 {
            recycler.give_back(i, i, 0);
        }
        let mut taken = Vec::new();
        while let Some(buffer) = recycler.take(10, 0) {
            taken.push(buffer);
        }
        assert_eq!(taken, vec![1, 0], "the rest were let go");
    }
}
