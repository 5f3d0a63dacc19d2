//! The demo's scripted changes between harvests (a removal, a rotation, an authorisation
//! change and a new school).

use super::*;

impl State {
    /// Removes one site, rotates one secret, flips one authorisation and adds one site,
    /// each on a different school chosen by the seeded RNG.
    pub fn demo_mutate(&mut self) -> DemoChanges {
        let mut notes = Vec::new();
        let mut keys: Vec<OrgId> = self.sites.keys().cloned().collect();
        keys.shuffle(self.generator.rng());

        let removed = keys.pop();
        if let Some(org) = &removed {
            if let Some(entry) = self.sites.remove(org) {
                notes.push(format!("removed {} ({org})", entry.site.name));
            }
        }

        let rotatable = keys.iter().position(|k| {
            self.sites
                .get(k)
                .is_some_and(|e| e.site.authorised && !e.site.clients.is_empty())
        });
        let rotated = rotatable.map(|i| keys.remove(i)).and_then(|org| {
            let entry = self.sites.get(&org)?;
            let count = entry.site.clients.len();
            let pick = self.generator.rng().random_range(0..count);
            let client_id = entry.site.clients.get(pick)?.client_id.clone();
            let name = entry.site.name.clone();
            self.rotate_secret(&org, &client_id);
            notes.push(format!("rotated the secret of {client_id} at {name}"));
            Some(CredentialRef {
                organisation_id: org,
                client_id,
            })
        });

        let authorisation_changed = keys.pop().and_then(|org| {
            let entry = self.sites.get_mut(&org)?;
            let from = entry.authorised;
            let to = Some(from != Some(true));
            entry.set_authorised(to);
            let name = entry.site.name.clone();
            let needs_client = to == Some(true) && entry.site.clients.is_empty();
            if needs_client {
                self.add_client(&org);
            }
            notes.push(if to == Some(true) {
                format!("{name} authorised the application")
            } else {
                format!("{name} withdrew its authorisation")
            });
            Some(AuthorisationChange {
                organisation_id: org,
                from: from.map(u8::from),
                to: to.map(u8::from),
            })
        });

        let added = self.add_site();
        if let Some(entry) = self.sites.get(&added) {
            notes.push(format!("added {} ({added})", entry.site.name));
        }
        DemoChanges {
            removed,
            rotated,
            authorisation_changed,
            added,
            notes,
        }
    }
}
