//! What the shared-file layer promises about the file itself: space is
//! reserved at create (never a `SIGBUS` later), an opener never sees a
//! half-made file, the last close removes the real file even through a
//! symlink, and a forked child never frees its parent's entry, lock or file.
#![cfg(all(target_os = "linux", not(miri)))] // real files, locks and fork: Miri runs none of them

mod common;

use slotcast::{BuildError, OpenError, Runtime, SizeClass};
use std::path::{Path, PathBuf};

/// A small configuration, quick to create many times.
fn small() -> slotcast::Builder {
    Runtime::builder().ring_capacity(64).slots(SizeClass::XS, 64).slots(SizeClass::S, 0).slots(SizeClass::M, 0)
}

/// The names in `dir`.
fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect()
}

#[test]
fn an_arena_larger_than_the_free_space_is_refused_and_leaves_no_file() {
    // A small file system of our own if we may mount one; otherwise /dev/shm
    // with an arena larger than any /dev/shm (the check must refuse it
    // before a page is touched).
    let small_fs = common::SmallTmpfs::mount(8 << 20);
    let (dir, builder) = match &small_fs {
        Some(fs) => (fs.dir().to_path_buf(), Runtime::builder().slots(SizeClass::XL, 1024)),
        None => {
            let dir = common::temp_path("no-space-dir");
            std::fs::create_dir(&dir).unwrap();
            (dir, Runtime::builder().slots(SizeClass::XL, slotcast::Config::MAX_SLOTS_PER_CLASS as usize))
        }
    };
    let path = dir.join("arena");
    let builder = builder.shared(&path);
    let needed = builder.clone().config().unwrap().arena_len() as u64;
    let err = builder.build().expect_err("an arena larger than the file system is refused");
    match err {
        BuildError::NoSpace { needed: n, available } => {
            assert_eq!(n, needed, "the error names the bytes the arena needs");
            assert!(available < needed, "and the smaller free space ({available} bytes)");
            if small_fs.is_some() {
                assert!(available <= 8 << 20, "free space of an 8 MiB file system: {available}");
            }
        }
        other => panic!("expected NoSpace, got {other:?}"),
    }
    let message = BuildError::NoSpace { needed: 3, available: 2 }.to_string();
    assert!(message.contains('3') && message.contains('2'), "{message}");
    assert_eq!(entries(&dir), Vec::<PathBuf>::new(), "no file (final or temporary) is left behind");
    if small_fs.is_none() {
        std::fs::remove_dir(&dir).unwrap();
    }
}

#[test]
fn an_arena_that_fits_is_fully_reserved_at_create() {
    let Some(fs) = common::SmallTmpfs::mount(8 << 20) else {
        eprintln!("cannot mount a tmpfs here (not root?): skipped");
        return;
    };
    let path = fs.dir().join("arena");
    let rt = Runtime::builder().slots(SizeClass::XL, 256).shared(&path).build().expect("4 MiB fit in 8 MiB");
    let needed = rt.config().arena_len() as u64;
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), needed);
    assert!(meta.blocks() * 512 >= needed, "every byte is allocated ({} blocks), not sparse", meta.blocks());
    // Now the file system has less than another such arena: the second
    // create is refused, the first keeps working.
    let err = Runtime::builder().slots(SizeClass::XL, 256).shared(fs.dir().join("second")).build().unwrap_err();
    assert!(matches!(err, BuildError::NoSpace { .. }), "{err:?}");
    assert_eq!(entries(fs.dir()), vec![path.clone()]);
    drop(rt);
    assert_eq!(entries(fs.dir()), Vec::<PathBuf>::new());
}

#[test]
fn no_open_changes_the_length_of_a_file() {
    // The bytes of a valid file whose processes are gone, cut short or
    // padded: every way of opening (and removing) refuses or accepts them
    // without truncating or extending the file.
    let path = common::temp_path("length");
    let rt = small().shared(&path).build().unwrap();
    let image = std::fs::read(&path).unwrap();
    drop(rt);
    for len in [0, 100, image.len() / 2, image.len() - 1, image.len() + 4096] {
        let path = common::temp_path("length");
        let mut bytes = image.clone();
        bytes.resize(len, 0);
        std::fs::write(&path, &bytes).unwrap();
        let quick = slotcast::OpenOptions::new().wait_for_creator(std::time::Duration::ZERO);
        let opened = quick.open(&path);
        let recovered = quick.clone().recover_stale(true).open(&path);
        let observed = slotcast::Observer::open(&path);
        let removed = slotcast::remove_stale(&path);
        assert!(matches!(opened, Err(OpenError::Stale | OpenError::Truncated { .. })), "length {len}");
        if len > image.len() {
            assert!(recovered.is_ok() && observed.is_ok(), "length {len}: a longer file is usable");
            assert!(matches!(removed, Ok(false)), "length {len}: in use");
        } else {
            assert!(matches!(recovered, Err(OpenError::Truncated { .. })), "length {len}");
            assert!(matches!(removed, Err(OpenError::Truncated { .. })), "length {len}");
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len as u64, "length {len} unchanged");
        drop((opened, recovered, observed));
        let _ = std::fs::remove_file(&path);
    }
}

#[test]
fn an_open_racing_a_create_never_sees_a_half_made_file() {
    let dir = common::temp_path("create-race");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..300 {
        let path = dir.join(format!("arena-{i}"));
        std::thread::scope(|s| {
            let opener = s.spawn(|| {
                loop {
                    match Runtime::open(&path) {
                        Err(OpenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        other => return other,
                    }
                }
            });
            let rt = small().shared(&path).build().unwrap();
            let opened = opener.join().unwrap();
            assert!(opened.is_ok(), "iteration {i}: an opener saw {:?}", opened.err());
            drop(opened);
            drop(rt);
        });
    }
    assert_eq!(entries(&dir), Vec::<PathBuf>::new(), "no temporary name is left behind");
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn a_create_over_an_existing_path_leaves_it_and_no_temporary_name() {
    let dir = common::temp_path("create-exists");
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("arena");
    std::fs::write(&path, b"someone else's").unwrap();
    let err = small().shared(&path).build().unwrap_err();
    assert!(matches!(err, BuildError::Create(ref e) if e.kind() == std::io::ErrorKind::AlreadyExists), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
    assert_eq!(entries(&dir), vec![path.clone()]);
    // A dangling symlink at the path is not followed either.
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(dir.join("elsewhere"), &path).unwrap();
    let err = small().shared(&path).build().unwrap_err();
    assert!(matches!(err, BuildError::Create(ref e) if e.kind() == std::io::ErrorKind::AlreadyExists), "{err}");
    assert_eq!(entries(&dir), vec![path.clone()]);
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn the_last_close_through_a_symlink_removes_the_real_file() {
    let real = common::temp_path("symlink-real");
    let link = common::temp_path("symlink-link");
    let creator = small().shared(&real).build().unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let other = Runtime::open(&link).unwrap();
    let resolved = other.path().map(Path::to_path_buf);
    drop(creator);
    assert!(real.exists(), "a process still uses the file");
    drop(other);
    assert!(!real.exists(), "the last close removes the real file");
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink(), "and leaves the symlink alone");
    assert_eq!(resolved, Some(real.clone()), "the path is resolved at open");
    std::fs::remove_file(&link).unwrap();
}

#[test]
fn a_relative_path_is_resolved_at_create() {
    let dir = common::temp_path("relative-dir");
    std::fs::create_dir(&dir).unwrap();
    let cwd = std::env::current_dir().unwrap();
    // The only test that changes the working directory; the others use
    // absolute paths.
    std::env::set_current_dir(&dir).unwrap();
    let rt = small().shared("arena").build();
    std::env::set_current_dir(&cwd).unwrap();
    let rt = rt.unwrap();
    let resolved = rt.path().map(Path::to_path_buf);
    drop(rt);
    assert_eq!(entries(&dir), Vec::<PathBuf>::new(), "the last close removes the file from any directory");
    assert_eq!(resolved, Some(dir.join("arena")), "the path is resolved at create");
    std::fs::remove_dir(&dir).unwrap();
}

/// In a forked child, every use of the handles it inherited is refused
/// with `Forked`, and dropping them (a reader, the writer, a retained
/// event) touches nothing of the parent's: its reader still reads, its
/// writer still publishes, its pointer still holds the slot.
#[test]
fn a_forked_child_refuses_the_parents_handles_and_drops_them_harmlessly() {
    use slotcast::{AllocError, JoinError, PublishError, ReadError, TryPublishError, UpgradeError, WriterError};
    let path = common::temp_path("fork-handles");
    let rt = small().shared(&path).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    writer.try_publish_bytes(1, b"first").unwrap();
    let kept = reader.try_recv().unwrap().unwrap().retain().unwrap();
    let allocated = rt.allocator().try_alloc_bytes(2, b"allocated").unwrap();
    // An event the parent has published but not yet made visible.
    writer.set_flush_every(8);
    writer.try_publish_bytes(1, b"deferred").unwrap();
    // SAFETY: the child only uses and drops the handles, then exits without
    // returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let checks = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_eq!(rt.writer().unwrap_err(), WriterError::Forked);
            assert_eq!(rt.reader().unwrap_err(), JoinError::Forked);
            assert_eq!(writer.try_publish_bytes(1, b"child"), Err(PublishError::Forked));
            let refused = writer.publish_with(SizeClass::XS, 1, |_| 1);
            assert!(matches!(refused, Err(TryPublishError::Forked(_))), "{refused:?}");
            // The parent's deferred event stays unpublished and its idle
            // slots stay its own, whatever the child's writer is asked.
            writer.flush();
            writer.set_flush_every(1);
            writer.give_back_idle_slots();
            assert_eq!(reader.try_read(|_, _| {}), Err(ReadError::Forked));
            assert_eq!(rt.upgrade(kept.handle()).unwrap_err(), UpgradeError::Forked);
            assert_eq!(rt.allocator().try_alloc_bytes(3, b"child").unwrap_err(), AllocError::Forked);
            assert_eq!(&kept[..], b"first", "reading what the parent retained is harmless");
            drop((reader, writer, kept, allocated, rt));
        }));
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(if checks.is_ok() { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is a valid out-pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status:#x}");
    assert_eq!(rt.published(), 1, "the child's writer stored the shared published cursor");
    writer.try_publish_bytes(1, b"second").unwrap();
    writer.flush();
    let mut seen = Vec::new();
    reader.try_read(|ev, _| seen.push(ev.data().to_vec())).unwrap();
    assert_eq!(seen, [b"deferred".to_vec(), b"second".to_vec()], "the parent's reader kept its cursor and entry");
    let stats = rt.stats();
    assert_eq!(stats.readers.len(), 1, "{stats:?}");
    assert_eq!(stats.pool(SizeClass::XS).retained, 2, "both pointers still hold their slots: {stats:?}");
    assert_eq!((&kept[..], &allocated[..]), (&b"first"[..], &b"allocated"[..]));
    assert!(rt.upgrade(kept.handle()).is_ok(), "the child's drop did not give the parent's hold back");
    drop((kept, allocated, reader, writer, rt));
    assert!(!path.exists());
}

#[test]
fn a_forked_child_leaves_the_parents_entry_lock_and_file_alone() {
    let path = common::temp_path("fork");
    let rt = small().shared(&path).build().unwrap();
    // SAFETY: the child only drops the runtime and exits without returning
    // into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(rt))).is_ok();
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is a valid out-pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status:#x}");
    assert!(path.exists(), "the child did not remove the parent's file");
    assert!(!slotcast::remove_stale(&path).unwrap(), "the parent still holds its entry's lock");
    let other = Runtime::open(&path).expect("the parent is alive: the file is not stale");
    let stats = rt.stats();
    assert_eq!(stats.processes.len(), 2, "the parent's entry is still active: {stats:?}");
    assert!(stats.processes.iter().all(|p| p.alive), "{stats:?}");
    drop(other);
    drop(rt);
    assert!(!path.exists(), "the parent's last close removes the file");
}

/// A forked child cannot read even the events its inherited reader had
/// already seen published: they are the parent's, and the parent's cursor
/// moves on while the writer reuses their ring entries.
#[test]
fn a_forked_child_cannot_read_events_its_reader_had_already_loaded() {
    use slotcast::ReadError;
    let path = common::temp_path("fork-loaded");
    let rt = small().shared(&path).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    writer.try_publish_bytes(1, b"first").unwrap();
    writer.try_publish_bytes(1, b"second").unwrap();
    // Loads both (the published cursor is read once), consumes the first.
    drop(reader.try_recv().unwrap().unwrap());
    // SAFETY: the child only reads and exits without returning into the
    // test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let refused = matches!(reader.try_recv(), Err(ReadError::Forked));
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(if refused { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is a valid out-pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "the child read a loaded event");
    assert_eq!(reader.try_recv().unwrap().unwrap().data(), b"second", "the parent still reads it");
    drop((reader, writer, rt));
}
