"""Single sign-on with OpenID Connect (docs/sso.md).

- ``providers``: the providers configured by environment, and the protocol through Authlib:
  discovery, authorization code with PKCE, state and nonce, the ID token checked against
  the provider's JWKS; what comes out is a ``Claims`` the provider signed.
- ``actions``: what a sign-in does (find the user by issuer and subject, or create one from
  a verified address; join organisations by verified domain) and the organisation's SSO
  settings (require SSO, domains).
- ``policy``: which sessions may open an organisation that requires SSO (``@org_view`` asks).
- ``views``: the start and callback routes and the organisation's SSO settings page.
"""
