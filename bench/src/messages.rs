//! Typical messages used by the benchmarks.

/// A typical INVITE with SDP from a softphone (~900 bytes), as a proxy receives it.
pub fn invite_900() -> String {
    let sdp = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 9 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";
    format!(
        "INVITE sip:102@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
Route: <sip:192.0.2.1:5060;lr>\r\n\
From: \"Alice\" <sip:101@example.com>;tag=1928301774\r\n\
To: <sip:102@example.com>\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:101@192.0.2.101:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE\r\n\
Supported: replaces, timer, outbound\r\n\
User-Agent: Softphone/8.1.2 (Linux)\r\n\
Session-Expires: 1800\r\n\
Accept: application/sdp\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{}",
        sdp.len(),
        sdp
    )
}
