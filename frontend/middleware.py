"""A strict Content Security Policy: no inline scripts, no third-party origins.

Pages talk to this site only: fetches to 'self', and the live socket to the very host the
page came from (ws: on plain HTTP, wss: on HTTPS), which older browsers do not count as
'self'.
"""

from django.core.exceptions import DisallowedHost

_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src {connect}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def policy(request):
    connect = "'self'"
    try:
        host = request.get_host()
    except DisallowedHost:
        host = None  # answered with an error page; no socket to allow
    if host:
        connect += f" {'wss' if request.is_secure() else 'ws'}://{host}"
    return _POLICY.format(connect=connect)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = policy(request)
        return response
