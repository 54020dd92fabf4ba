//! The OpenAPI 3.1 document served at `/openapi.json`, generated from the route table so it cannot drift
//! from the routes that exist. Schemas are written here by hand, next to each other, to be read.

use serde_json::{Map, Value, json};

use crate::api::accounts::{PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX};
use crate::api::{Access, ROUTES};
use crate::auth::{AUTH_REQUIRED_HEADER, BODY_LIMIT, SESSION_COOKIE};
use crate::game::{MAX_TRANSFER, VILLAGES};
use crate::idempotency::KEY_MAX;

pub fn document(server_url: &str) -> Value {
    let schemas = schemas();
    let mut paths = Map::new();
    for route in ROUTES {
        let mut responses = Map::new();
        let (status, schema) = route.response;
        let success = match schema {
            Some(name) => {
                json!({"description": "success", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}})
            }
            None if route.path == "/v1/events" => {
                json!({"description": "an event stream: `ready`, `profile.changed`, `transfer.received`, `resync`", "content": {"text/event-stream": {}}})
            }
            None if route.path == crate::api::WEB_CLIENT_PATH => {
                json!({"description": "the web client's page", "content": {"text/html": {"schema": {"type": "string"}}}})
            }
            None => json!({"description": "success"}),
        };
        responses.insert(status.to_string(), success);
        let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        if route.request.is_some() {
            responses.insert("400".into(), error("malformed JSON"));
            responses.insert("413".into(), error(&format!("body larger than {BODY_LIMIT} bytes")));
            responses.insert("415".into(), error("body is not application/json"));
            responses.insert("422".into(), error("well-formed JSON with wrong or unknown fields or values"));
        }
        responses.insert(
            "421".into(),
            error("`misdirected_request`: in demo mode on a loopback address, the Host is not that address or localhost with its port"),
        );
        for answer in route.errors {
            add_answer(&mut responses, answer.status, answer.description, answer.retry_after);
        }
        add_answer(&mut responses, 503, "`timeout`: no answer within the request timeout", true);
        let mut operation = json!({
            "summary": route.summary,
            "operationId": operation_id(route.method.as_str(), route.path),
        });
        if route.access == Access::Protected {
            responses.insert("401".into(), error("no valid credential (`invalid_token` carries WWW-Authenticate)"));
            responses.insert("403".into(), error("`viewer_mismatch`: viewer_id is not the token's subject"));
            add_answer(&mut responses, 400, "`malformed_query`: the query string cannot be read", false);
            add_answer(
                &mut responses,
                429,
                "`too_many_new_players`: with an OpenID Connect provider, the first request of a new identity \
                 would create a player, and this provider's new players are at their limit for now",
                true,
            );
            add_answer(
                &mut responses,
                503,
                "`identity_provider_unavailable`: an opaque provider token cannot be checked now (its \
                 introspection endpoint does not answer); nothing was done",
                true,
            );
            operation["security"] = json!([{"bearer": []}, {"cookie": []}]);
            operation["parameters"] = json!([
                {"name": "viewer_id", "in": "query", "required": false, "schema": {"type": "string"},
                 "description": "The player the client believes it acts for; must equal the token's subject, else 403."},
                {"name": AUTH_REQUIRED_HEADER, "in": "header", "required": false,
                 "schema": {"type": "string", "examples": ["1"]},
                 "description": "Fail-closed marker: `1` with no Authorization header makes the request unauthenticated even if a cookie is present. Other values are ignored."}
            ]);
        }
        for name in path_parameters(route.path) {
            let parameter = json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}});
            match operation["parameters"].as_array_mut() {
                Some(parameters) => parameters.push(parameter),
                None => operation["parameters"] = json!([parameter]),
            }
        }
        if route.idempotent {
            add_idempotency(&mut operation, &mut responses, status);
        }
        if let Some(name) = route.request {
            // A body is required exactly when its schema requires a field: an empty body counts as `{}`.
            let required = schemas[name]["required"].as_array().is_some_and(|fields| !fields.is_empty());
            operation["requestBody"] = json!({
                "required": required,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}
            });
        }
        operation["responses"] = Value::Object(responses);
        let item = paths.entry(route.path).or_insert_with(|| json!({}));
        item[route.method.as_str().to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Kage reference game server", "version": "1", "description": "See docs/protocol.md."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"securitySchemes": security_schemes(), "schemas": schemas},
    })
}

/// The `Idempotency-Key` header, its two refusals, and the replay marker on the success answer.
fn add_idempotency(operation: &mut Value, responses: &mut Map<String, Value>, success: u16) {
    let parameter = json!({"name": "Idempotency-Key", "in": "header", "required": false,
        "schema": {"type": "string", "pattern": format!("^[!-~]{{1,{KEY_MAX}}}$")},
        "description": "Makes the action happen at most once: the same key from the same player within 24 h gets the first answer again and does nothing."});
    match operation["parameters"].as_array_mut() {
        Some(parameters) => parameters.push(parameter),
        None => operation["parameters"] = json!([parameter]),
    }
    add_answer(responses, 400, "`invalid_idempotency_key`: not 1 to 64 visible ASCII characters", false);
    add_answer(responses, 422, "`idempotency_key_reused`: the key was used for a different request", false);
    add_answer(
        responses,
        409,
        "`action_abandoned`: the key was settled (`POST /v1/actions/settle`) before this request arrived; nothing was done",
        false,
    );
    if let Some(answer) = responses.get_mut(&success.to_string()) {
        answer["headers"] = json!({"Idempotent-Replayed": {"schema": {"const": "true"},
            "description": "present when this is the remembered answer to an earlier request with the same key"}});
    }
}

/// Adds an error answer, or extends the description of one already listed for that status.
fn add_answer(responses: &mut Map<String, Value>, status: u16, description: &str, retry_after: bool) {
    let entry = responses.entry(status.to_string()).or_insert_with(|| {
        json!({"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    });
    let joined = match entry["description"].as_str() {
        Some("") | None => description.to_owned(),
        Some(existing) => format!("{existing}; {description}"),
    };
    entry["description"] = json!(joined);
    if retry_after {
        entry["headers"] = json!({"Retry-After": {"description": "seconds to wait before trying again",
                                                  "schema": {"type": "integer", "minimum": 1}}});
    }
}

/// The `{name}` segments of a route's path.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<&str> = path.split(['/', '.', '-', '{', '}']).filter(|w| !w.is_empty() && *w != "v1").collect();
    format!("{}_{}", method.to_lowercase(), words.join("_"))
}

fn security_schemes() -> Value {
    json!({
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (EdDSA, 60 s); or the OpenID Connect provider's access token (see /v1/auth-config)"},
        "cookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}
    })
}

fn schemas() -> Value {
    let string = json!({"type": "string"});
    let integer = json!({"type": "integer"});
    let viewer_id = json!({"type": "string", "description": "optional; must equal the token's subject"});
    let username = json!({"type": "string", "pattern": format!("^[A-Za-z0-9_-]{{3,{USERNAME_MAX}}}$")});
    json!({
        "Error": {"type": "object", "required": ["error", "message"],
            "properties": {"error": string, "message": string}},
        "AuthConfig": {"type": "object", "required": ["password", "oidc"],
            "properties": {"password": {"type": "boolean", "description": "password sign-up and sign-in are open"},
                "oidc": {"oneOf": [{"type": "null"}, {"type": "object",
                    "required": ["issuer", "clientId", "audience", "scopes", "authorizationParams"],
                    "properties": {"issuer": string, "clientId": string,
                        "audience": {"type": "string", "description": "what the provider's access tokens must be for: this server's origin, or a URL on it that its RFC 9728 metadata names"},
                        "scopes": {"type": "string", "description": format!("space-separated scopes to ask for (default `{}`)", crate::oidc::CLIENT_SCOPES)},
                        "authorizationParams": {"type": "object", "additionalProperties": {"type": "string"},
                            "description": "extra authorization request parameters the provider wants"}}}],
                    "description": "the OpenID Connect provider whose access tokens (for `audience`) are accepted as Bearer tokens: JWTs, or opaque tokens checked by introspection"}}},
        "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
        "Jwks": {"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array", "items": {
            "type": "object", "required": ["kty", "crv", "x", "kid", "alg", "use"],
            "properties": {"kty": {"const": "OKP"}, "crv": {"const": "Ed25519"}, "x": string, "kid": string,
                           "alg": {"const": "EdDSA"}, "use": {"const": "sig"}}}}}},
        "UsernamePassword": {"type": "object", "required": ["username", "password"], "additionalProperties": false,
            "properties": {"username": username, "password": {"type": "string", "minLength": 1, "maxLength": PASSWORD_MAX}},
            "examples": [{"username": "main", "password": "main-password"}],
            "description": "The example is the sandbox's demo player (`--demo`)."},
        "SignUpRequest": {"type": "object", "required": ["username", "password"], "additionalProperties": false,
            "properties": {"username": username,
                           "password": {"type": "string", "minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX}},
            "examples": [{"username": "new-player", "password": "a long passphrase"}]},
        "SignedUp": {"type": "object", "required": ["user_id", "username"],
            "properties": {"user_id": string, "username": string}},
        "SessionGrant": {"type": "object",
            "required": ["session_id", "user_id", "token_type", "access_token", "expires_in", "refresh_token"],
            "properties": {"session_id": string, "user_id": string, "token_type": {"const": "Bearer"},
                           "access_token": string, "expires_in": integer, "refresh_token": string}},
        "RefreshRequest": {"type": "object", "required": ["refresh_token"], "additionalProperties": false,
            "properties": {"refresh_token": string}},
        "ForkRequest": {"type": "object", "required": ["refresh_token"], "additionalProperties": false,
            "properties": {"viewer_id": viewer_id, "refresh_token": {"type": "string",
                "description": "the calling session's live (unspent) refresh token: proof of holding the session"}}},
        "BrowserSession": {"type": "object", "required": ["session_id", "user_id"],
            "properties": {"session_id": string, "user_id": string}},
        "SessionList": {"type": "object", "required": ["sessions"], "properties": {"sessions": {"type": "array",
            "items": {"type": "object",
                "required": ["id", "kind", "created_at", "last_used_at", "expires_at", "current", "relation"],
                "properties": {"id": string, "kind": {"enum": ["api", "browser"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "last_used_at": {"type": "string", "format": "date-time",
                                     "description": "the sign-in or the latest refresh"},
                    "expires_at": {"type": "string", "format": "date-time",
                                   "description": "when the session ends unless refreshed (or revoked) first"},
                    "current": {"type": "boolean", "description": "the session this request came with"},
                    "relation": {"enum": ["current", "fork", "other"],
                                 "description": "the calling session itself, forked from it (an export), or another"}}}}}},
        "EndedOthers": {"type": "object", "required": ["ended"],
            "properties": {"ended": {"type": "integer", "minimum": 0, "description": "live sessions ended"}}},
        "Profile": {"type": "object",
            "required": ["id", "username", "level", "xp", "village", "ryo", "stats", "version", "updated_at", "rules"],
            "properties": {"id": string, "username": string, "level": integer, "xp": integer,
                "village": {"enum": VILLAGES}, "ryo": {"type": "integer", "minimum": 0},
                "stats": {"type": "object", "required": ["strength", "agility", "chakra"],
                    "properties": {"strength": integer, "agility": integer, "chakra": integer}},
                "version": {"type": "integer", "description": "increases on every change"},
                "updated_at": {"type": "string", "format": "date-time"},
                "rules": {"$ref": "#/components/schemas/Rules"}}},
        "Rules": {"type": "object", "description": "the game's rules, sent with every profile so clients copy none",
            "required": ["villages", "travel_cost", "xp_per_training", "xp_per_level", "max_transfer"],
            "properties": {"villages": {"type": "array", "items": {"enum": VILLAGES}, "minItems": 1},
                "travel_cost": {"type": "integer", "minimum": 0, "description": "ryo a travel costs"},
                "xp_per_training": {"type": "integer", "minimum": 1},
                "xp_per_level": {"type": "integer", "minimum": 1, "description": "level = 1 + xp / xp_per_level"},
                "max_transfer": {"type": "integer", "minimum": 1, "description": "the most ryo one transfer sends"}}},
        "TrainRequest": {"type": "object", "additionalProperties": false,
            "properties": {"viewer_id": viewer_id, "stat": {"enum": ["strength", "agility", "chakra"], "default": "strength"}},
            "examples": [{"stat": "agility"}]},
        "TravelRequest": {"type": "object", "required": ["village"], "additionalProperties": false,
            "properties": {"viewer_id": viewer_id, "village": {"enum": VILLAGES}},
            "examples": [{"village": "Sand"}]},
        "SettleRequest": {"type": "object", "required": ["key"], "additionalProperties": false,
            "properties": {"viewer_id": viewer_id, "key": {"type": "string", "pattern": format!("^[!-~]{{1,{KEY_MAX}}}$"),
                "description": "the Idempotency-Key the action was sent with"}},
            "examples": [{"key": "0c7e1f0e2b1a4c1e9a576f0d3a0f1b2c"}]},
        "Settlement": {"oneOf": [
            {"type": "object", "required": ["outcome", "status", "answer"],
             "properties": {"outcome": {"const": "answered"},
                 "status": {"type": "integer", "description": "the action's first answer's status: 2xx carried out, 4xx refused"},
                 "answer": {"type": "object", "description": "the action's first answer's body"}}},
            {"type": "object", "required": ["outcome"],
             "properties": {"outcome": {"const": "abandoned"}},
             "description": "no request with this key had arrived; none will be carried out"}]},
        "TransferRequest": {"type": "object", "required": ["to", "amount"], "additionalProperties": false,
            "properties": {"viewer_id": viewer_id, "to": {"type": "string", "description": "recipient's username"},
                           "amount": {"type": "integer", "minimum": 1, "maximum": MAX_TRANSFER}},
            "examples": [{"to": "alt", "amount": 5}]}
    })
}
