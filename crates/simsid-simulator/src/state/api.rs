//! The partner API: what a site list or Clients call answers, faults included.

use super::*;

impl State {
    /// Checks a bearer token and counts the call against it.
    pub fn authenticate(&mut self, token: Option<&str>, now: Instant) -> Access {
        let Some(info) = token.and_then(|t| self.tokens.get_mut(&digest(t))) else {
            return Access::Unauthorised;
        };
        if now >= info.expires_at || self.token_call_limit.is_some_and(|n| info.calls >= n) {
            return Access::Unauthorised;
        }
        info.calls += 1;
        match info.kind {
            TokenKind::Integrator if info.narrowed => Access::GrantedNarrowed,
            TokenKind::Integrator => Access::Granted,
            TokenKind::School => Access::Forbidden,
        }
    }

    /// `GET …/{application_id}/GetSiteByApplication`.
    pub fn site_list(&mut self, application_id: &str) -> Plan {
        if !same_guid(application_id, &self.integrator.application_id) {
            return Plan::now(Reply::Fail(Failure::NotFound));
        }
        if let Some(fault) = FaultSlot::take(&mut self.site_list_fault) {
            return Plan::faulted(fault, || Reply::Fail(Failure::Unavailable));
        }
        Plan::now(Reply::Sites(
            self.sites
                .values()
                .map(|e| WireSite {
                    id: e.id,
                    name: e.site.name.clone(),
                    organisation_id: e.site.org_id.as_str().to_string(),
                    dfe_code: e.site.dfe_code.clone(),
                    deni_number: e.site.deni_number.clone(),
                    authorised: e.authorised.map(u8::from),
                })
                .collect(),
        ))
    }

    /// `GET …/{application_id}/{organisation_id}/Clients`.
    pub fn clients(&mut self, application_id: &str, organisation_id: &str) -> Plan {
        if !same_guid(application_id, &self.integrator.application_id) {
            return Plan::now(Reply::Fail(Failure::NotFound));
        }
        let Some(org) = OrgId::parse(organisation_id) else {
            return Plan::now(Reply::Fail(Failure::BadRequest));
        };
        let fault = match FaultSlot::take(&mut self.global_fault) {
            Some(f) => Some(f),
            None => self
                .sites
                .get_mut(&org)
                .and_then(|e| FaultSlot::take(&mut e.fault)),
        };
        let normal = || match self.sites.get(&org) {
            None => Reply::Fail(Failure::NotFound),
            Some(e) if e.authorised == Some(true) => {
                Reply::Clients(e.site.clients.iter().map(wire_client).collect())
            }
            Some(e) => match e.refusal {
                Refusal::EmptyList => Reply::Clients(Vec::new()),
                Refusal::Forbidden => Reply::Fail(Failure::Forbidden),
                Refusal::NotFound => Reply::Fail(Failure::NotFound),
            },
        };
        match fault {
            Some(fault) => Plan::faulted(fault, normal),
            None => Plan::now(normal()),
        }
    }
}
