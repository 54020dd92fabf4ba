//! A loopback HTTP server of the unit tests' own that serves JSON documents by path (metadata documents of a
//! provider or a game server), so discovery and binding rules are tested over real HTTP without a provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

type Served = Arc<Mutex<HashMap<String, serde_json::Value>>>;

pub struct Documents {
    base: String,
    documents: Served,
}

impl Documents {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let documents = Served::default();
        let app = axum::Router::new().fallback(serve).with_state(documents.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, documents }
    }

    /// `http://127.0.0.1:<port>` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Serves `document` at `path` from now on (replacing what was there).
    pub fn put(&self, path: &str, document: serde_json::Value) {
        self.documents.lock().unwrap().insert(path.to_owned(), document);
    }
}

async fn serve(State(documents): State<Served>, request: Request) -> Response {
    match documents.lock().unwrap().get(request.uri().path()) {
        Some(document) => axum::Json(document.clone()).into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}
