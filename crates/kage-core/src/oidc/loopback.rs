//! The loopback redirect listener (RFC 8252 section 7.3): one per sign-in, on `127.0.0.1:<any free port>`.
//!
//! It waits for the browser's `GET /callback?...` carrying this sign-in's `state`, and hands over the query with
//! the connection still open, so the page the browser shows says how the sign-in really ended ("Signed in"
//! only once the window is signed in). Anything else (a favicon, a probe, a pre-connect that never speaks, a
//! callback with another `state`) gets its own page or is dropped, and the wait goes on: any local program can
//! reach the port, and must not be able to end the player's sign-in by sending a wrong answer first. The wait
//! ends at the deadline with [`OidcError::TimedOut`], or on cancel. Dropping the listener closes the port:
//! nothing listens once the sign-in is over.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use super::OidcError;

pub const CALLBACK_PATH: &str = "/callback";
/// How long one connection may take to send its request line and headers.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REQUEST_HEAD: usize = 16 * 1024;

pub struct Loopback {
    listener: TcpListener,
    port: u16,
}

/// The browser's redirect, with its connection open until [`Redirect::answer`].
pub struct Redirect {
    /// The query's parameters, decoded, in order (duplicates kept, so the check can refuse them).
    pub query: Vec<(String, String)>,
    stream: TcpStream,
}

/// What the browser tab shows at the end.
pub enum Page {
    SignedIn,
    Failed(String),
    /// A callback that is not this sign-in's (another `state`): the sign-in goes on.
    NotThisSignIn,
}

impl Loopback {
    pub async fn bind() -> Result<Self, OidcError> {
        // 127.0.0.1, not localhost: a name could resolve elsewhere, and the address is what the provider redirects to.
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| OidcError::Listener(e.to_string()))?;
        let port = listener.local_addr().map_err(|e| OidcError::Listener(e.to_string()))?.port();
        Ok(Self { listener, port })
    }

    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Waits for the redirect with `state`, at most `timeout`, or until `cancel` fires (or its sender is
    /// dropped). Callbacks with another (or no) `state` are answered and ignored.
    pub async fn wait(
        self,
        state: &str,
        timeout: Duration,
        mut cancel: oneshot::Receiver<()>,
    ) -> Result<Redirect, OidcError> {
        let (found, mut callbacks) = mpsc::channel(4);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    // Each connection is read on its own task: one that never speaks cannot hold the others.
                    if let Ok((stream, _)) = accepted {
                        tokio::spawn(read_request(stream, found.clone()));
                    }
                }
                Some(redirect) = callbacks.recv() => {
                    if redirect.is_for(state) {
                        return Ok(redirect);
                    }
                    tracing::info!("a callback with another state reached this sign-in's listener; still waiting");
                    tokio::spawn(redirect.answer(Page::NotThisSignIn));
                }
                _ = &mut cancel => return Err(OidcError::Cancelled),
                _ = &mut deadline => return Err(OidcError::TimedOut { after_secs: timeout.as_secs() }),
            }
        }
    }
}

impl Redirect {
    /// Whether this callback carries `state` (every `state` in it, and at least one): the callback check then
    /// looks at the rest, duplicates included.
    fn is_for(&self, state: &str) -> bool {
        let mut states = self.query.iter().filter(|(key, _)| key == "state").peekable();
        states.peek().is_some() && states.all(|(_, value)| value == state)
    }

    /// Shows the tab its page and closes the connection. Best effort: the tab may be gone already.
    pub async fn answer(mut self, page: Page) {
        let (status, body) = match page {
            Page::SignedIn => {
                ("200 OK", page_html("Signed in", "Signed in. You can close this tab and return to Kage."))
            }
            Page::Failed(reason) => (
                "200 OK",
                page_html(
                    "Sign-in failed",
                    &format!(
                        "The sign-in did not complete: {}. You can close this tab and try again in Kage.",
                        escape(&reason)
                    ),
                ),
            ),
            Page::NotThisSignIn => (
                "400 Bad Request",
                page_html(
                    "Not this sign-in",
                    "This answer does not belong to the sign-in Kage is waiting for, so Kage ignored it and is \
                     still waiting. Finish the sign-in in the tab Kage opened.",
                ),
            ),
        };
        let _ = respond(&mut self.stream, status, &body).await;
    }
}

async fn read_request(mut stream: TcpStream, found: mpsc::Sender<Redirect>) {
    let Ok(Some(target)) = tokio::time::timeout(REQUEST_READ_TIMEOUT, request_target(&mut stream)).await else {
        return;
    };
    let Some((method, target)) = target.split_once(' ') else { return };
    let Ok(url) = reqwest::Url::parse(&format!("http://127.0.0.1{target}")) else { return };
    if method != "GET" || url.path() != CALLBACK_PATH {
        let _ = respond(&mut stream, "404 Not Found", &page_html("Not found", "Nothing here.")).await;
        return;
    }
    let query = url.query_pairs().into_owned().collect();
    let _ = found.send(Redirect { query, stream }).await;
}

/// Reads the request head and returns "METHOD TARGET" from its first line.
async fn request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 || head.len() + read > MAX_REQUEST_HEAD {
            return None;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let line = head.split(|b| *b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    Some(format!("{method} {target}"))
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    // No referrer: the page's URL carries the code and state. No scripts, no outside resources.
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

fn page_html(title: &str, message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Kage: {title}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem;text-align:center}}</style>\
         </head><body><h1>{title}</h1><p>{message}</p></body></html>"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(uri: String) -> (u16, String) {
        let response = reqwest::get(&uri).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    #[tokio::test]
    async fn the_callback_is_handed_over_and_the_tab_gets_its_page_after_the_answer() {
        let loopback = Loopback::bind().await.unwrap();
        let uri = loopback.redirect_uri();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"), "{uri}");
        let base = uri.trim_end_matches(CALLBACK_PATH).to_owned();
        let (_cancel, cancelled) = oneshot::channel();
        let waiting = tokio::spawn(async move { loopback.wait("s", Duration::from_secs(5), cancelled).await });
        assert_eq!(get(format!("{base}/favicon.ico")).await.0, 404, "other paths are ignored");
        let browser = tokio::spawn(get(format!("{uri}?code=c%201&state=s")));
        let redirect = waiting.await.unwrap().unwrap();
        assert_eq!(redirect.query, [("code".into(), "c 1".into()), ("state".into(), "s".into())]);
        redirect.answer(Page::SignedIn).await;
        let (status, page) = browser.await.unwrap();
        assert_eq!(status, 200);
        assert!(page.contains("Signed in. You can close this tab and return to Kage."));
        assert!(reqwest::get(&uri).await.is_err(), "nothing listens once the sign-in is over");
    }

    #[tokio::test]
    async fn an_abandoned_sign_in_times_out_and_a_cancelled_one_says_so() {
        let (_cancel, cancelled) = oneshot::channel();
        let waited = Loopback::bind().await.unwrap().wait("s", Duration::from_millis(100), cancelled).await;
        assert!(matches!(waited, Err(OidcError::TimedOut { .. })));
        let (cancel, cancelled) = oneshot::channel();
        let loopback = Loopback::bind().await.unwrap();
        cancel.send(()).unwrap();
        assert!(matches!(loopback.wait("s", Duration::from_secs(5), cancelled).await, Err(OidcError::Cancelled)));
    }

    #[tokio::test]
    async fn a_connection_that_never_speaks_does_not_hold_the_callback() {
        let loopback = Loopback::bind().await.unwrap();
        let uri = loopback.redirect_uri();
        let address = uri.trim_start_matches("http://").trim_end_matches(CALLBACK_PATH).to_owned();
        let _silent = TcpStream::connect(&address).await.unwrap();
        let (_cancel, cancelled) = oneshot::channel();
        let waiting = tokio::spawn(async move { loopback.wait("s", Duration::from_secs(5), cancelled).await });
        let browser = tokio::spawn(get(format!("{uri}?error=access_denied&state=s")));
        let redirect = waiting.await.unwrap().unwrap();
        redirect.answer(Page::Failed("access <denied>".into())).await;
        let (_, page) = browser.await.unwrap();
        assert!(page.contains("access &lt;denied&gt;"), "the reason is shown escaped: {page}");
    }

    #[tokio::test]
    async fn a_callback_with_another_state_is_answered_and_ignored_and_the_wait_goes_on() {
        let loopback = Loopback::bind().await.unwrap();
        let uri = loopback.redirect_uri();
        let (_cancel, cancelled) = oneshot::channel();
        let waiting = tokio::spawn(async move { loopback.wait("right", Duration::from_secs(5), cancelled).await });
        for wrong in ["?code=c&state=wrong", "?error=access_denied&state=wrong", "?code=c", "?state=right&state=x"] {
            let (status, page) = get(format!("{uri}{wrong}")).await;
            assert_eq!(status, 400, "{wrong}");
            assert!(page.contains("still waiting"), "{wrong}: {page}");
        }
        assert!(!waiting.is_finished(), "a wrong state does not end the sign-in");
        let browser = tokio::spawn(get(format!("{uri}?code=c&state=right")));
        let redirect = waiting.await.unwrap().unwrap();
        assert!(redirect.query.contains(&("code".into(), "c".into())));
        redirect.answer(Page::SignedIn).await;
        assert_eq!(browser.await.unwrap().0, 200);
    }

    #[tokio::test]
    async fn a_wrong_state_does_not_stretch_the_deadline() {
        let loopback = Loopback::bind().await.unwrap();
        let uri = loopback.redirect_uri();
        let (_cancel, cancelled) = oneshot::channel();
        let started = std::time::Instant::now();
        let waiting = tokio::spawn(async move { loopback.wait("right", Duration::from_millis(600), cancelled).await });
        get(format!("{uri}?code=c&state=wrong")).await;
        assert!(matches!(waiting.await.unwrap(), Err(OidcError::TimedOut { .. })));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
