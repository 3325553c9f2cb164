//! Property tests: arbitrary bytes never panic `Message::parse` or the stream
//! framer, and mutations of a valid message never panic either (RFC 3261 §8.2:
//! bad input becomes an error, never a crash).

use bytes::Bytes;
use proptest::prelude::*;
use switchboard_core::sip::{HeaderName, Limits, Message, Splice, StreamFramer};

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8, SIP/2.0/UDP x\r\n\
Max-Forwards: 70\r\nRoute: <sip:a;lr>, <sip:b;lr>\r\n\
To: Bob <sip:bob@biloxi.com>\r\nFrom: \"A\" <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nl: 3\r\n\r\nabc";

fn exercise(m: &Message) {
    let _ = (
        m.call_id(),
        m.from_tag(),
        m.to_tag(),
        m.top_via_branch(),
        m.max_forwards(),
    );
    for h in m.headers() {
        let _ = (m.name_text(h), m.value_text(h));
    }
    let mut s = Splice::new(m);
    s.prepend(HeaderName::Via, "SIP/2.0/UDP p;branch=z9hG4bKx")
        .replace_first(HeaderName::MaxForwards, 69)
        .remove_first_value(HeaderName::Route)
        .remove_first_value(HeaderName::Via)
        .set_request_uri("sip:x");
    let _ = s.to_bytes();
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(m) = Message::parse(Bytes::from(data.clone()), &Limits::default()) {
            exercise(&m);
        }
        let mut f = StreamFramer::new(Limits { max_message_size: 512, ..Limits::default() });
        for chunk in data.chunks(13) {
            f.push(chunk);
            while f.next().is_some() {}
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        edits in proptest::collection::vec((0..INVITE.len(), any::<u8>()), 1..8),
        cut in 0..=INVITE.len(),
    ) {
        let mut data = INVITE.to_vec();
        for (at, b) in edits {
            data[at] = b;
        }
        data.truncate(cut.max(1));
        if let Ok(m) = Message::parse(Bytes::from(data.clone()), &Limits::default()) {
            exercise(&m);
            // A spliced message with no edits reproduces the input from the start line.
            let same = Splice::new(&m).to_bytes();
            prop_assert!(data.windows(same.len()).any(|w| w == &same[..]));
        }
        let mut f = StreamFramer::new(Limits::default());
        f.push(&data);
        while f.next().is_some() {}
    }
}
