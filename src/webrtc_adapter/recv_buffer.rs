//! The viewer's UDP sockets with a receive buffer that holds a burst, and their own drops counted.
//!
//! A video frame at 50 Mbit/s and 30 fps is about 170 datagrams sent at once; the kernel's default
//! receive buffer (208 KiB) overflows on such a burst and the datagrams are lost in this host, which
//! the stack then reports as packets lost, a false "network loss". webrtc-rs binds its UDP sockets
//! itself and hands each to its `Runtime` to wrap (quinn-udp with GRO, in the tokio runtime), so
//! this module is a hook on webrtc-rs's tokio runtime ([`super::udp_runtime`]): before a UDP socket
//! is wrapped, it raises the socket's receive buffer: `SO_RCVBUFFORCE` when the
//! process may (root, `CAP_NET_ADMIN`), else `SO_RCVBUF`, which the kernel caps at
//! `net.core.rmem_max`. It records each socket (address, inode, buffer granted) so that the engine
//! can report the buffer and count the socket's own drops from `/proc/net/udp{,6}` (the kernel's
//! per-socket `drops` column), which is what tells this host's drops from the network's loss.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use webrtc::runtime::{AsyncUdpSocket, Runtime, TokioRuntime};

use super::udp_runtime::{HookedRuntime, UdpHook};

/// The receive buffer asked for each socket (the kernel reports twice what it grants, for its
/// bookkeeping; both figures below are what `SO_RCVBUF` reads back).
pub const WANTED_RCVBUF: usize = 8 << 20;

/// One UDP socket of the viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketRecord {
    /// Its local address.
    pub local: SocketAddr,
    /// Its inode (the key of `/proc/net/udp`).
    pub inode: u64,
    /// The receive buffer the kernel granted, in bytes, as `SO_RCVBUF` reads it.
    pub granted: usize,
}

/// The sockets a runtime has wrapped.
#[derive(Debug, Default)]
pub struct Sockets(Mutex<Vec<SocketRecord>>);

impl Sockets {
    /// Every socket recorded so far.
    pub fn records(&self) -> Vec<SocketRecord> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Datagrams this host dropped on these sockets (their receive buffers were full), from the
    /// kernel's per-socket counters; `None` where the kernel does not say (not Linux).
    pub fn drops(&self) -> Option<u64> {
        let inodes: Vec<u64> = self.records().iter().map(|r| r.inode).collect();
        if inodes.is_empty() {
            return Some(0);
        }
        let v4 = std::fs::read_to_string("/proc/net/udp").ok();
        let v6 = std::fs::read_to_string("/proc/net/udp6").ok();
        if v4.is_none() && v6.is_none() {
            return None;
        }
        Some(
            drops_in(v4.as_deref().unwrap_or(""), &inodes)
                + drops_in(v6.as_deref().unwrap_or(""), &inodes),
        )
    }
}

/// The system's cap on a receive buffer a process may ask for (`net.core.rmem_max`).
pub fn rmem_max() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The sum of the `drops` column of `/proc/net/udp`-format `text` over the sockets `inodes`.
pub fn drops_in(text: &str, inodes: &[u64]) -> u64 {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops
            let inode: u64 = f.get(9)?.parse().ok()?;
            let drops: u64 = f.get(12)?.parse().ok()?;
            inodes.contains(&inode).then_some(drops)
        })
        .sum()
}

/// The hook that raises each UDP socket's receive buffer and records the socket.
#[derive(Debug)]
pub struct RaiseBuffers {
    sockets: Arc<Sockets>,
    wanted: usize,
}

/// webrtc-rs's tokio runtime, with bigger receive buffers on the UDP sockets it wraps.
pub type BufferedRuntime = HookedRuntime<RaiseBuffers>;

/// A runtime asking `wanted` bytes of receive buffer per socket, recording into `sockets`.
pub fn buffered_runtime(wanted: usize, sockets: Arc<Sockets>) -> BufferedRuntime {
    HookedRuntime::new(RaiseBuffers { sockets, wanted })
}

#[cfg(unix)]
fn raise_and_record(sock: &std::net::UdpSocket, wanted: usize) -> io::Result<(usize, u64)> {
    use std::os::fd::AsRawFd;
    let fd = sock.as_raw_fd();
    let want = libc::c_int::try_from(wanted).unwrap_or(libc::c_int::MAX);
    let set = |opt: libc::c_int| {
        // SAFETY: setsockopt on a socket we own, with a c_int of the right size.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&raw const want).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        }
    };
    #[cfg(target_os = "linux")]
    let forced = set(libc::SO_RCVBUFFORCE) == 0;
    #[cfg(not(target_os = "linux"))]
    let forced = false;
    if !forced {
        // Capped at rmem_max by the kernel; a failure leaves the default, which is still usable.
        let _ = set(libc::SO_RCVBUF);
    }
    let mut got: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt into a c_int we own, with its size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw mut got).cast(),
            &raw mut len,
        )
    };
    let granted = if r == 0 { got.max(0) as usize } else { 0 };
    // SAFETY: fstat into a zeroed stat we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let inode = if unsafe { libc::fstat(fd, &raw mut st) } == 0 {
        st.st_ino
    } else {
        0
    };
    Ok((granted, inode))
}

#[cfg(not(unix))]
fn raise_and_record(_sock: &std::net::UdpSocket, _wanted: usize) -> io::Result<(usize, u64)> {
    Ok((0, 0))
}

impl UdpHook for RaiseBuffers {
    fn wrap(
        &self,
        socket: std::net::UdpSocket,
        tokio: &TokioRuntime,
    ) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        if let (Ok(local), Ok((granted, inode))) =
            (socket.local_addr(), raise_and_record(&socket, self.wanted))
            && let Ok(mut v) = self.sockets.0.lock()
        {
            v.push(SocketRecord {
                local,
                inode,
                granted,
            });
        }
        tokio.wrap_udp_socket(socket)
    }

    fn name(&self) -> &'static str {
        "tokio (bigger UDP receive buffers)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  283: 0100007F:C5B1 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17
  284: 0100007F:C5B2 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4243 2 0000000000000000 0
  285: 0100007F:C5B3 00000000:0000 07 00000000:00036A00 00:00000000 00000000     0        0 9999 2 0000000000000000 1200
";

    #[test]
    fn drops_are_summed_over_our_sockets_only() {
        assert_eq!(drops_in(PROC, &[4242, 4243]), 17);
        assert_eq!(drops_in(PROC, &[9999]), 1200);
        assert_eq!(drops_in(PROC, &[1]), 0);
        assert_eq!(drops_in("", &[4242]), 0);
        assert_eq!(drops_in("header\ngarbage line\n", &[4242]), 0);
    }

    #[test]
    fn a_socket_gets_a_bigger_buffer_and_is_found_in_proc() {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let (granted, inode) = raise_and_record(&sock, WANTED_RCVBUF).expect("raise");
        assert!(granted > 0 && inode > 0);
        let default = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            raise_and_record(&s, 0).map(|(g, _)| g).unwrap_or(0)
        };
        assert!(granted >= default, "{granted} < {default}");
        let sockets = Sockets::default();
        if let Ok(mut v) = sockets.0.lock() {
            v.push(SocketRecord {
                local: sock.local_addr().expect("addr"),
                inode,
                granted,
            });
        }
        assert_eq!(
            sockets.drops(),
            Some(0),
            "a fresh socket has dropped nothing"
        );
    }
}
