//! Loom models of slotcast's protocols (run with `RUSTFLAGS="--cfg loom"`;
//! `.ci/loom` runs them, and the mutants).
//!
//! Each model drives the shipped code through its public API, with a
//! runtime as small as the property allows (a ring of 2, one to three slots,
//! at most three threads), and names in its docs the ordering or check whose
//! weakening it catches. Under loom, `src/sync.rs` swaps in loom's atomics,
//! a loom `UnsafeCell` per slot (so a read racing a write of a payload is
//! reported) and a mutex/condvar futex.
//!
//! # What loom cannot judge
//!
//! Loom runs the threads one step at a time and enters every store into its
//! location's modification order when it runs it; a read-modify-write always
//! reads the newest value. So an ordering whose only job is to place a
//! plain store before a later read-modify-write of the same word in that
//! order, rather than to make other memory visible, holds in every
//! execution loom can build, and removing it changes nothing loom sees.
//! These are argued, not modelled:
//!
//! - `ORDERING(orphan)`: the Release CAS of `pool::mark_orphan` and the
//!   Acquire fence of `pool::release` for the last reference of an orphaned
//!   slot. They order `Shared::drop`'s Relaxed store of the guard value to
//!   `orphans_left` before the last pointer's `fetch_sub` of that count: the
//!   store is sequenced before the mark, the pointer's slot `fetch_sub`
//!   reads the mark and the fence acquires it, so the store happens before
//!   the decrement and coherence puts it first in the count's modification
//!   order (the decrement then reads the guard or a later value, never the
//!   count before it, which the guard store would otherwise overwrite).
//!   Loom has run the guard store before the mark, and the mark before the
//!   decrement that saw it, so the decrement always follows it. Weakening
//!   either does not fail `arena_lifetime` or `orphan_scan` (checked by
//!   hand).
//!
//! What loom does judge, it judges only within the scenarios modelled: each
//! model's docs name the mutants it catches, and, where an ordering is the
//! only edge in some other scenario, which model that is.
//!
//! # What no model judges, because another edge always comes first
//!
//! Weakened by hand, these fail no model, and in one process no scenario
//! could make them fail: another edge always orders the same accesses.
//!
//! - The Acquire CAS of `pool::claim_for_ring`: the writer writes a slot it
//!   claimed only after `pool::reuse`'s Acquire load of the same word, which
//!   reads the claim's own value; the claim, a read-modify-write, continues
//!   the release sequence of the last pointer's `fetch_sub` (or of
//!   `give_back`), so that load synchronises with it.
//! - The Acquire load of `published` in `WriterCore::rebuild`: the role CAS
//!   in `Writer::take` already acquired the previous writer's Release store
//!   of the role, made after its last publish (`writer_handover`). Across
//!   processes, a role freed by the reaper of a dead writer needs it.
//! - The Release store of `ACTIVE` in `Reader::join`: a writer that reads it
//!   without acquiring the cursor stored before can only read an older
//!   cursor value of the entry, never above the current `published`, so it
//!   gates lower than it may, never higher.
//! - The Acquire on success of a lossy reader's pin CAS (`lossy_available`):
//!   a pin that succeeds reads the reader's own last store of its cursor (a
//!   commit, or the join's), or a lapped value that its failed pin already
//!   acquired; it has nothing left to acquire (made Relaxed, `lossy_lap`
//!   and `lossy_pin_release` pass). Its Acquire on failure is needed
//!   (`lossy_lap`).
//! - The Acquire half of the writer's lap CAS (`WriterCore::lap_lossy`): it
//!   succeeds only on the value `c` that its Acquire load of the cursor
//!   just read, which already acquired the reader's Release store of `c`
//!   (the reader stores the same unpinned `c` again only to end a read
//!   that handed out no event, after an error or an empty batch: no payload
//!   read to order). Made Release, `lossy_lap` and `lossy_pin_release`
//!   pass. Its Release half is needed (`lossy_lap`).
#![cfg(loom)]

mod common;

mod alloc_distinct;
mod arena_lifetime;
mod close_wake;
mod fast_reuse;
mod gating_wrap;
mod handoff;
mod inline_wrap;
mod join_during_publish;
mod join_oldest;
mod leave;
mod lossy_lap;
mod lossy_pin_release;
mod mutants;
mod orphan_scan;
mod publish_consume;
mod rejoin;
mod rejoin_threads;
mod reopen;
mod retain_release;
mod task_wake;
mod two_classes;
mod two_readers;
mod upgrade_guess;
mod upgrade_reuse;
mod wake;
mod wake_turn;
mod writer_alloc;
mod writer_handover;
