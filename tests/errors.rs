//! Bad input gets a specific, readable error, never a panic or undefined
//! behaviour: oversized payloads, a second writer, too many readers, bad
//! configurations, and typed views of the wrong shape.

use slotcast::{
    AllocError, BuildError, JoinError, PublishError, Runtime, SizeClass, TryPublishError, ViewError, WriterError,
};

#[test]
fn payloads_over_16_kb_are_too_large() {
    let rt = Runtime::new().unwrap();
    let _reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    let big = vec![0u8; SizeClass::MAX_PAYLOAD + 1];
    let expected = PublishError::TooLarge { len: SizeClass::MAX_PAYLOAD + 1 };
    assert_eq!(w.try_publish_bytes(0, &big), Err(expected));
    assert_eq!(w.publish_bytes(0, &big), Err(expected));
    assert_eq!(w.publish_bytes_timeout(0, &big, std::time::Duration::from_millis(1)), Err(expected));
    assert_eq!(w.try_publish_pod(0, &[0u8; 20_000]), Err(PublishError::TooLarge { len: 20_000 }));
    assert_eq!(w.publish_bytes_deadline(0, &big, std::time::Instant::now()), Err(expected));
    // Exactly 16 KB is fine.
    w.try_publish_bytes(0, &big[..SizeClass::MAX_PAYLOAD]).unwrap();
    assert_eq!(w.published(), 1, "nothing else was published");
    let message = expected.to_string();
    assert!(message.contains("16385") && message.contains("16384"), "{message}");
}

/// A length beyond the slot, from `Claim::publish`, a writer's fill closure
/// or an allocator's, is a typed error, and the slot comes back: a hundred
/// refusals on a four-slot pool leave every slot usable (class S: XS claims
/// take no slot).
#[test]
fn a_length_beyond_the_slot_is_refused_and_the_slot_given_back() {
    let rt = Runtime::builder().ring_capacity(8).slots(SizeClass::S, 4).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    let alloc = rt.allocator();
    let over = PublishError::OverCapacity { len: 257, capacity: 256 };
    for _ in 0..100 {
        let mut claim = w.try_claim(SizeClass::S).unwrap();
        claim.buf_mut()[0] = 1;
        assert_eq!(claim.publish(257), Err(over));
        let err = w.try_publish_with(SizeClass::S, 0, |_| 257).unwrap_err();
        assert!(matches!(err, TryPublishError::OverCapacity { len: 257, capacity: 256 }), "{err:?}");
        assert_eq!(PublishError::from(err), over);
        let err = alloc.try_alloc_with(SizeClass::S, 0, |_| 257).unwrap_err();
        assert_eq!(err, AllocError::OverCapacity { len: 257, capacity: 256 });
    }
    assert_eq!((w.published(), reader.lag()), (0, 0), "nothing was published");
    assert!(over.to_string().contains("257") && over.to_string().contains("256"), "{over}");
    // Nothing leaked: the writer's one slot is reusable, and the other three
    // are free for the allocator.
    assert_eq!(rt.stats().pool(SizeClass::S).in_use, 0);
    let held: Vec<_> = (0..3).map(|i| alloc.try_alloc_bytes(0, &[i; 100]).expect("free")).collect();
    for i in 0..8u8 {
        assert_eq!(w.try_claim(SizeClass::S).unwrap().publish(1), Ok(u64::from(i)));
        assert_eq!(reader.try_read(|_, _| ()), Ok(1));
    }
    drop((held, w));
    assert_eq!(rt.stats().pool(SizeClass::S).in_use, 0);
}

#[test]
fn one_writer_at_a_time() {
    let rt = Runtime::new().unwrap();
    let first = rt.writer().unwrap();
    let err = rt.clone().writer().unwrap_err();
    assert_eq!(err, WriterError::Taken { owner: u64::from(std::process::id()) });
    assert!(err.to_string().contains("held by process"));
    drop(first);
    let mut second = rt.writer().expect("free again once the first is gone");
    second.try_publish_bytes(0, b"ok").unwrap();
}

#[test]
fn a_new_writer_continues_the_sequence() {
    let rt = Runtime::builder().ring_capacity(8).slots(SizeClass::S, 4).build().unwrap();
    let mut reader = rt.reader().unwrap();
    for round in 0..10u64 {
        let mut w = rt.writer().unwrap();
        for i in 0..3 {
            assert_eq!(w.try_publish_pod(0, &[round * 3 + i; 12]).unwrap(), round * 3 + i);
        }
        drop(w);
        let mut got = Vec::new();
        reader.try_read(|ev, _| got.push(ev.as_pod::<[u64; 12]>().unwrap()[0])).unwrap();
        assert_eq!(got, [round * 3, round * 3 + 1, round * 3 + 2]);
    }
    assert_eq!(rt.stats().pool(SizeClass::S).in_use, 0);
}

#[test]
fn too_many_readers() {
    let rt = Runtime::builder().max_readers(1).build().unwrap();
    let _r = rt.reader().unwrap();
    let err = rt.reader().unwrap_err();
    assert_eq!(err, JoinError::TooManyReaders { max: 1 });
    assert!(err.to_string().contains('1'));
}

#[test]
fn bad_configurations_name_the_setting() {
    let cases: [(slotcast::Builder, &str); 4] = [
        (Runtime::builder().ring_capacity(100), "ring capacity 100"),
        (Runtime::builder().max_readers(0), "max readers 0"),
        (Runtime::builder().slots(SizeClass::L, 1 << 28), "slots of class L"),
        (SizeClass::ALL.iter().fold(Runtime::builder(), |b, &c| b.slots(c, 0)), "every size class has 0 slots"),
    ];
    for (builder, needle) in cases {
        let err = builder.build().unwrap_err();
        assert!(err.to_string().contains(needle), "{err} should mention {needle:?}");
    }
    assert!(matches!(
        Runtime::builder().ring_capacity(3).build().unwrap_err(),
        BuildError::RingCapacity { requested: 3 }
    ));
}

#[test]
fn typed_reads_of_the_wrong_shape_are_errors() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    w.try_publish_bytes(0, &[1, 2, 3]).unwrap();
    let ev = reader.try_recv().unwrap().unwrap();
    let err = ev.as_pod::<u32>().unwrap_err();
    assert_eq!(err, ViewError::Size { expected: 4, actual: 3 });
    assert!(err.to_string().contains("3-byte event"));
}

#[repr(C, align(32))]
#[derive(Clone, Copy, PartialEq, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct Aligned32([u8; 32]);

/// An XS event is read in its ring entry, where its payload is only
/// 16-aligned: a view needing more is refused, never misaligned, and
/// `publish_pod` puts such a value in a pool slot so it can be viewed.
#[test]
fn a_small_value_needing_more_alignment_than_the_ring_entry_is_viewable() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    let value = Aligned32([5; 32]);
    w.try_publish_bytes(0, bytemuck::bytes_of(&value)).unwrap();
    w.try_publish_pod(1, &value).unwrap();
    let ev = reader.try_recv().unwrap().unwrap();
    assert_eq!(ev.class(), SizeClass::XS, "32 bytes: carried in the ring");
    assert_eq!(ev.as_pod::<Aligned32>(), Err(ViewError::Align { required: 32 }));
    assert_eq!(ev.as_pod::<[u8; 32]>(), Ok(&[5; 32]));
    drop(ev);
    let ev = reader.try_recv().unwrap().unwrap();
    assert_eq!(ev.class(), SizeClass::S, "publish_pod chose a slot for the alignment");
    assert_eq!(ev.as_pod::<Aligned32>(), Ok(&value));
}
