//! The two least-privilege policies of `simsid vault policy` (HCL), and the capabilities a
//! harvest needs on the prefix (checked by `simsid vault check`).

use super::settings::SecretRef;

/// Capabilities a harvest needs on `{mount}/data/{prefix}/…`.
pub const HARVEST_DATA_CAPS: &[&str] = &["create", "update", "read", "delete"];
/// Capabilities a harvest needs on `{mount}/metadata/{prefix}/…` (custom metadata is
/// written with `update`).
pub const HARVEST_METADATA_CAPS: &[&str] = &["create", "update", "read", "list", "delete"];

fn caps(list: &[&str]) -> String {
    list.iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The harvester policy: writes and removes credentials under the prefix.
pub fn harvester(mount: &str, prefix: &str, integrator: Option<&SecretRef>) -> String {
    let mut out = format!(
        "# simsid harvester: writes, reads back and removes the credentials under {mount}/{prefix}\n\
         path \"{mount}/data/{prefix}/*\" {{\n  capabilities = [{}]\n}}\n\n\
         path \"{mount}/metadata/{prefix}/*\" {{\n  capabilities = [{}]\n}}\n",
        caps(HARVEST_DATA_CAPS),
        caps(HARVEST_METADATA_CAPS),
    );
    if let Some(r) = integrator {
        out.push_str(&format!(
            "\n# the integrator's own secret (client_secret_vault)\n\
             path \"{}/data/{}\" {{\n  capabilities = [\"read\"]\n}}\n",
            r.mount, r.path
        ));
    }
    out
}

/// The reader policy: staff and product systems that read credentials.
pub fn reader(mount: &str, prefix: &str) -> String {
    format!(
        "# simsid reader: reads the credentials under {mount}/{prefix}\n\
         path \"{mount}/data/{prefix}/*\" {{\n  capabilities = [\"read\"]\n}}\n\n\
         path \"{mount}/metadata/{prefix}/*\" {{\n  capabilities = [\"read\", \"list\"]\n}}\n"
    )
}

/// The capabilities of `needed` missing from `granted` (`root` grants all; `deny` none).
pub fn missing<'a>(needed: &[&'a str], granted: &[String]) -> Vec<&'a str> {
    if granted.iter().any(|g| g == "root") {
        return Vec::new();
    }
    if granted.iter().any(|g| g == "deny") {
        return needed.to_vec();
    }
    needed
        .iter()
        .copied()
        .filter(|n| !granted.iter().any(|g| g == n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_name_the_mount_and_prefix() {
        let h = harvester("kv", "simsid/APP", None);
        assert!(h.contains("path \"kv/data/simsid/APP/*\""), "{h}");
        assert!(
            h.contains("\"create\", \"update\", \"read\", \"delete\""),
            "{h}"
        );
        assert!(h.contains("path \"kv/metadata/simsid/APP/*\""), "{h}");
        let r = reader("kv", "simsid/APP");
        assert!(r.contains("capabilities = [\"read\"]"), "{r}");
        assert!(r.contains("[\"read\", \"list\"]"), "{r}");
        assert!(!r.contains("delete"), "{r}");
        let with = harvester(
            "kv",
            "p",
            Some(&SecretRef::parse("kv/team/x#secret").unwrap()),
        );
        assert!(with.contains("path \"kv/data/team/x\""), "{with}");
    }

    #[test]
    fn missing_capabilities() {
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(missing(HARVEST_DATA_CAPS, &g(&["root"])).is_empty());
        assert_eq!(missing(&["read", "list"], &g(&["read"])), ["list"]);
        assert_eq!(missing(&["read"], &g(&["deny"])), ["read"]);
    }
}
