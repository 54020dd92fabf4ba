"""A second real OpenID Connect provider for Kage's tests: django-oauth-toolkit 3.4 in its default token format.

django-oauth-toolkit (DOT) was written independently of panva's oidc-provider and of Kage, and its defaults
differ from oidc-provider's in the ways studios' providers do: access tokens are opaque random strings (checked
through RFC 7662 introspection), the OpenID configuration lists neither a revocation nor an introspection
endpoint (only its RFC 8414 metadata does), error redirects carry no RFC 9207 `iss`, it knows no
`offline_access` scope, and refresh tokens rotate with an optional grace period (REFRESH_TOKEN_GRACE_PERIOD_
SECONDS, Auth0's "reuse interval") and optional reuse protection. Everything here is configuration a studio
would write (settings, URLs, a login template, two applications, three users, one documented claim hook);
nothing changes how DOT issues or checks tokens.

Tests start it on 127.0.0.1 and read its issuer URL from the first line of stdout; it exits when stdin closes.
Environment (all optional):
  KAGE_DOT_DB             the SQLite file (default: a temporary one)
  KAGE_DOT_ACCESS_TTL     access-token lifetime in seconds (default 300)
  KAGE_DOT_GRACE_SECS     refresh-token grace period after rotation (default 0: none)
  KAGE_DOT_REUSE_PROTECTION  1: a spent refresh token presented again revokes its whole family (default 0)
  KAGE_DOT_ROTATE         0: refresh tokens are not rotated on use (default 1)
Test-only endpoints under /__admin/ read DOT's own records (its database), so a test can check what the
provider really holds.
"""

import os
import socket
import sys
import tempfile
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from socketserver import ThreadingMixIn

HERE = Path(__file__).resolve().parent
env = os.environ

# ---- the port first: the issuer names it ------------------------------------------------------------------
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
port = listener.getsockname()[1]
base = f"http://127.0.0.1:{port}"
issuer = f"{base}/o"

database = env.get("KAGE_DOT_DB") or os.path.join(tempfile.mkdtemp(prefix="kage-dot-"), "provider.sqlite3")

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.urandom(32).hex(),
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    USE_TZ=True,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "oauth2_provider",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    # SQLite under a threaded server: without IMMEDIATE transactions two refreshes at once can meet "database is
    # locked" (a read upgrading to a write), which DOT answers with a 500 (Django's own advice for SQLite).
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": database,
                           "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20}}},
    TEMPLATES=[{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [str(HERE / "templates")],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }],
    LOGIN_URL="/accounts/login/",
    # A weak hasher: these are test passwords, and the default costs a second per login on two cores.
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    OAUTH2_PROVIDER={
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": signing_key,
        "OIDC_ISS_ENDPOINT": issuer,
        "PKCE_REQUIRED": True,
        "SCOPES": {"openid": "OpenID Connect", "profile": "Your name"},
        "DEFAULT_SCOPES": ["openid"],
        "ACCESS_TOKEN_EXPIRE_SECONDS": int(env.get("KAGE_DOT_ACCESS_TTL", "300")),
        "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": int(env.get("KAGE_DOT_GRACE_SECS", "0")),
        "REFRESH_TOKEN_REUSE_PROTECTION": env.get("KAGE_DOT_REUSE_PROTECTION", "0") == "1",
        "ROTATE_REFRESH_TOKEN": env.get("KAGE_DOT_ROTATE", "1") != "0",
        # RFC 9207 `iss` on authorization responses (off by default in DOT 3.4; a studio following RFC 9700
        # turns it on). DOT adds it to successful redirects only, not to error redirects.
        "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
        "OAUTH2_VALIDATOR_CLASS": f"{__name__}.Validator",
    },
)
django.setup()

from django.contrib.auth import views as auth_views  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402
from oauth2_provider.models import AccessToken, Application, RefreshToken  # noqa: E402
from oauth2_provider.oauth2_validators import OAuth2Validator  # noqa: E402
from oauth2_provider.urls import metadata_urlpatterns  # noqa: E402


class Validator(OAuth2Validator):
    """DOT's documented hook for claims: the ID token and userinfo name the player (`preferred_username`)."""

    oidc_claim_scope = None

    def get_additional_claims(self, request):
        return {"preferred_username": request.user.first_name or request.user.username}


# ---- test-only views: what DOT's own records hold ---------------------------------------------------------
def grants(request):
    user = User.objects.get(username=request.GET["user"])
    return JsonResponse({
        "live_refresh_tokens": RefreshToken.objects.filter(user=user, revoked__isnull=True).count(),
        "access_tokens": AccessToken.objects.filter(user=user).count(),
    })


def subjects(request):
    return JsonResponse({user.username: str(user.pk) for user in User.objects.all()})


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("__admin/grants", grants),
    path("__admin/subjects", subjects),
    # RFC 8414 at the root too, where section 3.1 puts it for an issuer with a path (DOT's docs ask for this).
    path("", include((metadata_urlpatterns, "oauth2_metadata"))),
]

# ---- the database: schema, three players, Kage's client and the game server's -----------------------------
call_command("migrate", verbosity=0, interactive=False)
for login, preferred in [("main", "main"), ("alt", "alt"), ("twin", "main")]:
    if not User.objects.filter(username=login).exists():
        User.objects.create_user(login, password=f"{login}-password", first_name=preferred)
if not Application.objects.filter(client_id="kage").exists():
    Application.objects.create(
        name="Kage",
        client_id="kage",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        # RFC 8252 7.3: DOT accepts any port on a loopback redirect.
        redirect_uris="http://127.0.0.1/callback",
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=False,
    )
if not Application.objects.filter(client_id="kage-game-server").exists():
    Application.objects.create(
        name="Kage game server (introspection)",
        client_id="kage-game-server",
        client_secret="game-server-secret",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )


# ---- serving ----------------------------------------------------------------------------------------------
class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        if env.get("KAGE_OIDC_PROVIDER_LOG"):
            super().log_message(format, *args)


from django.core.wsgi import get_wsgi_application  # noqa: E402

server = Server(("127.0.0.1", port), QuietHandler, bind_and_activate=False)
server.socket.close()
server.socket = listener
server.server_name, server.server_port = "127.0.0.1", port
server.setup_environ()
server.server_activate()
server.set_app(get_wsgi_application())
threading.Thread(target=server.serve_forever, daemon=True).start()
print(issuer, flush=True)
sys.stdin.read()
