//! Batched UDP I/O for the engine task: `recvmmsg(2)` and `sendmmsg(2)`.
//!
//! The engine task owns the UDP sockets itself (no reader task, no channel hop
//! per datagram). When a socket is readable it takes up to [`BATCH`] queued
//! datagrams in one `recvmmsg` call; the datagrams the engine produces while
//! handling them are queued per socket and leave in one `sendmmsg` call per
//! [`BATCH`]. Under load that replaces, per datagram, an `epoll_wait`, a
//! `recvfrom`, a failing `recvfrom`, a cross-thread wake-up and a `sendto`
//! with a share of two system calls; at a trickle it costs what it did.
//!
//! Sending never blocks the engine: a full socket buffer drops the datagram
//! and counts it, as the network itself would (SIP over UDP retransmits);
//! any other error is reported per datagram so the engine can tell its
//! transaction (RFC 3261 §18.4, `Input::SendFailed`).

use bytes::Bytes;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams per `recvmmsg` / `sendmmsg` call.
pub const BATCH: usize = 32;

/// The largest UDP payload (IPv4: 65,507; a datagram is never truncated). A
/// message over the engine's limit is still read whole, so it can be answered
/// 513 rather than misparsed.
const DGRAM_MAX: usize = 65_535;

/// One bound UDP socket with its address (read once: `local_addr()` is a
/// system call) and the datagrams queued to leave through it.
#[derive(Debug)]
pub struct UdpPort {
    /// The socket.
    pub sock: Arc<UdpSocket>,
    /// Its bound address.
    pub local: SocketAddr,
    out: Vec<(SocketAddr, Bytes)>,
}

impl UdpPort {
    /// Wraps a bound socket.
    pub fn new(sock: Arc<UdpSocket>) -> io::Result<Self> {
        let local = sock.local_addr()?;
        Ok(Self {
            sock,
            local,
            out: Vec::new(),
        })
    }

    /// Queues a datagram; it leaves at the next [`UdpPort::flush`].
    pub fn queue(&mut self, remote: SocketAddr, data: Bytes) {
        self.out.push((remote, data));
    }

    /// Datagrams waiting to be sent.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// Sends everything queued, [`BATCH`] per system call. Calls `failed` for a
    /// datagram the kernel refused for a reason other than a full buffer and
    /// returns how many were dropped because the buffer was full.
    pub fn flush(&mut self, mut failed: impl FnMut(SocketAddr, io::Error)) -> u64 {
        let mut dropped = 0;
        let mut start = 0;
        let fd = self.sock.as_raw_fd();
        while start < self.out.len() {
            let chunk = &self.out[start..self.out.len().min(start + BATCH)];
            let slices: Vec<[IoSlice<'_>; 1]> =
                chunk.iter().map(|(_, d)| [IoSlice::new(d)]).collect();
            let addrs: Vec<Option<SockaddrStorage>> = chunk
                .iter()
                .map(|(a, _)| Some(SockaddrStorage::from(*a)))
                .collect();
            // Straight to the (non-blocking) socket, not through tokio's
            // readiness: the engine never waits for writability, and a
            // readiness flag not yet set (or cleared by an earlier full
            // buffer) must not drop datagrams the kernel would take.
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(chunk.len(), None);
            let sent = sendmmsg(
                fd,
                &mut headers,
                &slices,
                &addrs,
                [],
                MsgFlags::MSG_DONTWAIT,
            )
            .map(Iterator::count)
            .map_err(io::Error::from);
            match sent {
                Ok(0) => {
                    // Nothing went and no error: treat as a full buffer.
                    dropped += chunk.len() as u64;
                    break;
                }
                Ok(n) => start += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The socket buffer is full: what is left is dropped, as
                    // the network would drop it; retransmission recovers.
                    dropped += (self.out.len() - start) as u64;
                    break;
                }
                Err(e) => {
                    // The first datagram of the chunk was refused: report it, go on.
                    failed(chunk[0].0, e);
                    start += 1;
                }
            }
        }
        self.out.clear();
        dropped
    }
}

/// Reusable receive buffers for [`recv_batch`].
#[derive(Debug)]
pub struct RecvBuffers {
    bufs: Vec<Vec<u8>>,
}

impl Default for RecvBuffers {
    fn default() -> Self {
        // 32 × 64 KiB of address space; only the pages datagrams touch are resident.
        Self {
            bufs: (0..BATCH).map(|_| vec![0u8; DGRAM_MAX]).collect(),
        }
    }
}

/// Reads up to [`BATCH`] queued datagrams from `port` in one call and hands
/// each to `f` as (source, bytes). Returns how many were read; `Ok(0)` or a
/// `WouldBlock` error when nothing was queued.
pub fn recv_batch(
    port: &UdpPort,
    bufs: &mut RecvBuffers,
    mut f: impl FnMut(SocketAddr, &[u8]),
) -> io::Result<usize> {
    let fd = port.sock.as_raw_fd();
    let got: Vec<(Option<SocketAddr>, usize)> = port.sock.try_io(Interest::READABLE, || {
        let mut slices: Vec<[IoSliceMut<'_>; 1]> =
            bufs.bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let res = recvmmsg(
            fd,
            &mut headers,
            slices.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .map_err(io::Error::from)?;
        Ok(res.map(|m| (m.address.and_then(to_std), m.bytes)).collect())
    })?;
    for (i, (from, n)) in got.iter().enumerate() {
        let (Some(from), Some(buf)) = (from, bufs.bufs.get(i)) else {
            continue; // no source address: nothing could be answered
        };
        f(*from, buf.get(..*n).unwrap_or(buf));
    }
    Ok(got.len())
}

fn to_std(a: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

/// Polls every port for readability, starting at `first` (callers rotate it
/// so a flood on one socket cannot starve the others); ready with the index of
/// the first that is. Never ready when there are no ports.
pub fn poll_readable(ports: &[UdpPort], first: usize, cx: &mut Context<'_>) -> Poll<usize> {
    let n = ports.len();
    for k in 0..n {
        let i = (first + k) % n;
        if ports
            .get(i)
            .is_some_and(|p| p.sock.poll_recv_ready(cx).is_ready())
        {
            return Poll::Ready(i);
        }
    }
    Poll::Pending
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pair() -> (UdpPort, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let b = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        (UdpPort::new(Arc::new(a)).expect("port"), b)
    }

    #[tokio::test]
    async fn a_batch_is_sent_in_order_and_received_in_one_call() {
        let (mut a, b) = pair().await;
        let to = b.local_addr().expect("addr");
        for i in 0..(BATCH + 5) {
            a.queue(to, Bytes::from(format!("datagram {i}")));
        }
        let dropped = a.flush(|r, e| panic!("send to {r} failed: {e}"));
        assert_eq!(dropped, 0);
        assert_eq!(a.queued(), 0);
        let mut buf = [0u8; 64];
        for i in 0..(BATCH + 5) {
            let (n, from) = b.recv_from(&mut buf).await.expect("recv");
            assert_eq!(from, a.local);
            assert_eq!(&buf[..n], format!("datagram {i}").as_bytes());
        }
        // And back: queued datagrams come out of one recvmmsg, in order, with their source.
        let b_addr = b.local_addr().expect("addr");
        for i in 0..3 {
            b.send_to(format!("reply {i}").as_bytes(), a.local)
                .await
                .expect("send");
        }
        let mut bufs = RecvBuffers::default();
        let mut got = Vec::new();
        while got.len() < 3 {
            std::future::poll_fn(|cx| poll_readable(std::slice::from_ref(&a), 0, cx)).await;
            match recv_batch(&a, &mut bufs, |from, d| got.push((from, d.to_vec()))) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("recv: {e}"),
            }
        }
        assert_eq!(got.len(), 3);
        for (i, (from, d)) in got.iter().enumerate() {
            assert_eq!(*from, b_addr);
            assert_eq!(d, format!("reply {i}").as_bytes());
        }
        // Nothing left: WouldBlock, not a hang or a phantom datagram.
        let r = recv_batch(&a, &mut bufs, |_, _| panic!("no datagram expected"));
        assert!(matches!(r, Ok(0)) || r.is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock));
    }

    #[tokio::test]
    async fn a_refused_datagram_is_reported_and_the_rest_still_go() {
        let (mut a, b) = pair().await;
        let to = b.local_addr().expect("addr");
        // An IPv6 destination on an IPv4 socket is refused by the kernel (EAFNOSUPPORT/EINVAL).
        let bad: SocketAddr = "[::1]:5060".parse().expect("addr");
        a.queue(bad, Bytes::from_static(b"refused"));
        a.queue(to, Bytes::from_static(b"delivered"));
        let mut failed = Vec::new();
        let dropped = a.flush(|r, _| failed.push(r));
        assert_eq!(dropped, 0);
        assert_eq!(failed, vec![bad]);
        let mut buf = [0u8; 64];
        let (n, _) = b.recv_from(&mut buf).await.expect("recv");
        assert_eq!(&buf[..n], b"delivered");
    }
}
