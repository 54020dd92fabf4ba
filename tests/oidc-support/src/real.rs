//! [`RealProvider`]: one of the two independently written providers the tests run, behind one face, so a
//! scenario suite is written once and run against both (see kage-core's `tests/scenario/oidc_providers.rs`).

use crate::browser::Browser;
use crate::django::{self, DjangoOptions, DjangoProvider};
use crate::flow::{AuthorizationRequest, TokenSet};
use crate::provider::{ProviderError, ProviderOptions, TestProvider, check};
use crate::{Account, CLIENT_ID, OTHER_AUDIENCE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// panva's `oidc-provider` (Node): JWT access tokens for a resource.
    OidcProvider,
    /// django-oauth-toolkit (Python): opaque access tokens.
    Django,
}

/// What a provider does with a spent refresh token presented again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshReuse {
    /// Rotation with no reuse interval: a spent token is refused (and, where the provider detects reuse,
    /// its whole grant revoked). The provider's default.
    Strict,
    /// The provider's tolerance for a lost answer: django-oauth-toolkit's grace period (30 s), oidc-provider's
    /// only equivalent (it has no reuse interval): no rotation for Kage's client.
    Tolerant,
}

#[derive(Debug, Clone)]
pub struct Setup {
    pub kind: Kind,
    /// The game API's audience: tokens are issued for it.
    pub audience: String,
    pub access_ttl_secs: u64,
    pub reuse: RefreshReuse,
}

/// How the game server must trust this provider (besides issuer, audience and client id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trust {
    /// The scopes to announce, when the default (`openid profile offline_access`) would be refused.
    pub scopes: Option<&'static str>,
    /// Opaque access tokens: introspect as this client (id, secret).
    pub introspection: Option<(&'static str, &'static str)>,
}

pub struct RealProvider {
    kind: Kind,
    audience: String,
    inner: Inner,
}

enum Inner {
    Node(TestProvider),
    Django(DjangoProvider),
}

impl RealProvider {
    /// `None` (with a message) when the provider's runtime (node, python3) is not installed.
    pub async fn start_or_skip(setup: Setup) -> Option<Self> {
        let inner = match setup.kind {
            Kind::OidcProvider => {
                let options = ProviderOptions {
                    audiences: vec![setup.audience.clone(), OTHER_AUDIENCE.into()],
                    access_ttl_secs: setup.access_ttl_secs,
                    rotate_refresh_tokens: setup.reuse == RefreshReuse::Strict,
                    ..ProviderOptions::default()
                };
                Inner::Node(TestProvider::start_or_skip(options).await?)
            }
            Kind::Django => {
                let options = DjangoOptions {
                    access_ttl_secs: setup.access_ttl_secs,
                    grace_secs: if setup.reuse == RefreshReuse::Tolerant { 30 } else { 0 },
                    reuse_protection: true,
                };
                match DjangoProvider::start(options).await {
                    Ok(provider) => Inner::Django(provider),
                    Err(ProviderError::PythonMissing) => {
                        eprintln!("SKIPPED: python3 is not installed, so the django-oauth-toolkit tests cannot run");
                        return None;
                    }
                    Err(error) => panic!("test OpenID Connect provider (django-oauth-toolkit): {error}"),
                }
            }
        };
        Some(Self { kind: setup.kind, audience: setup.audience, inner })
    }

    /// An oidc-provider started with options of the test's own.
    pub fn node_with(provider: TestProvider, audience: &str) -> Self {
        Self { kind: Kind::OidcProvider, audience: audience.to_owned(), inner: Inner::Node(provider) }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn issuer(&self) -> &str {
        match &self.inner {
            Inner::Node(provider) => provider.issuer(),
            Inner::Django(provider) => provider.issuer(),
        }
    }

    pub fn trust(&self) -> Trust {
        match self.kind {
            Kind::OidcProvider => Trust { scopes: None, introspection: None },
            Kind::Django => Trust {
                scopes: Some(django::SCOPES),
                introspection: Some((django::INTROSPECTION_CLIENT_ID, django::INTROSPECTION_CLIENT_SECRET)),
            },
        }
    }

    /// The oidc-provider underneath, for what only it offers (a signing-key rotation). Panics otherwise.
    pub fn node(&self) -> &TestProvider {
        match &self.inner {
            Inner::Node(provider) => provider,
            Inner::Django(_) => panic!("only oidc-provider offers this"),
        }
    }

    /// The provider's `sub` for `account`.
    pub async fn subject(&self, account: Account) -> String {
        match &self.inner {
            Inner::Node(_) => account.sub.to_owned(),
            Inner::Django(provider) => provider.subject(account.login).await.expect("the provider names its subjects"),
        }
    }

    /// Unrevoked refresh tokens of `account` in the provider's own records, where it lets a test read them
    /// (django-oauth-toolkit's database); `None` for oidc-provider.
    pub async fn live_refresh_tokens(&self, account: Account) -> Option<u64> {
        match &self.inner {
            Inner::Node(_) => None,
            Inner::Django(provider) => Some(provider.live_refresh_tokens(account.login).await.expect("admin")),
        }
    }

    /// Spends `refresh_token` as Kage's client would (a refresh whose answer a test then drops).
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, ProviderError> {
        match &self.inner {
            Inner::Node(provider) => provider.refresh(refresh_token, Some(&self.audience)).await,
            Inner::Django(provider) => {
                let form = [
                    ("grant_type", "refresh_token"),
                    ("client_id", CLIENT_ID),
                    ("refresh_token", refresh_token),
                    ("resource", self.audience.as_str()),
                ];
                let response = provider.http().post(provider.token_endpoint()).form(&form).send().await?;
                Ok(check(response, "token endpoint").await?.json().await?)
            }
        }
    }

    /// `account` signs in at the provider in a browser of its own, without Kage: its tokens.
    pub async fn sign_in(&self, account: Account) -> Result<TokenSet, ProviderError> {
        match &self.inner {
            Inner::Node(provider) => {
                provider.sign_in(&Browser::new(), &AuthorizationRequest::new(43210), Some(&account.credentials())).await
            }
            Inner::Django(provider) => {
                let mut request = AuthorizationRequest::new(43210).with_resource(&self.audience);
                request.scope = django::SCOPES.into();
                let authorize = format!("{}/authorize/", provider.issuer());
                let callback = Browser::new().authorize(&request.url(&authorize), Some(&account.credentials())).await?;
                let code = callback.code.clone().ok_or_else(|| ProviderError::NoCode(callback.url.clone()))?;
                let form = [
                    ("grant_type", "authorization_code"),
                    ("client_id", CLIENT_ID),
                    ("code", code.as_str()),
                    ("redirect_uri", request.redirect_uri.as_str()),
                    ("code_verifier", request.pkce.verifier.as_str()),
                    ("resource", self.audience.as_str()),
                ];
                let response = provider.http().post(provider.token_endpoint()).form(&form).send().await?;
                Ok(check(response, "token endpoint").await?.json().await?)
            }
        }
    }
}
