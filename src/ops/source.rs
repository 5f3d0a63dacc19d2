//! The SIMS ID client as the harvest's [`Source`].

use crate::domain::{Credential, OrgId, Site};
use crate::harvest::{ClientsError, Source};
use crate::sims::{SimsClient, SimsError};

fn classify(e: SimsError) -> ClientsError {
    if let SimsError::RateLimited { retry_after } = e {
        return ClientsError::RateLimited {
            retry_after,
            message: e.to_string(),
        };
    }
    if matches!(
        e,
        SimsError::ScopeNarrowed { .. } | SimsError::TokenForbidden { .. }
    ) {
        ClientsError::Fatal {
            message: e.to_string(),
        }
    } else if e.is_transient() {
        ClientsError::Transient {
            retry_after: e.retry_after(),
            message: e.to_string(),
        }
    } else {
        ClientsError::Permanent {
            message: e.to_string(),
        }
    }
}

impl Source for SimsClient {
    async fn sites(&self) -> Result<Vec<Site>, ClientsError> {
        SimsClient::sites(self).await.map_err(classify)
    }

    async fn clients(&self, org: &OrgId) -> Result<Vec<Credential>, ClientsError> {
        match SimsClient::clients(self, org).await {
            Ok(c) => Ok(c),
            Err(SimsError::Forbidden | SimsError::NotFound) => Err(ClientsError::NoCredentials),
            Err(e) => Err(classify(e)),
        }
    }
}
