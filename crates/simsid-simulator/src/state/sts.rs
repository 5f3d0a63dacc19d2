//! The STS: which token a token request earns, and whether a bearer token is accepted.

use super::*;

impl State {
    /// The answer to a token request: a new token, or the OAuth error code.
    pub fn token(&mut self, form: TokenForm, now: Instant) -> Result<IssuedToken, OAuthCode> {
        if form.grant_type.as_deref() != Some("client_credentials") {
            return Err(if form.grant_type.is_none() {
                "invalid_request"
            } else {
                "unsupported_grant_type"
            });
        }
        let (Some(client_id), Some(secret)) = (form.client_id, form.client_secret) else {
            return Err("invalid_client");
        };
        let offered = secret.expose_secret();
        let kind = if client_id == self.integrator.client_id
            && offered == self.integrator.secret.expose_secret()
        {
            TokenKind::Integrator
        } else if self.sites.values().any(|e| {
            e.site
                .clients
                .iter()
                .any(|c| c.client_id == client_id && c.secret.expose_secret() == offered)
        }) {
            if self.suspended.contains(&digest(offered)) {
                return Err("invalid_client");
            }
            TokenKind::School
        } else {
            return Err("invalid_client");
        };
        let asked = form.scope.as_deref().unwrap_or("");
        if kind == TokenKind::School
            && self.sts.school_partner_scope_invalid
            && asked
                .split_whitespace()
                .any(|s| DEFAULT_SCOPE.split_whitespace().any(|p| p == s))
        {
            return Err("invalid_scope");
        }
        let granted = match (&self.sts.granted_scope, kind) {
            (Some(narrow), TokenKind::Integrator) => narrow.clone(),
            _ => form
                .scope
                .clone()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_SCOPE.to_string()),
        };
        // Only a grant the STS narrowed (not a client asking for less) loses the API.
        let narrowed = self.sts.granted_scope.is_some()
            && !DEFAULT_SCOPE
                .split_whitespace()
                .all(|s| granted.split_whitespace().any(|g| g == s));
        let token = SecretString::from(format!(
            "{:032X}{:032X}",
            self.token_rng.random::<u128>(),
            self.token_rng.random::<u128>()
        ));
        if self.tokens.len() >= 4096 {
            self.tokens.retain(|_, t| t.expires_at > now);
        }
        self.tokens.insert(
            digest(token.expose_secret()),
            TokenInfo {
                kind,
                expires_at: now + self.token_ttl,
                calls: 0,
                narrowed,
            },
        );
        self.issued.push(token.clone());
        Ok(IssuedToken {
            access_token: token,
            expires_in: self.token_ttl.as_secs(),
            token_type: "Bearer",
            scope: granted,
        })
    }
}
