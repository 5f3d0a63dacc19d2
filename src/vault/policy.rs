//! The least-privilege policies of `simsid vault policy` (HCL), one per role of a team
//! (vault.md "Policies for a team"), and the capabilities a harvest needs on the prefix
//! (checked by `simsid vault check`).

use super::settings::SecretRef;

/// Capabilities a harvest needs on `{mount}/data/{prefix}/…`.
pub const HARVEST_DATA_CAPS: &[&str] = &["create", "update", "read", "delete"];
/// Capabilities a harvest needs on `{mount}/metadata/{prefix}/…` (custom metadata is
/// written with `update`).
pub const HARVEST_METADATA_CAPS: &[&str] = &["create", "update", "read", "list", "delete"];

/// The deny lines every role's policy ends with: what the exposure report could not see
/// (a deny wins over any other policy the identity holds): turning the audit device off,
/// reading raw storage, moving the mount so its reads are under another path. A policy
/// cannot forbid response wrapping; the report sees a wrapped read by its `wrap_info`.
pub fn deny_unseen(mount: &str) -> String {
    let mut out = String::from(
        "\n# denied to this identity whatever else it holds: what the exposure report could \
         not see (audit devices, raw storage, moving the mount)\n",
    );
    for path in [
        "sys/audit".to_string(),
        "sys/audit/*".to_string(),
        "sys/raw".to_string(),
        "sys/raw/*".to_string(),
        "sys/remount".to_string(),
        format!("sys/mounts/{mount}"),
        format!("sys/mounts/{mount}/*"),
    ] {
        out.push_str(&format!(
            "path \"{path}\" {{\n  capabilities = [\"deny\"]\n}}\n"
        ));
    }
    out
}

fn caps(list: &[&str]) -> String {
    list.iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The harvester policy: writes and removes credentials under the prefix, and the team's
/// view under `{prefix}/_simsid/` (the same globs cover it).
pub fn harvester(mount: &str, prefix: &str, integrator: Option<&SecretRef>) -> String {
    let mut out = format!(
        "# simsid harvester (the harvest host): writes, reads back and removes the credentials \
         under {mount}/{prefix}, and publishes the team's view under {mount}/{prefix}/_simsid\n\
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
    out.push_str(&deny_unseen(mount));
    out
}

/// The viewer policy: browsing the team's published view, without any secret.
pub fn viewer(mount: &str, prefix: &str) -> String {
    format!(
        "# simsid viewer (staff who browse): reads the team's view under {mount}/{prefix}/_simsid, \
         never a secret\n\
         path \"{mount}/data/{prefix}/_simsid/*\" {{\n  capabilities = [\"read\"]\n}}\n\n\
         path \"{mount}/metadata/{prefix}/_simsid/*\" {{\n  capabilities = [\"read\", \"list\"]\n}}\n"
    ) + &deny_unseen(mount)
}

/// The operator policy: a viewer who may also read the credentials (reveal, copy, verify).
pub fn operator(mount: &str, prefix: &str) -> String {
    format!(
        "# simsid operator (partner support, on-call): the viewer's view, and reads the \
         credentials under {mount}/{prefix} (reveal, copy, verify)\n\
         path \"{mount}/data/{prefix}/*\" {{\n  capabilities = [\"read\"]\n}}\n\n\
         path \"{mount}/metadata/{prefix}/*\" {{\n  capabilities = [\"read\", \"list\"]\n}}\n"
    ) + &deny_unseen(mount)
}

/// The service policy: the integrator's product, which reads the credentials (its glob also
/// covers the team's view, which holds no secret); no list, no write.
pub fn service(mount: &str, prefix: &str) -> String {
    format!(
        "# simsid service (the integrator's product): reads the credentials under {mount}/{prefix}\n\
         path \"{mount}/data/{prefix}/*\" {{\n  capabilities = [\"read\"]\n}}\n"
    ) + &deny_unseen(mount)
}

/// Every role's policy, harvester first, separated by blank lines.
pub fn all(mount: &str, prefix: &str, integrator: Option<&SecretRef>) -> String {
    [
        harvester(mount, prefix, integrator),
        viewer(mount, prefix),
        operator(mount, prefix),
        service(mount, prefix),
    ]
    .join("\n")
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
        let r = operator("kv", "simsid/APP");
        assert!(r.contains("capabilities = [\"read\"]"), "{r}");
        assert!(r.contains("[\"read\", \"list\"]"), "{r}");
        assert!(!r.contains("delete"), "{r}");
        let v = viewer("kv", "simsid/APP");
        assert!(v.contains("path \"kv/data/simsid/APP/_simsid/*\""), "{v}");
        assert!(!v.contains("path \"kv/data/simsid/APP/*\""), "{v}");
        let s = service("kv", "simsid/APP");
        assert!(s.contains("path \"kv/data/simsid/APP/*\""), "{s}");
        assert!(!s.contains("metadata") && !s.contains("list"), "{s}");
        let every = all("kv", "simsid/APP", None);
        for role in ["harvester", "viewer", "operator", "service"] {
            assert_eq!(
                every.matches(&format!("# simsid {role} (")).count(),
                1,
                "{every}"
            );
        }
        let with = harvester(
            "kv",
            "p",
            Some(&SecretRef::parse("kv/team/x#secret").unwrap()),
        );
        assert!(with.contains("path \"kv/data/team/x\""), "{with}");
    }

    #[test]
    fn every_role_denies_what_the_exposure_report_cannot_see() {
        for p in [
            harvester("kv", "simsid/APP", None),
            viewer("kv", "simsid/APP"),
            operator("kv", "simsid/APP"),
            service("kv", "simsid/APP"),
        ] {
            for path in ["sys/audit/*", "sys/raw/*", "sys/remount", "sys/mounts/kv/*"] {
                assert!(
                    p.contains(&format!("path \"{path}\" {{\n  capabilities = [\"deny\"]")),
                    "{path}: {p}"
                );
            }
            assert_eq!(p.matches("# simsid ").count(), 1, "one heading: {p}");
        }
    }

    #[test]
    fn missing_capabilities() {
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(missing(HARVEST_DATA_CAPS, &g(&["root"])).is_empty());
        assert_eq!(missing(&["read", "list"], &g(&["read"])), ["list"]);
        assert_eq!(missing(&["read"], &g(&["deny"])), ["read"]);
    }
}
