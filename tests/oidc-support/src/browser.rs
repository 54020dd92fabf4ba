//! The player's system browser, scripted: it opens an authorization URL, follows redirects, fills in the
//! provider's login and consent forms, and stops at the redirect back to the app.
//!
//! It keeps the provider's cookies between logins, as a real browser does: after `main` has signed in once, a
//! second authorization request without `prompt=login` goes straight back to the app *as main*, whoever the
//! app meant to sign in. Kage has to notice that (it checks `sub`); this browser makes the case reproducible.
//!
//! It knows two shapes of page: oidc-provider's (a hidden `prompt` field says which form it is) and plain HTML
//! forms such as Django's (a form with a `password` field is a login page; one with an `allow` button is
//! django-oauth-toolkit's consent page), posting every hidden field back as a browser does (CSRF tokens too).
//! [`Browser::decline_consent`] makes it press Cancel instead of allowing.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode, Url};

/// What the player would type into the provider's login page.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// The redirect a login ended with: the app's redirect URI with its query.
#[derive(Debug, Clone)]
pub struct Callback {
    pub url: String,
    pub code: Option<String>,
    pub state: Option<String>,
    /// RFC 9207 `iss`: which provider answered.
    pub iss: Option<String>,
    /// `error` (for example `access_denied`, `login_required`), when the provider refused.
    pub error: Option<String>,
}

impl Callback {
    fn parse(url: &Url) -> Self {
        let get = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        Self { url: url.to_string(), code: get("code"), state: get("state"), iss: get("iss"), error: get("error") }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("the provider asked for a login and no credentials were given")]
    LoginRequired,
    #[error("the provider refused the login (wrong username or password)")]
    LoginRefused,
    #[error("unexpected answer {status} at {url}: {body}")]
    UnexpectedPage { url: String, status: StatusCode, body: String },
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("the authorization URL is not valid: {0}")]
    BadUrl(String),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

/// What to do at the redirect back to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Stop before requesting it (no listener needed): the app's callback URL is returned.
    Capture,
    /// Request it, as a browser does, so a loopback listener in the app receives it.
    Deliver,
}

const MAX_HOPS: usize = 20;

pub struct Browser {
    http: reqwest::Client,
    /// Cookies by origin (`host:port`) and name. Paths and expiry dates are not tracked: the provider's cookies
    /// have distinct names, and the tests are shorter than any cookie's life.
    jar: Mutex<HashMap<String, HashMap<String, String>>>,
    /// Press Cancel on consent pages.
    declines: std::sync::atomic::AtomicBool,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a plain HTTP client builds");
        Self { http, jar: Mutex::new(HashMap::new()), declines: Default::default() }
    }

    /// From now on, consent pages are declined (the player presses Cancel): the provider answers the app
    /// with an error redirect (`access_denied`).
    pub fn decline_consent(&self, decline: bool) {
        self.declines.store(decline, std::sync::atomic::Ordering::SeqCst);
    }

    fn declining(&self) -> bool {
        self.declines.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Opens `authorization_url` and signs in with `login` if the provider asks; returns where the provider
    /// sends the browser back to the app, without requesting it.
    pub async fn authorize(
        &self,
        authorization_url: &str,
        login: Option<&Credentials>,
    ) -> Result<Callback, BrowserError> {
        self.run(authorization_url, login, Delivery::Capture).await
    }

    /// Like [`Browser::authorize`], then requests the app's redirect URI too, so its loopback listener sees it.
    pub async fn authorize_and_deliver(
        &self,
        authorization_url: &str,
        login: Option<&Credentials>,
    ) -> Result<Callback, BrowserError> {
        self.run(authorization_url, login, Delivery::Deliver).await
    }

    /// Signs the browser out of every site, as clearing its cookies does.
    pub fn clear_cookies(&self) {
        self.jar.lock().expect("cookie jar").clear();
    }

    pub async fn run(
        &self,
        authorization_url: &str,
        login: Option<&Credentials>,
        delivery: Delivery,
    ) -> Result<Callback, BrowserError> {
        let start = Url::parse(authorization_url).map_err(|e| BrowserError::BadUrl(e.to_string()))?;
        let provider_origin = origin(&start);
        let mut url = start;
        let mut form: Option<Vec<(String, String)>> = None;
        let mut posted_login = false;
        for _ in 0..MAX_HOPS {
            if origin(&url) != provider_origin {
                let callback = Callback::parse(&url);
                if delivery == Delivery::Deliver {
                    self.http.get(url.clone()).send().await?;
                }
                return Ok(callback);
            }
            let method = if form.is_some() { Method::POST } else { Method::GET };
            let mut request = self.http.request(method, url.clone());
            if let Some(cookies) = self.cookie_header(&url) {
                request = request.header(COOKIE, cookies);
            }
            if let Some(fields) = form.take() {
                request = request.form(&fields);
            }
            let response = request.send().await?;
            self.store_cookies(&url, &response);
            let status = response.status();
            if status.is_redirection() {
                let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
                url = url.join(location).map_err(|e| BrowserError::BadUrl(e.to_string()))?;
                continue;
            }
            let body = response.text().await.unwrap_or_default();
            match (status, prompt_of(&body)) {
                (StatusCode::OK, Some("login")) => {
                    let credentials = login.ok_or(BrowserError::LoginRequired)?;
                    if posted_login {
                        return Err(BrowserError::LoginRefused);
                    }
                    posted_login = true;
                    form = Some(vec![
                        ("prompt".into(), "login".into()),
                        ("login".into(), credentials.username.clone()),
                        ("password".into(), credentials.password.clone()),
                    ]);
                }
                (StatusCode::OK, Some("consent")) if self.declining() => {
                    form = Some(vec![("prompt".into(), "abort".into())]);
                }
                (StatusCode::OK, Some("consent")) => form = Some(vec![("prompt".into(), "consent".into())]),
                // A plain login form (Django's): fill in the name and password, keep the hidden fields.
                (StatusCode::OK, None) if page_form(&body).is_some_and(|f| f.has("password")) => {
                    let credentials = login.ok_or(BrowserError::LoginRequired)?;
                    if posted_login {
                        return Err(BrowserError::LoginRefused);
                    }
                    posted_login = true;
                    let page = page_form(&body).expect("checked");
                    let mut fields = page.hidden;
                    let name_field = if page.names.iter().any(|n| n == "login") { "login" } else { "username" };
                    fields.push((name_field.into(), credentials.username.clone()));
                    fields.push(("password".into(), credentials.password.clone()));
                    if let Some(action) = page.action {
                        url = url.join(&action).map_err(|e| BrowserError::BadUrl(e.to_string()))?;
                    }
                    form = Some(fields);
                }
                // django-oauth-toolkit's consent page: "Authorize" is the submit button named `allow`.
                (StatusCode::OK, None) if page_form(&body).is_some_and(|f| f.has("allow")) => {
                    let page = page_form(&body).expect("checked");
                    let mut fields = page.hidden;
                    if !self.declining() {
                        fields.push(("allow".into(), "Authorize".into()));
                    }
                    if let Some(action) = page.action {
                        url = url.join(&action).map_err(|e| BrowserError::BadUrl(e.to_string()))?;
                    }
                    form = Some(fields);
                }
                // A page that posts itself with script (the provider ending its session before signing in
                // another account): a browser runs the script, so post the form.
                (StatusCode::OK, None) if body.contains(".submit()") && auto_form(&body).is_some() => {
                    let (action, fields) = auto_form(&body).expect("checked");
                    url = url.join(&action).map_err(|e| BrowserError::BadUrl(e.to_string()))?;
                    form = Some(fields);
                }
                _ => {
                    let body: String = body.chars().take(2000).collect();
                    return Err(BrowserError::UnexpectedPage { url: url.to_string(), status, body });
                }
            }
        }
        Err(BrowserError::TooManyRedirects(MAX_HOPS))
    }

    fn cookie_header(&self, url: &Url) -> Option<String> {
        let jar = self.jar.lock().expect("cookie jar");
        let cookies = jar.get(&origin(url))?;
        (!cookies.is_empty()).then(|| cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
    }

    fn store_cookies(&self, url: &Url, response: &reqwest::Response) {
        let mut jar = self.jar.lock().expect("cookie jar");
        let cookies = jar.entry(origin(url)).or_default();
        for value in response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            let mut parts = value.split(';');
            let Some((name, value)) = parts.next().and_then(|pair| pair.trim().split_once('=')) else { continue };
            let expired = parts.map(|a| a.trim().to_ascii_lowercase()).any(|attribute| {
                attribute == "max-age=0" || (attribute.starts_with("expires=") && attribute.contains("1970"))
            });
            if expired || value.is_empty() {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }
}

fn origin(url: &Url) -> String {
    format!("{}://{}:{}", url.scheme(), url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0))
}

/// The value of the page's hidden `prompt` field: which form the provider shows.
fn prompt_of(body: &str) -> Option<&str> {
    let marker = r#"name="prompt" value=""#;
    let start = body.find(marker)? + marker.len();
    body[start..].split('"').next()
}

/// The first form of a page: its `action` and its hidden fields (HTML-unescaped as far as the provider escapes).
fn auto_form(body: &str) -> Option<(String, Vec<(String, String)>)> {
    let form = &body[body.find("<form")?..];
    let action = attribute(&form[..form.find('>')?], "action")?;
    let end = form.find("</form>").unwrap_or(form.len());
    let fields = form[..end]
        .split("<input")
        .skip(1)
        .filter_map(|input| {
            let tag = &input[..input.find('>')?];
            Some((attribute(tag, "name")?, attribute(tag, "value").unwrap_or_default()))
        })
        .collect();
    Some((action, fields))
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(r#" {name}=""#);
    let start = tag.find(&marker)? + marker.len();
    let value = tag[start..].split('"').next()?;
    Some(
        value
            .replace("&#x2F;", "/")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// A page's first form: where it posts (`None`: back to the page), its hidden fields, and every input's name.
struct PageForm {
    action: Option<String>,
    hidden: Vec<(String, String)>,
    names: Vec<String>,
}

impl PageForm {
    fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }
}

fn page_form(body: &str) -> Option<PageForm> {
    let form = &body[body.find("<form")?..];
    let action = attribute(&form[..form.find('>')?], "action").filter(|a| !a.is_empty());
    let end = form.find("</form>").unwrap_or(form.len());
    let (mut hidden, mut names) = (Vec::new(), Vec::new());
    for input in form[..end].split("<input").skip(1) {
        let Some(tag) = input.find('>').map(|end| &input[..end]) else { continue };
        let Some(name) = attribute(tag, "name") else { continue };
        if attribute(tag, "type").as_deref() == Some("hidden") {
            hidden.push((name.clone(), attribute(tag, "value").unwrap_or_default()));
        }
        names.push(name);
    }
    Some(PageForm { action, hidden, names })
}
