//! Network tests: ordering, scripted and random loss, duplication, stream order, split and coalescing.

use super::*;

fn dgram(n: u8) -> Payload {
    Payload::Datagram {
        from: "192.0.2.2:5060".parse().expect("addr"),
        to: "192.0.2.1:5060".parse().expect("addr"),
        data: Bytes::from(vec![n]),
    }
}

fn drain(net: &mut Net) -> Vec<(Duration, Delivery)> {
    std::iter::from_fn(|| net.pop_due(Duration::MAX)).collect()
}

#[test]
fn equal_times_leave_in_send_order_and_limit_is_respected() {
    let mut net = Net::new("server", 1);
    for n in 0..5 {
        net.send_datagram(Duration::from_millis(10), "alice", "server", dgram(n));
    }
    assert_eq!(net.pop_due(Duration::from_millis(9)), None);
    let got: Vec<Payload> = drain(&mut net)
        .into_iter()
        .map(|(_, d)| d.payload)
        .collect();
    assert_eq!(got, (0..5).map(dgram).collect::<Vec<_>>());
}

#[test]
fn scripted_loss_is_per_direction_and_counts_down() {
    let mut net = Net::new("server", 1);
    net.lose_next("alice", "server", 2);
    let z = Duration::ZERO;
    assert_eq!(
        net.send_datagram(z, "server", "alice", dgram(0)),
        Fate::Sent(vec![z])
    );
    assert_eq!(
        net.send_datagram(z, "alice", "server", dgram(1)),
        Fate::LostScripted
    );
    assert_eq!(
        net.send_datagram(z, "alice", "server", dgram(2)),
        Fate::LostScripted
    );
    assert_eq!(
        net.send_datagram(z, "alice", "server", dgram(3)),
        Fate::Sent(vec![z])
    );
}

#[test]
fn random_impairments_follow_the_seed_and_the_link() {
    let run = |seed| {
        let mut net = Net::new("server", seed);
        net.configure(&NetSetting {
            loss: Some(0.3),
            delay: Some((Duration::from_millis(1), Duration::from_millis(50))),
            dup: Some(0.2),
            reorder: Some(0.2),
            ..NetSetting::default()
        });
        net.configure(&NetSetting {
            host: Some("bob".into()),
            loss: Some(0.0),
            dup: Some(0.0),
            ..NetSetting::default()
        });
        let fates: Vec<Fate> = (0..200)
            .map(|i| net.send_datagram(Duration::ZERO, "alice", "server", dgram(i)))
            .collect();
        let bob: Vec<Fate> = (0..50)
            .map(|i| net.send_datagram(Duration::ZERO, "server", "bob", dgram(i)))
            .collect();
        (fates, bob)
    };
    let (a, bob) = run(5);
    assert_eq!(run(5).0, a, "same seed, same fates");
    assert_ne!(run(6).0, a, "another seed, other fates");
    let lost = a.iter().filter(|f| **f == Fate::Lost).count();
    assert!((30..90).contains(&lost), "{lost}");
    assert!(a.iter().any(|f| matches!(f, Fate::Sent(t) if t.len() == 2)));
    assert!(
        bob.iter()
            .all(|f| matches!(f, Fate::Sent(t) if t.len() == 1))
    );
    for f in &a {
        if let Fate::Sent(ts) = f {
            // delay ≤ 50 ms, reordering adds at most 3 × 50 ms.
            assert!(
                ts.iter().all(|t| *t <= Duration::from_millis(200)),
                "{ts:?}"
            );
        }
    }
}

#[test]
fn streams_stay_ordered_split_and_coalesce() {
    let mut net = Net::new("server", 9);
    let ea: SocketAddr = "192.0.2.1:5060".parse().expect("addr");
    let ha: SocketAddr = "192.0.2.2:5060".parse().expect("addr");
    net.configure(&NetSetting {
        delay: Some((Duration::ZERO, Duration::from_millis(30))),
        split: Some(1.0),
        ..NetSetting::default()
    });
    let id = net.host_connect(Duration::ZERO, "bob", ha, ea);
    assert_eq!(net.open_conn_of("bob", None), Some(id));
    assert_eq!(net.open_conn_to(ha), Some(id));
    let mut sent = Vec::new();
    for i in 0..20u8 {
        let chunk = vec![i; 7];
        sent.extend_from_slice(&chunk);
        assert!(net.stream_write(Duration::from_millis(u64::from(i)), id, "bob", chunk.into()));
    }
    let got = drain(&mut net);
    assert!(matches!(got[0].1.payload, Payload::Opened(c) if c == id));
    let mut bytes = Vec::new();
    let mut reads = 0;
    let mut last = Duration::ZERO;
    for (at, d) in &got[1..] {
        assert!(*at >= last, "time goes forward");
        last = *at;
        if let Payload::StreamData(_, b) = &d.payload {
            bytes.extend_from_slice(b);
            reads += 1;
        }
    }
    assert_eq!(bytes, sent, "a stream never loses or reorders bytes");
    assert!(reads > 20, "split=1 gives more reads than writes ({reads})");

    // Coalescing: with no delay and no split, two writes at one instant arrive as one read.
    net.configure(&NetSetting {
        delay: Some((Duration::ZERO, Duration::ZERO)),
        split: Some(0.0),
        ..NetSetting::default()
    });
    let t = Duration::from_secs(1);
    net.stream_write(t, id, "server", Bytes::from_static(b"ab"));
    net.stream_write(t, id, "server", Bytes::from_static(b"cd"));
    let got = drain(&mut net);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].1.payload,
        Payload::StreamData(id, Bytes::from_static(b"abcd"))
    );
    assert_eq!(got[0].1.to, "bob");

    assert!(net.close(t, id, "bob"));
    assert!(!net.close(t, id, "bob"), "closing twice does nothing");
    assert!(!net.stream_write(t, id, "bob", Bytes::from_static(b"x")));
    let got = drain(&mut net);
    assert_eq!(got[0].1.payload, Payload::Closed(id));
    assert_eq!(net.in_flight(), 0);
}

#[test]
fn engine_connect_to_nobody_is_refused() {
    let mut net = Net::new("server", 1);
    let ea: SocketAddr = "192.0.2.1:5060".parse().expect("addr");
    let id = ConnId(ConnId::OUTBOUND_BASE);
    net.engine_connect(Duration::ZERO, id, None, ea);
    let got = drain(&mut net);
    assert_eq!(got[0].1.payload, Payload::Closed(id));
    assert_eq!(got[0].1.to, "server");
}
