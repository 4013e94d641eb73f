//! webrtc-rs's tokio runtime with a hook on each UDP socket it wraps: the one place that delegates
//! the whole `Runtime` trait, so that the viewer's receive buffers ([`super::recv_buffer`]) and the
//! sender's send counters ([`super::send_counting`]) each say only what they do to a socket.

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
    TokioRuntime,
};

/// What to do with each UDP socket webrtc-rs binds.
pub trait UdpHook: Send + Sync + Debug + 'static {
    /// Wrap `socket` (usually: prepare it, then let `tokio` wrap it, then maybe wrap that).
    fn wrap(
        &self,
        socket: std::net::UdpSocket,
        tokio: &TokioRuntime,
    ) -> io::Result<Arc<dyn AsyncUdpSocket>>;

    /// The runtime's name, for webrtc-rs's logs.
    fn name(&self) -> &'static str;
}

/// webrtc-rs's tokio runtime, with `H` applied to every UDP socket.
#[derive(Debug)]
pub struct HookedRuntime<H> {
    inner: TokioRuntime,
    hook: H,
}

impl<H: UdpHook> HookedRuntime<H> {
    /// The tokio runtime with `hook` on its UDP sockets.
    pub fn new(hook: H) -> Self {
        Self {
            inner: TokioRuntime,
            hook,
        }
    }
}

impl<H: UdpHook> Runtime for HookedRuntime<H> {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        self.hook.wrap(socket, &self.inner)
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        self.hook.name()
    }
}
