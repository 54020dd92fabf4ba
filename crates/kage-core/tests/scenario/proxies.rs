//! Two small proxies on loopback for the per-account proxy tests: an HTTP forward proxy (absolute-form
//! requests and CONNECT) and a SOCKS5 proxy (no authentication, CONNECT only). Each tunnels bytes to the
//! target and reads the plain HTTP going through it (the harness server is http on loopback), recording every
//! request it carried: method, path, the bearer token's `sub`, and the `x-kage-window` header.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::subject_of;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub method: String,
    pub path: String,
    pub subject: Option<String>,
    pub window: Option<String>,
}

#[derive(Clone, Copy)]
enum Kind {
    Http,
    Socks5,
}

pub struct CountingProxy {
    pub url: String,
    carried: Arc<Mutex<Vec<Carried>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CountingProxy {
    pub async fn http() -> Self {
        Self::start(Kind::Http).await
    }

    pub async fn socks5() -> Self {
        Self::start(Kind::Socks5).await
    }

    async fn start(kind: Kind) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let carried = Arc::new(Mutex::new(Vec::new()));
        let log = carried.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let _ = match kind {
                        Kind::Http => http_connection(client, log).await,
                        Kind::Socks5 => socks5_connection(client, log).await,
                    };
                });
            }
        });
        let scheme = match kind {
            Kind::Http => "http",
            Kind::Socks5 => "socks5",
        };
        Self { url: format!("{scheme}://{addr}"), carried, task }
    }

    pub fn carried(&self) -> Vec<Carried> {
        self.carried.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.carried.lock().unwrap().clear();
    }
}

async fn http_connection(mut client: TcpStream, log: Arc<Mutex<Vec<Carried>>>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await? == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let target = text.split_whitespace().nth(1).unwrap_or_default().to_owned();
    if text.starts_with("CONNECT ") {
        let upstream = TcpStream::connect(&target).await?;
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
        return tunnel(client, upstream, Sniffer::new(log), Vec::new()).await;
    }
    // Absolute form: `GET http://host:port/path HTTP/1.1`. The server accepts it as it is.
    let authority = target.strip_prefix("http://").and_then(|rest| rest.split('/').next()).unwrap_or_default();
    let upstream = TcpStream::connect(authority).await?;
    tunnel(client, upstream, Sniffer::new(log), head).await
}

async fn socks5_connection(mut client: TcpStream, log: Arc<Mutex<Vec<Carried>>>) -> std::io::Result<()> {
    let mut greeting = [0u8; 2];
    client.read_exact(&mut greeting).await?;
    let mut methods = vec![0u8; usize::from(greeting[1])];
    client.read_exact(&mut methods).await?;
    if greeting[0] != 5 || !methods.contains(&0) {
        return client.write_all(&[5, 0xff]).await;
    }
    client.write_all(&[5, 0]).await?;
    let mut request = [0u8; 4];
    client.read_exact(&mut request).await?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len).await?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip).await?;
            format!("[{}]", std::net::Ipv6Addr::from(ip))
        }
        _ => return Ok(()),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    if request[1] != 1 {
        return client.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await;
    }
    let upstream = TcpStream::connect(format!("{host}:{}", u16::from_be_bytes(port))).await?;
    let bound: SocketAddr = upstream.local_addr()?;
    let mut reply = vec![5, 0, 0, 1];
    match bound.ip() {
        std::net::IpAddr::V4(ip) => reply.extend(ip.octets()),
        std::net::IpAddr::V6(_) => reply.extend([0, 0, 0, 0]),
    }
    reply.extend(bound.port().to_be_bytes());
    client.write_all(&reply).await?;
    tunnel(client, upstream, Sniffer::new(log), Vec::new()).await
}

/// Copies both ways until either side closes; what the client sends is read by `sniffer` on the way.
async fn tunnel(client: TcpStream, upstream: TcpStream, mut sniffer: Sniffer, first: Vec<u8>) -> std::io::Result<()> {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let up = async move {
        sniffer.feed(&first);
        upstream_write.write_all(&first).await?;
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let n = client_read.read(&mut buffer).await?;
            if n == 0 {
                return upstream_write.shutdown().await;
            }
            sniffer.feed(&buffer[..n]);
            upstream_write.write_all(&buffer[..n]).await?;
        }
    };
    let down = async move { tokio::io::copy(&mut upstream_read, &mut client_write).await.map(|_| ()) };
    tokio::select! {
        result = up => result,
        result = down => result,
    }
}

/// Reads HTTP/1.1 request heads out of a client's byte stream, skipping `Content-Length` bodies.
struct Sniffer {
    log: Arc<Mutex<Vec<Carried>>>,
    buffer: Vec<u8>,
    body_left: usize,
}

impl Sniffer {
    fn new(log: Arc<Mutex<Vec<Carried>>>) -> Self {
        Self { log, buffer: Vec::new(), body_left: 0 }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
        loop {
            let skip = self.body_left.min(self.buffer.len());
            self.buffer.drain(..skip);
            self.body_left -= skip;
            if self.body_left > 0 {
                return;
            }
            let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") else { return };
            let head = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
            self.buffer.drain(..end + 4);
            self.body_left = self.record(&head);
        }
    }

    /// Records one request head; returns its body's length.
    fn record(&self, head: &str) -> usize {
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split_whitespace();
        let method = first.next().unwrap_or_default().to_owned();
        let target = first.next().unwrap_or_default();
        let origin_form = match target.strip_prefix("http://") {
            Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => target,
        };
        let path = origin_form.split('?').next().unwrap_or_default().to_owned();
        let (mut subject, mut window, mut length) = (None, None, 0);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "authorization" => subject = value.strip_prefix("Bearer ").and_then(subject_of),
                "x-kage-window" => window = Some(value.to_owned()),
                "content-length" => length = value.parse().unwrap_or(0),
                _ => {}
            }
        }
        self.log.lock().unwrap().push(Carried { method, path, subject, window });
        length
    }
}
