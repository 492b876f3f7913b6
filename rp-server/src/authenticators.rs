//! Authenticator names by AAGUID, from `rp-server/data/aaguids.json` (compiled in;
//! refresh it with `scripts/refresh-aaguids`).

use std::collections::HashMap;
use std::sync::OnceLock;

use uuid::Uuid;

static NAMES: OnceLock<HashMap<Uuid, String>> = OnceLock::new();

fn names() -> &'static HashMap<Uuid, String> {
    NAMES.get_or_init(|| {
        let raw: HashMap<String, serde_json::Value> =
            serde_json::from_str(include_str!("../data/aaguids.json")).unwrap_or_default();
        raw.into_iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.to_owned())))
            .collect()
    })
}

/// The name of the authenticator model, when known.
pub fn name(aaguid: Option<Uuid>) -> Option<String> {
    names().get(&aaguid?).cloned()
}

/// The model's icon from the FIDO metadata, when the metadata has a safe one for it
/// (`mds::MAX_ICON_LEN`, raster data URIs only).
pub fn icon(mds: Option<&crate::mds::MetadataStore>, aaguid: Option<Uuid>) -> Option<String> {
    mds?.current().model(aaguid?)?.icon.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_file_parses_and_names_well_known_authenticators() {
        assert!(names().len() >= 20);
        let gpm: Uuid = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"
            .parse()
            .unwrap_or_default();
        assert_eq!(name(Some(gpm)).as_deref(), Some("Google Password Manager"));
        assert_eq!(name(None), None);
        assert_eq!(name(Some(Uuid::nil())), None);
    }
}
