"""Checks over the settings this deployment runs with."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from compliance.checks.registry import (
    CheckContext,
    Outcome,
    check,
    failed,
    judged,
    not_applicable,
)
from compliance.policy import threshold

# Transport settings only mean something where the app is reached over TLS
# through our proxy; the embedded default serves plain HTTP on loopback.
EMBEDDED_REASON = (
    "the embedded default serves plain HTTP on loopback for one person; "
    "this setting is required in production (DJANGO_ENV=production)"
)


def _validators() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    entries: list[dict[str, Any]] = list(getattr(settings, "AUTH_PASSWORD_VALIDATORS", []))
    for entry in entries:
        found[entry["NAME"].rsplit(".", 1)[-1]] = entry.get("OPTIONS", {})
    return found


@check("cc-debug-off", controls=["CX-THR-01"], weight=3)
def debug_off(ctx: CheckContext) -> Outcome:
    """The framework's debug pages are off."""
    return judged(
        not settings.DEBUG,
        "DEBUG is off",
        "DEBUG is on: tracebacks and settings are shown to anyone",
        ["DEBUG"],
        debug=settings.DEBUG,
    )


@check("cc-password-length", controls=["CX-ATH-01", "CX-POL-01"], weight=2)
def password_length(ctx: CheckContext) -> Outcome:
    """Passwords must be at least as long as the policy requires."""
    required = threshold("password_min_length")
    options = _validators().get("MinimumLengthValidator")
    if options is None:
        return failed(
            "no minimum length validator is configured",
            ["AUTH_PASSWORD_VALIDATORS"],
            required=required,
        )
    configured = int(options.get("min_length", 8))
    return judged(
        configured >= required,
        f"minimum length {configured} meets the policy's {required}",
        f"minimum length {configured} is below the policy's {required}",
        ["MinimumLengthValidator"],
        configured=configured,
        required=required,
    )


@check("cc-password-validators", controls=["CX-ATH-01", "CX-POL-01"])
def password_validators(ctx: CheckContext) -> Outcome:
    """Common passwords and passwords like the user's own details are refused."""
    required = {"CommonPasswordValidator", "UserAttributeSimilarityValidator"}
    configured = set(_validators())
    # A project validator that covers the common list (the breached-password
    # list of the NIST profile) counts as the common-password validator.
    if any("Breach" in name or "Common" in name for name in configured):
        configured.add("CommonPasswordValidator")
    missing = sorted(required - configured)
    return judged(
        not missing,
        "common-password and similarity validators are configured",
        "password validators are missing",
        missing,
        configured=sorted(configured),
    )


@check("cc-password-hasher", controls=["CX-ATH-01", "CX-POL-01"], weight=2)
def password_hasher(ctx: CheckContext) -> Outcome:
    """New passwords are hashed with Argon2."""
    first = settings.PASSWORD_HASHERS[0] if settings.PASSWORD_HASHERS else ""
    return judged(
        first.endswith("Argon2PasswordHasher"),
        "Argon2 is the default password hasher",
        f"the default password hasher is {first.rsplit('.', 1)[-1] or 'unset'}, not Argon2",
        ["PASSWORD_HASHERS"],
        default_hasher=first,
    )


@check("cc-session-idle", controls=["CX-ACC-01", "CX-POL-01"])
def session_idle(ctx: CheckContext) -> Outcome:
    """Sessions end after the policy's idle time."""
    limit = threshold("session_idle_max_seconds")
    configured = getattr(settings, "SESSION_IDLE_SECONDS", None)
    return judged(
        configured is not None and 0 < configured <= limit,
        f"idle sessions end after {configured} s (policy: at most {limit} s)",
        f"idle timeout {configured} s exceeds the policy's {limit} s or is unset",
        ["SESSION_IDLE_SECONDS"],
        configured=configured,
        limit=limit,
    )


@check("cc-session-lifetime", controls=["CX-ACC-01", "CX-POL-01"])
def session_lifetime(ctx: CheckContext) -> Outcome:
    """Sessions have an absolute lifetime within policy."""
    limit = threshold("session_absolute_max_seconds")
    configured = settings.SESSION_COOKIE_AGE
    browser_close = getattr(settings, "SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
    return judged(
        0 < configured <= limit,
        f"sessions end {configured} s after sign-in (policy: at most {limit} s)",
        f"session lifetime {configured} s exceeds the policy's {limit} s",
        ["SESSION_COOKIE_AGE"],
        configured=configured,
        limit=limit,
        expire_at_browser_close=browser_close,
    )


@check("cc-secure-cookies", controls=["CX-TRN-01"], weight=2)
def secure_cookies(ctx: CheckContext) -> Outcome:
    """Session and CSRF cookies are secure and HttpOnly in production."""
    flags = {
        "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
        "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
        "SESSION_COOKIE_HTTPONLY": settings.SESSION_COOKIE_HTTPONLY,
    }
    if not settings.PRODUCTION:
        if not settings.SESSION_COOKIE_HTTPONLY:
            return failed(
                "the session cookie is readable by scripts", ["SESSION_COOKIE_HTTPONLY"], **flags
            )
        return not_applicable(EMBEDDED_REASON, **flags)
    missing = [name for name, value in flags.items() if not value]
    return judged(
        not missing,
        "cookies are secure and HttpOnly",
        "cookie flags are missing",
        missing,
        **flags,
    )


@check("cc-hsts", controls=["CX-TRN-01", "CX-ENC-01"], weight=2)
def hsts(ctx: CheckContext) -> Outcome:
    """Browsers are told to use HTTPS only, for at least a year."""
    evidence = {
        "seconds": settings.SECURE_HSTS_SECONDS,
        "include_subdomains": settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
        "minimum": threshold("hsts_min_seconds"),
    }
    if not settings.PRODUCTION:
        return not_applicable(EMBEDDED_REASON, **evidence)
    problems = []
    if settings.SECURE_HSTS_SECONDS < evidence["minimum"]:
        problems.append("SECURE_HSTS_SECONDS")
    if not settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        problems.append("SECURE_HSTS_INCLUDE_SUBDOMAINS")
    return judged(
        not problems,
        "HSTS is on for at least a year with subdomains",
        "HSTS is missing or too short",
        problems,
        **evidence,
    )


@check("cc-ssl-redirect", controls=["CX-TRN-01"], weight=2)
def ssl_redirect(ctx: CheckContext) -> Outcome:
    """Plain HTTP is redirected to HTTPS in production."""
    evidence = {
        "redirect": settings.SECURE_SSL_REDIRECT,
        "proxy_header": list(settings.SECURE_PROXY_SSL_HEADER or ()),
    }
    if not settings.PRODUCTION:
        return not_applicable(EMBEDDED_REASON, **evidence)
    problems = [
        name
        for name, ok in (
            ("SECURE_SSL_REDIRECT", settings.SECURE_SSL_REDIRECT),
            ("SECURE_PROXY_SSL_HEADER", bool(settings.SECURE_PROXY_SSL_HEADER)),
        )
        if not ok
    ]
    return judged(
        not problems,
        "HTTP is redirected to HTTPS",
        "HTTP is served without redirect",
        problems,
        **evidence,
    )


@check("cc-trusted-proxies", controls=["CX-TRN-01", "CX-ACC-01"])
def trusted_proxies(ctx: CheckContext) -> Outcome:
    """The number of trusted proxies is set where the app runs behind them."""
    count = settings.TRUSTED_PROXY_COUNT
    behind_proxy = bool(settings.SECURE_PROXY_SSL_HEADER) or settings.PRODUCTION
    if not behind_proxy:
        if count:
            return failed(
                "TRUSTED_PROXY_COUNT is set but the app is reached directly: "
                "X-Forwarded-For from clients would be trusted",
                ["TRUSTED_PROXY_COUNT"],
                trusted_proxy_count=count,
            )
        return not_applicable(
            "the app is reached directly, with no proxy in front of it",
            trusted_proxy_count=count,
        )
    return judged(
        count >= 1,
        f"{count} trusted proxy hop(s) configured",
        "the app runs behind a proxy but TRUSTED_PROXY_COUNT is 0: every "
        "client would appear to come from the proxy",
        ["TRUSTED_PROXY_COUNT"],
        trusted_proxy_count=count,
    )


@check("cc-csp-strict", controls=["CX-THR-01"], weight=2)
def csp_strict(ctx: CheckContext) -> Outcome:
    """The content security policy allows no inline script or style."""
    policy = getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}
    directives = policy.get("DIRECTIVES", {})
    middleware = "csp.middleware.CSPMiddleware" in settings.MIDDLEWARE
    problems = []
    if not middleware:
        problems.append("CSPMiddleware")
    for name in ("script-src", "style-src"):
        sources = directives.get(name) or directives.get("default-src") or []
        if not sources:
            problems.append(f"{name}: missing")
        for source in sources:
            if source in {"'unsafe-inline'", "'unsafe-eval'", "*"}:
                problems.append(f"{name}: {source}")
    if "'none'" not in (directives.get("object-src") or []):
        problems.append("object-src: not 'none'")
    return judged(
        not problems,
        "the policy forbids inline script and style",
        "the content security policy is weakened",
        problems,
        directives={k: list(v) for k, v in directives.items()},
    )


@check("cc-security-headers", controls=["CX-THR-01"])
def security_headers(ctx: CheckContext) -> Outcome:
    """Protective browser headers are configured."""
    expected = {
        "SECURE_CONTENT_TYPE_NOSNIFF": settings.SECURE_CONTENT_TYPE_NOSNIFF is True,
        "X_FRAME_OPTIONS": settings.X_FRAME_OPTIONS == "DENY",
        "SECURE_REFERRER_POLICY": bool(settings.SECURE_REFERRER_POLICY),
        "SecurityMiddleware": "django.middleware.security.SecurityMiddleware"
        in settings.MIDDLEWARE,
        "XFrameOptionsMiddleware": "django.middleware.clickjacking.XFrameOptionsMiddleware"
        in settings.MIDDLEWARE,
        "CsrfViewMiddleware": "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE,
    }
    missing = sorted(name for name, ok in expected.items() if not ok)
    return judged(
        not missing,
        "headers and their middleware are configured",
        "protective headers are missing",
        missing,
        headers=expected,
    )


@check("cc-secret-key", controls=["CX-CON-01"], weight=3)
def secret_key(ctx: CheckContext) -> Outcome:
    """Production signs with a real, strong secret key."""
    key = settings.SECRET_KEY
    evidence = {"length": len(key), "distinct_characters": len(set(key))}
    is_development = key == getattr(settings, "DEVELOPMENT_SECRET_KEY", None)
    if not settings.PRODUCTION:
        return not_applicable(
            "the embedded default signs with its explicit development secret by design; "
            "production refuses to start with it",
            development_secret=is_development,
            **evidence,
        )
    problems = []
    if is_development:
        problems.append("SECRET_KEY is the development secret")
    if len(key) < 50 or len(set(key)) < 5:
        problems.append("SECRET_KEY is too short or repetitive")
    return judged(
        not problems, "the secret key is strong", "the secret key is weak", problems, **evidence
    )


@check("c-database-tls", controls=["CX-ENC-01", "CX-CON-01"], weight=2)
def database_tls(ctx: CheckContext) -> Outcome:
    """Connections to PostgreSQL verify the server's certificate in production."""
    database = settings.DATABASES["default"]
    engine = database["ENGINE"].rsplit(".", 1)[-1]
    sslmode = (database.get("OPTIONS") or {}).get("sslmode", "")
    evidence = {"engine": engine, "sslmode": sslmode}
    if not settings.PRODUCTION:
        return not_applicable(
            "outside production the database is local (SQLite, or PostgreSQL on loopback)",
            **evidence,
        )
    return judged(
        sslmode in {"verify-full", "verify-ca"},
        f"database connections use sslmode={sslmode}",
        f"database connections use sslmode={sslmode or 'unset'}, without certificate checks",
        ["DATABASES.default.OPTIONS.sslmode"],
        **evidence,
    )


@check("cc-rate-limits", controls=["CX-THR-01", "CX-ACC-01"], weight=2)
def rate_limits(ctx: CheckContext) -> Outcome:
    """The API throttles requests per user and per anonymous client."""
    config = getattr(settings, "REST_FRAMEWORK", {}) or {}
    classes = list(config.get("DEFAULT_THROTTLE_CLASSES") or [])
    rates = dict(config.get("DEFAULT_THROTTLE_RATES") or {})
    problems = []
    if not classes:
        problems.append("DEFAULT_THROTTLE_CLASSES is empty")
    for scope in ("user", "anon"):
        if not rates.get(scope):
            problems.append(f"no '{scope}' rate")
    return judged(
        not problems,
        "API throttling is configured",
        "API throttling is missing",
        problems,
        classes=classes,
        rates=rates,
    )


@check("cc-request-size-limit", controls=["CX-THR-01"])
def request_size_limit(ctx: CheckContext) -> Outcome:
    """Request bodies and uploads are bounded."""
    limit = threshold("request_max_bytes")
    body = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    fields = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    problems = []
    if body is None or body > limit:
        problems.append("DATA_UPLOAD_MAX_MEMORY_SIZE")
    if fields is None:
        problems.append("DATA_UPLOAD_MAX_NUMBER_FIELDS")
    return judged(
        not problems,
        "request bodies are bounded",
        "request bodies are unbounded",
        problems,
        body_limit=body,
        field_limit=fields,
        policy_limit=limit,
    )


@check("cc-metrics-protected", controls=["CX-MON-02"])
def metrics_protected(ctx: CheckContext) -> Outcome:
    """The metrics endpoint is open only to a strong token or named networks."""
    token = settings.METRICS_TOKEN
    networks = list(settings.METRICS_ALLOWED_NETWORKS)
    problems = [n for n in networks if n.strip().endswith("/0")]
    if token and len(token) < 32:
        problems.append("METRICS_TOKEN is shorter than 32 characters")
    return judged(
        not problems,
        "metrics answer only a strong token or named networks (none set: nobody)",
        "metrics are open too widely",
        problems,
        token_set=bool(token),
        allowed_networks=networks,
    )


@check("cc-certificate-expiry", controls=["CX-TRN-01", "CX-ENC-01"], weight=2)
def certificate_expiry(ctx: CheckContext) -> Outcome:
    """Every tracked TLS certificate is readable and valid for more than
    30 days, so a renewal is never a surprise."""
    from cloudexpress.certificates import certificates_expiring, certificates_tracked

    tracked = certificates_tracked()
    evidence = {
        "certificates": [
            {
                "path": c.path,
                "subject": c.subject,
                "not_after": c.not_after.isoformat() if c.not_after else None,
                "error": c.error,
            }
            for c in tracked
        ],
        "warning_days": 30,
    }
    if not tracked:
        if not settings.PRODUCTION:
            return not_applicable(
                "the embedded default serves plain HTTP on loopback; TLS ends at the proxy "
                "in production, whose certificates TLS_CERTIFICATES names",
                **evidence,
            )
        return failed(
            "no TLS certificate is tracked (TLS_CERTIFICATES is empty)",
            ["TLS_CERTIFICATES"],
            **evidence,
        )
    expiring = certificates_expiring(30)
    return judged(
        not expiring,
        f"{len(tracked)} certificate(s) valid for more than 30 days",
        f"{len(expiring)} certificate(s) expire within 30 days or cannot be read",
        [c.path for c in expiring],
        **evidence,
    )
