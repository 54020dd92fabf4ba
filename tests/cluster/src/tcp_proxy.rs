//! A TCP proxy of the test's own between an instance and PostgreSQL, for the fault a NAT or firewall makes: an
//! idle connection forgotten without a word. [`TcpProxy::freeze`] stops forwarding on every connection, old
//! and new, in both directions, and closes nothing: bytes sent either way are read and held, nothing is
//! written, so neither side sees an error, a reset or an end. [`TcpProxy::thaw`] forwards again (what was held
//! meanwhile goes through, as a NAT's lost packets would be resent).
//!
//! Threads and blocking sockets, like the rest of the harness: no runtime of its own to shut down.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::HarnessError;

pub struct TcpProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    frozen: Mutex<bool>,
    thawed: Condvar,
    stopped: AtomicBool,
    connections: AtomicUsize,
    /// Both ends of every connection, so dropping the proxy closes them all.
    sockets: Mutex<Vec<TcpStream>>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Result<Self, HarnessError> {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(HarnessError::io("binding the TCP proxy"))?;
        let addr = listener.local_addr().map_err(HarnessError::io("binding the TCP proxy"))?;
        let shared = Arc::new(Shared {
            frozen: Mutex::new(false),
            thawed: Condvar::new(),
            stopped: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            sockets: Mutex::new(Vec::new()),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else { continue };
                accepting.connections.fetch_add(1, Ordering::SeqCst);
                for socket in [&client, &server] {
                    if let Ok(copy) = socket.try_clone() {
                        accepting.sockets.lock().unwrap().push(copy);
                    }
                }
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else { continue };
                    let shared = accepting.clone();
                    std::thread::spawn(move || pump(from, to, &shared));
                }
            }
        });
        Ok(Self { addr, shared })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Stops forwarding, silently, on every connection.
    pub fn freeze(&self) {
        *self.shared.frozen.lock().unwrap() = true;
    }

    /// Forwards again, what was held first.
    pub fn thaw(&self) {
        *self.shared.frozen.lock().unwrap() = false;
        self.shared.thawed.notify_all();
    }
}

/// Copies `from` to `to` until either ends; while frozen, reads and holds instead of writing.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let mut buffer = [0_u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        {
            let mut frozen = shared.frozen.lock().unwrap();
            while *frozen && !shared.stopped.load(Ordering::SeqCst) {
                frozen = shared.thawed.wait_timeout(frozen, Duration::from_millis(200)).unwrap().0;
            }
        }
        if shared.stopped.load(Ordering::SeqCst) || to.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.thaw();
        for socket in self.shared.sockets.lock().unwrap().drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
        // Wakes the accept loop so it sees `stopped`.
        let _ = TcpStream::connect(self.addr);
    }
}
