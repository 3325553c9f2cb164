//! Codec benchmarks: parse a typical 900-byte INVITE with SDP (header index plus
//! the views a proxy needs), and forward-splice it (add Via and Record-Route,
//! decrement Max-Forwards, pop our Route).
//!
//! `taskset -c 1 cargo bench -p switchboard-bench --bench codec`

use bytes::Bytes;
use std::time::Duration;
use switchboard_bench::{bench, header, messages};
use switchboard_core::sip::{HeaderName, Limits, Message, Splice};

fn main() {
    let raw = Bytes::from(messages::invite_900());
    let limits = Limits::default();
    header(&format!("SIP codec ({}-byte INVITE with SDP)", raw.len()));
    bench("parse + proxy views", Duration::from_secs(2), || {
        let m = Message::parse(raw.clone(), &limits).expect("benchmark message parses");
        (
            m.top_via_branch().map(str::len),
            m.call_id().len(),
            m.cseq().seq,
            m.from_tag().map(str::len),
            m.to_tag().is_some(),
            m.max_forwards().ok().flatten(),
            m.header(HeaderName::Route).map(str::len),
        )
    });
    let msg = Message::parse(raw.clone(), &limits).expect("benchmark message parses");
    bench("forward splice", Duration::from_secs(2), || {
        let mut s = Splice::new(&msg);
        s.prepend(
            HeaderName::Via,
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKsb0123456789abcdef.abcdefgh;rport",
        )
        .replace_first(HeaderName::MaxForwards, 69)
        .prepend(
            HeaderName::RecordRoute,
            "<sip:192.0.2.1:5060;transport=udp;lr>",
        )
        .remove_first_value(HeaderName::Route);
        s.to_bytes()
    });
}
