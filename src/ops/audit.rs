//! Who an audit record names: the OS user, and the vault identity when known. The profile's
//! keeper stamps every record this one way.

use chrono::Utc;

use crate::domain::{AuditAction, AuditEntry, Fingerprint, OrgId};

/// The OS user recorded in audit entries.
pub fn os_user() -> String {
    let name = whoami::username();
    if name.is_empty() {
        "unknown".to_string()
    } else {
        name
    }
}

/// Who an audit record names: the OS user (and the vault identity, when known). The
/// keeper says it; the entry is stamped one way.
pub trait Auditor {
    /// The OS user acting.
    fn os_user(&self) -> &str;
    /// The vault identity acting, when known.
    fn vault_identity(&self) -> Option<&str>;

    /// An audit entry stamped now for this user.
    fn audit_entry(
        &self,
        action: AuditAction,
        org: Option<&OrgId>,
        client_id: Option<&str>,
        fingerprint: Option<&Fingerprint>,
        detail: Option<String>,
    ) -> AuditEntry {
        AuditEntry {
            at: Utc::now(),
            user: self.os_user().to_string(),
            action,
            organisation_id: org.cloned(),
            client_id: client_id.map(str::to_string),
            fingerprint: fingerprint.cloned(),
            detail,
            identity: self.vault_identity().map(str::to_string),
        }
    }
}
