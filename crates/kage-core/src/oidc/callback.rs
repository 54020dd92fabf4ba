//! Checking the browser's redirect before its code is used.
//!
//! In this order: every parameter at most once (RFC 6749 3.1); `state` exactly this sign-in's (so a redirect
//! meant for another window's sign-in, or forged by a page, is refused); `iss` exactly the provider's when
//! present; then a provider `error` becomes a typed error with its description; then the code, which needs
//! `iss` when the provider promised it (RFC 9207: a code from another provider is a mix-up attack).
//!
//! An error answer without `iss` is taken at its word even from a provider that promised `iss`: it carries no
//! code, so nothing from it is used, and several providers leave `iss` off their error redirects (the player
//! pressed Cancel). Telling that player "another identity provider answered" would be wrong and alarming. An
//! error naming *another* issuer is still refused as a mix-up.

use secrecy::SecretString;

use super::OidcError;
use super::discovery::ProviderMetadata;

/// An authorization code, good for one exchange. A secret: it is redacted like a token.
#[derive(Debug)]
pub struct AuthorizationCode(pub SecretString);

pub fn check(
    query: &[(String, String)],
    state: &str,
    provider: &ProviderMetadata,
) -> Result<AuthorizationCode, OidcError> {
    let one = |name: &str| -> Result<Option<&str>, OidcError> {
        let mut values = query.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(OidcError::Malformed(format!("the browser's answer has `{name}` more than once")));
        }
        Ok(first)
    };
    if one("state")? != Some(state) {
        return Err(OidcError::StateMismatch);
    }
    let iss = one("iss")?;
    if let Some(iss) = iss
        && iss != provider.issuer.as_str()
    {
        return Err(OidcError::IssuerParameter { found: Some(iss.to_owned()) });
    }
    if let Some(error) = one("error")? {
        let description = one("error_description")?.map(str::to_owned);
        return Err(OidcError::Denied { error: error.to_owned(), description });
    }
    if iss.is_none() && provider.iss_parameter_supported {
        return Err(OidcError::IssuerParameter { found: None });
    }
    match one("code")? {
        Some(code) if !code.is_empty() => Ok(AuthorizationCode(SecretString::from(code.to_owned()))),
        _ => Err(OidcError::Malformed("the browser's answer has no code".into())),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::oidc::Issuer;

    fn provider(iss_supported: bool) -> ProviderMetadata {
        ProviderMetadata {
            issuer: Issuer::parse("https://id.example").unwrap(),
            authorization_endpoint: "https://id.example/auth".into(),
            token_endpoint: "https://id.example/token".into(),
            jwks_uri: "https://id.example/jwks".into(),
            revocation_endpoint: None,
            iss_parameter_supported: iss_supported,
        }
    }

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_redirect_with_this_sign_ins_state_and_issuer_gives_its_code() {
        let answer = query(&[("code", "c-1"), ("state", "s-1"), ("iss", "https://id.example")]);
        assert_eq!(check(&answer, "s-1", &provider(true)).unwrap().0.expose_secret(), "c-1");
        let without_iss = query(&[("code", "c-1"), ("state", "s-1")]);
        assert!(check(&without_iss, "s-1", &provider(false)).is_ok(), "iss is optional unless promised");
    }

    #[test]
    fn a_tampered_or_missing_state_is_refused() {
        for answer in [
            query(&[("code", "c"), ("state", "s-2")]),
            query(&[("code", "c"), ("state", "s-1x")]),
            query(&[("code", "c")]),
            query(&[("error", "access_denied"), ("state", "other")]),
        ] {
            assert_eq!(check(&answer, "s-1", &provider(false)).err(), Some(OidcError::StateMismatch));
        }
        let twice = query(&[("code", "c"), ("state", "s-1"), ("state", "s-1")]);
        assert!(matches!(check(&twice, "s-1", &provider(false)), Err(OidcError::Malformed(_))));
    }

    #[test]
    fn a_redirect_from_another_issuer_is_refused_and_a_promised_iss_is_required() {
        let mixed_up = query(&[("code", "c"), ("state", "s"), ("iss", "https://evil.example")]);
        assert_eq!(
            check(&mixed_up, "s", &provider(false)).err(),
            Some(OidcError::IssuerParameter { found: Some("https://evil.example".into()) })
        );
        let missing = query(&[("code", "c"), ("state", "s")]);
        assert_eq!(check(&missing, "s", &provider(true)).err(), Some(OidcError::IssuerParameter { found: None }));
    }

    #[test]
    fn a_provider_error_becomes_a_typed_error_with_its_description() {
        let denied = query(&[("error", "access_denied"), ("error_description", "the player said no"), ("state", "s")]);
        let error = check(&denied, "s", &provider(false)).unwrap_err();
        assert_eq!(
            error,
            OidcError::Denied { error: "access_denied".into(), description: Some("the player said no".into()) }
        );
        assert!(error.to_string().contains("the player said no"));
    }

    #[test]
    fn a_cancelled_sign_in_without_iss_is_told_as_cancelled_even_where_iss_was_promised() {
        let cancelled = query(&[("error", "access_denied"), ("state", "s")]);
        let error = check(&cancelled, "s", &provider(true)).unwrap_err();
        assert_eq!(error, OidcError::Denied { error: "access_denied".into(), description: None });
        let text = error.to_string();
        assert!(text.contains("cancelled") && !text.contains("another identity provider"), "{text}");
        // A code is another matter: without the promised iss it is refused as before.
        let code = query(&[("code", "c"), ("state", "s")]);
        assert_eq!(check(&code, "s", &provider(true)).err(), Some(OidcError::IssuerParameter { found: None }));
        // And an error naming another issuer is a mix-up all the same.
        let foreign = query(&[("error", "access_denied"), ("state", "s"), ("iss", "https://evil.example")]);
        assert!(matches!(check(&foreign, "s", &provider(true)), Err(OidcError::IssuerParameter { found: Some(_) })));
    }

    #[test]
    fn provider_errors_read_as_sentences_that_say_what_to_do() {
        let sentence = |error: &str, description: Option<&str>| {
            OidcError::Denied { error: error.into(), description: description.map(str::to_owned) }.to_string()
        };
        assert!(sentence("invalid_scope", None).contains("scopes"), "{}", sentence("invalid_scope", None));
        assert!(sentence("temporarily_unavailable", None).contains("try again"));
        assert!(sentence("login_required", None).contains("sign in"));
        let unknown = sentence("made_up", Some("because"));
        assert!(unknown.contains("refused the sign-in") && unknown.contains("made_up: because"), "{unknown}");
        let missing = OidcError::IssuerParameter { found: None }.to_string();
        assert!(!missing.contains("None"), "{missing}");
    }
}
